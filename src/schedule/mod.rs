//! Schedule: decides when each source is polled, and polls it, for as long as
//! the daemon runs.
//!
//! Rules:
//! * When a source is due is [`plan::next_fetch`]'s decision alone (cron,
//!   jitter, backoff, `Retry-After`, feed freshness, `410 Gone`); this loop
//!   only keeps time and starts polls.
//! * A source is never polled twice at once: it is not due again until its
//!   poll has ended and its new state is known.
//! * Politeness limits (`concurrency`, `per_host`, `host_delay`) live in the
//!   fetcher, so they hold across everything that fetches.
//! * A reload replaces the source list without losing what is known of the
//!   sources that stay; polls of removed sources finish and are forgotten.
//! * Stopping stops scheduling at once, gives running polls a bounded time to
//!   finish (their results are committed whole or not at all), then abandons
//!   the rest.

pub mod clock;
pub mod plan;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub use clock::Clock;
pub use plan::{CronSchedule, Jitter, Next, SourceTimes, Timing};

/// What the scheduler knows of a source: its id, and the address its
/// stored times belong to (a source whose address changed starts over).
/// The rest is the poller's business.
pub trait Scheduled: Clone + Send + 'static {
    fn id(&self) -> &str;
    fn address(&self) -> &str;
}

/// Polls one source; the scheduler's only way to reach the network.
pub trait Poller: Send + Sync + 'static {
    /// What it polls.
    type Source: Scheduled;
    /// Polls `source` and returns what is known of it afterwards.
    fn poll(&self, source: Self::Source) -> impl Future<Output = SourceTimes> + Send;
}

/// A source as the scheduler takes it: what to poll, how often, and its past.
#[derive(Debug, Clone)]
pub struct Planned<S> {
    pub source: S,
    pub timing: Timing,
    pub times: SourceTimes,
}

/// Sent to a running scheduler.
#[derive(Debug)]
pub enum Command<S> {
    /// A reloaded configuration's sources.
    Replace(Vec<Planned<S>>),
    /// Stop scheduling; give running polls `grace` to finish.
    Stop { grace: Duration },
}

/// How the scheduler ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Polls still running after the grace period, abandoned.
    pub abandoned: usize,
}

/// The time of the scheduler loop's latest turn (seconds since the epoch):
/// a loop that stopped turning is a stuck daemon.
#[derive(Debug, Default)]
pub struct Heartbeat(AtomicI64);

impl Heartbeat {
    pub fn beat(&self, now: i64) {
        self.0.store(now, Ordering::Relaxed);
    }

