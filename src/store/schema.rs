//! Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
//!
//! Never edit a migration that has shipped: add a new one. Tests open a
//! database at every older version and migrate it forward.

/// Each entry moves the schema one version up.
pub const MIGRATIONS: &[&str] = &[
    // 1: sources and items.
    "
    CREATE TABLE sources (
        id                 TEXT PRIMARY KEY,
        url                TEXT NOT NULL,
        etag               TEXT,
        last_modified      TEXT,
        body_sha256        BLOB,
        last_status        INTEGER,
        last_error         TEXT,
        consecutive_errors INTEGER NOT NULL DEFAULT 0,
        retry_after        INTEGER,
        gone_since         INTEGER,
        last_fetched       INTEGER,
        last_success       INTEGER
    );
    -- AUTOINCREMENT: a deleted item's row id is never handed out again.
    -- `uid` is derived from (source_id, identity), so its unique index is also
    -- the lookup key for whether an item is stored already; one short index instead
    -- of one on two long text columns keeps inserts cheap.
    CREATE TABLE items (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        uid           TEXT NOT NULL UNIQUE,
        source_id     TEXT NOT NULL,
        identity      TEXT NOT NULL,
        guid          TEXT,
        link          TEXT,
        title         TEXT NOT NULL,
        summary       TEXT,
        content       TEXT,
        author        TEXT,
        categories    TEXT NOT NULL DEFAULT '[]',
        published     INTEGER NOT NULL,
        updated       INTEGER NOT NULL,
        first_seen    INTEGER NOT NULL,
        content_hash  BLOB NOT NULL
    );
    CREATE INDEX items_by_date ON items (published DESC);
    ",
    // 2: where a source really lives now (redirects), and items per source.
    "
    ALTER TABLE sources ADD COLUMN effective_url TEXT;
    ALTER TABLE sources ADD COLUMN moved_to TEXT;
    CREATE INDEX items_by_source ON items (source_id, published);
    ",
    // 3: topic membership, written with the item. An item's other tags are
    // derived when read: its source's tags from the config (so they follow
    // config changes at once) and its categories from `items.categories`.
    // Items stored before this version get their topics from `kurator retag`.
    "
    CREATE TABLE item_topics (
        topic    TEXT NOT NULL,
        item_id  INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
        PRIMARY KEY (topic, item_id)
    ) WITHOUT ROWID;
    CREATE INDEX item_topics_by_item ON item_topics (item_id);
    ",
    // 4: a version per output feed (a topic slug, or `all`), bumped in the
    // transaction that changes what the feed would show: the server keeps
    // rendered feeds until their version moves, so an unchanged feed costs no
    // database work. Whatever changes items or topics must bump it.
    "
    CREATE TABLE feed_versions (
        feed        TEXT PRIMARY KEY,
        version     INTEGER NOT NULL,
        changed_at  INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
    // 5: what a feed says of its own freshness (its `<ttl>`, in seconds, and
    // until when it or `Cache-Control: max-age` asked not to be polled).
    "
    ALTER TABLE sources ADD COLUMN feed_ttl INTEGER;
    ALTER TABLE sources ADD COLUMN fresh_until INTEGER;
    ",
    // 6: items deleted by retention (`[storage] keep_days`), remembered so a
    // feed that still carries one never brings it back as new.
    "
    CREATE TABLE pruned (
        uid        TEXT PRIMARY KEY,
        pruned_at  INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
    // 7: one story, one entry. `cluster_id` is NULL for an item alone, else
    // the id of the cluster's first item, whose uid is the cluster entry's id;
    // `cluster_reason` (`link`, `cites`, `text`) and `cluster_score` say why
    // an item joined. Items stored before this version stay alone.
    "
    ALTER TABLE items ADD COLUMN cluster_id INTEGER;
    ALTER TABLE items ADD COLUMN cluster_reason TEXT;
    ALTER TABLE items ADD COLUMN cluster_score REAL;
    CREATE INDEX items_by_cluster ON items (cluster_id) WHERE cluster_id IS NOT NULL;
    ",
    // 8: editors' corrections to stories (`kurator split`, `kurator join`),
    // by uid so that they outlive row ids and pruning; `other_uid` is the
    // story's entry id a split report left, or the report whose story a
    // join went into. A report whose last correction is a split is held
    // apart: no later report groups with it. `items.entry_uid` is the id of
    // the entry an item shows as, alone or as its story's first report, when
    // that is not its own uid: a story whose first report was split off
    // keeps its entry id, and that report gets a new one.
    "
    CREATE TABLE story_corrections (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        item_uid  TEXT NOT NULL,
        kind      TEXT NOT NULL CHECK (kind IN ('split', 'join')),
        other_uid TEXT NOT NULL,
        at        INTEGER NOT NULL
    );
    CREATE INDEX story_corrections_by_item ON story_corrections (item_uid);
    ALTER TABLE items ADD COLUMN entry_uid TEXT;
    CREATE INDEX items_by_entry_uid ON items (entry_uid) WHERE entry_uid IS NOT NULL;
    ",
    // 9: how many new items the source's last read of its feed skipped as
    // older than `[storage] keep_days`, and the days that applied then: a
    // first fetch of an old feed stores nothing, and `kurator status` says why.
    "
    ALTER TABLE sources ADD COLUMN skipped_old INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sources ADD COLUMN skipped_keep_days INTEGER;
    ",
];
