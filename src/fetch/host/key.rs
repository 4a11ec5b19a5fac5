//! The key that per-host state is kept under.

use std::fmt;

use url::Url;

/// `host:port`, lower-cased as the URL parser leaves it: the unit that
/// per-host limits count. Two sources on `https://example.org/a` and
/// `https://EXAMPLE.org:443/b` share one key; `http://` and `https://` on
/// the same name do not (different ports, often different servers).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostKey(String);

impl HostKey {
    pub fn of(url: &Url) -> HostKey {
        HostKey(format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(0)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(url: &str) -> HostKey {
        HostKey::of(&Url::parse(url).unwrap())
    }

    #[test]
    fn default_ports_and_case_share_a_key() {
        assert_eq!(
            key("https://Example.org/a"),
            key("https://example.org:443/b")
        );
        assert_eq!(key("https://example.org/").as_str(), "example.org:443");
    }

    #[test]
    fn schemes_and_ports_differ() {
        assert_ne!(key("http://example.org/"), key("https://example.org/"));
        assert_ne!(
            key("https://example.org:8443/"),
            key("https://example.org/")
        );
        assert_eq!(key("http://[::1]:8080/").as_str(), "[::1]:8080");
    }
}