    /// Seconds since the epoch of the last turn; 0 before the first.
    pub fn last(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct Entry<S> {
    source: S,
    timing: Timing,
    times: SourceTimes,
    next: Next,
    in_flight: bool,
    /// When the running (or last) poll started.
    polled_at: i64,
}

pub struct Scheduler<P: Poller> {
    poller: Arc<P>,
    clock: Clock,
    entries: BTreeMap<String, Entry<P::Source>>,
    heartbeat: Arc<Heartbeat>,
}

impl<P: Poller> Scheduler<P> {
    /// Plans every source; overdue ones (never fetched, or due while the
    /// daemon was down) are spread out rather than fetched all at once.
    pub fn new(poller: Arc<P>, clock: Clock, sources: Vec<Planned<P::Source>>) -> Scheduler<P> {
        let mut scheduler = Scheduler {
            poller,
            clock,
            entries: BTreeMap::new(),
            heartbeat: Arc::new(Heartbeat::default()),
        };
        scheduler.heartbeat.beat(clock.now());
        scheduler.replace(sources);
        scheduler
    }

    pub fn heartbeat(&self) -> Arc<Heartbeat> {
        self.heartbeat.clone()
    }

    /// When each source is polled next, by id.
    pub fn next_times(&self) -> BTreeMap<String, Next> {
        self.entries
            .iter()
            .map(|(id, entry)| (id.clone(), entry.next))
            .collect()
    }

    /// Takes a new source list: known sources keep their state (a running
    /// poll goes on), new ones are planned, removed ones are dropped.
    fn replace(&mut self, sources: Vec<Planned<P::Source>>) {
        let now = self.clock.now();
        let mut entries = BTreeMap::new();
        for planned in sources {
            let Planned {
                source,
                timing,
                times,
            } = planned;
            let entry = match self.entries.remove(source.id()) {
                Some(mut known) => {
                    // A changed URL is a new feed: start over with its times.
                    if known.source.address() != source.address() {
                        known.times = times;
                    }
                    known.source = source;
                    known.timing = timing;
                    known
                }
                None => Entry {
                    source,
                    timing,
                    times,
                    next: Next::Stopped,
                    in_flight: false,
                    polled_at: 0,
                },
            };
            entries.insert(entry.source.id().to_owned(), entry);
        }
        self.entries = entries;
        for (id, entry) in &mut self.entries {
            if !entry.in_flight {
                entry.next = plan::next_fetch(&entry.timing, id, &entry.times, now);
            }
        }
        self.spread_overdue(now);
    }

    fn spread_overdue(&mut self, now: i64) {
        // Each source's own catch-up window: its jitter window, at least a
        // minute, but never longer than its interval, so a source polled
        // every few seconds catches up within one interval.
        let windows: Vec<Duration> = self
            .entries
            .values()
            .map(|e| {
                let interval = e.timing.schedule.interval_after(now);
                e.timing
                    .jitter
                    .window(interval)
                    .max(plan::MIN_CATCH_UP)
                    .min(interval)
            })
            .collect();
        let ids: Vec<&String> = self.entries.keys().collect();
        let mut due: Vec<(i64, usize)> = self
            .entries
            .values()
            .enumerate()
            .filter(|(_, e)| !e.in_flight)
            .filter_map(|(index, e)| match e.next {
                Next::At(at) => Some((at, index)),
                Next::Stopped => None,
            })
            .collect();
        plan::spread_overdue(&mut due, now, |index| windows[index]);
        let spread: HashMap<String, i64> = due
            .into_iter()
            .map(|(at, index)| (ids[index].clone(), at))
            .collect();
        for (id, entry) in &mut self.entries {
            if let Some(&at) = spread.get(id) {
                entry.next = Next::At(at);
            }
        }
    }

    /// Runs until told to stop (or until every sender of `commands` is gone).
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command<P::Source>>) -> Stopped {
        let mut polls: JoinSet<(String, SourceTimes)> = JoinSet::new();
        let mut polling: HashMap<tokio::task::Id, String> = HashMap::new();
        let grace = loop {
            let now = self.clock.now();
            self.heartbeat.beat(now);
            for (id, entry) in &mut self.entries {
                if entry.in_flight || !matches!(entry.next, Next::At(at) if at <= now) {
                    continue;
                }
                entry.in_flight = true;
                entry.polled_at = now;
                let poller = self.poller.clone();
                let source = entry.source.clone();
                let key = id.clone();
                let task = polls.spawn(async move { (key, poller.poll(source).await) });
                polling.insert(task.id(), id.clone());
            }
            let wake = self
                .entries
                .values()
                .filter(|e| !e.in_flight)
                .filter_map(|e| match e.next {
                    Next::At(at) => Some(at),
                    Next::Stopped => None,
                })
                .min();
            let clock = self.clock;
            tokio::select! {
                _ = async move {
                    match wake {
                        Some(at) => clock.sleep_until(at).await,
                        // Nothing to do but wait for a poll or a command;
                        // wake anyway now and then to keep the heartbeat.
                        None => clock.sleep_until(clock.now() + 60).await,
                    }
                } => {}
                Some(joined) = polls.join_next_with_id(), if !polls.is_empty() => {
                    self.finished(joined, &mut polling);
                }
                command = commands.recv() => match command {
                    Some(Command::Replace(sources)) => self.replace(sources),
                    Some(Command::Stop { grace }) => break grace,
                    None => break Duration::ZERO,
                },
            }
        };
        let drained = tokio::time::timeout(grace, async {
            while let Some(joined) = polls.join_next_with_id().await {
                self.finished(joined, &mut polling);
            }
        })
        .await;
        let abandoned = if drained.is_err() { polls.len() } else { 0 };
        if abandoned > 0 {
            tracing::warn!(
                abandoned,
                "stopping: abandoned fetches still running after {}",
                humantime::format_duration(grace)
            );
        }
        polls.abort_all();
        Stopped { abandoned }
    }

    fn finished(
        &mut self,
        joined: Result<(tokio::task::Id, (String, SourceTimes)), tokio::task::JoinError>,
        polling: &mut HashMap<tokio::task::Id, String>,
    ) {
        let now = self.clock.now();
        let (id, times) = match joined {
            Ok((task, (id, times))) => {
                polling.remove(&task);
                (id, times)
            }
            Err(err) => {
                let Some(id) = polling.remove(&err.id()) else {
                    return;
                };
                tracing::error!(source = %id, "internal error: a poll failed: {err}");
                // Treat it as an error of that source, so it backs off.
                let times = self
                    .entries
                    .get(&id)
                    .map(|e| SourceTimes {
                        last_attempt: Some(now),
                        consecutive_errors: e.times.consecutive_errors + 1,
                        ..e.times.clone()
                    })
                    .unwrap_or_default();
                (id, times)
            }
        };
        // A source removed by a reload while it was polled is forgotten.
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.in_flight = false;
            entry.times = counted_attempt(entry, &id, times, now);
            entry.next = plan::next_fetch(&entry.timing, &id, &entry.times, now);
            if let Next::At(at) = entry.next {
                tracing::debug!(source = %id, next = %crate::time::format_time(at), "next poll");
            }
        }
    }
}

