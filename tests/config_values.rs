//! Config values as `kurator check` and the server read them: `[server]
//! listen` takes a host name as well as an address, looked up when the
//! server binds (only `localhost` is used here, which the machine resolves
//! to loopback without asking any other host); a cron `schedule` out of
//! range is told in our words, with the source, the field and the range.

mod support;

use support::process::Running;
use support::run_kurator;

#[test]
fn the_server_binds_a_host_name_and_serves_on_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("feeds.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"localhost:0\"\n\n[[topic]]\nslug = \"kita\"\nmatch = \"kita*\"\n",
    )
    .unwrap();
    let check = run_kurator(&config, &["check"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    // `serve` only reads: a writer creates the database first.
    let created = run_kurator(&config, &["retag"]);
    assert!(created.status.success(), "{created:?}");
    let server = Running::start(&config, "serve", "serving ");
    assert!(server.addr.ip().is_loopback(), "{}", server.addr);
    let page = server.get("/feeds/kita.atom");
    assert_eq!(page.status, 200, "{}", page.text());
    server.stop();
}

#[test]
fn a_listen_value_without_a_port_names_itself_and_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("feeds.toml");
    std::fs::write(&config, "[server]\nlisten = \"localhost\"\n").unwrap();
    let check = run_kurator(&config, &["check"]);
    assert_eq!(check.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains(":2:10: `listen`: `localhost` has no port"),
        "{stderr}"
    );
    assert!(
        stderr.contains("listen = \"127.0.0.1:8080\", \"[::]:8080\" or \"localhost:8080\""),
        "{stderr}"
    );
}

#[test]
fn a_schedule_out_of_range_names_the_source_the_field_and_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("feeds.toml");
    for (text, expected) in [
        (
            "[[source]]\nid = \"rathaus\"\nurl = \"http://127.0.0.1:9/a.xml\"\nschedule = \"0 24 * * *\"\n",
            ":4:12: source `rathaus`: schedule \"0 24 * * *\": hour 24 is out of range (0–23)",
        ),
        (
            "[fetch]\nschedule = \"0 */15 * * * Mo-Fr\"\n",
            ":2:12: schedule \"0 */15 * * * Mo-Fr\": day of week `Mo` is not one the field takes (Mon–Sun, or 0–7 as in crontab: 1 is Monday, 0 and 7 are Sunday)",
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let check = run_kurator(&config, &["check"]);
        assert_eq!(check.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&check.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("must be less than"), "{stderr}");
    }
}
