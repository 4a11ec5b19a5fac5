//! OPML subscription lists, as feed readers export them: the feeds they
//! list, for `kurator import`. A feed is an `<outline>` with an `xmlUrl`;
//! the outlines around it without one are its categories (folders).

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// One feed an OPML file lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    /// `xmlUrl`, as written.
    pub url: String,
    /// `title`, else `text`, if not empty.
    pub title: Option<String>,
    /// The titles of the outlines it is in, outermost first.
    pub categories: Vec<String>,
}

/// The feeds of an OPML document, in document order, or why it cannot be read.
pub fn feeds(text: &str) -> Result<Vec<OpmlFeed>, String> {
    let mut reader = Reader::from_str(text);
    // Whether each open outline is a category (and so on `categories`).
    let mut open: Vec<bool> = Vec::new();
    let mut categories: Vec<String> = Vec::new();
    let mut found = Vec::new();
    let mut seen_opml = false;
    loop {
        let event = reader.read_event().map_err(|err| {
            let (line, column) = crate::text::line_column(
                text,
                usize::try_from(reader.error_position()).unwrap_or(0),
            );
            format!("malformed XML at line {line}, column {column}: {err}")
        })?;
        match event {
            Event::Start(element) | Event::Empty(element)
                if element.local_name().into_inner() == "opml" =>
            {
                seen_opml = true;
            }
            Event::Start(element) if element.local_name().into_inner() == "outline" => {
                let outline = Outline::read(&element);
                match outline.url {
                    Some(url) => {
                        found.push(feed(url, outline.title, &categories));
                        open.push(false);
                    }
                    None => {
                        let is_category = outline.title.is_some();
                        if let Some(title) = outline.title {
                            categories.push(title);
                        }
                        open.push(is_category);
                    }
                }
            }
            Event::Empty(element) if element.local_name().into_inner() == "outline" => {
                let outline = Outline::read(&element);
                if let Some(url) = outline.url {
                    found.push(feed(url, outline.title, &categories));
                }
            }
            Event::End(element) if element.local_name().into_inner() == "outline" => {
                let closes_category = open.pop().unwrap_or(false);
                categories.truncate(categories.len() - usize::from(closes_category));
            }
            Event::DocType(_) => {
                return Err(
                    "the document has a <!DOCTYPE>; OPML exports have none, and Kurator does not read entity declarations"
                        .into(),
                );
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_opml {
        return Err("this is not an OPML document: it has no <opml> element".into());
    }
    Ok(found)
}

fn feed(url: String, title: Option<String>, categories: &[String]) -> OpmlFeed {
    OpmlFeed {
        url,
        title,
        categories: categories.to_vec(),
    }
}

/// The attributes of an `<outline>` that matter here.
struct Outline {
    url: Option<String>,
    title: Option<String>,
}

impl Outline {
    fn read(element: &BytesStart<'_>) -> Outline {
        let mut url = None;
        let mut title = None;
        let mut text = None;
        for attribute in element.attributes().with_checks(false).flatten() {
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| attribute.value.clone().into_owned());
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            if value.is_empty() {
                continue;
            }
            match attribute.key.as_ref() {
                "xmlUrl" | "xmlurl" => url = Some(value),
                "title" => title = Some(value),
                "text" => text = Some(value),
                _ => {}
            }
        }
        Outline {
            url,
            title: title.or(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_carry_the_folders_they_are_in() {
        let text = r#"<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>
<outline text="Technik"><outline text="Web &amp; Netz">
  <outline text="A" title="Blog A" type="rss" xmlUrl="https://a.example/feed"/>
</outline>
<outline text="B" type="rss" xmlUrl="https://b.example/rss"></outline>
</outline>
<outline type="rss" xmlUrl="https://c.example/atom"/>
</body></opml>"#;
        let found = feeds(text).unwrap();
        assert_eq!(
            found,
            vec![
                OpmlFeed {
                    url: "https://a.example/feed".into(),
                    title: Some("Blog A".into()),
                    categories: vec!["Technik".into(), "Web & Netz".into()],
                },
                OpmlFeed {
                    url: "https://b.example/rss".into(),
                    title: Some("B".into()),
                    categories: vec!["Technik".into()],
                },
                OpmlFeed {
                    url: "https://c.example/atom".into(),
                    title: None,
                    categories: vec![],
                },
            ]
        );
    }

    #[test]
    fn what_is_not_opml_is_refused() {
        assert!(
            feeds("<rss><channel/></rss>")
                .unwrap_err()
                .contains("not an OPML")
        );
        assert!(
            feeds("<opml><body><outline></body>")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(
            feeds("<!DOCTYPE opml [<!ENTITY a \"b\">]><opml/>")
                .unwrap_err()
                .contains("DOCTYPE")
        );
    }
}