/// The times after a poll, with the poll counted as an attempt even when
/// the poller's times do not show it.
///
/// A poll whose result could not be stored (a full disk, the database
/// locked by another process) comes back with the source's times as they
/// were before it: by those the source would be due again at once, and it
/// would be fetched in a tight loop for as long as the fault lasts. So
/// politeness never depends on a successful write: such a poll counts here
/// as a failed attempt (in memory), and the usual error backoff holds.
fn counted_attempt<S>(entry: &Entry<S>, id: &str, times: SourceTimes, now: i64) -> SourceTimes {
    let recorded = times.last_attempt.is_some_and(|at| at >= entry.polled_at);
    let due_at_once = matches!(
        plan::next_fetch(&entry.timing, id, &times, now),
        Next::At(at) if at <= now
    );
    if recorded || !due_at_once {
        return times;
    }
    tracing::warn!(
        source = %id,
        "{id}: the poll's result was not recorded; backing off as after an error"
    );
    SourceTimes {
        last_attempt: Some(entry.polled_at.max(times.last_attempt.unwrap_or(0))),
        consecutive_errors: entry.times.consecutive_errors.max(times.consecutive_errors) + 1,
        ..times
    }
}

#[cfg(test)]
mod tests {
    //! The loop under a paused tokio clock: hours of schedule in milliseconds.
    //! The poller here stands in for the network and the store: it records
    //! when each source was polled and answers from a script, updating the
    //! source's times as the store does after a fetch.

    use super::*;
    use std::sync::Mutex;

    /// 2025-11-24 16:00 UTC: on a quarter hour in every time zone.
    const T0: i64 = 1_764_000_000;

    #[derive(Debug, Clone, Copy)]
    enum Answer {
        Ok,
        Error,
        /// 429 with `Retry-After` in seconds.
        SlowDown(i64),
        Gone,
        /// Takes this long, then succeeds.
        Slow(u64),
        /// Takes a second, and its result cannot be stored: the times come
        /// back as they were (a full disk, a database locked elsewhere).
        Unrecorded,
    }

    struct ScriptedPoller {
        clock: Clock,
        /// Per source: answers in turn; the last one repeats.
        script: HashMap<String, Vec<Answer>>,
        polls: Mutex<Vec<(String, i64)>>,
        times: Mutex<HashMap<String, SourceTimes>>,
    }

    impl ScriptedPoller {
        fn new(clock: Clock, script: &[(&str, &[Answer])]) -> Arc<ScriptedPoller> {
            Arc::new(ScriptedPoller {
                clock,
                script: script
                    .iter()
                    .map(|(id, answers)| (id.to_string(), answers.to_vec()))
                    .collect(),
                polls: Mutex::new(Vec::new()),
                times: Mutex::new(HashMap::new()),
            })
        }

        /// The times (seconds after T0) at which `id` was polled.
        fn polls_of(&self, id: &str) -> Vec<i64> {
            let polls = self.polls.lock().unwrap();
            polls
                .iter()
                .filter(|(polled, _)| polled == id)
                .map(|(_, at)| at - T0)
                .collect()
        }
    }

    impl Poller for ScriptedPoller {
        type Source = Source;

        async fn poll(&self, source: Source) -> SourceTimes {
            let now = self.clock.now();
            let answer = {
                let mut polls = self.polls.lock().unwrap();
                let turn = polls.iter().filter(|(id, _)| *id == source.id).count();
                polls.push((source.id.clone(), now));
                let answers = &self.script[&source.id];
                answers[turn.min(answers.len() - 1)]
            };
            if let Answer::Slow(seconds) = answer {
                tokio::time::sleep(Duration::from_secs(seconds)).await;
            }
            if let Answer::Unrecorded = answer {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let all = self.times.lock().unwrap();
                return all.get(&source.id).cloned().unwrap_or_default();
            }
            let mut all = self.times.lock().unwrap();
            let times = all.entry(source.id.clone()).or_default();
            times.last_attempt = Some(now);
            match answer {
                Answer::Ok | Answer::Slow(_) => {
                    times.consecutive_errors = 0;
                    times.retry_after = None;
                }
                Answer::Error => times.consecutive_errors += 1,
                Answer::SlowDown(seconds) => {
                    times.consecutive_errors += 1;
                    times.retry_after = Some(now + seconds);
                }
                Answer::Gone => times.gone = true,
                Answer::Unrecorded => unreachable!("answered above"),
            }
            times.clone()
        }
    }

