//! Redact: addresses as they may be shown. A source URL can carry credentials
//! (`https://user:pass@host/`, `?token=…`); Kurator fetches the real URL, but
//! every feed, page, status line, error and log shows [`Redacted`] instead:
//! no user info, and the values of secret-looking query (and fragment)
//! parameters replaced by `***`. A leaf module: every stage may use it.

use std::fmt;

use url::Url;

/// What a hidden value is shown as.
pub const MASK: &str = "***";

/// A URL for display, without its secrets: `format!("{}", Redacted(&url))`.
pub struct Redacted<'a>(pub &'a Url);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redacted(self.0))
    }
}

/// `url` as it may be shown.
pub fn redacted(url: &Url) -> String {
    let has_user_info = !url.username().is_empty() || url.password().is_some();
    let masked_query = url.query().and_then(mask_parameters);
    let masked_fragment = url.fragment().and_then(mask_parameters);
    if !has_user_info && masked_query.is_none() && masked_fragment.is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    // Only URLs that cannot have user info (`mailto:`) refuse this, and those have none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if let Some(query) = masked_query {
        shown.set_query(Some(&query));
    }
    if let Some(fragment) = masked_fragment {
        shown.set_fragment(Some(&fragment));
    }
    shown.to_string()
}

/// A stored URL string as it may be shown; text that is no URL is kept.
pub fn redacted_text(text: &str) -> String {
    Url::parse(text).map_or_else(|_| text.to_owned(), |url| redacted(&url))
}

/// `text` with the secrets of `url` (password, user name, secret parameter
/// values) replaced by [`MASK`], for messages written before they were
/// redacted, or by a library that quotes the URL.
pub fn scrub(text: &str, url: &Url) -> String {
    let mut secrets: Vec<String> = Vec::new();
    let decoded = percent_decode;
    for raw in [url.username(), url.password().unwrap_or_default()] {
        if !raw.is_empty() {
            secrets.push(raw.to_owned());
            secrets.push(decoded(raw));
        }
    }
    for part in [url.query(), url.fragment()].into_iter().flatten() {
        for (name, value) in part.split('&').filter_map(|pair| pair.split_once('=')) {
            if is_secret_name(&decoded(name)) && !value.is_empty() {
                secrets.push(value.to_owned());
                secrets.push(decoded(value));
            }
        }
    }
    // Longest first, so a secret containing another is hidden whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut scrubbed = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 3) {
        if scrubbed.contains(secret.as_str()) {
            scrubbed = scrubbed.replace(secret.as_str(), MASK);
        }
    }
    scrubbed
}

/// `name=value&…` with the values of secret names masked; `None` when
/// nothing was secret (the text is then shown as it is, byte for byte).
fn mask_parameters(pairs: &str) -> Option<String> {
    let mut masked = false;
    let shown: Vec<String> = pairs
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !value.is_empty() && is_secret_name(&percent_decode(name)) => {
                masked = true;
                format!("{name}={MASK}")
            }
            _ => pair.to_owned(),
        })
        .collect();
    masked.then(|| shown.join("&"))
}

/// Whether a parameter name says its value is a credential (`token`,
/// `api_key`, `X-Amz-Signature`, `client_secret`, …), ignoring case.
pub fn is_secret_name(name: &str) -> bool {
    const NAMES: [&str; 12] = [
        "key",
        "apikey",
        "pass",
        "passwd",
        "password",
        "pwd",
        "secret",
        "sig",
        "signature",
        "auth",
        "authorization",
        "credential",
    ];
    const ENDINGS: [&str; 8] = [
        "token",
        "secret",
        "password",
        "apikey",
        "api_key",
        "_key",
        "-key",
        "signature",
    ];
    let name = name.trim().to_ascii_lowercase();
    NAMES.contains(&name.as_str())
        || ENDINGS.iter().any(|ending| name.ends_with(ending))
        || name.contains("credential")
        || name == "session"
        || name == "sessionid"
        || name == "sid"
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map_or_else(|| text.to_owned(), |(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_and_secret_parameters_are_hidden() {
        let url =
            Url::parse("https://user:pw@feeds.example/feed?token=abc&page=2&API_KEY=k1#x").unwrap();
        assert_eq!(
            redacted(&url),
            "https://feeds.example/feed?token=***&page=2&API_KEY=***#x"
        );
        assert_eq!(Redacted(&url).to_string(), redacted(&url));
        for url in [
            "https://feeds.example/feed?Access_Token=abc",
            "https://feeds.example/feed?X-Amz-Signature=abc&x=1",
            "https://feeds.example/feed?sig=abc",
            "https://feeds.example/feed#access_token=abc",
            "https://user@feeds.example/feed",
        ] {
            let shown = redacted(&Url::parse(url).unwrap());
            assert!(!shown.contains("abc") && !shown.contains("user"), "{shown}");
        }
    }

    #[test]
    fn harmless_urls_are_shown_as_they_are() {
        for url in [
            "https://www.darmstadt.de/presse/rss.xml",
            "https://feeds.example/feed?page=2&q=a%20b+c&monkey=1",
        ] {
            assert_eq!(redacted(&Url::parse(url).unwrap()), url);
        }
        assert_eq!(redacted_text("not a url"), "not a url");
    }

    #[test]
    fn messages_lose_the_secrets_of_a_url() {
        let url = Url::parse("https://user:p%40ss@feeds.example/feed?token=abc123").unwrap();
        let message =
            "request to https://user:p%40ss@feeds.example/feed?token=abc123 failed (p@ss)";
        let scrubbed = scrub(message, &url);
        for secret in ["p%40ss", "p@ss", "abc123", "user"] {
            assert!(!scrubbed.contains(secret), "{scrubbed}");
        }
        assert!(scrubbed.contains("feeds.example/feed"));
    }
}
