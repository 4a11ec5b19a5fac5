//! What the server is given of the config: its [`Settings`], read once at
//! start, and the config as the [`Site`] it shows, replaced on reload.

use super::{Config, Source};
use crate::schedule::Timing;
use crate::serve::{SearchLimits, Settings, Site};

impl Config {
    /// `[server]` as the server reads it at start; a change needs a restart.
    pub fn serve_settings(&self) -> Settings {
        let server = &self.server;
        Settings {
            listen: server.listen.clone(),
            threads: server.threads,
            max_connections: server.max_connections,
            header_timeout: server.header_timeout,
            cache_max_age: server.cache_max_age,
        }
    }
}

impl Site for Config {
    fn base_url_configured(&self) -> bool {
        self.server.base_url_configured
    }

    fn sources(&self) -> &[Source] {
        &self.sources
    }

    fn timing(&self, source: &Source) -> Timing {
        Config::timing(self, source)
    }

    fn search_limits(&self) -> SearchLimits {
        SearchLimits {
            depth: self.server.search_depth,
            timeout: self.server.search_timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_server_gets_what_the_config_says() {
        let config = Config::parse(
            std::path::Path::new("/etc/kurator/feeds.toml"),
            "[server]\nlisten = \"127.0.0.1:9000\"\nthreads = 2\nmax_connections = 64\n\
             header_timeout = \"7s\"\ncache_max_age = \"2m\"\nsearch_depth = 100\nsearch_timeout = \"3s\"\n",
        )
        .unwrap();
        let settings = config.serve_settings();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(settings.threads, 2);
        assert_eq!(settings.max_connections, 64);
        assert_eq!(settings.header_timeout, Duration::from_secs(7));
        assert_eq!(settings.cache_max_age, Duration::from_secs(120));
        let limits = config.search_limits();
        assert_eq!(limits.depth, 100);
        assert_eq!(limits.timeout, Duration::from_secs(3));
        assert!(!config.base_url_configured());
    }
}
