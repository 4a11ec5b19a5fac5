//! `kurator preview SOURCE_ID`: fetches one source and prints what Kurator
//! reads from it, without touching the database. For an HTML source, each
//! item's title, link, date and summary as the selectors find them, and
//! which selectors found nothing; for a feed, its items. Made for tuning
//! `[source.select]`: edit, preview, repeat.

use std::fmt::Write as _;
use std::process::ExitCode;

use super::{EXIT_CONFIG, EXIT_FAILED, GlobalOptions, load_config};
use crate::config::{Source, SourceKind};
use crate::fetch::{Fetcher, Response, Validators};
use crate::parse::ParseError;
use crate::parse::scrape::{Selectors, scrape_all};
use crate::redact::Redacted;
use crate::time::{format_time, unix_now};

/// Characters of a summary shown.
const SUMMARY_CHARS: usize = 160;

pub fn run(options: &GlobalOptions, source_id: &str) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let Some(source) = config.source(source_id) else {
        let ids: Vec<&str> = config.sources.iter().map(|s| s.id.as_str()).collect();
        eprintln!(
            "{}: no source `{source_id}`; the sources are: {}",
            config.path.display(),
            ids.join(", ")
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    let runtime = match super::start_runtime(&mut tokio::runtime::Builder::new_current_thread()) {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let fetcher = match Fetcher::new(&config.fetch.limits) {
        Ok(fetcher) => fetcher,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match runtime.block_on(preview(&fetcher, source)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(text) => {
            eprint!("{text}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// The preview of `source`, or what went wrong.
async fn preview(fetcher: &Fetcher, source: &Source) -> Result<String, String> {
    let mut out = String::new();
    let mut url = source.url.clone();
    // A page is followed to its feed once, as ingest does (`kind = "auto"`).
    for attempt in 0..2 {
        let (bytes, content_type, final_url) = fetch(fetcher, &url, &source.url).await?;
        let _ = writeln!(out, "{}: {}", source.id, Redacted(&final_url));
        let tld = final_url.domain().and_then(|d| d.rsplit('.').next());
        let decoded = crate::decode::decode_owned(bytes, content_type.as_deref(), tld);
        if let SourceKind::Html(selectors) = &source.kind
            && crate::parse::html::looks_like_html(&decoded.text)
        {
            return html_preview(out, &decoded.text, &final_url, selectors);
        }
        match crate::parse::parse(&decoded.text, &final_url) {
            Ok(parsed) => {
                let items = crate::normalize::normalize(&parsed.feed, &final_url, unix_now());
                let _ = writeln!(out, "a feed with {} items\n", items.len());
                for (number, item) in items.iter().enumerate() {
                    let _ = writeln!(out, "{:>3}. {}", number + 1, item.title);
                    field(&mut out, "link", item.link.as_deref());
                    field(&mut out, "date", item.published.map(format_time).as_deref());
                }
                return Ok(out);
            }
            Err(ParseError::HtmlPage { alternates })
                if source.kind == SourceKind::Auto
                    && attempt == 0
                    && crate::parse::html::followed_feed(&alternates).is_some() =>
            {
                url = crate::parse::html::followed_feed(&alternates)
                    .cloned()
                    .expect("checked above");
                let _ = writeln!(
                    out,
                    "an HTML page that links to its feed: reading {}",
                    Redacted(&url)
                );
            }
            Err(err) => {
                let start = err
                    .body_start()
                    .map(|start| format!("\nthe body starts with {start:?}"))
                    .unwrap_or_default();
                return Err(format!("{out}{}: {err}{start}\n", source.id));
            }
        }
    }
    Err(format!(
        "{out}{}: the linked feed is a page too\n",
        source.id
    ))
}

async fn fetch(
    fetcher: &Fetcher,
    url: &url::Url,
    configured: &url::Url,
) -> Result<(Vec<u8>, Option<String>, url::Url), String> {
    let fetched = fetcher
        .fetch_found_on(url, &Validators::default(), configured)
        .await
        .map_err(|err| format!("{}: {err}\n", Redacted(url)))?;
    match fetched.response {
        Response::Body(body) => Ok((body.bytes, body.content_type, fetched.final_url)),
        Response::NotModified => Err(format!(
            "{}: the server answered 304 Not Modified to a request without validators\n",
            Redacted(url)
        )),
    }
}

fn html_preview(
    mut out: String,
    html: &str,
    page: &url::Url,
    selectors: &Selectors,
) -> Result<String, String> {
    let items = match scrape_all(html, page, selectors) {
        Ok(scraped) => scraped.items,
        Err(err) => return Err(format!("{out}{err}\n")),
    };
    let _ = writeln!(
        out,
        "`item` = `{}` matched {} elements\n",
        selectors.item.text,
        items.len()
    );
    let mut missed_counts: Vec<(&str, usize)> = Vec::new();
    for (number, item) in items.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>3}. {}",
            number + 1,
            item.title.as_deref().unwrap_or("(no title)")
        );
        field(&mut out, "link", item.link.as_deref());
        if selectors.date.is_some() {
            let date = match (&item.date_text, item.published) {
                (Some(text), Some(at)) => Some(format!("{text} → {}", format_time(at))),
                (Some(text), None) => Some(format!("{text} → not a date Kurator reads")),
                (None, _) => None,
            };
            field(&mut out, "date", date.as_deref());
        }
        if selectors.summary.is_some() {
            let summary = item
                .summary_html
                .as_deref()
                .map(crate::normalize::html_to_text)
                .map(|text| shorten(&text.split_whitespace().collect::<Vec<_>>().join(" ")));
            field(&mut out, "summary", summary.as_deref());
        }
        for &missed in &item.missed {
            let selector = match missed {
                "title" => Some(&selectors.title),
                "link" => Some(&selectors.link),
                "date" => selectors.date.as_ref(),
                _ => selectors.summary.as_ref(),
            };
            let _ = writeln!(
                out,
                "     missed: `{missed}` = `{}`",
                selector.map_or("", |s| s.text.as_str())
            );
            match missed_counts.iter_mut().find(|(name, _)| *name == missed) {
                Some((_, count)) => *count += 1,
                None => missed_counts.push((missed, 1)),
            }
        }
    }
    let kept = items.iter().filter(|item| item.link.is_some()).count();
    let _ = write!(
        out,
        "\n{kept} of {} items have a link and would be stored",
        items.len()
    );
    for (name, count) in missed_counts {
        let _ = write!(out, "; `{name}` missed in {count}");
    }
    out.push('\n');
    Ok(out)
}

fn field(out: &mut String, name: &str, value: Option<&str>) {
    let _ = writeln!(out, "     {name}: {}", value.unwrap_or("-"));
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(SUMMARY_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
