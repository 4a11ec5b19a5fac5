use super::super::{Rule, TopicSet, markup};
use super::eval::joined_words;
use super::*;

fn topics(rules: &[(&str, &str)]) -> TopicSet {
    TopicSet::new(
        rules
            .iter()
            .map(|(slug, rule)| Topic {
                slug: (*slug).into(),
                title: (*slug).into(),
                description: None,
                rule: Rule::parse(rule).unwrap_or_else(|e| panic!("{}", e.caret(rule))),
            })
            .collect(),
    )
    .unwrap()
}

fn item() -> ItemFields<'static> {
    ItemFields {
        title: "Darmstadt wird Smart-City: BÜRGERSERVICE jetzt digital",
        summary: Some(
            "<p>Die Stadtverwaltung startet das Online-<b>Portal</b> f&uuml;r B&uuml;rger.</p>",
        ),
        content: Some("Mit der Digitalisierung spart die Stra<i>ß</i>enverkehrsbeh&ouml;rde Zeit."),
        author: "Pressestelle Darmstadt",
        link: "https://www.darmstadt.de/presse/smart-city?id=7",
        categories: &[],
        source: "darmstadt-presse",
        source_tags: &[],
    }
}

/// The topics of `item` through the general matcher.
fn general<'s>(set: &'s TopicSet, item: &ItemFields<'_>) -> Vec<&'s str> {
    let text = |html: Option<&str>| markup::markup_to_text(html.unwrap_or_default()).into_owned();
    let mut document = super::super::Document::new(&super::super::DocumentFields {
        title: item.title,
        summary: &text(item.summary),
        content: &text(item.content),
        author: item.author,
        link: item.link,
        categories: item.categories,
        source: item.source,
        tags: item.source_tags,
    });
    set.tag(&mut document)
}

/// Whether `rule` matches [`item`] through the compiled path (checked
/// against the general matcher).
fn check(rule: &str) -> bool {
    let set = topics(&[("t", rule)]);
    let fast = set.tag_item(&item());
    assert_eq!(fast, general(&set, &item()), "{rule}");
    !fast.is_empty()
}

#[test]
fn words_across_block_boundaries() {
    // The scan classifies 64 bytes at a time: words, umlauts, entities
    // and tags at every offset around the first two block boundaries.
    let set = topics(&[
        ("buergerservice", "bürgerservice"),
        ("smart-city", "\"smart city\""),
        ("digital", "digitalisierungs*"),
        ("strasse", "straße"),
        ("portal", "summary:portal"),
    ]);
    for pad in 0..140 {
        let filler = "x".repeat(pad);
        for text in [
            format!("{filler} Bürgerservice"),
            format!("{filler}&amp;Smart City"),
            format!("{filler}. Digitalisierungs-Strategie Stra&szlig;e"),
            format!("{filler} <b>Bürger</b>service Straße"),
            format!("{filler}, Portal"),
        ] {
            let item = ItemFields {
                title: &text,
                summary: Some(&text),
                ..item()
            };
            let fast = set.tag_item(&item);
            assert_eq!(fast, general(&set, &item), "{text}");
            assert!(!fast.is_empty(), "{text}");
        }
    }
}

#[test]
fn folding_in_text_and_markup() {
    assert!(check("bürgerservice"));
    assert!(check("Buergerservice"));
    assert!(check("bürger"), "B&uuml;rger is one word");
    assert!(check("für"));
    assert!(
        !check("straßenverkehrsbehörde"),
        "a tag inside a word splits it"
    );
    assert!(check("\"stra ß enverkehrsbehörde\""));
    assert!(check("Digitalisierung"), "an entity inside a word does not");
    assert!(!check("stadt"), "no match inside a longer word");
    assert!(!check("p OR b OR i"), "tags are not words");
}

#[test]
fn prefixes() {
    assert!(check("digital*"));
    assert!(check("digital"));
    assert!(!check("digitalis"));
    assert!(check("digitalis*"), "Digitalisierung");
    assert!(check("stadt*"), "Stadtverwaltung");
    assert!(
        check("stadtverwaltung*"),
        "a prefix matches the whole word too"
    );
    assert!(check("darm*"));
    assert!(!check("darmstadtx*"));
}

