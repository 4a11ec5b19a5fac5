//! What the store's unit tests share: a database file in a temporary
//! directory, and items as ingest hands them to the store.

use tempfile::TempDir;

use super::{Counts, FetchRecord, Store};
use crate::dedup::Identified;
use crate::fetch::Validators;
use crate::identify::identify;
use crate::normalize::Item;

/// The tests' clock: seconds since the epoch.
pub const NOW: i64 = 1_800_000_000;

/// A new database in a directory that lives as long as the returned guard.
pub fn open() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("kurator.db")).unwrap();
    (dir, store)
}

/// An item of `source` published an hour ago, at `link`.
pub fn item(source: &str, guid: &str, title: &str, link: &str) -> Identified {
    let item = Item {
        guid: Some(guid.into()),
        link: Some(link.into()),
        title: title.into(),
        summary: Some(format!("<p>{title}</p>")),
        content: None,
        author: None,
        categories: vec!["Verwaltung".into()],
        published: Some(NOW - 3600),
        updated: None,
    };
    identify(source, vec![item]).pop().unwrap()
}

/// `item`, stored under `topics`.
pub fn tagged(mut item: Identified, topics: &[&str]) -> Identified {
    item.topics = topics.iter().map(|t| t.to_string()).collect();
    item
}

/// A `200` with an `ETag`.
pub fn success() -> FetchRecord {
    FetchRecord::Success {
        status: 200,
        validators: Some(Validators {
            etag: Some("\"e1\"".into()),
            last_modified: None,
        }),
        body_sha256: Some([7; 32]),
        effective_url: "https://www.example.de/feed".into(),
        moved_to: None,
        feed_ttl: None,
        fresh_until: None,
    }
}

/// Records a successful fetch of `source` with `items`, at [`NOW`].
pub fn record(store: &mut Store, source: &str, mut items: Vec<Identified>) -> Counts {
    store
        .record_fetch(
            source,
            "https://www.example.de/feed",
            &success(),
            &mut items,
            NOW,
        )
        .unwrap()
}
