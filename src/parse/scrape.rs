//! HTML sources: the items of a page without a feed, read with CSS selectors.
//!
//! A source with `kind = "html"` names, in `[source.select]`, the element of
//! each item (`item`) and, inside it, where its title, link, date and summary
//! are. A field is a CSS selector, optionally followed by `@attribute` to read
//! an attribute instead of the text (`h3 a@href`, `time@datetime`); `@href`
//! alone reads the item element's own attribute. Rules:
//!
//! * Links are resolved against the page's `<base href>`, else its URL, and
//!   only http(s) links count. The link is what identifies an item, so a page
//!   whose counters or timestamps change on every request never yields the
//!   same item twice; an item without a link is left out, and of items with
//!   the same link the first is kept.
//! * Dates are read in the forms German sites print ([`super::dates`]).
//! * The summary keeps the element's markup (sanitized later, like a feed's);
//!   read from an attribute, it is text.
//! * A selector that matches nothing is an error for the source, not an empty
//!   success: `item` matching no element, or `link` matching in no item.
//! * At most [`MAX_ITEMS`] items are read from one page.

use scraper::{ElementRef, Html, Selector};
use url::Url;

/// Most items read from one page: a press release list shows tens; a page
/// that matches thousands is a selector matching the wrong thing.
pub const MAX_ITEMS: usize = 500;

/// One field of `[source.select]`: a selector and what to read.
#[derive(Debug, Clone)]
pub struct Field {
    /// As written in the configuration.
    pub text: String,
    /// `None` for the item element itself (`@href`).
    selector: Option<Selector>,
    /// The attribute to read; `None` reads the text.
    pub attribute: Option<String>,
}

impl PartialEq for Field {
    fn eq(&self, other: &Field) -> bool {
        self.text == other.text
    }
}

impl Field {
    /// Parses `selector` or `selector@attribute`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Field, String> {
        let trimmed = text.trim();
        let (css, attribute) = match trimmed.rsplit_once('@') {
            Some((css, attribute)) if is_attribute_name(attribute) => {
                (css.trim(), Some(attribute.to_ascii_lowercase()))
            }
            _ => (trimmed, None),
        };
        if css.is_empty() && attribute.is_none() {
            return Err("the selector is empty".into());
        }
        let selector = if css.is_empty() {
            None
        } else {
            Some(
                Selector::parse(css)
                    .map_err(|err| format!("`{css}` is not a valid CSS selector ({err})"))?,
            )
        };
        Ok(Field {
            text: trimmed.to_owned(),
            selector,
            attribute,
        })
    }

    /// The first element this field selects in `item` (the item itself for
    /// `@attribute` alone).
    fn element<'a>(&self, item: ElementRef<'a>) -> Option<ElementRef<'a>> {
        match &self.selector {
            None => Some(item),
            Some(selector) => item.select(selector).next(),
        }
    }

    /// What this field reads in `item`: the attribute, or the text with
    /// whitespace collapsed. `None` if nothing matched or it is empty.
    fn value(&self, item: ElementRef<'_>) -> Option<String> {
        self.value_or(item, None)
    }

    /// [`Field::value`], reading `implied` instead of the text when no
    /// attribute is named and the element has it: a link is an `<a>`'s
    /// `href` (`link = "h3 a"`), a date a `<time>`'s `datetime`.
    fn value_or(&self, item: ElementRef<'_>, implied: Option<&str>) -> Option<String> {
        let element = self.element(item)?;
        let implied = implied.and_then(|name| element.value().attr(name));
        let value = match (&self.attribute, implied) {
            (Some(attribute), _) => element.value().attr(attribute)?.to_owned(),
            (None, Some(implied)) => implied.to_owned(),
            (None, None) => element.text().collect::<String>(),
        };
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        (!value.is_empty()).then_some(value)
    }
}

fn is_attribute_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
}

