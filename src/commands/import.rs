//! `kurator import FILE.opml`: a `[[source]]` for every feed of a feed
//! reader's OPML export, with the folders it is in as tags. Addresses
//! already configured (or listed twice) are skipped and reported.
//!
//! Import does not fetch: an export lists dozens of feeds, and a request to
//! each of them would be slow and, for feeds that moved, fail for reasons
//! the file cannot fix. The daemon's first fetch, `kurator status` and
//! `kurator preview ID` show what each source holds.

use std::path::Path;
use std::process::ExitCode;

use super::add::{RELOAD_REMINDER, configured_with, parse_url, same_address, save};
use super::{EXIT_CONFIG, GlobalOptions, load_config};
use kurator::config::edit::{NewSource, derive_id, slug};
use kurator::config::{Config, opml};
use kurator::redact::Redacted;

/// The largest OPML file read; real exports of thousands of feeds are a few MB.
const MAX_OPML_BYTES: u64 = 16 * 1024 * 1024;

pub fn run(options: &GlobalOptions, file: &Path) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let text = match read(file) {
        Ok(text) => text,
        Err(message) => {
            eprintln!("{}: {message}", file.display());
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let feeds = match opml::feeds(&text) {
        Ok(feeds) => feeds,
        Err(message) => {
            eprintln!(
                "{}: {message}; export the subscriptions from your feed reader as OPML",
                file.display()
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };

    let mut added: Vec<NewSource> = Vec::new();
    let mut lines = Vec::new();
    let mut skipped = 0;
    for feed in feeds {
        let url = match new_address(&config, &added, &feed.url) {
            Ok(url) => url,
            Err(why) => {
                lines.push(format!("skipped {why}"));
                skipped += 1;
                continue;
            }
        };
        let id = derive_id(&url, feed.title.as_deref(), |id| {
            config.source(id).is_some() || added.iter().any(|s| s.id == id)
        });
        let mut tags: Vec<String> = Vec::new();
        for tag in feed.categories.iter().map(|c| slug(c)) {
            if !tag.is_empty() && !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        lines.push(format!(
            "added   {id}: {}{}",
            Redacted(&url),
            if tags.is_empty() {
                String::new()
            } else {
                format!(" (tags: {})", tags.join(", "))
            }
        ));
        added.push(NewSource {
            id,
            title: feed.title,
            url: url.to_string(),
            tags,
        });
    }

    for line in &lines {
        println!("{line}");
    }
    if added.is_empty() {
        println!(
            "nothing to add ({skipped} skipped); {} is unchanged",
            config.path.display()
        );
        return ExitCode::SUCCESS;
    }
    if let Err(code) = save(&config, &added) {
        return code;
    }
    println!(
        "{} added, {skipped} skipped, to {}; nothing was fetched: `kurator preview ID` shows what a source holds",
        added.len(),
        config.path.display()
    );
    println!("{RELOAD_REMINDER}");
    ExitCode::SUCCESS
}

/// The address of an outline to add, or why it is skipped: not an http(s)
/// address, configured already, or listed before in the same file.
fn new_address(config: &Config, added: &[NewSource], written: &str) -> Result<url::Url, String> {
    let url = parse_url(written)?;
    if let Some(source) = configured_with(config, &url) {
        return Err(format!(
            "{}: source `{}` already has this address",
            Redacted(&url),
            source.id
        ));
    }
    if let Some(earlier) = added
        .iter()
        .find(|s| url::Url::parse(&s.url).is_ok_and(|u| same_address(&u, &url)))
    {
        return Err(format!(
            "{}: listed twice in the file, added once as `{}`",
            Redacted(&url),
            earlier.id
        ));
    }
    Ok(url)
}

fn read(file: &Path) -> Result<String, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_OPML_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|err| format!("cannot read the file: {err}"))?;
    if bytes.len() as u64 > MAX_OPML_BYTES {
        return Err(format!(
            "larger than {} MiB; this is not an OPML export",
            MAX_OPML_BYTES / (1024 * 1024)
        ));
    }
    // OPML exports are UTF-8; a declared legacy encoding is read as such.
    let decoded = kurator::decode::decode(&bytes, None, None);
    Ok(decoded.text)
}
