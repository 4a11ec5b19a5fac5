//! systemd integration over `sd_notify`: readiness, reloads, stopping, status
//! and the watchdog. Without `NOTIFY_SOCKET` (not started by systemd) every
//! call does nothing.
//!
//! Rules:
//! * `READY=1` only once the database is open and the port bound.
//! * Every reload, good or bad, is `RELOADING=1` with `MONOTONIC_USEC`, then
//!   `READY=1` (a bad file leaves the old configuration running).
//! * `WATCHDOG=1` is sent at half of `WATCHDOG_USEC`, and only while the
//!   scheduler loop turns and the database answers: a stuck daemon is then
//!   restarted by systemd instead of looking alive.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState]) {
    if let Err(err) = sd_notify::notify(states) {
        tracing::warn!("cannot notify systemd: {err}");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `RELOADING=1` with the `MONOTONIC_USEC` systemd 253+ requires with it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(err) => {
            tracing::warn!("cannot read the monotonic clock: {err}");
            send(&[NotifyState::Reloading]);
        }
    }
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// How often to ping the watchdog: half of `WATCHDOG_USEC`, if systemd
/// asked for pings.
pub fn watchdog_period() -> Option<Duration> {
    sd_notify::watchdog_enabled()
        .filter(|interval| !interval.is_zero())
        .map(|interval| interval / 2)
}
