//! `kurator add URL`: finds the feed at URL (an HTML page is followed to the
//! feed it advertises, as ingest does for `kind = "auto"`), fetches it once
//! to show what Kurator would store, and appends a `[[source]]` block to the
//! config file, keeping its comments and layout. Also the config writing
//! that `import` and `remove` share.

use std::fmt::Write as _;
use std::process::ExitCode;

use super::{EXIT_CONFIG, EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::edit::{self, NewSource};
use kurator::config::{Config, SourceKind, is_valid_id};
use kurator::fetch::{Fetcher, Response, Validators};
use kurator::ingest::{Processed, linked_feed, process_source};
use kurator::redact::Redacted;
use kurator::tag::Tagger;
use kurator::time::{format_time, unix_now};
use url::Url;

/// Newest items shown.
const SHOWN_ITEMS: usize = 5;

/// What to tell after the config changed.
pub const RELOAD_REMINDER: &str =
    "a running daemon takes it on `systemctl reload kurator` (SIGHUP)";

/// The options of `kurator add`.
pub struct AddOptions<'a> {
    pub url: &'a str,
    pub id: Option<&'a str>,
    pub title: Option<&'a str>,
    pub tags: &'a [String],
    pub no_fetch: bool,
}

pub fn run(options: &GlobalOptions, add: &AddOptions<'_>) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let url = match parse_url(add.url) {
        Ok(url) => url,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(message) = refuse_known(&config, &url, add.id) {
        eprintln!("{message}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let tags: Vec<String> = add
        .tags
        .iter()
        .map(|tag| tag.trim().to_owned())
        .filter(|tag| !tag.is_empty())
        .collect();

    let (feed_url, feed_title) = if add.no_fetch {
        (url.clone(), None)
    } else {
        match probe(&config, &url, &tags) {
            Ok(probed) => {
                print!("{}", probed.report);
                (probed.feed_url, probed.title)
            }
            Err(message) => {
                eprint!("{message}");
                eprintln!("nothing was added; check the address, or add it anyway with --no-fetch");
                return ExitCode::from(EXIT_FAILED);
            }
        }
    };
    if feed_url != url
        && let Err(message) = refuse_known(&config, &feed_url, None)
    {
        eprintln!("{message}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let title = add
        .title
        .map(str::to_owned)
        .or(feed_title)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let id = match add.id {
        Some(id) => id.to_owned(),
        None => edit::derive_id(&feed_url, title.as_deref(), |id| {
            config.source(id).is_some()
        }),
    };
    let source = NewSource {
        id,
        title,
        url: feed_url.to_string(),
        tags,
    };
    match save(&config, std::slice::from_ref(&source)) {
        Ok(()) => {
            println!(
                "added source `{}` ({}) to {}:",
                source.id,
                Redacted(&feed_url),
                config.path.display()
            );
            // The block as written, but with the address shown without its secrets.
            let shown = NewSource {
                url: Redacted(&feed_url).to_string(),
                ..source
            };
            if let Ok(block) = edit::add_sources("", std::slice::from_ref(&shown)) {
                print!("{}", block.trim_start());
            }
            println!("{RELOAD_REMINDER}");
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// A URL as given on the command line (http, https or file, as in the
/// config), or what to write instead.
pub fn parse_url(text: &str) -> Result<Url, String> {
    let text = text.trim();
    match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
        Ok(url) if url.scheme() == "file" => Ok(url),
        Ok(url) => Err(format!(
            "`{}` is not an http or https address; write the feed's or the site's full address, e.g. https://www.example.de/feed",
            Redacted(&url)
        )),
        Err(err) => Err(format!(
            "`{text}` is not a URL ({err}); write the full address, e.g. https://{}",
            text.trim_start_matches('/')
        )),
    }
}

/// Refuses a URL or id that a configured source already has.
pub fn refuse_known(config: &Config, url: &Url, id: Option<&str>) -> Result<(), String> {
    if let Some(source) = configured_with(config, url) {
        return Err(format!(
            "{}: source `{}` already has the address {}; nothing was added",
            config.path.display(),
            source.id,
            Redacted(url)
        ));
    }
    if let Some(id) = id {
        if !is_valid_id(id) {
            return Err(format!(
                "source id `{id}` may only contain a-z, 0-9 and -; e.g. --id kommune21"
            ));
        }
        if let Some(source) = config.source(id) {
            return Err(format!(
                "{}: the id `{id}` is taken by the source with the address {}; choose another with --id",
                config.path.display(),
                Redacted(&source.url)
            ));
        }
    }
    Ok(())
}

/// The configured source that has the address `url`.
pub fn configured_with<'a>(config: &'a Config, url: &Url) -> Option<&'a kurator::config::Source> {
    config.sources.iter().find(|s| same_address(&s.url, url))
}

/// Addresses that differ only in a trailing slash of the path are one.
pub fn same_address(a: &Url, b: &Url) -> bool {
    let trimmed = |url: &Url| {
        let text = url.as_str();
        text.strip_suffix('/').unwrap_or(text).to_owned()
    };
    trimmed(a) == trimmed(b)
}

/// Appends `sources` to the config file, after checking that the result is
/// a valid config; prints why not and gives the exit code.
pub fn save(config: &Config, sources: &[NewSource]) -> Result<(), ExitCode> {
    let text = read_text(config)?;
    let edited = edit::add_sources(&text, sources).map_err(|err| {
        eprintln!("{}: {err}", config.path.display());
        ExitCode::from(EXIT_CONFIG)
    })?;
    write_checked(config, &edited)
}

/// The config file's text as it is now.
pub fn read_text(config: &Config) -> Result<String, ExitCode> {
    std::fs::read_to_string(&config.path).map_err(|err| {
        eprintln!(
            "{}: cannot read the config file: {err}",
            config.path.display()
        );
        ExitCode::from(EXIT_FAILED)
    })
}

/// Writes `edited` over the config file if it is a valid config.
pub fn write_checked(config: &Config, edited: &str) -> Result<(), ExitCode> {
    if let Err(err) = Config::parse(&config.path, edited) {
        eprintln!("the edited config would not be valid, so it was not written:\n{err}");
        return Err(ExitCode::from(EXIT_CONFIG));
    }
    edit::write_atomically(&config.path, edited).map_err(|err| {
        eprintln!(
            "{}: cannot write the config file: {err}; it is unchanged",
            config.path.display()
        );
        ExitCode::from(EXIT_FAILED)
    })
}

/// What one fetch of a new address showed.
struct Probed {
    /// The feed: the address given, or the feed its page links to.
    feed_url: Url,
    /// The feed's own title.
    title: Option<String>,
    /// What to print: where the feed is, its items, the newest.
    report: String,
}

fn probe(config: &Config, url: &Url, tags: &[String]) -> Result<Probed, String> {
    let runtime = super::start_runtime(&mut tokio::runtime::Builder::new_current_thread())
        .map_err(|_| String::new())?;
    let fetcher = Fetcher::new(&config.fetch.limits).map_err(|err| format!("{err}\n"))?;
    let tagger = Tagger {
        topics: &config.topics,
        source_id: "new",
        source_tags: tags,
    };
    runtime.block_on(async {
        let mut report = String::new();
        let mut feed_url = url.clone();
        loop {
            let fetched = fetcher
                .fetch_found_on(&feed_url, &Validators::default(), url)
                .await
                .map_err(|err| format!("{report}{}: {err}\n", Redacted(&feed_url)))?;
            let Response::Body(body) = fetched.response else {
                return Err(format!(
                    "{report}{}: the server answered 304 Not Modified to a request without validators\n",
                    Redacted(&feed_url)
                ));
            };
            let title = feed_title(&body.bytes, body.content_type.as_deref(), &fetched.final_url);
            match process_source(
                &SourceKind::Auto,
                &tagger,
                body.bytes,
                body.content_type.as_deref(),
                &fetched.final_url,
                unix_now(),
            ) {
                Ok(processed) => {
                    describe(&mut report, &feed_url, title.as_deref(), &processed);
                    return Ok(Probed {
                        feed_url,
                        title,
                        report,
                    });
                }
                Err(err) if feed_url == *url && linked_feed(&SourceKind::Auto, &err).is_some() => {
                    let linked = linked_feed(&SourceKind::Auto, &err).expect("checked above");
                    let _ = writeln!(
                        report,
                        "{} is an HTML page that links to its feed: {}",
                        Redacted(url),
                        Redacted(&linked)
                    );
                    feed_url = linked;
                }
                Err(err) => {
                    let hint = if matches!(err, kurator::parse::ParseError::HtmlPage { .. }) {
                        "\na page without a feed can be read with CSS selectors: add it with --no-fetch, then write `kind = \"html\"` and `[source.select]` and try them with `kurator preview`"
                    } else {
                        ""
                    };
                    return Err(format!("{report}{}: {err}{hint}\n", Redacted(&feed_url)));
                }
            }
        }
    })
}

/// The feed's own title, if the document is a feed that has one.
fn feed_title(bytes: &[u8], content_type: Option<&str>, url: &Url) -> Option<String> {
    let tld = url.domain().and_then(|d| d.rsplit('.').next());
    let decoded = kurator::decode::decode(bytes, content_type, tld);
    let parsed = kurator::parse::parse(&decoded.text, url).ok()?;
    let title = parsed.feed.title?.content;
    let text = kurator::normalize::html_to_text(&title);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(text).filter(|t| !t.is_empty())
}

fn describe(report: &mut String, url: &Url, title: Option<&str>, processed: &Processed) {
    let _ = writeln!(
        report,
        "{}: {} with {} items",
        Redacted(url),
        title.map_or("a feed without a title".to_owned(), |t| format!(
            "the feed {t:?}"
        )),
        processed.items.len()
    );
    let mut newest: Vec<_> = processed.items.iter().map(|i| &i.item).collect();
    newest.sort_by_key(|item| std::cmp::Reverse(item.published));
    if !newest.is_empty() {
        let _ = writeln!(report, "newest:");
    }
    for item in newest.into_iter().take(SHOWN_ITEMS) {
        let date = item
            .published
            .map(format_time)
            .unwrap_or_else(|| "no date".into());
        let _ = writeln!(report, "  {date}  {}", item.title);
    }
}
