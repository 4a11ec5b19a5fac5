//! What a reload applies and what only a restart does, declared once.
//!
//! [`Config::startup`] takes the whole [`Config`] apart: every setting is
//! either part of [`Startup`] (read once, when the daemon starts: the
//! database, the listening socket, the fetcher) or applies live, on the next
//! `SIGHUP`. A setting added to the config does not compile until it is
//! sorted there. The reload's warning about what waits for a restart is
//! derived from [`Startup`]: each section compared as a whole, named by the
//! keys of [`SECTIONS`].

use std::fmt;
use std::time::Duration;

use super::{Config, FetchConfig, ServerConfig, StorageConfig};

/// The settings only a restart applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Startup {
    /// `[storage]`: the database opened, and the age pruning runs with.
    pub storage: StorageConfig,
    /// `[server]`: the socket bound and how connections are served.
    pub server: Listening,
    /// `[fetch]`: the fetcher's limits (schedule and jitter apply live).
    pub fetch: crate::fetch::Settings,
}

/// The part of `[server]` the listening socket and its threads are built
/// with. `base_url`, `search_depth` and `search_timeout` apply live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listening {
    pub listen: crate::serve::Listen,
    pub threads: usize,
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub cache_max_age: Duration,
}

/// A section of the file, named by the keys in it that only a restart applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    pub heading: &'static str,
    pub keys: &'static [&'static str],
}

impl fmt::Display for Section {
    /// `[server] listen, threads or max_connections`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.heading)?;
        for (i, key) in self.keys.iter().enumerate() {
            let separator = match i {
                0 => " ",
                i if i + 1 == self.keys.len() => " or ",
                _ => ", ",
            };
            write!(f, "{separator}{key}")?;
        }
        Ok(())
    }
}

/// [`Startup`]'s sections, in its order, with the keys of each.
pub const SECTIONS: [Section; 3] = [
    Section {
        heading: "[storage]",
        keys: &["path", "keep_days"],
    },
    Section {
        heading: "[server]",
        keys: &[
            "listen",
            "threads",
            "max_connections",
            "header_timeout",
            "cache_max_age",
        ],
    },
    Section {
        heading: "[fetch]",
        keys: &[
            "timeout",
            "connect_timeout",
            "read_timeout",
            "max_bytes",
            "concurrency",
            "per_host",
            "host_delay",
            "user_agent",
        ],
    },
];

impl Config {
    /// The settings only a restart applies; everything else applies live.
    pub fn startup(&self) -> Startup {
        // Taken apart whole, so that a new setting is sorted here: into
        // `Startup`, or ignored as live.
        let Config {
            path: _,
            storage,
            fetch:
                FetchConfig {
                    limits,
                    schedule: _,
                    jitter: _,
                },
            sources: _,
            topics: _,
            server:
                ServerConfig {
                    listen,
                    base_url: _,
                    base_url_configured: _,
                    cache_max_age,
                    header_timeout,
                    max_connections,
                    search_depth: _,
                    search_timeout: _,
                    threads,
                },
            dedup: _,
        } = self;
        Startup {
            storage: storage.clone(),
            server: Listening {
                listen: listen.clone(),
                threads: *threads,
                max_connections: *max_connections,
                header_timeout: *header_timeout,
                cache_max_age: *cache_max_age,
            },
            fetch: limits.clone(),
        }
    }
}

impl Startup {
    /// The sections that differ in `new`: a reload names them in a warning,
    /// since it leaves them as they were.
    pub fn changes(&self, new: &Startup) -> Vec<Section> {
        let Startup {
            storage,
            server,
            fetch,
        } = self;
        let [storage_keys, server_keys, fetch_keys] = SECTIONS;
        [
            (storage != &new.storage, storage_keys),
            (server != &new.server, server_keys),
            (fetch != &new.fetch, fetch_keys),
        ]
        .into_iter()
        .filter_map(|(changed, section)| changed.then_some(section))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(Path::new("/etc/kurator/feeds.toml"), text).unwrap()
    }

    fn startup(text: &str) -> Startup {
        config(text).startup()
    }

    #[test]
    fn a_section_is_named_by_its_keys() {
        assert_eq!(SECTIONS[0].to_string(), "[storage] path or keep_days");
        assert_eq!(
            SECTIONS[1].to_string(),
            "[server] listen, threads, max_connections, header_timeout or cache_max_age"
        );
    }

