//! What `kurator check` warns about beyond errors: topic rules that name a
//! source or tag nothing in the config carries (`source:stadtt`,
//! `tag:smart-citty`), which is valid but matches nothing, or only feed
//! categories. Each warning points at the term in `feeds.toml`.

use serde::Deserialize;
use toml::Spanned;

use super::{Config, ConfigError, read_config_text, rule_position};
use crate::rules::{Field, Term, names_value, terms_of};

/// Only the topics' rules with their places; the rest was validated already.
#[derive(Deserialize)]
struct RawRules {
    #[serde(default, rename = "topic")]
    topics: Vec<RawRule>,
}

#[derive(Deserialize)]
struct RawRule {
    slug: String,
    #[serde(rename = "match")]
    rule: Spanned<String>,
}

/// Warnings (as located [`ConfigError`]s) for every `source:` term that no
/// source id takes and every `tag:` term that no source tag or topic slug
/// takes, in `config`, which was read from `config.path`. An item's tags
/// are its source's tags, its topics' slugs and its feed's categories
/// (`crate::tag`); categories are not known before fetching, so an unknown
/// tag is a warning, not an error.
pub fn reference_warnings(config: &Config) -> Vec<ConfigError> {
    let Ok(text) = read_config_text(&config.path) else {
        return Vec::new();
    };
    let Ok(raw) = toml::from_str::<RawRules>(&text) else {
        return Vec::new();
    };
    let source_ids: Vec<&str> = config.sources.iter().map(|s| s.id.as_str()).collect();
    let mut tags: Vec<&str> = config
        .sources
        .iter()
        .flat_map(|s| s.tags.iter().map(String::as_str))
        .chain(config.topics.topics().iter().map(|t| t.slug.as_str()))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    let mut warnings = Vec::new();
    for raw_rule in &raw.topics {
        let Some(topic) = config
            .topics
            .topics()
            .iter()
            .find(|t| t.slug == raw_rule.slug)
        else {
            continue;
        };
        let warn = |term: &Term, message: String, hint: String| ConfigError {
            file: config.path.clone(),
            position: Some(rule_position(&text, &raw_rule.rule, term.column)),
            message: format!("topic `{}`: {message}", topic.slug),
            hint: Some(hint),
        };
        for term in terms_of(&topic.rule.expr, Field::Source) {
            if !source_ids.iter().any(|id| names_value(term, id)) {
                warnings.push(warn(
                    term,
                    format!(
                        "`source:{}` names no source, so it never matches",
                        term.source
                    ),
                    suggestion(&term.source, &source_ids, "source ids"),
                ));
            }
        }
        for term in terms_of(&topic.rule.expr, Field::Tag) {
            if !tags.iter().any(|tag| names_value(term, tag)) {
                warnings.push(warn(
                    term,
                    format!(
                        "`tag:{}` is no source's tag and no topic's slug; it matches only items whose feed has that category",
                        term.source
                    ),
                    format!(
                        "{} To match a feed category, write `category:{}`",
                        sentence(suggestion(&term.source, &tags, "tags")),
                        term.source
                    ),
                ));
            }
        }
    }
    warnings
}

/// `text` ending as a sentence does.
fn sentence(text: String) -> String {
    if text.ends_with('?') {
        text
    } else {
        text + "."
    }
}

/// "did you mean `x`?" with the known name nearest to `written`, else the
/// known names (`what`).
fn suggestion(written: &str, known: &[&str], what: &str) -> String {
    let written = written.trim_end_matches('*').to_lowercase();
    let nearest = known
        .iter()
        .map(|name| (strsim::damerau_levenshtein(&written, name), *name))
        .min();
    match nearest {
        Some((distance, name)) if distance <= 2.max(written.chars().count() / 3) => {
            format!("did you mean `{name}`?")
        }
        _ if known.is_empty() => format!("the config has no {what}"),
        _ => format!("known {what}: {}", known.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warnings_of(text: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds.toml");
        std::fs::write(&path, text).unwrap();
        let config = Config::load(&path).unwrap();
        reference_warnings(&config)
            .iter()
            .map(|w| {
                w.to_string()
                    .replace(&path.display().to_string(), "feeds.toml")
            })
            .collect()
    }

    const SOURCES: &str = "[[source]]\nid = \"stadt\"\nurl = \"https://stadt.example/feed\"\ntags = [\"kommune\"]\n\n";

    #[test]
    fn unknown_sources_and_tags_are_pointed_at_in_the_file() {
        let warnings = warnings_of(&format!(
            "{SOURCES}[[topic]]\nslug = \"smart-city\"\nmatch = '\"smart city\"'\n\n\
             [[topic]]\nslug = \"lokal\"\nmatch = 'source:stadtt OR (tag:smart-citty AND tag:kommune) OR source:stadt'\n"
        ));
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
        assert!(
            warnings[0]
                .starts_with("feeds.toml:12:17: topic `lokal`: `source:stadtt` names no source"),
            "{}",
            warnings[0]
        );
        assert!(
            warnings[0].contains("did you mean `stadt`?"),
            "{}",
            warnings[0]
        );
        assert!(
            warnings[1].starts_with("feeds.toml:12:32: topic `lokal`: `tag:smart-citty`"),
            "{}",
            warnings[1]
        );
        assert!(
            warnings[1].contains("did you mean `smart-city`?"),
            "{}",
            warnings[1]
        );
    }

    #[test]
    fn known_names_prefixes_and_multi_line_rules_are_fine() {
        let warnings = warnings_of(&format!(
            "{SOURCES}[[topic]]\nslug = \"a\"\nmatch = '''\nsource:sta*\n  OR tag:komm* OR tag:b OR tag:KOMMUNE'''\n\n\
             [[topic]]\nslug = \"b\"\nmatch = 'x'\n"
        ));
        assert!(warnings.is_empty(), "{warnings:#?}");
        let warnings = warnings_of(&format!(
            "{SOURCES}[[topic]]\nslug = \"a\"\nmatch = '''\nx\n  OR tag:nirgends'''\n"
        ));
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("feeds.toml:10:10: topic `a`: `tag:nirgends`"),
            "{}",
            warnings[0]
        );
    }
}
