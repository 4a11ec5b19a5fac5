//! Config: reads `feeds.toml` and turns it into a validated [`Config`].
//!
//! Rules:
//! * Unknown keys are errors, not warnings: a misspelt `timout` that silently
//!   falls back to the default is worse than a refusal to start.
//! * Every error points at `FILE:LINE:COL` and says what to do, because the
//!   operator reading it is usually looking at a systemd journal, not a debugger.
//! * Relative paths (`[storage] path`) are resolved against the config file's
//!   directory, so the daemon behaves the same whatever its working directory.

pub mod edit;
mod keys;
pub mod opml;
mod references;
mod restart;
mod served;
mod units;

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::rules::{Rule, RuleError, Topic, TopicSet};
use crate::schedule::{CronSchedule, Jitter, Timing};

use crate::text::line_column;

pub use keys::known_keys;
pub use references::reference_warnings;
pub use restart::{Listening, SECTIONS, Section, Startup};
pub use units::{format_byte_size, parse_byte_size, parse_duration};

pub use crate::fetch::DEFAULT_USER_AGENT;

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file this configuration was read from.
    pub path: PathBuf,
    pub storage: StorageConfig,
    pub fetch: FetchConfig,
    pub sources: Vec<Source>,
    /// Topics, compiled and in evaluation order.
    pub topics: TopicSet,
    pub server: ServerConfig,
    /// `[dedup]`: how reports of one story group.
    pub dedup: crate::dedup::Settings,
}

/// `[server]`: where topic feeds are served, and the address they are known by.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// An address, or a host name looked up when the server binds.
    pub listen: crate::serve::Listen,
    /// Absolute links in feeds are built from this; always ends with `/`.
    pub base_url: Url,
    /// Whether `base_url` was written in the config (else it follows `listen`).
    pub base_url_configured: bool,
    /// `Cache-Control: max-age` of feeds and pages.
    pub cache_max_age: Duration,
    /// How long a client may take to send a request's headers; idle
    /// keep-alive connections are closed after it too.
    pub header_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// How many of the newest items a `/search` request looks through.
    pub search_depth: usize,
    /// How long one `/search` may take before it is stopped with a 503.
    pub search_timeout: Duration,
    /// Threads serving HTTP, each with a single-threaded runtime.
    pub threads: usize,
}

impl ServerConfig {
    pub const DEFAULT_CACHE_MAX_AGE: Duration = Duration::from_secs(300);
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
    pub const DEFAULT_SEARCH_DEPTH: usize = 20_000;
    pub const DEFAULT_SEARCH_TIMEOUT: Duration = Duration::from_secs(5);

    /// One serving thread: its event loop serves cached feeds at tens of
    /// thousands of requests per second (renders and searches run on the
    /// blocking pool, not on it), far beyond what feed readers ask, and
    /// leaves the other cores to ingest. More threads only pay with very
    /// many clients; on a busy machine they compete for cores, and tail
    /// latency suffers (BENCHMARKS.md, serving).
    pub const DEFAULT_THREADS: usize = 1;
}

#[derive(Debug, Clone, PartialEq)]
pub struct StorageConfig {
    /// The SQLite database file.
    pub path: PathBuf,
    /// How long items are kept, by their published date; `None`: forever.
    pub keep: Option<Duration>,
}

impl StorageConfig {
    pub const DEFAULT_KEEP_DAYS: i64 = 365;
}

/// `[fetch]`: what the fetcher needs ([`crate::fetch::Settings`]) and when
/// sources without a `schedule` of their own are polled.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub limits: crate::fetch::Settings,
    /// When sources without a `schedule` of their own are polled.
    pub schedule: CronSchedule,
    pub jitter: Jitter,
}

impl FetchConfig {
    pub const DEFAULT_SCHEDULE: &str = "0 */15 * * * *";
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            limits: crate::fetch::Settings::default(),
            schedule: CronSchedule::parse(FetchConfig::DEFAULT_SCHEDULE)
                .expect("the default schedule is valid"),
            jitter: Jitter::default(),
        }
    }
}

pub use crate::source::{Source, SourceKind};

/// A configuration problem, located in the file.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line and column; `None` when the file could not be read at all.
    pub position: Option<(usize, usize)>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(
                f,
                "{}:{line}:{column}: {}",
                self.file.display(),
                self.message
            )?,
            None => write!(f, "{}: {}", self.file.display(), self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    fetch: RawFetch,
    #[serde(default, rename = "source")]
    sources: Vec<Spanned<RawSource>>,
    #[serde(default, rename = "topic")]
    topics: Vec<Spanned<RawTopic>>,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    dedup: RawDedup,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDedup {
    mode: Option<Spanned<String>>,
    threshold: Option<Spanned<f64>>,
    window_days: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<String>>,
    base_url: Option<Spanned<String>>,
    cache_max_age: Option<Spanned<String>>,
    header_timeout: Option<Spanned<String>>,
    max_connections: Option<Spanned<i64>>,
    search_depth: Option<Spanned<i64>>,
    search_timeout: Option<Spanned<String>>,
    threads: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    slug: Spanned<String>,
    title: Option<String>,
    description: Option<String>,
    #[serde(rename = "match")]
    rule: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<Spanned<String>>,
    keep_days: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFetch {
    timeout: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    read_timeout: Option<Spanned<String>>,
    max_bytes: Option<Spanned<toml::Value>>,
    concurrency: Option<Spanned<i64>>,
    per_host: Option<Spanned<i64>>,
    host_delay: Option<Spanned<String>>,
    user_agent: Option<Spanned<String>>,
    schedule: Option<Spanned<String>>,
    jitter: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    id: Spanned<String>,
    title: Option<String>,
    url: Spanned<String>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    #[serde(default = "default_true")]
    enabled: bool,
    schedule: Option<Spanned<String>>,
    priority: Option<Spanned<i64>>,
    kind: Option<Spanned<String>>,
    select: Option<Spanned<RawSelect>>,
}

/// `[source.select]`: where an HTML page's items and their fields are.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelect {
    item: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
    link: Option<Spanned<String>>,
    date: Option<Spanned<String>>,
    summary: Option<Spanned<String>>,
}

fn default_true() -> bool {
    true
}

/// Where the database lives: `--db` wins, then `[storage] path`, then
/// `kurator.db` beside the config file.
pub fn resolve_db_path(config: &Config, override_path: Option<&Path>) -> PathBuf {
    override_path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| config.storage.path.clone())
}

