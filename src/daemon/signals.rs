//! Signals: what the process is told from outside, listened for in one place
//! by `kurator run` and `kurator serve` alike. `SIGTERM` and `SIGINT` stop;
//! `SIGHUP` reloads where a reload is offered, and elsewhere keeps its
//! default (it ends the process).

use tokio::signal::unix::{Signal, SignalKind, signal};

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// `SIGTERM` or `SIGINT`.
    Stop,
    /// `SIGHUP`: read the configuration again.
    Reload,
}

/// The signals a process listens for.
pub struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Option<Signal>,
}

impl Signals {
    /// Listens for the stop signals, and for `SIGHUP` if `reload`; fails
    /// (with the message to log) only if signals cannot be received at all.
    pub fn listen(reload: bool) -> Result<Signals, String> {
        let listen = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|err| format!("cannot listen for {name}: {err}"))
        };
        Ok(Signals {
            terminate: listen(SignalKind::terminate(), "SIGTERM")?,
            interrupt: listen(SignalKind::interrupt(), "SIGINT")?,
            hangup: match reload {
                true => Some(listen(SignalKind::hangup(), "SIGHUP")?),
                false => None,
            },
        })
    }

    /// The next signal received.
    pub async fn next(&mut self) -> Asked {
        let Signals {
            terminate,
            interrupt,
            hangup,
        } = self;
        let hangup = async {
            match hangup {
                Some(hangup) => hangup.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = terminate.recv() => Asked::Stop,
            _ = interrupt.recv() => Asked::Stop,
            _ = hangup => Asked::Reload,
        }
    }

    /// Completes at the first stop signal (`kurator serve`). Where signals
    /// cannot be received, Ctrl-C is still tried.
    pub async fn stop() {
        match Signals::listen(false) {
            Ok(mut signals) => while signals.next().await != Asked::Stop {},
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