#[test]
fn phrases_stay_inside_one_field() {
    assert!(check("\"smart city\""));
    assert!(check("\"online portal\""));
    assert!(check("\"bürgerservice jetzt dig*\""));
    assert!(!check("\"city smart\""));
    assert!(
        !check("\"digital die\""),
        "the title's last word and the summary's first"
    );
    assert!(
        !check("\"bürger mit\""),
        "summary's last and content's first"
    );
    assert!(check("title:\"smart cit*\""));
    assert!(!check("summary:\"smart city\""));
    assert!(check("content:\"spart die\""));
}

#[test]
fn fields_and_not() {
    assert!(check("title:darmstadt"));
    assert!(!check("summary:darmstadt"));
    assert!(check("summary:portal -title:portal"));
    assert!(!check("darmstadt NOT digitalisierung"));
    assert!(check("darmstadt NOT (berlin OR hamburg)"));
    assert!(check(
        "author:pressestelle link:\"smart city\" source:darmstadt*"
    ));
    assert!(!check("source:darmstadt"));
    assert!(check("summary:/Online- Portal/ content:/Stra ß e/"));
}

#[test]
fn topics_without_their_words_are_skipped_only_when_they_need_one() {
    let rule = |slug: &str| {
        let set = topics(&[
            ("needs-berlin", "berlin AND NOT tag:x"),
            ("not-berlin", "NOT berlin"),
            ("by-source", "berlin OR source:darmstadt*"),
            ("by-regex", "hamburg OR /smart-city/"),
            ("berlin-and-source", "source:darmstadt* berlin"),
        ]);
        set.tag_item(&item()).contains(&slug)
    };
    assert!(!rule("needs-berlin"));
    assert!(rule("not-berlin"), "a NOT needs no word of its own");
    assert!(rule("by-source"), "an OR with a non-word alternative");
    assert!(rule("by-regex"));
    assert!(!rule("berlin-and-source"));
    assert!(check("darmstadt AND NOT berlin"));
    assert!(!check("berlin AND NOT darmstadt"));
}

#[test]
fn tag_dependencies() {
    let set = topics(&[
        ("kommunal-digital", "tag:digitalisierung AND darmstadt"),
        ("digitalisierung", "digital* OR ozg"),
        ("nie", "berlin"),
        ("ohne-nie", "NOT tag:nie AND tag:kommunal*"),
    ]);
    assert_eq!(
        set.tag_item(&item()),
        ["digitalisierung", "kommunal-digital", "ohne-nie"]
    );
    let tags = ["Digitalisierung ".to_owned()];
    let berlin = ItemFields {
        title: "Berlin",
        source_tags: &tags,
        ..ItemFields::default()
    };
    assert_eq!(
        set.tag_item(&berlin),
        ["nie"],
        "a source tag counts like a topic's slug"
    );
    let kommunal = ItemFields {
        title: "Darmstadt",
        ..berlin
    };
    assert_eq!(set.tag_item(&kommunal), ["kommunal-digital", "ohne-nie"]);
}

#[test]
fn whole_values_fold_twice_like_document() {
    for value in [
        "Fach-Presse",
        " Smart  City ",
        "\u{212b}ngstr\u{f6}m \u{212a}elvin",
        "\u{130}stanbul",
        "Straße",
        "",
        "--",
        "e-Government 2026",
    ] {
        let mut bytes = Vec::new();
        assert!(joined_words(value, |b| {
            bytes.push(b);
            true
        }));
        let expected = fold::words(&fold::fold(value)).join(" ");
        assert_eq!(String::from_utf8(bytes).unwrap(), expected, "{value:?}");
        for (rule, wanted) in [
            (expected.clone(), !expected.is_empty()),
            (format!("{expected}x"), false),
        ] {
            if rule.is_empty() {
                continue;
            }
            for pattern in [
                Pattern::Words(fold::words(&rule)),
                Pattern::Prefix(fold::words(&rule)),
            ] {
                let folded = fold::fold(value);
                assert_eq!(
                    Whole::new(&pattern).matches(value),
                    whole_value(&pattern, &folded),
                    "{value:?} {pattern:?}"
                );
                assert_eq!(Whole::new(&pattern).matches(value), wanted);
            }
        }
    }
    let prefix = Pattern::Prefix(vec!["fach".into()]);
    assert!(Whole::new(&prefix).matches("Fach-Presse"));
    assert!(!Whole::new(&Pattern::Words(vec!["fach".into()])).matches("Fach-Presse"));
}

#[test]
fn no_topics() {
    assert!(TopicSet::default().tag_item(&item()).is_empty());
}
