//! `kurator preview SOURCE_ID`: fetches one source and prints what Kurator
//! reads from it, without touching the database. For an HTML source, each
//! item's title, link, date and summary as the selectors find them, and
//! which selectors found nothing; for a feed, its items. Made for tuning
//! `[source.select]`: edit, preview, repeat.
//!
//! It runs ingest's own pipeline ([`kurator::ingest::process_source`], and
//! [`kurator::ingest::linked_feed`] to follow a page to its feed), stopping
//! before the store: the items it shows, with their ids and topics, are
//! the ones `kurator fetch` would store.

use std::fmt::Write as _;
use std::process::ExitCode;

use super::{EXIT_CONFIG, EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::{Source, SourceKind};
use kurator::dedup::Identified;
use kurator::fetch::{Body, Fetcher, Response, Validators};
use kurator::ingest::{MAX_ITEMS_PER_FETCH, Processed, linked_feed, process_source};
use kurator::parse::scrape::Selectors;
use kurator::redact::Redacted;
use kurator::rules::TopicSet;
use kurator::tag::Tagger;
use kurator::time::{format_time, unix_now};

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
    match runtime.block_on(preview(&fetcher, source, &config.topics)) {
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
async fn preview(fetcher: &Fetcher, source: &Source, topics: &TopicSet) -> Result<String, String> {
    let tagger = Tagger {
        topics,
        source_id: &source.id,
        source_tags: &source.tags,
    };
    let mut out = String::new();
    let mut url = source.url.clone();
    let mut following = false;
    loop {
        let (body, final_url) = fetch(fetcher, &url, &source.url).await?;
        let _ = writeln!(out, "{}: {}", source.id, Redacted(&final_url));
        let processed = process_source(
            &source.kind,
            &tagger,
            body.bytes,
            body.content_type.as_deref(),
            &final_url,
            unix_now(),
        );
        match processed {
            Ok(processed) => {
                return Ok(match &source.kind {
                    SourceKind::Html(selectors) if !processed.scraped.is_empty() => {
                        html_preview(out, &processed, selectors)
                    }
                    _ => feed_preview(out, &processed),
                });
            }
            // A page is followed to its feed once, as ingest does (`kind = "auto"`).
            Err(err) if !following && linked_feed(&source.kind, &err).is_some() => {
                url = linked_feed(&source.kind, &err).expect("checked above");
                following = true;
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
}

async fn fetch(
    fetcher: &Fetcher,
    url: &url::Url,
    configured: &url::Url,
) -> Result<(Body, url::Url), String> {
    let fetched = fetcher
        .fetch_found_on(url, &Validators::default(), configured)
        .await
        .map_err(|err| format!("{}: {err}\n", Redacted(url)))?;
    match fetched.response {
        Response::Body(body) => Ok((body, fetched.final_url)),
        Response::NotModified => Err(format!(
            "{}: the server answered 304 Not Modified to a request without validators\n",
            Redacted(url)
        )),
    }
}

fn feed_preview(mut out: String, processed: &Processed) -> String {
    let _ = writeln!(out, "a feed with {} items\n", processed.items.len());
    for (number, item) in processed.items.iter().enumerate() {
        let _ = writeln!(out, "{:>3}. {}", number + 1, item.item.title);
        field(&mut out, "link", item.item.link.as_deref());
        field(
            &mut out,
            "date",
            item.item.published.map(format_time).as_deref(),
        );
        identity(&mut out, item);
    }
    if processed.items_dropped {
        let _ = writeln!(
            out,
            "\nthe feed holds more than {MAX_ITEMS_PER_FETCH} items; only the first {MAX_ITEMS_PER_FETCH} are read"
        );
    }
    out
}

fn html_preview(mut out: String, processed: &Processed, selectors: &Selectors) -> String {
    let elements = &processed.scraped;
    let _ = writeln!(
        out,
        "`item` = `{}` matched {} elements\n",
        selectors.item.text,
        elements.len()
    );
    let mut missed_counts: Vec<(&str, usize)> = Vec::new();
    for (number, element) in elements.iter().enumerate() {
        let read = &element.read;
        let stored = element.stored_as.map(|index| &processed.items[index]);
        // What is stored, where there is one: normalized as a fetch stores it.
        let title = match stored {
            Some(stored) => &stored.item.title,
            None => read.title.as_deref().unwrap_or("(no title)"),
        };
        let _ = writeln!(out, "{:>3}. {title}", number + 1);
        let link = stored.map_or(read.link.as_deref(), |stored| stored.item.link.as_deref());
        field(&mut out, "link", link);
        if selectors.date.is_some() {
            let date = match (&read.date_text, read.published) {
                (Some(text), Some(at)) => Some(format!("{text} → {}", format_time(at))),
                (Some(text), None) => Some(format!("{text} → not a date Kurator reads")),
                (None, _) => None,
            };
            field(&mut out, "date", date.as_deref());
        }
        if selectors.summary.is_some() {
            let summary = read
                .summary_html
                .as_deref()
                .map(kurator::normalize::html_to_text)
                .map(|text| shorten(&text.split_whitespace().collect::<Vec<_>>().join(" ")));
            field(&mut out, "summary", summary.as_deref());
        }
        match stored {
            Some(stored) => identity(&mut out, stored),
            None if read.link.is_some() => {
                let _ = writeln!(out, "     not stored: an item above has the same link");
            }
            None => {}
        }
        for &missed in &read.missed {
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
    let _ = write!(
        out,
        "\n{} of {} items have a link and would be stored",
        processed.items.len(),
        elements.len()
    );
    for (name, count) in missed_counts {
        let _ = write!(out, "; `{name}` missed in {count}");
    }
    out.push('\n');
    out
}

/// The id an item is stored and shown under, and the topics it is in.
fn identity(out: &mut String, item: &Identified) {
    field(out, "id", Some(&item.uid));
    let topics = item.topics.join(", ");
    field(
        out,
        "topics",
        Some(&topics).filter(|t| !t.is_empty()).map(|t| t.as_str()),
    );
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
