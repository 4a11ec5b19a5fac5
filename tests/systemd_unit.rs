//! `systemd/kurator.service` as systemd itself judges it: `systemd-analyze
//! verify` must print nothing, and `systemd-analyze security` must rate it
//! 2.0 or better. Needs systemd's tools (Debian: `apt-get install systemd`;
//! `.ci/run` installs it when missing); without them those checks say so
//! and are skipped. No running systemd is needed.

mod support;

use std::path::Path;
use std::process::Command;

use support::Tool;

const UNIT: &str = include_str!("../systemd/kurator.service");

fn systemd_analyze(args: &[&str]) -> std::process::Output {
    Command::new("systemd-analyze")
        .args(args)
        .output()
        .expect("systemd-analyze runs (Debian: apt-get install systemd)")
}

/// The unit as shipped, with the installed binary's path pointing at the one
/// just built, since `verify` checks that every command exists.
fn unit_with_built_binary(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("kurator.service");
    let unit = UNIT.replace("/usr/local/bin/kurator", env!("CARGO_BIN_EXE_kurator"));
    assert_ne!(unit, UNIT, "the unit runs /usr/local/bin/kurator");
    std::fs::write(&path, unit).unwrap();
    path
}

#[test]
fn the_unit_verifies_without_a_word() {
    if !Tool::SystemdAnalyze.available_for("the_unit_verifies_without_a_word") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_with_built_binary(dir.path());
    let output = systemd_analyze(&["verify", unit.to_str().unwrap()]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "systemd-analyze verify failed:\n{said}"
    );
    assert_eq!(said, "", "systemd-analyze verify must print nothing");
}

#[test]
fn the_unit_is_rated_ok_by_systemd_analyze_security() {
    if !Tool::SystemdAnalyze.available_for("the_unit_is_rated_ok_by_systemd_analyze_security") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_with_built_binary(dir.path());
    let output = systemd_analyze(&[
        "security",
        "--offline=yes",
        "--no-pager",
        unit.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    let verdict = text
        .lines()
        .find(|line| line.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no verdict in:\n{text}"));
    let level: f64 = verdict
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no level in {verdict}"));
    assert!(
        level <= 2.0,
        "exposure {level} (needs 2.0 or better):\n{text}"
    );
    assert!(verdict.contains("OK"), "{verdict}");
}

#[test]
fn the_unit_runs_the_daemon_as_the_readme_describes() {
    let lines: Vec<&str> = UNIT.lines().map(str::trim).collect();
    let has = |line: &str| lines.contains(&line);
    // notify, not notify-reload: Debian 12's systemd 252 rejects the latter.
    assert!(has("Type=notify"));
    assert!(has(
        "ExecStart=/usr/local/bin/kurator run -c /etc/kurator/feeds.toml --db /var/lib/kurator/kurator.db"
    ));
    let check =
        "/usr/local/bin/kurator check -c /etc/kurator/feeds.toml --db /var/lib/kurator/kurator.db";
    assert!(has(&format!("ExecStartPre={check}")));
    // The check runs first, so a bad file never reaches the running daemon.
    let reloads: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("ExecReload="))
        .collect();
    assert_eq!(
        reloads,
        [
            &format!("ExecReload={check}").as_str(),
            &"ExecReload=/bin/kill -HUP $MAINPID"
        ]
    );
    for line in [
        "Restart=on-failure",
        "WatchdogSec=60s",
        "DynamicUser=yes",
        "StateDirectory=kurator",
        "ConfigurationDirectory=kurator",
    ] {
        assert!(has(line), "missing {line}");
    }
    // A `~` deny-list must be a line of its own: mixed into an allow-list it
    // would be read as more allowed names.
    for line in lines.iter().filter(|l| l.starts_with("SystemCallFilter=")) {
        let value = &line["SystemCallFilter=".len()..];
        assert!(
            !value.contains('~') || value.starts_with('~'),
            "a deny-list shares a line with an allow-list: {line}"
        );
    }
    // ExecReload's second command.
    assert!(Path::new("/bin/kill").exists() || Path::new("/usr/bin/kill").exists());
}