    /// A source as the scheduler sees it.
    #[derive(Debug, Clone)]
    struct Source {
        id: String,
        url: String,
    }

    impl Scheduled for Source {
        fn id(&self) -> &str {
            &self.id
        }

        fn address(&self) -> &str {
            &self.url
        }
    }

    fn planned(id: &str, schedule: &str, jitter: Jitter) -> Planned<Source> {
        Planned {
            source: Source {
                id: id.to_owned(),
                url: format!("http://{id}.example/feed"),
            },
            timing: Timing {
                schedule: CronSchedule::parse(schedule).unwrap(),
                jitter,
            },
            times: SourceTimes::default(),
        }
    }

    /// Runs the scheduler for `seconds` of paused time, then stops it.
    async fn run_for(
        poller: &Arc<ScriptedPoller>,
        sources: Vec<Planned<Source>>,
        seconds: u64,
    ) -> Stopped {
        let scheduler = Scheduler::new(poller.clone(), poller.clock, sources);
        let (commands, receiver) = mpsc::channel(4);
        let running = tokio::spawn(scheduler.run(receiver));
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        commands
            .send(Command::Stop {
                grace: Duration::from_secs(5),
            })
            .await
            .unwrap();
        running.await.unwrap()
    }

    fn gaps(polls: &[i64]) -> Vec<i64> {
        polls.windows(2).map(|w| w[1] - w[0]).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn cron_with_jitter_and_a_spread_start() {
        let clock = Clock::tokio_starting_at(T0);
        let ids: Vec<String> = (0..12).map(|n| format!("stadt-{n}")).collect();
        let script: Vec<(&str, &[Answer])> = ids
            .iter()
            .map(|id| (id.as_str(), &[Answer::Ok][..]))
            .collect();
        let poller = ScriptedPoller::new(clock, &script);
        let sources = ids
            .iter()
            .map(|id| planned(id, "0 */15 * * * *", Jitter::default()))
            .collect();
        let stopped = run_for(&poller, sources, 2 * 3600 + 90).await;
        assert_eq!(stopped.abandoned, 0);

        let mut first_polls = Vec::new();
        for id in &ids {
            let polls = poller.polls_of(id);
            // The start: never fetched, so spread over the 90 s catch-up window.
            assert!(
                (0..90).contains(&polls[0]),
                "{id}: first poll at {}",
                polls[0]
            );
            first_polls.push(polls[0]);
            // Then on the quarter hours plus the source's own offset in [0, 90 s).
            let offset = plan::jitter_offset(id, Duration::from_secs(90));
            let expected: Vec<i64> = (1..=8).map(|q| q * 900 + offset).collect();
            assert_eq!(&polls[1..], &expected[..], "{id}");
            assert!(gaps(&polls[1..]).iter().all(|&g| g == 900), "{id}");
        }
        first_polls.sort_unstable();
        first_polls.dedup();
        assert!(
            first_polls.len() >= 10,
            "the start is spread: {first_polls:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_polled_every_second_is_polled_once_a_second() {
        // Answers take no time and times are whole seconds: the slot of the
        // last attempt must not come due again within its own second.
        let clock = Clock::tokio_starting_at(T0);
        let poller = ScriptedPoller::new(clock, &[("schnell", &[Answer::Ok][..])]);
        let sources = vec![planned("schnell", "* * * * * *", Jitter::default())];
        let stopped = run_for(&poller, sources, 60).await;
        assert_eq!(stopped.abandoned, 0);
        let polls = poller.polls_of("schnell");
        assert!(
            (55..=61).contains(&polls.len()),
            "{} polls in 60 s",
            polls.len()
        );
        assert!(gaps(&polls).iter().all(|&gap| gap >= 1), "{polls:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn errors_back_off_and_recover_and_retry_after_is_honoured() {
        let clock = Clock::tokio_starting_at(T0);
        use Answer::*;
        let poller = ScriptedPoller::new(
            clock,
            &[
                ("flaky", &[Error, Error, Error, Ok]),
                ("busy", &[SlowDown(3 * 3600), Ok]),
                ("removed", &[Ok, Gone]),
            ],
        );
        let none = Jitter::Fixed(Duration::ZERO);
        let sources = vec![
            planned("flaky", "0 */15 * * * *", none),
            planned("busy", "0 */15 * * * *", none),
            planned("removed", "0 */15 * * * *", none),
        ];
        run_for(&poller, sources, 6 * 3600).await;

        let flaky = poller.polls_of("flaky");
        // Three errors: waits of 2, 4 and 8 intervals; then, recovered, the
        // plain schedule: back on the quarter hours.
        assert_eq!(gaps(&flaky)[..3], [1800, 3600, 7200], "{flaky:?}");
        assert!(flaky.len() >= 7, "{flaky:?}");
        assert!(flaky[4..].iter().all(|at| at % 900 == 0), "{flaky:?}");
        assert!(gaps(&flaky)[4..].iter().all(|&g| g == 900), "{flaky:?}");
        let busy = poller.polls_of("busy");
        assert!(busy[1] - busy[0] >= 3 * 3600, "Retry-After: {busy:?}");
        assert!(
            busy[1] - busy[0] < 3 * 3600 + 900,
            "and no longer: {busy:?}"
        );
        assert_eq!(gaps(&busy)[1], 900, "recovered: {busy:?}");
        let removed = poller.polls_of("removed");
        assert_eq!(removed.len(), 2, "410 Gone stops polling: {removed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn reload_adds_and_removes_sources_and_stop_abandons_after_the_grace() {
        let clock = Clock::tokio_starting_at(T0);
        use Answer::*;
        let poller = ScriptedPoller::new(
            clock,
            &[
                ("kept", &[Ok]),
                ("dropped", &[Ok]),
                ("added", &[Ok]),
                ("stuck", &[Slow(3600)]),
            ],
        );
        let none = Jitter::Fixed(Duration::ZERO);
        let scheduler = Scheduler::new(
            poller.clone(),
            clock,
            vec![
                planned("kept", "0 */15 * * * *", none),
                planned("dropped", "0 */15 * * * *", none),
            ],
        );
        let heartbeat = scheduler.heartbeat();
        let (commands, receiver) = mpsc::channel(4);
        let running = tokio::spawn(scheduler.run(receiver));
        tokio::time::sleep(Duration::from_secs(1000)).await;
        assert!(heartbeat.last() >= T0 + 900, "the loop turns");
        commands
            .send(Command::Replace(vec![
                planned("kept", "0 */15 * * * *", none),
                planned("added", "0 */15 * * * *", none),
                planned("stuck", "0 */15 * * * *", none),
            ]))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(2000)).await;
        commands
            .send(Command::Stop {
                grace: Duration::from_secs(10),
            })
            .await
            .unwrap();
        let stopped = running.await.unwrap();
        assert_eq!(stopped.abandoned, 1, "the stuck poll is abandoned");
        assert_eq!(poller.polls_of("dropped"), vec![0, 900]);
        // The start spreads the two over the 60 s catch-up window.
        assert_eq!(poller.polls_of("kept"), vec![30, 900, 1800, 2700]);
        let added = poller.polls_of("added");
        assert_eq!(added[0], 1000, "a new source is polled at once: {added:?}");
        assert_eq!(&added[1..], &[1800, 2700]);
        let stuck = poller.polls_of("stuck");
        assert_eq!(stuck.len(), 1, "never twice at once: {stuck:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_whose_result_cannot_be_stored_backs_off_instead_of_looping() {
        let clock = Clock::tokio_starting_at(T0);
        use Answer::*;
        let poller = ScriptedPoller::new(
            clock,
            &[
                // Stored once, then the database stops taking writes.
                ("full", &[Ok, Unrecorded]),
                ("never", &[Unrecorded]),
            ],
        );
        let none = Jitter::Fixed(Duration::ZERO);
        let sources = vec![
            planned("full", "0 */15 * * * *", none),
            planned("never", "0 */15 * * * *", none),
        ];
        run_for(&poller, sources, 4 * 3600).await;
        for id in ["full", "never"] {
            let polls = poller.polls_of(id);
            // At most one poll per slot (16 quarter hours), and backing off:
            // waits of 2, 4, 8 … intervals after each unrecorded poll.
            assert!(
                polls.len() <= 6,
                "{id}: {} polls, starting {:?}",
                polls.len(),
                &polls[..polls.len().min(12)]
            );
            assert!(polls.len() >= 3, "{id} is still polled: {polls:?}");
            let gaps = gaps(&polls);
            assert!(
                gaps.windows(2).all(|w| w[1] >= w[0]),
                "{id}: the waits grow: {gaps:?}"
            );
            assert!(gaps.iter().all(|&g| g >= 900), "{id}: {gaps:?}");
        }
    }
}
