#![allow(dead_code)]

pub mod http;
pub mod labelled;
pub mod process;
pub mod server;

use std::path::Path;
use std::sync::OnceLock;

use kurator::config::Config;
use kurator::rules::TopicSet;

/// The topics of the shipped `feeds.toml`, so pipeline tests tag as production does.
pub fn shipped_topics() -> &'static TopicSet {
    static TOPICS: OnceLock<TopicSet> = OnceLock::new();
    TOPICS.get_or_init(|| {
        Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml"))
            .expect("the shipped feeds.toml is valid")
            .topics
    })
}

/// Runs the `kurator` binary with `-c config` and `args`.
pub fn run_kurator(config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_kurator"))
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .expect("the kurator binary runs")
}

/// Parses (sanitized) HTML the way a browser would and names the first thing
/// in it that could run code: an active element, an event handler, a style
/// attribute or a script URL.
pub fn dangerous_markup(html: &str) -> Option<String> {
    let fragment = scraper::Html::parse_fragment(html);
    for node in fragment.tree.nodes() {
        let Some(element) = node.value().as_element() else {
            continue;
        };
        if matches!(
            element.name(),
            "script"
                | "style"
                | "iframe"
                | "object"
                | "embed"
                | "applet"
                | "meta"
                | "link"
                | "form"
                | "frame"
                | "frameset"
        ) {
            return Some(format!("<{}>", element.name()));
        }
        for (name, value) in element.attrs() {
            let value = value.trim().to_ascii_lowercase();
            if name.starts_with("on")
                || name == "style"
                || value.starts_with("javascript:")
                || value.starts_with("vbscript:")
                || value.starts_with("data:text/html")
            {
                return Some(format!("{name}=\"{value}\""));
            }
        }
    }
    None
}

/// The data the tests read, in the repository: `tests/corpus/` (real feeds
/// written by others; see its README for each file's origin and licence)
/// and `tests/schemas/`.
pub fn test_data(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(path)
}

/// A program outside Rust that some tests check their output with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// xmllint validates Atom against RFC 4287's schema.
    Xmllint,
    /// newsboat, a real feed reader, subscribes to the served feeds.
    Newsboat,
    /// Python's feedparser reads the rendered RSS and Atom.
    Feedparser,
    /// systemd-analyze verifies and rates the shipped unit.
    SystemdAnalyze,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Xmllint => "xmllint",
            Tool::Newsboat => "newsboat",
            Tool::Feedparser => "Python's feedparser",
            Tool::SystemdAnalyze => "systemd-analyze",
        }
    }

    fn install(self) -> &'static str {
        match self {
            Tool::Xmllint => "apt-get install libxml2-utils",
            Tool::Newsboat => "apt-get install newsboat",
            Tool::Feedparser => "python3 -m pip install feedparser",
            Tool::SystemdAnalyze => "apt-get install systemd",
        }
    }

    /// Whether the program runs here (asked once per test binary).
    fn runs(self) -> bool {
        static FOUND: [OnceLock<bool>; 4] = [const { OnceLock::new() }; 4];
        *FOUND[self as usize].get_or_init(|| {
            let mut probe = match self {
                Tool::Xmllint => std::process::Command::new("xmllint"),
                Tool::Newsboat => std::process::Command::new("newsboat"),
                Tool::Feedparser => std::process::Command::new("python3"),
                Tool::SystemdAnalyze => std::process::Command::new("systemd-analyze"),
            };
            match self {
                Tool::Feedparser => probe.args(["-c", "import feedparser"]),
                _ => probe.arg("--version"),
            };
            probe
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
    }

    /// Whether `check` can run: if the program is missing, prints one line
    /// saying what is skipped and how to install it, and returns false; with
    /// `KURATOR_REQUIRE_TOOLS=1` (as `.ci/run` sets) it fails instead.
    pub fn available_for(self, check: &str) -> bool {
        if self.runs() {
            return true;
        }
        let missing = format!(
            "{check} needs {}, which is not installed (install it: {})",
            self.name(),
            self.install()
        );
        assert!(
            std::env::var_os("KURATOR_REQUIRE_TOOLS").is_none_or(|v| v != "1"),
            "{missing}; KURATOR_REQUIRE_TOOLS=1 requires it"
        );
        // Past the test harness's capture, so it shows in a passing run.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "skipped: {missing}");
        false
    }
}

/// Validates an Atom file against the RFC 4287 RELAX NG schema with
/// xmllint; without xmllint, says so and passes ([`Tool::available_for`]).
pub fn validate_atom(path: &Path) -> Result<(), String> {
    let check = format!("validating {} against RFC 4287", path.display());
    if !Tool::Xmllint.available_for(&check) {
        return Ok(());
    }
    let schema = test_data("schemas/atom.rng");
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--relaxng")
        .arg(&schema)
        .arg(path)
        .output()
        .map_err(|err| format!("xmllint did not run: {err}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Python's feedparser on a feed file: `bozo`, the entry count, the version,
/// then the first entry's id and title, on one line; `None` (having said
/// so) without feedparser ([`Tool::available_for`]).
pub fn feedparser_summary(path: &Path) -> Option<String> {
    let check = format!("reading {} with Python's feedparser", path.display());
    if !Tool::Feedparser.available_for(&check) {
        return None;
    }
    let script = "import sys, feedparser\n\
                  d = feedparser.parse(open(sys.argv[1], 'rb').read())\n\
                  print(d.bozo, len(d.entries), d.version, d.entries[0].id if d.entries else '', d.entries[0].title if d.entries else '')\n";
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .expect("python3 runs: feedparser was found with it");
    assert!(
        output.status.success(),
        "feedparser failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}