/// The largest config file read. A real one, even with thousands of sources
/// and topics, is a few hundred KiB; `-c /dev/zero` must not fill the memory.
pub const MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;

/// The config file's text, read up to [`MAX_CONFIG_BYTES`] and checked to be
/// UTF-8 (a file saved as Latin-1 is told where its first bad byte is).
fn read_config_text(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let error = |position, message: String, hint: &str| ConfigError {
        file: path.to_path_buf(),
        position,
        message,
        hint: Some(hint.into()),
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|err| {
            error(
                None,
                format!("cannot read the config file: {err}"),
                "pass the file with -c FILE or set KURATOR_CONFIG; the shipped example is feeds.toml",
            )
        })?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(error(
            None,
            format!(
                "the config file is larger than {} MiB; this is not a config file",
                MAX_CONFIG_BYTES / (1024 * 1024)
            ),
            "check the path given with -c FILE or KURATOR_CONFIG",
        ));
    }
    String::from_utf8(bytes).map_err(|err| {
        let valid = err.utf8_error().valid_up_to();
        let bytes = err.as_bytes();
        let before = std::str::from_utf8(&bytes[..valid]).expect("valid up to here");
        error(
            Some(line_column(before, valid)),
            format!("the config file is not UTF-8 (byte 0x{:02X})", bytes[valid]),
            "save the file as UTF-8, e.g. `iconv -f ISO-8859-1 -t UTF-8 feeds.toml`",
        )
    })
}

impl crate::feeds::Catalog for Config {
    fn topics(&self) -> &TopicSet {
        &self.topics
    }

    fn source(&self, id: &str) -> Option<&Source> {
        Config::source(self, id)
    }

    fn base_url(&self) -> &Url {
        &self.server.base_url
    }
}

impl crate::tag::Taggers for Config {
    fn tagger<'a>(&'a self, source_id: &'a str) -> crate::tag::Tagger<'a> {
        Config::tagger(self, source_id)
    }
}

impl Config {
    /// The tagger for a configured source's items (an unknown source, one
    /// removed from the config, has no source tags).
    pub fn tagger<'a>(&'a self, source_id: &'a str) -> crate::tag::Tagger<'a> {
        crate::tag::Tagger {
            topics: &self.topics,
            source_id,
            source_tags: self.source(source_id).map_or(&[], |s| s.tags.as_slice()),
        }
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read_config_text(path)?;
        Config::parse(path, &text)
    }

    /// Validates config text; `path` is used for messages and to resolve relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let located = Locator { file: path, text };
        let raw: RawConfig = toml::from_str(text).map_err(|err| {
            let message = err.message().trim().to_owned();
            let hint = syntax_hint(&message);
            located.error(err.span(), message, hint)
        })?;

        let base_dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let storage = StorageConfig {
            path: match &raw.storage.path {
                Some(p) if p.get_ref().trim().is_empty() => {
                    return Err(located.error(
                        Some(p.span()),
                        "`path` is empty".into(),
                        Some("name the SQLite file, e.g. path = \"kurator.db\"".into()),
                    ));
                }
                Some(p) => base_dir.join(p.get_ref()),
                None => base_dir.join("kurator.db"),
            },
            keep: match &raw.storage.keep_days {
                None => Some(days(StorageConfig::DEFAULT_KEEP_DAYS)),
                Some(value) => match *value.get_ref() {
                    0 => None,
                    n @ 1..=36_500 => Some(days(n)),
                    n => {
                        return Err(located.error(
                            Some(value.span()),
                            format!("`keep_days` must be from 1 to 36500, or 0 to keep items forever, not {n}"),
                            Some(format!(
                                "leave it out to keep items for {} days",
                                StorageConfig::DEFAULT_KEEP_DAYS
                            )),
                        ));
                    }
                },
            },
        };

        let fetch = located.fetch(&raw.fetch)?;

        let mut sources = Vec::with_capacity(raw.sources.len());
        let mut seen = HashSet::new();
        for spanned in &raw.sources {
            let raw_source = spanned.get_ref();
            let id = raw_source.id.get_ref();
            if !is_valid_id(id) {
                return Err(located.error(
                    Some(raw_source.id.span()),
                    format!("source id `{id}` may only contain a-z, 0-9 and -"),
                    Some("ids are stable keys used in URLs and the database, e.g. id = \"kommune21\"".into()),
                ));
            }
            if !seen.insert(id.clone()) {
                return Err(located.error(
                    Some(raw_source.id.span()),
                    format!("source id `{id}` is used twice"),
                    Some("every [[source]] needs its own id".into()),
                ));
            }
            let url = located.source_url(&raw_source.url)?;
            let mut tags = Vec::with_capacity(raw_source.tags.len());
            for tag in &raw_source.tags {
                let value = tag.get_ref().trim();
                if value.is_empty() {
                    return Err(located.error(
                        Some(tag.span()),
                        "empty tag".into(),
                        Some("remove it or give it a name".into()),
                    ));
                }
                tags.push(value.to_owned());
            }
            sources.push(Source {
                id: id.clone(),
                // Shown in feeds and on /sources: no bidi controls.
                title: raw_source
                    .title
                    .as_deref()
                    .map(|t| crate::text::strip_bidi_controls(t.trim()).trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| id.clone()),
                url,
                tags,
                enabled: raw_source.enabled,
                schedule: match &raw_source.schedule {
                    Some(schedule) => Some(located.schedule(schedule, Some(id))?),
                    None => None,
                },
                kind: located.source_kind(raw_source)?,
                priority: match &raw_source.priority {
                    None => 0,
                    Some(value) if (-1000..=1000).contains(value.get_ref()) => *value.get_ref(),
                    Some(value) => {
                        return Err(located.error(
                            Some(value.span()),
                            format!(
                                "`priority` must be from -1000 to 1000, not {}",
                                value.get_ref()
                            ),
                            Some("higher wins; leave it out for 0".into()),
                        ));
                    }
                },
            });
        }

