//! Identify: which stored item an entry is, so that re-fetching never duplicates.
//!
//! An item's identity within its source is, in this order:
//! 1. the feed's own id (`guid`, Atom `id`), when present and unique in the
//!    document (some CMSs give every entry the same guid);
//! 2. else its canonical link, when unique in the document;
//! 3. else a hash of title, date and summary.
//!
//! Links are compared in their canonical form ([`crate::links`]).
//!
//! The public id (`uid`) is derived from the source id and the identity, so it
//! is the same on every machine and after every rebuild of the database: feed
//! readers must never see an item twice.
//!
//! [`Identified`] is the one record an item is from here to the store: the
//! normalized item, enriched by each later stage in place (topics by `tag`,
//! dedup's keys by `dedup`). The keys' type is a parameter so that this
//! stage, below dedup, need not know it: `dedup::Identified` names the
//! record with dedup's keys, as `std::io::Result` names a `Result` with
//! `io::Error`.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::links::canonical_link;
use crate::normalize::Item;

/// An item with its identity within the source and its public id; `Keys`
/// is what a later stage (dedup) compares it by.
#[derive(Debug, Clone)]
pub struct Identified<Keys> {
    /// `guid:…`, `link:…` or `hash:…`; unique within the source.
    pub identity: String,
    /// Stable public id, derived from source id and identity (32 hex digits).
    pub uid: String,
    /// Hash of what readers see (title, summary, content, link, author,
    /// categories); a change means the stored item is updated.
    pub content_hash: [u8; 32],
    pub item: Item,
    /// Slugs of the topics the item matches; filled in by the tag stage
    /// ([`crate::tag`]), empty until then.
    pub topics: Vec<String>,
    /// What dedup compares the item by; computed during ingest, so the
    /// single database writer does not have to (it does when missing).
    pub keys: Option<Keys>,
}

/// Identifies the items of one fetched document. Links are canonicalized in place.
/// Items that share an identity within the document keep only the first.
pub fn identify<Keys>(source_id: &str, items: Vec<Item>) -> Vec<Identified<Keys>> {
    let mut items = items;
    for item in &mut items {
        item.link = item.link.as_deref().map(canonical_link);
    }
    let mut guid_counts: HashMap<&str, usize> = HashMap::new();
    let mut link_counts: HashMap<&str, usize> = HashMap::new();
    for item in &items {
        if let Some(guid) = &item.guid {
            *guid_counts.entry(guid).or_default() += 1;
        }
        if let Some(link) = &item.link {
            *link_counts.entry(link).or_default() += 1;
        }
    }
    let identities: Vec<String> = items
        .iter()
        .map(|item| {
            if let Some(guid) = item.guid.as_deref().filter(|g| guid_counts[g] == 1) {
                format!("guid:{guid}")
            } else if let Some(link) = item.link.as_deref().filter(|l| link_counts[l] == 1) {
                format!("link:{link}")
            } else {
                format!("hash:{}", hex(&fallback_hash(item))[..32].to_owned())
            }
        })
        .collect();

    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .zip(identities)
        .filter(|(_, identity)| seen.insert(identity.clone()))
        .map(|(item, identity)| Identified {
            uid: uid(source_id, &identity),
            content_hash: content_hash(&item),
            identity,
            item,
            topics: Vec::new(),
            keys: None,
        })
        .collect()
}

/// The public id of an item: 128 bits of SHA-256 over source id and identity.
pub fn uid(source_id: &str, identity: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source_id.as_bytes());
    hasher.update([0]);
    hasher.update(identity.as_bytes());
    hex(&hasher.finalize()[..16])
}

fn fallback_hash(item: &Item) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in [
        item.title.as_str(),
        &item
            .published
            .or(item.updated)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        item.summary.as_deref().unwrap_or_default(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().into()
}

fn content_hash(item: &Item) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in [
        item.title.as_str(),
        item.summary.as_deref().unwrap_or_default(),
        item.content.as_deref().unwrap_or_default(),
        item.link.as_deref().unwrap_or_default(),
        item.author.as_deref().unwrap_or_default(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    for category in &item.categories {
        hasher.update(category.as_bytes());
        hasher.update([1]);
    }
    hasher.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(guid: Option<&str>, link: Option<&str>, title: &str) -> Item {
        Item {
            guid: guid.map(str::to_owned),
            link: link.map(str::to_owned),
            title: title.to_owned(),
            summary: None,
            content: None,
            author: None,
            categories: Vec::new(),
            published: Some(1_700_000_000),
            updated: None,
        }
    }

    #[test]
    fn canonical_links() {
        assert_eq!(
            canonical_link(
                "HTTPS://WWW.Darmstadt.DE:443/presse/?utm_source=rss&b=2&a=1&fbclid=x#oben"
            ),
            "https://www.darmstadt.de/presse/?a=1&b=2"
        );
        assert_eq!(
            canonical_link("http://example.org:80/a?utm_medium=feed"),
            "http://example.org/a"
        );
        assert_eq!(
            canonical_link("http://example.org:8080/a?mc_cid=1&mc_eid=2&id=5"),
            "http://example.org:8080/a?id=5"
        );
        assert_eq!(canonical_link("not a url"), "not a url");
    }

    #[test]
    fn identity_order() {
        let items = vec![
            item(Some("g1"), Some("https://e.org/1"), "a"),
            item(None, Some("https://e.org/2?utm_source=x"), "b"),
            item(None, None, "c"),
            // Duplicate guids fall back to links.
            item(Some("same"), Some("https://e.org/4"), "d"),
            item(Some("same"), Some("https://e.org/5"), "e"),
        ];
        let identified: Vec<Identified<()>> = identify("k21", items);
        let identities: Vec<&str> = identified.iter().map(|i| i.identity.as_str()).collect();
        assert_eq!(identities[0], "guid:g1");
        assert_eq!(identities[1], "link:https://e.org/2");
        assert!(identities[2].starts_with("hash:"));
        assert_eq!(identities[3], "link:https://e.org/4");
        assert_eq!(identities[4], "link:https://e.org/5");
        assert_eq!(identified[1].item.link.as_deref(), Some("https://e.org/2"));
    }

    #[test]
    fn uids_are_stable_and_source_scoped() {
        assert_eq!(uid("k21", "guid:g1"), uid("k21", "guid:g1"));
        assert_ne!(uid("k21", "guid:g1"), uid("bs", "guid:g1"));
        assert_eq!(uid("k21", "guid:g1").len(), 32);
        // Pinned: changing the derivation would show every item again in every reader.
        assert_eq!(uid("k21", "guid:g1"), "acf4c28ae020b92a1a03aef493782869");
    }

    #[test]
    fn identical_entries_collapse() {
        let identified: Vec<Identified<()>> =
            identify("s", vec![item(None, None, "x"), item(None, None, "x")]);
        assert_eq!(identified.len(), 1);
    }
}