/// `[source.select]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Selectors {
    pub item: Field,
    pub title: Field,
    pub link: Field,
    pub date: Option<Field>,
    pub summary: Option<Field>,
}

/// What the selectors found in one item element.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrapedItem {
    pub title: Option<String>,
    /// Absolute http(s) link.
    pub link: Option<String>,
    /// The date as the page wrote it, and as read.
    pub date_text: Option<String>,
    pub published: Option<i64>,
    /// HTML, not yet sanitized.
    pub summary_html: Option<String>,
    /// The fields whose selector found nothing in this item.
    pub missed: Vec<&'static str>,
}

/// What a page yielded.
#[derive(Debug, Clone, PartialEq)]
pub struct Scraped {
    pub items: Vec<ScrapedItem>,
    /// What the page's relative links are relative to (its `<base href>`,
    /// else its URL): for the links in summaries too.
    pub base: Url,
}

/// Why a page yielded no items.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error(
        "the `item` selector `{selector}` matched 0 elements on the page; compare it with the page's HTML (the page may have changed)"
    )]
    NoItems { selector: String },
    #[error(
        "the `link` selector `{selector}` found no http(s) link in any of the {items} items; every item needs a link"
    )]
    NoLinks { selector: String, items: usize },
}

/// Reads every item of the page, including those without a link (for
/// `kurator preview`); [`scrape`] is what ingest keeps.
pub fn scrape_all(html: &str, page: &Url, selectors: &Selectors) -> Result<Scraped, ScrapeError> {
    let document = Html::parse_document(&crate::text::bound_html_depth(html));
    let base = page_base(&document, page);
    let item_selector = selectors.item.selector.as_ref();
    let elements: Vec<ElementRef<'_>> = match item_selector {
        Some(selector) => document.select(selector).take(MAX_ITEMS).collect(),
        None => Vec::new(),
    };
    if elements.is_empty() {
        return Err(ScrapeError::NoItems {
            selector: selectors.item.text.clone(),
        });
    }
    let items: Vec<ScrapedItem> = elements
        .into_iter()
        .map(|element| read_item(element, &base, selectors))
        .collect();
    if items.iter().all(|item| item.link.is_none()) {
        return Err(ScrapeError::NoLinks {
            selector: selectors.link.text.clone(),
            items: items.len(),
        });
    }
    Ok(Scraped { items, base })
}

/// The items of the page that have a link, the first of each link only.
pub fn scrape(html: &str, page: &Url, selectors: &Selectors) -> Result<Scraped, ScrapeError> {
    let mut scraped = scrape_all(html, page, selectors)?;
    let mut keep = kept(&scraped.items).into_iter();
    scraped.items.retain(|_| keep.next().unwrap_or(false));
    Ok(scraped)
}

/// Which of the items [`scrape_all`] read are kept: those with a link, the
/// first of each (canonical) link.
pub fn kept(items: &[ScrapedItem]) -> Vec<bool> {
    let mut seen = std::collections::HashSet::new();
    items
        .iter()
        .map(|item| {
            item.link
                .as_deref()
                .is_some_and(|link| seen.insert(crate::links::canonical_link(link)))
        })
        .collect()
}

fn read_item(element: ElementRef<'_>, base: &Url, selectors: &Selectors) -> ScrapedItem {
    let mut item = ScrapedItem {
        title: selectors.title.value(element),
        ..ScrapedItem::default()
    };
    if item.title.is_none() {
        item.missed.push("title");
    }
    item.link = selectors
        .link
        .value_or(element, Some("href"))
        .and_then(|href| base.join(&href).ok())
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .map(String::from);
    if item.link.is_none() {
        item.missed.push("link");
    }
    if let Some(date) = &selectors.date {
        item.date_text = date.value_or(element, Some("datetime"));
        item.published = item.date_text.as_deref().and_then(super::dates::parse);
        if item.published.is_none() {
            item.missed.push("date");
        }
    }
    if let Some(summary) = &selectors.summary {
        item.summary_html = match &summary.attribute {
            Some(_) => summary
                .value(element)
                .map(|text| crate::text::escape_text(&text)),
            None => summary
                .element(element)
                .map(|e| e.inner_html())
                .filter(|html| !html.trim().is_empty()),
        };
        if item.summary_html.is_none() {
            item.missed.push("summary");
        }
    }
    item
}

