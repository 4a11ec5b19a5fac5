//! Kurator watches German municipal and e-government sources, stores every item
//! once in SQLite and re-emits curated topic feeds.
//!
//! Data flows one way, and the modules follow that flow:
//!
//! ```text
//! config → schedule → fetch → decode → parse → normalize → identify → dedup → tag → store
//!                 (ingest drives one source through all of them)
//! store → render → feeds → serve
//! ```
//!
//! A module imports only modules below it in `tests/layering.rs`'s order:
//! the leaves, the stages in the order above, then `ingest`, `config` (which
//! builds the stages' settings) and the daemon. That test fails on any
//! import against the order, so the modules form no cycle. The command line
//! is the binary on top (`main.rs`, `commands/`): the library prints nothing
//! and returns typed errors; the binary turns them into messages and exit
//! codes.
//!
//! * [`config`]: reads and validates `feeds.toml`; every error carries `FILE:LINE:COL`.
//! * [`source`]: one configured source, as the stages take it.
//! * [`schedule`]: when each source is polled (cron, jitter, backoff, `Retry-After`), and the loop that polls.
//! * [`fetch`]: the polite HTTP client: limits, timeouts, size caps, redirects, address guard.
//! * [`decode`]: raw bytes to UTF-8 (BOM, HTTP charset, XML declaration, guess).
//! * [`parse`]: feed-rs behind repairs for the dialects and damage it cannot handle.
//! * [`normalize`]: plain-text titles, sanitized HTML, absolute URLs, dates.
//! * [`identify`]: the stable identity of an item within its source.
//! * [`store`]: SQLite, one file per entity: sources, items, stories, topics,
//!   retention, migrations; it records the story decided for each new item.
//! * [`rules`]: the topic rule language (parser, matcher) and topic sets.
//! * [`tag`]: what rules see of an item, and which topics it belongs to.
//! * [`render`]: topic feeds as RSS 2.0, Atom 1.0 and JSON Feed 1.1.
//! * [`feeds`]: what each output feed (topic, `all`, search) contains, rendered.
//! * [`serve`]: the HTTP server: feeds, search, OPML and the front page, cached.
//! * [`ingest`]: one source through the whole pipeline, in one transaction.
//! * [`daemon`]: `kurator run`: the scheduler and the server in one process, and its signals.
//! * [`metrics`]: counters for `/metrics` (Prometheus text format).
//! * [`status`]: what each source is doing (`kurator status`, `/sources`).
//! * [`redact`]: source URLs as shown anywhere: no credentials.
//! * [`time`], [`text`], [`fold`]: leaves every stage may use (seconds since the epoch;
//!   plain-text helpers; German-aware folding, shared by rules, dates and dedup);
//!   [`links`]: canonical links.

pub mod config;
pub mod daemon;
pub mod decode;
pub mod dedup;
pub mod feeds;
pub mod fetch;
pub mod fold;
pub mod identify;
pub mod ingest;
pub mod links;
pub mod metrics;
pub mod normalize;
pub mod parse;
pub mod redact;
pub mod render;
pub mod rules;
pub mod schedule;
pub mod serve;
pub mod source;
pub mod status;
pub mod store;
pub mod tag;
pub mod text;
pub mod time;