        let topics = located.topics(&raw.topics)?;
        let server = located.server(&raw.server)?;
        let dedup = located.dedup(&raw.dedup)?;

        Ok(Config {
            path: path.to_path_buf(),
            storage,
            fetch,
            sources,
            topics,
            server,
            dedup,
        })
    }

    /// Looks a source up by id.
    pub fn source(&self, id: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.id == id)
    }

    /// How `source` is scheduled: its own `schedule`, else `[fetch] schedule`.
    pub fn timing(&self, source: &Source) -> Timing {
        Timing {
            schedule: source
                .schedule
                .clone()
                .unwrap_or_else(|| self.fetch.schedule.clone()),
            jitter: self.fetch.jitter,
        }
    }
}

fn days(n: i64) -> Duration {
    Duration::from_secs(u64::try_from(n).unwrap_or(0).saturating_mul(86_400))
}

/// Line and column in the config `text` of the 1-based character `column`
/// of the `match` rule `rule`: past the opening quote, then into the rule.
fn rule_position(text: &str, rule: &Spanned<String>, column: usize) -> (usize, usize) {
    let span = rule.span();
    let written = &text[span.clone()];
    let quote = if written.starts_with("'''") || written.starts_with("\"\"\"") {
        // TOML drops a newline right after the opening quotes.
        let after = &written[3..];
        3 + if after.starts_with("\r\n") {
            2
        } else {
            usize::from(after.starts_with('\n'))
        }
    } else {
        1
    };
    let in_rule: usize = rule
        .get_ref()
        .chars()
        .take(column.saturating_sub(1))
        .map(char::len_utf8)
        .sum();
    line_column(text, (span.start + quote + in_rule).min(span.end))
}

/// Source ids are `[a-z0-9-]+`: safe in URLs, file names and log lines.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn syntax_hint(message: &str) -> Option<String> {
    if message.contains("unknown field") {
        Some("check the spelling; docs/configuration.md lists every key of feeds.toml".into())
    } else if message.contains("missing field") {
        Some(
            "every [[source]] needs at least `id` and `url`, every [[topic]] `slug` and `match`"
                .into(),
        )
    } else if message.contains("invalid type") {
        Some("durations and sizes are strings (timeout = \"30s\"), counts are numbers (per_host = 2)".into())
    } else {
        Some("this is a TOML syntax error; strings need quotes, tables look like [fetch]".into())
    }
}

