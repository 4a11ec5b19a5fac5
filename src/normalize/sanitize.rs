//! Sanitize: the HTML allowlist every stored summary and content passes.
//!
//! ammonia's default allowlist already drops `script`, `style`, `iframe`,
//! `object`, `embed`, `form`, every `on*` attribute and `javascript:` URLs;
//! we add: relative URLs resolved against the feed's base (a topic feed is
//! read far from the page the item came from), and `rel="noopener noreferrer
//! nofollow"` on links, since we republish links we did not write.
//!
//! Most summaries in real feeds are plain text; they skip the HTML parser.
//! Markup nested deeper than [`crate::text::MAX_HTML_DEPTH`] is flattened
//! first, so a hostile item costs time linear in its length, and a field
//! longer than [`MAX_HTML_BYTES`] is cut off there first: the parser's tree
//! of a 10 MB field alone took 300 MB.

use ammonia::{Builder, UrlRelative};
use url::Url;

/// The most of one summary or content that is kept: far more than any
/// real report (a long press release is some 50 KB of HTML).
pub const MAX_HTML_BYTES: usize = 1 << 20;

/// A sanitizer bound to one base URL (building one costs a few allocations,
/// so one is made per feed, not per item).
pub struct Sanitizer {
    builder: Builder<'static>,
}

impl Sanitizer {
    pub fn new(base: &Url) -> Sanitizer {
        let mut builder = Builder::default();
        builder
            .url_relative(UrlRelative::RewriteWithBase(base.clone()))
            .link_rel(Some("noopener noreferrer nofollow"));
        Sanitizer { builder }
    }

    /// Cleans an HTML fragment.
    pub fn clean_html(&self, html: &str) -> String {
        if html.len() > MAX_HTML_BYTES {
            let mut end = MAX_HTML_BYTES;
            while !html.is_char_boundary(end) {
                end -= 1;
            }
            let mut cleaned = self.clean_html(&html[..end]);
            cleaned.push_str(" […]");
            return cleaned;
        }
        if !html.contains(['<', '&']) {
            // Nothing to parse: plain text is already safe HTML once `>` and `"`
            // are escaped (they are harmless, but escaping keeps output canonical).
            return escape_text(html);
        }
        self.builder
            .clean(&crate::text::bound_html_depth(html))
            .to_string()
    }
}

pub use crate::text::escape_text;

#[cfg(test)]
mod tests {
    #[test]
    fn a_field_longer_than_the_limit_is_cut_and_still_clean() {
        let sanitizer = super::Sanitizer::new(&url::Url::parse("https://stadt.example/").unwrap());
        // The cut falls inside a tag and inside a two-byte character.
        let unit = "<p>Straße <a href=\"/m\" onclick=\"x()\">mehr</a></p>";
        let html = unit.repeat(super::MAX_HTML_BYTES / unit.len() + 10);
        let cleaned = sanitizer.clean_html(&html);
        // Links grow when made absolute and given `rel`; the input stops at the limit.
        assert!(
            cleaned.len() < 3 * super::MAX_HTML_BYTES,
            "{}",
            cleaned.len()
        );
        assert!(cleaned.ends_with(" […]"));
        assert!(!cleaned.contains("onclick"));
        assert!(cleaned.starts_with("<p>Straße <a href=\"https://stadt.example/m\""));
    }

    use super::*;

    fn clean(html: &str) -> String {
        Sanitizer::new(&Url::parse("https://www.darmstadt.de/presse/").unwrap()).clean_html(html)
    }

    #[test]
    fn dangerous_markup_is_removed() {
        let dirty = r#"<p onclick="x()">Hallo <b>Welt</b><script>alert(1)</script><style>p{}</style>
            <iframe src="https://evil.example/"></iframe><object data="x"></object><embed src="y">
            <a href="javascript:alert(1)">klick</a><img src="/bild.jpg" onerror="x()"></p>"#;
        let out = clean(dirty);
        for banned in [
            "<script",
            "alert(1)",
            "<style",
            "<iframe",
            "<object",
            "<embed",
            "onclick",
            "onerror",
            "javascript:",
        ] {
            assert!(!out.contains(banned), "{banned} survived in {out}");
        }
        assert!(out.contains("Hallo <b>Welt</b>"));
        assert!(
            out.contains(r#"src="https://www.darmstadt.de/bild.jpg""#),
            "{out}"
        );
    }

    #[test]
    fn links_are_absolute_and_marked() {
        let out = clean(r#"<a href="../rathaus/">Rathaus</a>"#);
        assert_eq!(
            out,
            r#"<a href="https://www.darmstadt.de/rathaus/" rel="noopener noreferrer nofollow">Rathaus</a>"#
        );
    }

    #[test]
    fn deeply_nested_markup_is_cheap_and_still_clean() {
        // 100,000 levels took 14 s in a release build (quadratic in html5ever).
        // 25,000 keep the whole input under MAX_HTML_BYTES, so the depth
        // bound alone is what keeps it cheap here.
        let levels = 25_000;
        let mut dirty = String::new();
        for _ in 0..levels {
            dirty.push_str("<div><span onclick=\"x()\">");
        }
        dirty.push_str("tief<script>alert(1)</script><a href=\"javascript:alert(1)\">klick</a>");
        for _ in 0..levels {
            dirty.push_str("</span></div>");
        }
        dirty.push_str("<p>danach</p>");
        let started = std::time::Instant::now();
        let out = clean(&dirty);
        let elapsed = started.elapsed();
        assert!(elapsed.as_secs() < 10, "took {elapsed:?}");
        // Tags beyond the depth bound are gone; their text (the script's too) is
        // left as escaped text.
        for banned in ["<script", "onclick", "javascript:", "<a "] {
            assert!(!out.contains(banned), "{banned} survived");
        }
        assert!(out.contains("tief"));
        assert!(
            out.ends_with("<p>danach</p>"),
            "{}",
            &out[out.len() - 100..]
        );
        assert!(out.matches("<div>").count() <= crate::text::MAX_HTML_DEPTH);
    }

    #[test]
    fn misnested_markup_cannot_grow_deep_either() {
        // Shapes where end tags do not close what they seem to: html5ever's
        // tree still grows with every repetition unless the scan bounds it.
        for unit in [
            "<p><div></p>",
            "<div></span>",
            "<ul><span><li></ul>",
            "<table><td><table><td>",
            "<b><i><u><p></b>",
            "<a href=/x><div>",
            "<svg><path/>",
            "<div/>",
        ] {
            let dirty = format!("{}<img src=x onerror=alert(1)>ende", unit.repeat(40_000));
            let started = std::time::Instant::now();
            let out = clean(&dirty);
            let elapsed = started.elapsed();
            assert!(elapsed.as_secs() < 10, "{unit}: took {elapsed:?}");
            assert!(!out.contains("onerror"), "{unit}");
            assert!(out.contains("ende"), "{unit}");
        }
    }

    #[test]
    fn plain_text_is_escaped() {
        assert_eq!(clean("Kosten > 5 Euro"), "Kosten &gt; 5 Euro");
        assert_eq!(clean("Ärger & Freude"), "Ärger &amp; Freude");
    }
}
