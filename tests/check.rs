//! `kurator check`: a one-line summary, or `FILE:LINE:COL` with a hint and exit 2.

use std::path::Path;
use std::process::{Command, Output};

fn check(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kurator"))
        .args(["check", "-c"])
        .arg(config)
        .output()
        .unwrap()
}

#[test]
fn shipped_config_is_valid() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml");
    let output = check(&shipped);
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(": OK: "), "{stdout}");
    assert!(stdout.contains("sources"), "{stdout}");
    assert_eq!(stdout.lines().count(), 1);
}

#[test]
fn errors_point_at_file_line_column() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[fetch]\ntimeout = \"30s\"\nper_hots = 2\n",
            ":3:1: unknown field `per_hots`",
        ),
        (
            "[[source]]\nid = \"a\"\nurl = \"https://x.org/\"\n\n[[source]]\nid = \"a\"\nurl = \"https://y.org/\"\n",
            ":6:6: source id `a` is used twice",
        ),
        (
            "[[source]]\nid = \"a\"\nurl = \"kommune21.de/feed\"\n",
            ":3:7: `kommune21.de/feed` is not a valid URL",
        ),
        (
            "[fetch]\nread_timeout = \"fast\"\n",
            ":2:16: `read_timeout`: `fast` is not a duration",
        ),
        ("[[source]]\nid = \"a\"\n", "missing field `url`"),
        ("[fetch\ntimeout = 1\n", ":1:"),
    ];
    for (text, expected) in cases {
        let path = dir.path().join("feeds.toml");
        std::fs::write(&path, text).unwrap();
        let output = check(&path);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.starts_with(&path.display().to_string()), "{stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
        assert!(
            stderr.contains("hint:") || expected.contains("not a duration"),
            "{stderr}"
        );
    }
}

#[test]
fn deeply_nested_topic_rules_are_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feeds.toml");
    let rule = "(".repeat(6_000) + "a";
    std::fs::write(
        &path,
        format!("[[topic]]\nslug = \"tief\"\nmatch = '{rule}'\n"),
    )
    .unwrap();
    let output = check(&path);
    let stderr = String::from_utf8(output.stderr).unwrap();
    let start = &stderr[..stderr.len().min(500)];
    assert_eq!(output.status.code(), Some(2), "{start}");
    // Line 3, column 10 (`match = '` is 9 characters) plus the 32 that may nest.
    assert!(
        stderr.contains(":3:42: topic `tief`: the rule nests ( and NOT more than 32 deep"),
        "{start}"
    );
    assert!(
        stderr.contains(&format!("\n    {}^ the rule nests", " ".repeat(32))),
        "{start}"
    );
}

#[test]
fn missing_file_is_explained() {
    let output = check(Path::new("/nonexistent/feeds.toml"));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("cannot read the config file"), "{stderr}");
}

#[test]
fn config_from_the_environment() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml");
    let output = Command::new(env!("CARGO_BIN_EXE_kurator"))
        .arg("check")
        .env("KURATOR_CONFIG", &shipped)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn rules_that_name_unknown_sources_or_tags_warn_at_their_place_and_fail_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feeds.toml");
    std::fs::write(
        &path,
        "[[source]]\nid = \"stadt\"\nurl = \"https://stadt.example/feed\"\ntags = [\"kommune\"]\n\n\
         [[topic]]\nslug = \"smart-city\"\nmatch = '\"smart city\"'\n\n\
         [[topic]]\nslug = \"lokal\"\nmatch = 'source:stadtt OR tag:smart-citty OR tag:kommune OR source:stadt'\n",
    )
    .unwrap();
    let output = check(&path);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains(": OK with 2 warning(s): "), "{stdout}");
    let file = path.display();
    assert!(
        stderr.contains(&format!(
            "warning: {file}:12:17: topic `lokal`: `source:stadtt` names no source"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "warning: {file}:12:31: topic `lokal`: `tag:smart-citty` is no source's tag and no topic's slug"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `smart-city`?"), "{stderr}");
    assert!(!stderr.contains("tag:kommune`"), "{stderr}");

    let strict = Command::new(env!("CARGO_BIN_EXE_kurator"))
        .args(["check", "--strict", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8(strict.stderr).unwrap();
    assert_eq!(strict.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--strict makes warnings fail"), "{stderr}");
}
