//! `SIGHUP`: reads `feeds.toml` again and publishes it, on one channel, to
//! the parts of the daemon that apply configuration while it runs.
//!
//! Rules:
//! * A file that fails validation, or whose sources cannot be planned,
//!   changes nothing; the error is logged (with its `FILE:LINE:COL`).
//! * A good one is published once ([`Published::publish`]); each
//!   [`Consumer`] takes what it needs from it (the consumers are in
//!   [`super::live`]). The reload is done, and systemd hears `READY=1`, once
//!   every consumer has applied it.
//! * What only a restart applies ([`crate::config::Startup`]) is named in a
//!   warning, so nobody waits for it.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use super::plan_sources;
use crate::config::{Config, Source};
use crate::schedule::Planned;
use crate::store::Store;

/// A configuration as the running daemon applies it.
pub(super) struct Live {
    pub config: Config,
    /// Its enabled sources, with their schedules and stored past.
    pub planned: Vec<Planned<Source>>,
    /// A permit for each consumer that has applied it.
    applied: Semaphore,
}

impl Live {
    pub fn new(config: Config, planned: Vec<Planned<Source>>) -> Live {
        Live {
            config,
            planned,
            applied: Semaphore::new(0),
        }
    }
}

/// A part of the daemon that applies configuration while it runs.
pub(super) trait Consumer: Send + 'static {
    /// Applies `new`, which follows `old`: takes what it needs.
    fn apply(&mut self, old: &Arc<Live>, new: &Arc<Live>) -> impl Future<Output = ()> + Send;

    /// At shutdown: ends what [`Consumer::apply`] left running.
    fn stop(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// The one channel a reload goes through: the latest good configuration.
pub(super) struct Published {
    latest: watch::Sender<Arc<Live>>,
}

impl Published {
    pub fn new(first: Live) -> Published {
        Published {
            latest: watch::Sender::new(Arc::new(first)),
        }
    }

    /// The configuration the daemon runs on.
    pub fn latest(&self) -> Arc<Live> {
        self.latest.borrow().clone()
    }

    /// Runs `consumer` on each configuration published from now on; once
    /// this is dropped, stops it.
    pub fn subscribe<C: Consumer>(&self, mut consumer: C) -> JoinHandle<()> {
        let mut published = self.latest.subscribe();
        let mut current = published.borrow_and_update().clone();
        tokio::spawn(async move {
            while published.changed().await.is_ok() {
                let new = published.borrow_and_update().clone();
                let applied = Applied(new.clone());
                consumer.apply(&current, &new).await;
                drop(applied);
                current = new;
            }
            consumer.stop().await;
        })
    }

    /// Publishes `live` and waits until every consumer has applied it.
    pub async fn publish(&self, live: Live) {
        let live = Arc::new(live);
        let consumers = u32::try_from(self.latest.receiver_count()).unwrap_or(u32::MAX);
        self.latest.send_replace(live.clone());
        let _ = live.applied.acquire_many(consumers).await;
    }
}

/// Says that a consumer is done with a configuration, also if applying it
/// panicked: a reload must not wait for it forever.
struct Applied(Arc<Live>);

impl Drop for Applied {
    fn drop(&mut self) {
        self.0.applied.add_permits(1);
    }
}

/// Reads the configuration again on `SIGHUP` and publishes it if it is good.
pub(super) struct Reloader {
    pub db_path: PathBuf,
    pub published: Published,
}

impl Reloader {
    pub async fn reload(&self) {
        let running = self.published.latest();
        let path = running.config.path.clone();
        tracing::info!(
            "reloading the configuration from {} (SIGHUP)",
            path.display()
        );
        let config = match Config::load(&path) {
            Ok(config) => config,
            Err(err) => {
                tracing::error!(
                    "the new configuration is not valid; still running on the old one:\n{err}"
                );
                return;
            }
        };
        let planned = {
            let (db_path, config) = (self.db_path.clone(), config.clone());
            tokio::task::spawn_blocking(move || {
                Store::open_reader(&db_path).and_then(|store| plan_sources(&config, &store))
            })
            .await
        };
        let planned = match planned {
            Ok(Ok(planned)) => planned,
            Ok(Err(err)) => {
                tracing::error!("reload failed, still running on the old configuration: {err}");
                return;
            }
            Err(err) => {
                tracing::error!("internal error during reload: {err}");
                return;
            }
        };
        for section in running.config.startup().changes(&config.startup()) {
            tracing::warn!("{section} changed: that takes effect at the next restart");
        }
        tracing::info!("configuration reloaded: {} source(s)", planned.len());
        self.published.publish(Live::new(config, planned)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    fn live(topics: usize) -> Live {
        let text: String = (0..topics)
            .map(|i| format!("[[topic]]\nslug = \"t{i}\"\nmatch = 'wort{i}'\n"))
            .collect();
        Live::new(
            Config::parse(Path::new("/etc/kurator/feeds.toml"), &text).unwrap(),
            Vec::new(),
        )
    }

    fn topics(live: &Live) -> usize {
        live.config.topics.topics().len()
    }

    /// Records each (old, new) it is given, after a while; and its stop.
    struct Recorder {
        seen: Arc<Mutex<Vec<(usize, usize)>>>,
        stopped: Arc<Mutex<bool>>,
        takes: Duration,
    }

    impl Consumer for Recorder {
        async fn apply(&mut self, old: &Arc<Live>, new: &Arc<Live>) {
            tokio::time::sleep(self.takes).await;
            self.seen.lock().unwrap().push((topics(old), topics(new)));
        }

        async fn stop(&mut self) {
            *self.stopped.lock().unwrap() = true;
        }
    }

    struct Panics;

    impl Consumer for Panics {
        async fn apply(&mut self, _old: &Arc<Live>, _new: &Arc<Live>) {
            panic!("a consumer that fails");
        }
    }

    #[tokio::test]
    async fn each_consumer_applies_every_reload_before_it_counts_as_done() {
        let published = Published::new(live(0));
        let (seen, stopped) = (Arc::default(), Arc::default());
        let consumers = [Duration::from_millis(200), Duration::ZERO].map(|takes| {
            published.subscribe(Recorder {
                seen: Arc::clone(&seen),
                stopped: Arc::clone(&stopped),
                takes,
            })
        });
        published.publish(live(1)).await;
        // Both have applied it, the slow one too.
        assert_eq!(*seen.lock().unwrap(), [(0, 1), (0, 1)]);
        published.publish(live(2)).await;
        assert_eq!(seen.lock().unwrap()[2..], [(1, 2), (1, 2)]);
        assert_eq!(topics(&published.latest()), 2);

        assert!(!*stopped.lock().unwrap());
        drop(published);
        for consumer in consumers {
            consumer.await.unwrap();
        }
        assert!(*stopped.lock().unwrap(), "dropping the channel stops them");
    }

    #[tokio::test]
    async fn a_consumer_that_panics_does_not_hold_up_the_reload() {
        let published = Published::new(live(0));
        let failing = published.subscribe(Panics);
        let seen = Arc::default();
        published.subscribe(Recorder {
            seen: Arc::clone(&seen),
            stopped: Arc::default(),
            takes: Duration::ZERO,
        });
        tokio::time::timeout(Duration::from_secs(30), published.publish(live(1)))
            .await
            .expect("the reload finishes");
        assert!(failing.await.is_err());
        assert_eq!(*seen.lock().unwrap(), [(0, 1)]);
        // With one consumer fewer, the next reload is done as well.
        tokio::time::timeout(Duration::from_secs(30), published.publish(live(2)))
            .await
            .expect("the next reload finishes");
    }
}