/// Turns byte spans into `FILE:LINE:COL` errors.
struct Locator<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn error(
        &self,
        span: Option<Range<usize>>,
        message: String,
        hint: Option<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            position: Some(span.map_or((1, 1), |s| line_column(self.text, s.start))),
            message,
            hint,
        }
    }

    fn duration(
        &self,
        value: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        let parsed = parse_duration(value.get_ref()).map_err(|msg| {
            self.error(
                Some(value.span()),
                format!("`{key}`: {msg}"),
                Some(format!("e.g. {key} = \"30s\"; units are ms, s, m, h and d")),
            )
        })?;
        if parsed.is_zero() {
            return Err(self.error(
                Some(value.span()),
                format!("`{key}` must be longer than zero"),
                Some(format!(
                    "leave `{key}` out to use the default ({})",
                    humantime::format_duration(default)
                )),
            ));
        }
        Ok(parsed)
    }

    fn count(
        &self,
        value: &Option<Spanned<i64>>,
        key: &str,
        default: usize,
    ) -> Result<usize, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        match usize::try_from(*value.get_ref()) {
            Ok(n) if (1..=1024).contains(&n) => Ok(n),
            _ => Err(self.error(
                Some(value.span()),
                format!(
                    "`{key}` must be a whole number from 1 to 1024, not {}",
                    value.get_ref()
                ),
                Some(format!("leave `{key}` out to use the default ({default})")),
            )),
        }
    }

    fn dedup(&self, raw: &RawDedup) -> Result<crate::dedup::Settings, ConfigError> {
        use crate::dedup::{Mode, Settings};
        let mut settings = Settings::default();
        if let Some(mode) = &raw.mode {
            settings.mode = match mode.get_ref().as_str() {
                "cluster" => Mode::Cluster,
                "exact" => Mode::Exact,
                "off" => Mode::Off,
                other => {
                    return Err(self.error(
                        Some(mode.span()),
                        format!("`mode` must be \"cluster\", \"exact\" or \"off\", not {other:?}"),
                        Some(
                            "\"cluster\" groups by link, links between items and alike text; \"exact\" by link only; \"off\" not at all"
                                .into(),
                        ),
                    ));
                }
            };
        }
        if let Some(threshold) = &raw.threshold {
            let value = *threshold.get_ref();
            if !(value > 0.0 && value <= 1.0) {
                return Err(self.error(
                    Some(threshold.span()),
                    format!("`threshold` must be above 0 and at most 1, not {value}"),
                    Some(format!(
                        "higher groups fewer reports; leave it out for {}",
                        crate::dedup::DEFAULT_THRESHOLD
                    )),
                ));
            }
            settings.threshold = value;
        }
        if let Some(days) = &raw.window_days {
            match *days.get_ref() {
                n @ 1..=90 => settings.window_secs = n * 86_400,
                n => {
                    return Err(self.error(
                        Some(days.span()),
                        format!("`window_days` must be from 1 to 90, not {n}"),
                        Some(format!(
                            "reports further apart never group; leave it out for {}",
                            crate::dedup::DEFAULT_WINDOW_DAYS
                        )),
                    ));
                }
            }
        }
        Ok(settings)
    }

    fn fetch(&self, raw: &RawFetch) -> Result<FetchConfig, ConfigError> {
        let defaults = crate::fetch::Settings::default();
        let max_bytes = match &raw.max_bytes {
            None => defaults.max_bytes,
            Some(value) => {
                let parsed = match value.get_ref() {
                    toml::Value::String(s) => parse_byte_size(s),
                    toml::Value::Integer(n) if *n > 0 => Ok(n.unsigned_abs()),
                    other => Err(format!("`{other}` is not a size")),
                };
                parsed.map_err(|msg| {
                    self.error(
                        Some(value.span()),
                        format!("`max_bytes`: {msg}"),
                        Some("write it like max_bytes = \"10MiB\"".into()),
                    )
                })?
            }
        };
        let user_agent = match &raw.user_agent {
            None => defaults.user_agent,
            Some(ua) => {
                let value = ua.get_ref().trim();
                if value.is_empty() || value.chars().any(char::is_control) {
                    return Err(self.error(
                        Some(ua.span()),
                        "`user_agent` must be a non-empty single line".into(),
                        Some(
                            "leave it out to use the default, which names kurator and its version"
                                .into(),
                        ),
                    ));
                }
                value.to_owned()
            }
        };
        let limits = crate::fetch::Settings {
            timeout: self.duration(&raw.timeout, "timeout", defaults.timeout)?,
            connect_timeout: self.duration(
                &raw.connect_timeout,
                "connect_timeout",
                defaults.connect_timeout,
            )?,
            read_timeout: self.duration(
                &raw.read_timeout,
                "read_timeout",
                defaults.read_timeout,
            )?,
            max_bytes,
            concurrency: self.count(&raw.concurrency, "concurrency", defaults.concurrency)?,
            per_host: self.count(&raw.per_host, "per_host", defaults.per_host)?,
            host_delay: self.host_delay(&raw.host_delay)?,
            user_agent,
        };
        Ok(FetchConfig {
            limits,
            schedule: match &raw.schedule {
                Some(schedule) => self.schedule(schedule, None)?,
                None => FetchConfig::default().schedule,
            },
            jitter: self.jitter(&raw.jitter)?,
        })
    }

    /// `schedule` of `[fetch]`, or of the source `source`.
    fn schedule(
        &self,
        raw: &Spanned<String>,
        source: Option<&str>,
    ) -> Result<CronSchedule, ConfigError> {
        CronSchedule::parse(raw.get_ref()).map_err(|message| {
            let owner = source.map_or(String::new(), |id| format!("source `{id}`: "));
            self.error(
                Some(raw.span()),
                format!("{owner}schedule \"{}\": {message}", raw.get_ref().trim()),
                Some(
                    "fields: second minute hour day-of-month month day-of-week; \
                     e.g. \"0 */15 * * * *\" every 15 minutes, \"0 0 6-22 * * Mon-Fri\" hourly on workdays"
                        .into(),
                ),
            )
        })
    }

    /// `host_delay` may be zero (no gap), unlike the timeouts.
    fn host_delay(&self, raw: &Option<Spanned<String>>) -> Result<Duration, ConfigError> {
        let Some(value) = raw else {
            return Ok(crate::fetch::Settings::DEFAULT_HOST_DELAY);
        };
        let delay = parse_duration(value.get_ref()).map_err(|msg| {
            self.error(
                Some(value.span()),
                format!("`host_delay`: {msg}"),
                Some("e.g. host_delay = \"1s\"; \"0s\" turns the gap off".into()),
            )
        })?;
        if delay > Duration::from_secs(3600) {
            return Err(self.error(
                Some(value.span()),
                "`host_delay` may be at most an hour".into(),
                Some("it is the gap between two requests to one host, e.g. \"1s\"".into()),
            ));
        }
        Ok(delay)
    }

    /// `jitter`: `"10%"` of each source's interval (at most 5 minutes), or a
    /// fixed window such as `"30s"`; `"0s"` turns it off.
    fn jitter(&self, raw: &Option<Spanned<String>>) -> Result<Jitter, ConfigError> {
        let Some(value) = raw else {
            return Ok(Jitter::default());
        };
        let text = value.get_ref().trim();
        let parsed = match text.strip_suffix('%') {
            Some(number) => match number.trim().parse::<f64>() {
                Ok(percent) if (0.0..=50.0).contains(&percent) => {
                    Ok(Jitter::Share(percent / 100.0))
                }
                Ok(_) => Err("a share of the interval from 0% to 50%".to_owned()),
                Err(_) => Err(format!("`{text}` is not a percentage")),
            },
            None => parse_duration(text).map(Jitter::Fixed),
        };
        parsed.map_err(|msg| {
            self.error(
                Some(value.span()),
                format!("`jitter`: {msg}"),
                Some(
                    "write a share of the interval (jitter = \"10%\", the default) or a window (jitter = \"30s\")"
                        .into(),
                ),
            )
        })
    }

    fn topics(&self, raw: &[Spanned<RawTopic>]) -> Result<TopicSet, ConfigError> {
        let mut topics = Vec::with_capacity(raw.len());
        let mut seen = HashSet::new();
        for spanned in raw {
            let topic = spanned.get_ref();
            let slug = topic.slug.get_ref();
            if !is_valid_id(slug) {
                return Err(self.error(
                    Some(topic.slug.span()),
                    format!("topic slug `{slug}` may only contain a-z, 0-9 and -"),
                    Some("slugs appear in feed URLs, e.g. slug = \"smart-city\"".into()),
                ));
            }
            if slug == "all" {
                return Err(self.error(
                    Some(topic.slug.span()),
                    "topic slug `all` is taken: /feeds/all.* is the feed of every item".into(),
                    Some("pick another slug for this topic".into()),
                ));
            }
            if !seen.insert(slug.clone()) {
                return Err(self.error(
                    Some(topic.slug.span()),
                    format!("topic slug `{slug}` is used twice"),
                    Some("every [[topic]] needs its own slug".into()),
                ));
            }
            let rule = Rule::parse(topic.rule.get_ref())
                .map_err(|err| self.rule_error(slug, &topic.rule, &err))?;
            topics.push(Topic {
                slug: slug.clone(),
                title: topic
                    .title
                    .as_deref()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .unwrap_or(slug)
                    .to_owned(),
                description: topic.description.clone().filter(|d| !d.trim().is_empty()),
                rule,
            });
        }
        TopicSet::new(topics).map_err(|cycle| {
            let first = &cycle.path[0];
            let span = raw
                .iter()
                .find(|t| t.get_ref().slug.get_ref() == first)
                .map(|t| t.get_ref().rule.span());
            self.error(
                span,
                cycle.to_string(),
                Some("a topic may build on another with tag:, but not on itself, directly or through others".into()),
            )
        })
    }

    /// A rule error, located inside the `match` string: past the opening
    /// quote, then to the column the rule parser reports.
    fn rule_error(&self, slug: &str, rule: &Spanned<String>, err: &RuleError) -> ConfigError {
        let text = rule.get_ref();
        ConfigError {
            file: self.file.to_path_buf(),
            position: Some(rule_position(self.text, rule, err.column)),
            message: format!("topic `{slug}`: {}", err.message),
            hint: Some(format!(
                "in the `match` rule (column {}):\n    {}",
                err.column,
                err.caret(text).replace('\n', "\n    ")
            )),
        }
    }

    fn server(&self, raw: &RawServer) -> Result<ServerConfig, ConfigError> {
        let listen = match &raw.listen {
            None => crate::serve::Listen::Address(std::net::SocketAddr::from(([127, 0, 0, 1], 8080))),
            Some(value) => crate::serve::Listen::parse(value.get_ref()).map_err(|problem| {
                self.error(
                    Some(value.span()),
                    format!("`listen`: {problem}"),
                    Some("write an address or host name and a port, e.g. listen = \"127.0.0.1:8080\", \"[::]:8080\" or \"localhost:8080\"".into()),
                )
            })?,
        };
        let base_url = match &raw.base_url {
            None => Url::parse(&format!("http://{listen}/")).expect("a socket address makes a URL"),
            Some(value) => {
                let mut text = value.get_ref().trim().to_owned();
                if !text.ends_with('/') {
                    text.push('/');
                }
                match Url::parse(&text) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                        url
                    }
                    _ => {
                        return Err(self.error(
                            Some(value.span()),
                            format!("`base_url`: `{}` is not an http or https URL", value.get_ref()),
                            Some("the address subscribers reach this server at, e.g. base_url = \"https://feeds.example.de/\"".into()),
                        ));
                    }
                }
            }
        };
        let search_depth = match &raw.search_depth {
            None => ServerConfig::DEFAULT_SEARCH_DEPTH,
            Some(value) => match usize::try_from(*value.get_ref()) {
                Ok(n) if (100..=10_000_000).contains(&n) => n,
                _ => {
                    return Err(self.error(
                        Some(value.span()),
                        format!(
                            "`search_depth` must be a whole number from 100 to 10000000, not {}",
                            value.get_ref()
                        ),
                        Some(format!(
                            "how many of the newest items a search looks through; the default is {}",
                            ServerConfig::DEFAULT_SEARCH_DEPTH
                        )),
                    ));
                }
            },
        };
        Ok(ServerConfig {
            listen,
            base_url_configured: raw.base_url.is_some(),
            base_url,
            cache_max_age: self.duration(
                &raw.cache_max_age,
                "cache_max_age",
                ServerConfig::DEFAULT_CACHE_MAX_AGE,
            )?,
            header_timeout: self.duration(
                &raw.header_timeout,
                "header_timeout",
                ServerConfig::DEFAULT_HEADER_TIMEOUT,
            )?,
            max_connections: self.count(
                &raw.max_connections,
                "max_connections",
                ServerConfig::DEFAULT_MAX_CONNECTIONS,
            )?,
            search_depth,
            search_timeout: self.duration(
                &raw.search_timeout,
                "search_timeout",
                ServerConfig::DEFAULT_SEARCH_TIMEOUT,
            )?,
            threads: match &raw.threads {
                None => ServerConfig::DEFAULT_THREADS,
                Some(value) => match usize::try_from(*value.get_ref()) {
                    Ok(n) if (1..=64).contains(&n) => n,
                    _ => {
                        return Err(self.error(
                            Some(value.span()),
                            format!(
                                "`threads` must be a whole number from 1 to 64, not {}",
                                value.get_ref()
                            ),
                            Some("leave it out for one thread per core".into()),
                        ));
                    }
                },
            },
        })
    }

    /// `kind` and `[source.select]`.
    fn source_kind(&self, raw: &RawSource) -> Result<SourceKind, ConfigError> {
        use crate::parse::scrape::{Field, Selectors};
        let kind = raw.kind.as_ref().map(|k| k.get_ref().trim());
        let kind = match (kind, &raw.select) {
            (None | Some("auto"), None) => SourceKind::Auto,
            (Some("feed"), None) => SourceKind::Feed,
            // Selectors say how to read the page: `auto` with them is `html`.
            (None | Some("html" | "auto"), Some(select)) => {
                let select_span = select.span();
                let select = select.get_ref();
                let field = |name: &'static str,
                             raw: &Option<Spanned<String>>,
                             required: bool|
                 -> Result<Option<Field>, ConfigError> {
                    let Some(raw) = raw else {
                        if !required {
                            return Ok(None);
                        }
                        return Err(self.error(
                            Some(select_span.clone()),
                            format!("[source.select] needs `{name}`"),
                            Some(
                                "an HTML source needs at least `item`, `title` and `link`, e.g. item = \"article.teaser\", title = \"h3\", link = \"h3 a@href\""
                                    .into(),
                            ),
                        ));
                    };
                    Field::parse(raw.get_ref())
                        .map(Some)
                        .map_err(|problem| {
                            self.error(
                                Some(raw.span()),
                                format!("`select.{name}`: {problem}"),
                                Some("a CSS selector such as \"h3 a\", optionally with @attribute to read an attribute (\"a@href\", \"time@datetime\")".into()),
                            )
                        })
                };
                let item = field("item", &select.item, true)?.expect("required");
                if item.attribute.is_some() {
                    return Err(self.error(
                        select.item.as_ref().map(Spanned::span),
                        "`select.item` selects elements: it takes no @attribute".into(),
                        Some("write the attribute in the field that reads it, e.g. link = \"a@href\"".into()),
                    ));
                }
                SourceKind::Html(Box::new(Selectors {
                    item,
                    title: field("title", &select.title, true)?.expect("required"),
                    link: field("link", &select.link, true)?.expect("required"),
                    date: field("date", &select.date, false)?,
                    summary: field("summary", &select.summary, false)?,
                }))
            }
            (Some("html"), None) => {
                return Err(self.error(
                    raw.kind.as_ref().map(Spanned::span),
                    "`kind = \"html\"` needs a [source.select] table".into(),
                    Some("say where the items are, e.g. [source.select] with item = \"article.teaser\", title = \"h3\", link = \"h3 a@href\"".into()),
                ));
            }
            (Some("feed"), Some(select)) => {
                return Err(self.error(
                    Some(select.span()),
                    "[source.select] is only read with kind = \"html\" (or \"auto\"), not \"feed\""
                        .into(),
                    Some("set kind = \"html\", or remove [source.select]".into()),
                ));
            }
            (Some(other), _) => {
                return Err(self.error(
                    raw.kind.as_ref().map(Spanned::span),
                    format!("unknown source kind `{other}`"),
                    Some("use \"auto\" (the default: a feed, or a page that links to one), \"feed\" or \"html\"".into()),
                ));
            }
        };
        Ok(kind)
    }

    fn source_url(&self, raw: &Spanned<String>) -> Result<Url, ConfigError> {
        let text = raw.get_ref().trim();
        let url = Url::parse(text).map_err(|err| {
            self.error(
                Some(raw.span()),
                format!("`{text}` is not a valid URL ({err})"),
                Some("write the full address, e.g. url = \"https://www.kommune21.de/k21-meldungen/feed\"".into()),
            )
        })?;
        match url.scheme() {
            "http" | "https" if url.host().is_some() => Ok(url),
            "file" => Ok(url),
            "http" | "https" => Err(self.error(
                Some(raw.span()),
                format!("`{text}` has no host"),
                Some("write the full address, e.g. url = \"https://www.example.de/feed\"".into()),
            )),
            other => Err(self.error(
                Some(raw.span()),
                format!("URL scheme `{other}` is not supported"),
                Some("use http, https or file URLs".into()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/kurator/feeds.toml"), text)
    }

    #[test]
    fn an_oversized_config_is_refused_before_it_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds.toml");
        let mut text = "# Kommentar\n".repeat(usize::try_from(MAX_CONFIG_BYTES / 12 + 1).unwrap());
        text.push_str("[[source]]\n");
        std::fs::write(&path, text).unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("larger than 8 MiB"), "{err}");
        assert!(err.contains("feeds.toml"), "{err}");
        // An endless file ends too.
        if Path::new("/dev/zero").exists() {
            let err = Config::load(Path::new("/dev/zero")).unwrap_err();
            assert!(err.to_string().contains("larger than"), "{err}");
        }
    }

    #[test]
    fn source_titles_lose_bidi_controls() {
        let config = parse(
            "[[source]]\nid = \"amt\"\ntitle = \"Amt \u{202E}nretsum\u{202C}\"\nurl = \"https://www.amt.example/feed\"\n",
        )
        .unwrap();
        assert_eq!(config.sources[0].title, "Amt nretsum");
    }

    #[test]
    fn a_config_that_is_not_utf8_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feeds.toml");
        // "München" saved as ISO-8859-1.
        std::fs::write(&path, b"[[source]]\nid = \"m\"\ntitle = \"M\xfcnchen\"\n").unwrap();
        let err = Config::load(&path).unwrap_err();
        assert_eq!(err.position, Some((3, 11)));
        let shown = err.to_string();
        assert!(
            shown.contains("feeds.toml:3:11: the config file is not UTF-8 (byte 0xFC)"),
            "{shown}"
        );
        assert!(shown.contains("iconv"), "{shown}");
    }

    #[test]
    fn html_sources_and_their_selectors() {
        use crate::parse::scrape::Field;
        let source = |extra: &str| {
            parse(&format!(
                "[[source]]\nid = \"presse\"\nurl = \"https://www.dstgb.de/presse/\"\n{extra}"
            ))
        };
        assert_eq!(source("").unwrap().sources[0].kind, SourceKind::Auto);
        assert_eq!(
            source("kind = \"feed\"\n").unwrap().sources[0].kind,
            SourceKind::Feed
        );
        let config = source(
            "kind = \"html\"\n[source.select]\nitem = \"article.teaser\"\ntitle = \"h3\"\n\
             link = \"h3 a@href\"\ndate = \"time@datetime\"\nsummary = \"p\"\n",
        )
        .unwrap();
        let SourceKind::Html(selectors) = &config.sources[0].kind else {
            panic!("an HTML source");
        };
        assert_eq!(selectors.link, Field::parse("h3 a@href").unwrap());
        assert_eq!(
            selectors.date.as_ref().unwrap().attribute.as_deref(),
            Some("datetime")
        );
        // [source.select] alone implies kind = "html".
        let config = source("[source.select]\nitem = \"li\"\ntitle = \"a\"\nlink = \"a@href\"\n");
        assert!(matches!(
            config.unwrap().sources[0].kind,
            SourceKind::Html(_)
        ));

        let err = source("kind = \"html\"\n").unwrap_err();
        assert_eq!(err.position, Some((4, 8)), "{err}");
        assert!(
            err.message.contains("needs a [source.select] table"),
            "{err}"
        );
        let err =
            source("kind = \"html\"\n[source.select]\nitem = \"li\"\ntitle = \"a\"\n").unwrap_err();
        assert!(err.message.contains("needs `link`"), "{err}");
        let err = source(
            "kind = \"html\"\n[source.select]\nitem = \"li\"\ntitle = \"a\"\nlink = \"a[@href\"\n",
        )
        .unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(8), "{err}");
        assert!(err.message.starts_with("`select.link`: "), "{err}");
        let err = source("kind = \"feed\"\n[source.select]\nitem = \"li\"\n").unwrap_err();
        assert!(
            err.message.contains("only read with kind = \"html\""),
            "{err}"
        );
        let config = source(
            "kind = \"auto\"\n[source.select]\nitem = \"li\"\ntitle = \"a\"\nlink = \"a@href\"\n",
        );
        assert!(matches!(
            config.unwrap().sources[0].kind,
            SourceKind::Html(_)
        ));
        let err = source("kind = \"rss\"\n").unwrap_err();
        assert!(err.message.contains("unknown source kind `rss`"), "{err}");
        let err = source("[source.select]\nitem = \"li@id\"\ntitle = \"a\"\nlink = \"a@href\"\n")
            .unwrap_err();
        assert!(err.message.contains("takes no @attribute"), "{err}");
        let err = source("[source.select]\nitem = \"li\"\ntitel = \"a\"\n").unwrap_err();
        assert!(err.message.contains("titel"), "{err}");
    }

    #[test]
    fn dedup_settings_and_source_priority() {
        use crate::dedup::{Mode, Settings};
        let config = parse("[[source]]\nid = \"a\"\nurl = \"https://x.org/\"\n").unwrap();
        assert_eq!(config.dedup, Settings::default());
        assert_eq!(config.sources[0].priority, 0);
        let config = parse(
            "[dedup]\nmode = \"exact\"\nthreshold = 0.6\nwindow_days = 3\n\
             [[source]]\nid = \"a\"\nurl = \"https://x.org/\"\npriority = 10\n",
        )
        .unwrap();
        assert_eq!(config.dedup.mode, Mode::Exact);
        assert_eq!(config.dedup.threshold, 0.6);
        assert_eq!(config.dedup.window_secs, 3 * 86_400);
        assert_eq!(config.sources[0].priority, 10);
        let err = parse("[dedup]\nmode = \"fuzzy\"\n").unwrap_err();
        assert_eq!(err.position, Some((2, 8)), "{err}");
        assert!(
            err.message.contains("\"cluster\", \"exact\" or \"off\""),
            "{err}"
        );
        let err = parse("[dedup]\nthreshold = 0.0\n").unwrap_err();
        assert!(err.message.contains("above 0 and at most 1"), "{err}");
        let err = parse("[dedup]\nwindow_days = 0\n").unwrap_err();
        assert!(err.message.contains("from 1 to 90"), "{err}");
        let err = parse("[dedup]\nwindow = 3\n").unwrap_err();
        assert!(err.message.contains("window"), "{err}");
        let err = parse("[[source]]\nid = \"a\"\nurl = \"https://x.org/\"\npriority = 5000\n")
            .unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(4), "{err}");
    }

    #[test]
    fn defaults_and_relative_db_path() {
        let config =
            parse("[[source]]\nid = \"k21\"\nurl = \"https://example.org/feed\"\n").unwrap();
        assert_eq!(config.storage.path, Path::new("/etc/kurator/kurator.db"));
        assert_eq!(config.fetch.limits.timeout, Duration::from_secs(30));
        assert_eq!(config.fetch.limits.max_bytes, 10 << 20);
        assert_eq!(config.fetch.limits.concurrency, 16);
        assert_eq!(config.fetch.limits.per_host, 2);
        assert!(config.fetch.limits.user_agent.starts_with("kurator/"));
        assert_eq!(config.sources[0].title, "k21");
        assert!(config.sources[0].enabled);
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.server.base_url.as_str(), "http://127.0.0.1:8080/");
    }

    #[test]
    fn server_section() {
        let config = parse("[server]\nlisten = \"0.0.0.0:9000\"\nbase_url = \"https://feeds.example.de/kurator\"\n").unwrap();
        assert_eq!(config.server.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(
            config.server.base_url.as_str(),
            "https://feeds.example.de/kurator/"
        );
        let err = parse("[server]\nlisten = \"localhost\"\n").unwrap_err();
        assert_eq!(err.message, "`listen`: `localhost` has no port", "{err}");
        assert!(err.to_string().contains("\"localhost:8080\""), "{err}");
        let err = parse("[server]\nlisten = \"local_host:80\"\n").unwrap_err();
        assert!(
            err.message.contains(
                "`local_host` in `local_host:80` is neither an IP address nor a host name"
            ),
            "{err}"
        );
        let err = parse("[server]\nlisten = \"localhost:80000\"\n").unwrap_err();
        assert!(
            err.message
                .contains("`80000` in `localhost:80000` is not a port"),
            "{err}"
        );
        let config = parse("[server]\nlisten = \"LocalHost:8080\"\n").unwrap();
        assert_eq!(config.server.listen.to_string(), "localhost:8080");
        assert_eq!(config.server.base_url.as_str(), "http://localhost:8080/");
        let err = parse("[server]\nbase_url = \"feeds.example.de\"\n").unwrap_err();
        assert!(err.message.contains("not an http or https URL"), "{err}");
        let config = parse(
            "[server]\ncache_max_age = \"1h\"\nheader_timeout = \"2s\"\nmax_connections = 100\n\
             search_depth = 5000\nsearch_timeout = \"2s\"\nthreads = 3\n",
        )
        .unwrap();
        assert_eq!(config.server.cache_max_age.as_secs(), 3600);
        assert_eq!(config.server.header_timeout.as_secs(), 2);
        assert_eq!(config.server.max_connections, 100);
        assert_eq!(config.server.search_depth, 5000);
        assert_eq!(config.server.search_timeout.as_secs(), 2);
        assert_eq!(config.server.threads, 3);
        assert!(!config.server.base_url_configured);
        let err = parse("[server]\nthreads = 0\n").unwrap_err();
        assert!(
            err.message
                .contains("`threads` must be a whole number from 1 to 64"),
            "{err}"
        );
        let err = parse("[server]\nsearch_depth = 10\n").unwrap_err();
        assert!(err.message.contains("`search_depth` must be"), "{err}");
        let err = parse("[server]\ncache_max_age = \"0s\"\n").unwrap_err();
        assert!(
            err.message
                .contains("`cache_max_age` must be longer than zero"),
            "{err}"
        );
        let err = parse("[[topic]]\nslug = \"all\"\nmatch = 'x'\n").unwrap_err();
        assert!(err.message.contains("topic slug `all` is taken"), "{err}");
    }

    #[test]
    fn unknown_key_points_at_it() {
        let err = parse("[fetch]\ntimout = \"5s\"\n").unwrap_err();
        assert_eq!(err.position, Some((2, 1)));
        assert!(
            err.message.contains("unknown field `timout`"),
            "{}",
            err.message
        );
        assert!(err.to_string().starts_with("/etc/kurator/feeds.toml:2:1: "));
    }

    #[test]
    fn duplicate_ids_and_bad_values() {
        let text = "[[source]]\nid = \"a\"\nurl = \"https://x.org/\"\n[[source]]\nid = \"a\"\nurl = \"https://y.org/\"\n";
        let err = parse(text).unwrap_err();
        assert_eq!(err.position, Some((5, 6)));
        assert!(err.message.contains("used twice"));

        let err = parse("[[source]]\nid = \"Bad_Id\"\nurl = \"https://x.org/\"\n").unwrap_err();
        assert!(err.message.contains("a-z, 0-9"));

        let err = parse("[[source]]\nid = \"a\"\nurl = \"not a url\"\n").unwrap_err();
        assert_eq!(err.position, Some((3, 7)));
        assert!(err.message.contains("not a valid URL"));

        let err = parse("[[source]]\nid = \"a\"\nurl = \"ftp://x.org/feed\"\n").unwrap_err();
        assert!(err.message.contains("scheme `ftp`"));

        let err = parse("[fetch]\ntimeout = \"30\"\n").unwrap_err();
        assert_eq!(err.position, Some((2, 11)));
        assert!(err.message.contains("no unit"));

        let err = parse("[fetch]\nmax_bytes = \"lots\"\n").unwrap_err();
        assert!(err.message.contains("max_bytes"));

        let err = parse("[fetch]\nper_host = 0\n").unwrap_err();
        assert!(err.message.contains("from 1 to 1024"));
    }

    #[test]
    fn schedules_jitter_and_host_delay() {
        let config = parse("[[source]]\nid = \"a\"\nurl = \"https://x.org/\"\n").unwrap();
        assert_eq!(config.fetch.schedule.expression(), "0 */15 * * * *");
        assert_eq!(config.fetch.jitter, Jitter::Share(0.10));
        assert_eq!(config.fetch.limits.host_delay, Duration::from_secs(1));
        let timing = config.timing(&config.sources[0]);
        assert_eq!(timing.schedule.expression(), "0 */15 * * * *");

        let text = "[fetch]\nschedule = \"0 0 * * * *\"\njitter = \"30s\"\nhost_delay = \"0s\"\n\
                    [[source]]\nid = \"a\"\nurl = \"https://x.org/\"\nschedule = \"*/5 * * * *\"\n\
                    [[source]]\nid = \"b\"\nurl = \"https://y.org/\"\n";
        let config = parse(text).unwrap();
        assert_eq!(config.fetch.jitter, Jitter::Fixed(Duration::from_secs(30)));
        assert_eq!(config.fetch.limits.host_delay, Duration::ZERO);
        assert_eq!(
            config.timing(&config.sources[0]).schedule.expression(),
            "*/5 * * * *"
        );
        assert_eq!(
            config.timing(&config.sources[1]).schedule.expression(),
            "0 0 * * * *"
        );
        let config = parse("[fetch]\njitter = \"25%\"\n").unwrap();
        assert_eq!(config.fetch.jitter, Jitter::Share(0.25));

        let err =
            parse("[[source]]\nid = \"a\"\nurl = \"https://x.org/\"\nschedule = \"*/15 * *\"\n")
                .unwrap_err();
        assert_eq!(err.position, Some((4, 12)));
        assert!(
            err.message
                .starts_with("source `a`: schedule \"*/15 * *\": it has 3 field(s)"),
            "{}",
            err.message
        );
        assert!(err.hint.unwrap().contains("second minute hour"));
        let err = parse("[fetch]\nschedule = \"0 */15 * * * Funday\"\n").unwrap_err();
        assert_eq!(err.position, Some((2, 12)));
        let err = parse("[fetch]\njitter = \"90%\"\n").unwrap_err();
        assert!(err.message.contains("0% to 50%"), "{}", err.message);
        let err = parse("[fetch]\njitter = \"lots\"\n").unwrap_err();
        assert!(err.message.contains("`jitter`"), "{}", err.message);
        let err = parse("[fetch]\nhost_delay = \"2h\"\n").unwrap_err();
        assert!(err.message.contains("at most an hour"), "{}", err.message);
    }

    #[test]
    fn topics_compile_at_load() {
        let text = "[[topic]]\nslug = \"smart-city\"\ntitle = \"Smart City\"\nmatch = '\"smart city\" OR digitalstadt*'\n[[topic]]\nslug = \"kommunal\"\nmatch = 'tag:smart-city AND kommune*'\n";
        let config = parse(text).unwrap();
        let slugs: Vec<&str> = config
            .topics
            .topics()
            .iter()
            .map(|t| t.slug.as_str())
            .collect();
        assert_eq!(slugs, ["smart-city", "kommunal"]);
        assert_eq!(config.topics.get("kommunal").unwrap().title, "kommunal");
    }

    #[test]
    fn rule_errors_point_into_the_rule() {
        let text = "[[topic]]\nslug = \"digital\"\nmatch = 'digital AND (stadt OR'\n";
        let err = parse(text).unwrap_err();
        assert_eq!(err.position, Some((3, 31)), "{err}");
        assert!(
            err.message.starts_with("topic `digital`: expected a word"),
            "{err}"
        );
        let hint = err.hint.unwrap();
        assert!(
            hint.contains("digital AND (stadt OR\n                         ^ expected"),
            "{hint}"
        );

        let err = parse(
            "[[topic]]\nslug = \"a\"\nmatch = 'tag:b'\n[[topic]]\nslug = \"b\"\nmatch = 'tag:a'\n",
        )
        .unwrap_err();
        assert!(err.message.contains("a → b → a"), "{err}");
        assert_eq!(err.position.map(|p| p.0), Some(3));

        let err = parse("[[topic]]\nslug = \"Smart City\"\nmatch = 'x'\n").unwrap_err();
        assert!(err.message.contains("a-z, 0-9"));
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse("[fetch\n").unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(1));
        assert!(err.hint.is_some());
    }
}