    /// Each restart-only setting, changed alone, is reported with the key
    /// that names it. The pattern below binds every field: a restart-only
    /// setting added to `Startup` does not compile (or leaves a variable
    /// unused) until it has a case here.
    #[test]
    fn every_restart_only_setting_is_reported_when_it_changes() {
        let running = startup("");
        let Startup {
            storage: StorageConfig { path, keep },
            server:
                Listening {
                    listen,
                    threads,
                    max_connections,
                    header_timeout,
                    cache_max_age,
                },
            fetch:
                crate::fetch::Settings {
                    timeout,
                    connect_timeout,
                    read_timeout,
                    max_bytes,
                    concurrency,
                    per_host,
                    host_delay,
                    user_agent,
                },
        } = &running;
        type Differs<'a> = Box<dyn Fn(&Startup) -> bool + 'a>;
        let cases: Vec<(&str, &str, Differs)> = vec![
            (
                "[storage]\npath = \"other.db\"",
                "path",
                Box::new(|s| s.storage.path != *path),
            ),
            (
                "[storage]\nkeep_days = 30",
                "keep_days",
                Box::new(|s| s.storage.keep != *keep),
            ),
            (
                "[server]\nlisten = \"127.0.0.1:9999\"",
                "listen",
                Box::new(|s| s.server.listen != *listen),
            ),
            (
                "[server]\nthreads = 3",
                "threads",
                Box::new(|s| s.server.threads != *threads),
            ),
            (
                "[server]\nmax_connections = 7",
                "max_connections",
                Box::new(|s| s.server.max_connections != *max_connections),
            ),
            (
                "[server]\nheader_timeout = \"3s\"",
                "header_timeout",
                Box::new(|s| s.server.header_timeout != *header_timeout),
            ),
            (
                "[server]\ncache_max_age = \"1h\"",
                "cache_max_age",
                Box::new(|s| s.server.cache_max_age != *cache_max_age),
            ),
            (
                "[fetch]\ntimeout = \"7s\"",
                "timeout",
                Box::new(|s| s.fetch.timeout != *timeout),
            ),
            (
                "[fetch]\nconnect_timeout = \"2s\"",
                "connect_timeout",
                Box::new(|s| s.fetch.connect_timeout != *connect_timeout),
            ),
            (
                "[fetch]\nread_timeout = \"3s\"",
                "read_timeout",
                Box::new(|s| s.fetch.read_timeout != *read_timeout),
            ),
            (
                "[fetch]\nmax_bytes = \"1 MiB\"",
                "max_bytes",
                Box::new(|s| s.fetch.max_bytes != *max_bytes),
            ),
            (
                "[fetch]\nconcurrency = 3",
                "concurrency",
                Box::new(|s| s.fetch.concurrency != *concurrency),
            ),
            (
                "[fetch]\nper_host = 1",
                "per_host",
                Box::new(|s| s.fetch.per_host != *per_host),
            ),
            (
                "[fetch]\nhost_delay = \"5s\"",
                "host_delay",
                Box::new(|s| s.fetch.host_delay != *host_delay),
            ),
            (
                "[fetch]\nuser_agent = \"Test/1.0\"",
                "user_agent",
                Box::new(|s| s.fetch.user_agent != *user_agent),
            ),
        ];
        for (text, key, differs) in cases {
            let changed = startup(text);
            assert!(differs(&changed), "{text:?} changes no setting");
            let reported = running.changes(&changed);
            assert_eq!(reported.len(), 1, "{text:?}: {reported:?}");
            assert!(
                reported[0].keys.contains(&key),
                "{text:?} is reported as {}",
                reported[0]
            );
            assert!(text.starts_with(reported[0].heading), "{text:?}");
        }
    }

    #[test]
    fn what_applies_live_is_not_reported() {
        let running = config("");
        for text in [
            "[fetch]\nschedule = \"0 0 * * * *\"\njitter = \"1m\"",
            "[server]\nbase_url = \"https://feeds.example.org/\"",
            "[server]\nsearch_depth = 500\nsearch_timeout = \"1s\"",
            "[dedup]\nmode = \"off\"",
            "[[source]]\nid = \"stadt\"\nurl = \"https://stadt.example/rss\"",
            "[[topic]]\nslug = \"bau\"\nmatch = 'bau*'",
        ] {
            let reloaded = config(text);
            assert_ne!(
                format!("{reloaded:?}"),
                format!("{running:?}"),
                "{text:?} changes nothing"
            );
            let changes = running.startup().changes(&reloaded.startup());
            assert!(changes.is_empty(), "{text:?}: {changes:?}");
        }
    }
}
