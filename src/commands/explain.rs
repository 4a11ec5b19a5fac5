//! `kurator explain`: why an item is (or is not) in each topic, and which
//! story it belongs to (the other reports and how alike they are).

use std::process::ExitCode;

use super::{EXIT_CONFIG, EXIT_FAILED, GlobalOptions, load_config};
use kurator::config::{Config, resolve_db_path};
use kurator::links::canonical_link;
use kurator::rules::Hit;
use kurator::store::{Correction, CorrectionKind, Related, Store, StoredItem, StoryExplanation};
use kurator::tag::TagKind;
use kurator::time::format_time;

pub fn run(options: &GlobalOptions, wanted: &str) -> ExitCode {
    let config = match load_config(options) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let mut store = match Store::open_reader(&resolve_db_path(&config, options.db.as_deref())) {
        Ok(store) => store,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    // A number or an id names one item; anything else is a link.
    let found = match store.find_item(wanted) {
        Ok(Some(item)) => Ok(vec![item]),
        Ok(None) if wanted.trim().parse::<i64>().is_ok() => Ok(Vec::new()),
        Ok(None) => store.items_by_link(&canonical_link(wanted)),
        Err(err) => Err(err),
    };
    let items = match found {
        Ok(items) if items.is_empty() => {
            eprintln!(
                "no stored item has the id or link `{wanted}`; `kurator query` finds items by their text"
            );
            return ExitCode::from(EXIT_CONFIG);
        }
        Ok(items) => items,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    for item in &items {
        let stored_topics = store.topics_of(item.id).unwrap_or_default();
        print!("{}", explain(item, &config, &stored_topics));
        let story = store
            .explain_story(item, config.dedup)
            .and_then(|story| Ok((story, store.corrections_of(&item.uid)?)));
        match story {
            Ok((story, corrections)) => {
                print!("{}", explain_story(&story, &config));
                print!("{}", explain_corrections(&corrections));
            }
            Err(err) => {
                eprintln!("{err}");
                return ExitCode::from(EXIT_FAILED);
            }
        }
    }
    ExitCode::SUCCESS
}

/// The story part of an explanation: the cluster and its reports, or the
/// nearest items that did not group.
pub fn explain_story(story: &StoryExplanation, config: &Config) -> String {
    let mut out = String::new();
    let threshold = config.dedup.threshold;
    let how = |joined: &Option<(String, f64)>| match joined {
        Some((reason, score)) if reason == "text" => format!("joined by text, {score:.2}"),
        Some((reason, _)) => format!("joined by {reason}"),
        None => "first report".to_owned(),
    };
    let describe = |related: &Related| {
        let other = &related.item;
        let findings = if related.findings.is_empty() {
            String::new()
        } else {
            format!(", {}", related.findings.join(", "))
        };
        format!(
            "    item {:<6} {:<16} {}  similarity {:.2}{findings}  ({})\n      „{}“\n",
            other.id,
            other.source_id,
            format_time(other.published),
            related.similarity,
            how(&related.joined),
            other.title
        )
    };
    match story.cluster {
        Some(cluster) if !story.members.is_empty() => {
            out.push_str(&format!(
                "  story: cluster {cluster}, {} reports; this item: {}; the others, with their similarity to it (threshold {threshold:.2}):\n",
                story.members.len() + 1,
                how(&story.joined)
            ));
            for member in &story.members {
                out.push_str(&describe(member));
            }
        }
        _ if story.nearest.is_empty() => {
            out.push_str("  story: alone; no recent item shares its telling terms or links\n");
        }
        _ => {
            out.push_str(&format!(
                "  story: alone; the most similar recent items (grouping needs {threshold:.2} from another source within {} days, or a shared link):\n",
                config.dedup.window_secs / 86_400
            ));
            for near in &story.nearest {
                out.push_str(&describe(near));
            }
        }
    }
    out
}

/// The editors' corrections of an item's story, oldest first.
pub fn explain_corrections(corrections: &[Correction]) -> String {
    let mut out = String::new();
    for correction in corrections {
        let when = format_time(correction.at);
        let line = match correction.kind {
            CorrectionKind::Split => format!(
                "  split by an editor on {when} from the story of entry {} (`kurator split`): held apart, it never rejoins\n",
                correction.other_uid
            ),
            CorrectionKind::Join => format!(
                "  joined by an editor on {when} with the story of item {} (`kurator join`)\n",
                correction.other_uid
            ),
        };
        out.push_str(&line);
    }
    out
}

/// The explanation of one item, as printed.
pub fn explain(item: &StoredItem, config: &Config, stored_topics: &[String]) -> String {
    let mut out = String::new();
    let line = |out: &mut String, text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(&mut out, format!("item {}  {}", item.id, item.title));
    line(&mut out, format!("  source     {}", item.source_id));
    line(
        &mut out,
        format!("  link       {}", item.link.as_deref().unwrap_or("(none)")),
    );
    line(
        &mut out,
        format!("  published  {}", format_time(item.published)),
    );
    line(&mut out, format!("  id         {}", item.uid));
    if item.entry_id() != item.uid {
        // An editor split a story's first report off: the story kept the id.
        line(&mut out, format!("  entry id   {}", item.entry_id()));
    }
    let tagger = config.tagger(&item.source_id);
    let tags = tagger.tags(item.into(), stored_topics);
    let show = |kind: TagKind| {
        let names: Vec<&str> = tags
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.name.as_str())
            .collect();
        if names.is_empty() {
            "(none)".to_owned()
        } else {
            names.join(", ")
        }
    };
    line(
        &mut out,
        format!(
            "  tags: topics {} (as stored); source tags {}; categories {}",
            show(TagKind::Topic),
            show(TagKind::Source),
            show(TagKind::Category)
        ),
    );

    let mut doc = tagger.document(item.into());
    if config.topics.topics().is_empty() {
        line(&mut out, "  no topics are configured".into());
    }
    for topic in config.topics.topics() {
        // Evaluate in the same order as tagging, so `tag:` sees earlier topics.
        let matched = topic.rule.matches(&doc);
        let hits = topic.rule.hits(&doc);
        if matched {
            doc.add_tag(&topic.slug);
            line(
                &mut out,
                format!("  ✓ {}: matches; {}", topic.slug, describe(&hits)),
            );
        } else if hits.is_empty() {
            line(
                &mut out,
                format!("  ✗ {}: no term of the rule occurs in the item", topic.slug),
            );
        } else {
            line(
                &mut out,
                format!(
                    "  ✗ {}: {}, but the rule as a whole does not match (AND/NOT)",
                    topic.slug,
                    describe(&hits)
                ),
            );
        }
        line(
            &mut out,
            format!(
                "      rule: {}",
                topic
                    .rule
                    .text
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        );
    }
    out
}

fn describe(hits: &[Hit]) -> String {
    if hits.is_empty() {
        return "no term hit".into();
    }
    let parts: Vec<String> = hits
        .iter()
        .map(|h| format!("{} in {}", h.term, h.field.name()))
        .collect();
    format!("hits: {}", parts.join(", "))
}