/// The page's `<base href>`, resolved against its URL; else its URL.
fn page_base(document: &Html, page: &Url) -> Url {
    static BASE: std::sync::LazyLock<Selector> =
        std::sync::LazyLock::new(|| Selector::parse("base[href]").expect("valid selector"));
    document
        .select(&BASE)
        .next()
        .and_then(|base| base.value().attr("href"))
        .and_then(|href| page.join(href.trim()).ok())
        .unwrap_or_else(|| page.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selectors(item: &str, title: &str, link: &str, date: &str, summary: &str) -> Selectors {
        let optional = |text: &str| (!text.is_empty()).then(|| Field::parse(text).unwrap());
        Selectors {
            item: Field::parse(item).unwrap(),
            title: Field::parse(title).unwrap(),
            link: Field::parse(link).unwrap(),
            date: optional(date),
            summary: optional(summary),
        }
    }

    fn page() -> Url {
        Url::parse("https://www.stadt.example/presse/aktuelles/index.php?seite=1").unwrap()
    }

    const TEASERS: &str = r#"<!DOCTYPE html><html><head><title>Presse</title></head><body>
        <div id="besucher">Besucher: 48213</div>
        <article class="teaser">
          <h3><a href="meldung-1.html">Neue  Kita in
             Arheilgen</a></h3>
          <time datetime="2025-03-05T10:15:00+01:00">5. März 2025</time>
          <p>Die Stadt eröffnet eine <b>neue</b> Kita.</p>
        </article>
        <article class="teaser">
          <h3><a href="/presse/meldung-2.html">Sperrung der Heinrichstraße</a></h3>
          <span class="datum">Montag, 12. April 2021, 14:30 Uhr</span>
        </article>
        <article class="teaser"><h3>Ohne Link</h3></article>
        <article class="teaser">
          <h3><a href="meldung-1.html#oben">Neue Kita (Wiederholung)</a></h3>
        </article>
      </body></html>"#;

    #[test]
    fn fields_read_text_or_an_attribute() {
        let field = Field::parse("h3 a@href").unwrap();
        assert_eq!(field.attribute.as_deref(), Some("href"));
        assert!(Field::parse("@href").unwrap().selector.is_none());
        assert!(Field::parse("h3").unwrap().attribute.is_none());
        // An @ inside an attribute selector's value is not an attribute to read.
        assert!(Field::parse("a[href*=\"@x\"]").unwrap().attribute.is_none());
        assert!(
            Field::parse("h3 >>> a")
                .unwrap_err()
                .contains("not a valid CSS selector")
        );
        assert!(Field::parse("  ").is_err());
    }

    #[test]
    fn a_teaser_list_is_read() {
        let items = scrape(
            TEASERS,
            &page(),
            &selectors("article.teaser", "h3", "h3 a@href", "time@datetime", "p"),
        );
        let items = items.unwrap().items;
        assert_eq!(items.len(), 2, "no link, and a repeated link, are left out");
        assert_eq!(items[0].title.as_deref(), Some("Neue Kita in Arheilgen"));
        assert_eq!(
            items[0].link.as_deref(),
            Some("https://www.stadt.example/presse/aktuelles/meldung-1.html")
        );
        assert_eq!(items[0].published, Some(1_741_166_100));
        assert_eq!(
            items[0].summary_html.as_deref(),
            Some("Die Stadt eröffnet eine <b>neue</b> Kita.")
        );
        assert_eq!(
            items[1].link.as_deref(),
            Some("https://www.stadt.example/presse/meldung-2.html")
        );
        assert_eq!(items[1].missed, ["date", "summary"]);
    }

    #[test]
    fn dates_are_read_from_text_too() {
        let items = scrape(
            TEASERS,
            &page(),
            &selectors("article.teaser", "h3", "h3 a@href", ".datum, time", ""),
        )
        .unwrap()
        .items;
        // A <time>'s datetime, and "Montag, 12. April 2021, 14:30 Uhr" (summer time).
        assert_eq!(items[0].published, Some(1_741_166_100));
        assert_eq!(items[1].published, Some(1_618_230_600));
    }

    #[test]
    fn links_and_times_read_their_attribute_unless_told_otherwise() {
        let items = scrape(
            TEASERS,
            &page(),
            &selectors("article.teaser", "h3", "h3 a", "time", ""),
        )
        .unwrap()
        .items;
        assert_eq!(
            items[0].link.as_deref(),
            Some("https://www.stadt.example/presse/aktuelles/meldung-1.html")
        );
        assert_eq!(
            items[0].date_text.as_deref(),
            Some("2025-03-05T10:15:00+01:00")
        );
    }

    #[test]
    fn a_huge_or_hostile_page_is_bounded() {
        let mut html = String::from("<ul>");
        for n in 0..2_000 {
            html.push_str(&format!("<li><a href=\"/m/{n}\">Meldung {n}</a></li>"));
        }
        // Unclosed, deeply nested markup and a script in an item.
        html.push_str(&"<div>".repeat(1_000));
        html.push_str("<li><script>alert(1)</script><a href=\"javascript:alert(1)\">x</a></li>");
        let items = scrape(&html, &page(), &selectors("li", "a", "a@href", "", "li"))
            .unwrap()
            .items;
        assert_eq!(items.len(), MAX_ITEMS);
        assert_eq!(items[0].title.as_deref(), Some("Meldung 0"));
        assert!(
            items
                .iter()
                .all(|i| i.link.as_deref().unwrap().starts_with("https://"))
        );
    }

    #[test]
    fn a_base_element_moves_relative_links() {
        let html = r#"<html><head><base href="https://cms.example/site/"></head><body>
            <ul><li><a href="a.html">A</a> <p>Mehr <a href="b.html">hier</a></p></li></ul></body></html>"#;
        let scraped = scrape(html, &page(), &selectors("li", "a", "a@href", "", "p")).unwrap();
        assert_eq!(scraped.base.as_str(), "https://cms.example/site/");
        // Links in the summary too, once normalized against the page's base.
        let items = crate::normalize::normalize_scraped(&scraped.items, &scraped.base, i64::MAX);
        assert!(
            items[0]
                .summary
                .as_deref()
                .unwrap()
                .contains("href=\"https://cms.example/site/b.html\""),
            "{:?}",
            items[0].summary
        );
        let items = scrape(html, &page(), &selectors("li", "a", "a@href", "", ""))
            .unwrap()
            .items;
        assert_eq!(
            items[0].link.as_deref(),
            Some("https://cms.example/site/a.html")
        );
    }

    #[test]
    fn selectors_that_match_nothing_say_so() {
        let err = scrape(
            TEASERS,
            &page(),
            &selectors("div.news", "h3", "a@href", "", ""),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the `item` selector `div.news` matched 0 elements on the page; compare it with the page's HTML (the page may have changed)"
        );
        let err = scrape(
            TEASERS,
            &page(),
            &selectors("article", "h3", "h4 a@href", "", ""),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "the `link` selector `h4 a@href` found no http(s) link in any of the 4 items"
            ),
            "{err}"
        );
        // Links that are not http(s) do not count.
        let html = r#"<ul><li><a href="mailto:presse@stadt.example">Mail</a></li></ul>"#;
        assert!(scrape(html, &page(), &selectors("li", "a", "a@href", "", "")).is_err());
    }
}
