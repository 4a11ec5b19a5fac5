//! A `kurator` command that keeps running (`serve`, `run`), as a child
//! process: its address from the start line, its log, signals, and a
//! SIGTERM stop that must exit 0.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::http::{Response, get};

/// A running `kurator` process; killed when dropped.
pub struct Running {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Running {
    /// Starts `kurator -c CONFIG COMMAND` and waits for the line starting
    /// with `ready` that names the address it serves on.
    pub fn start(config: &Path, command: &str, ready: &'static str) -> Running {
        Running::start_with_env(config, command, ready, &[])
    }

    /// [`Running::start`] with more environment variables.
    pub fn start_with_env(
        config: &Path,
        command: &str,
        ready: &'static str,
        env: &[(&str, &str)],
    ) -> Running {
        let mut kurator = Command::new(env!("CARGO_BIN_EXE_kurator"));
        kurator
            .arg("-c")
            .arg(config)
            .arg(command)
            .envs(env.iter().copied());
        Running::spawn(kurator, ready)
    }

    /// Runs `command` (a `kurator` that serves, built by the caller: as
    /// another user, say) and waits for the line starting with `ready`
    /// that names the address it serves on.
    pub fn spawn(mut command: Command, ready: &'static str) -> Running {
        if command.get_envs().all(|(name, _)| name != "RUST_LOG") {
            command.env("RUST_LOG", "info");
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("{command:?} starts: {err}"));
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if let Some(tx) = tx.take_if(|_| line.starts_with(ready)) {
                    let _ = tx.send(line.clone());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{command:?} reports its address"));
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line}"));
        Running { child, addr, log }
    }

    pub fn get(&self, target: &str) -> Response {
        get(self.addr, target, &[])
    }

    /// Sends a signal by name (`HUP`, `TERM`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn log_contains(&self, text: &str) -> bool {
        self.log
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains(text))
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGKILL: the process dies wherever it is, as in a power cut.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, as systemd stops it: the process must exit 0 promptly.
    /// Returns its log.
    pub fn stop(mut self) -> String {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                let log = self.log_text();
                assert!(status.success(), "kurator exited with {status}:\n{log}");
                return log;
            }
            assert!(Instant::now() < deadline, "kurator ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
