//! The daemon at scale, on loopback: resident memory of `kurator run` with
//! 2,000 sources and 500,000 stored items, and the time of one full
//! conditional re-poll of the 2,000 sources.
//!
//! ```sh
//! cargo bench --bench daemon                                   # the BENCHMARKS.md figures (~5 min)
//! KURATOR_BENCH_SOURCES=200 KURATOR_BENCH_ITEMS=20000 KURATOR_BENCH_SECONDS=70 cargo bench --bench daemon   # smoke run
//! ```
//!
//! 1. A database is filled with `KURATOR_BENCH_ITEMS` items of the synthetic
//!    German corpus (benches/ingest.rs), spread over the sources, tagged
//!    against the 20 municipal topics, as ingest stores them.
//! 2. 100 loopback servers (different ports: different hosts to the fetcher)
//!    serve the sources' feeds, 35 new items each, with `ETag` and
//!    `Last-Modified`.
//! 3. `kurator run` (the release binary) runs on it for
//!    `KURATOR_BENCH_SECONDS` with every source due each minute: the first
//!    round fetches and stores every body, the second is all `304`s. Feed,
//!    front page, `/sources.json` and `/metrics` requests run alongside.
//!    `/proc/PID/status` is sampled every second.
//! 4. `kurator fetch` then polls every source once more (all `304`), timed,
//!    with `host_delay = "0s"` and with the default `1s`.

#[allow(dead_code)]
#[path = "ingest.rs"]
mod ingest;
#[allow(dead_code)]
#[path = "../tests/support/server.rs"]
mod server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kurator::config::Config;
use kurator::fetch::Validators;
use kurator::store::{FetchRecord, Store};

use ingest::{env_usize, thousands};
use server::{Behaviour, TestServer};

const HOSTS: usize = 100;
/// Corpus feeds carry 35 items each.
const ITEMS_PER_FEED: usize = 35;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sources = env_usize("KURATOR_BENCH_SOURCES", 2_000).max(HOSTS);
    let items = env_usize("KURATOR_BENCH_ITEMS", 500_000);
    let seconds = env_usize("KURATOR_BENCH_SECONDS", 150) as u64;
    let dir = tempfile::tempdir().unwrap();
    if let Ok(keep) = std::env::var("KURATOR_BENCH_KEEP_DIR") {
        println!("keeping the bench directory at {keep}");
    }
    let topics = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/topics-municipal.toml"),
    )
    .unwrap();

    // The feeds: new items (corpus feeds beyond those stored), on 100 hosts.
    let servers: Vec<TestServer> = (0..HOSTS).map(|_| TestServer::start()).collect();
    let mut rng = ingest::Rng(0x6461_656d_6f6e);
    let stored_feeds = items.div_ceil(ITEMS_PER_FEED);
    let mut urls = Vec::with_capacity(sources);
    for n in 0..sources {
        let feed = ingest::make_feed(&mut rng, stored_feeds + n);
        let server = &servers[n % HOSTS];
        let path = format!("/feed-{n}.xml");
        server.route(
            &path,
            Behaviour::Feed {
                status: 200,
                content_type: feed.content_type.unwrap_or("application/xml").to_owned(),
                body: feed.bytes,
                etag: Some(format!("\"v-{n}\"")),
                last_modified: Some("Mon, 13 Apr 2026 08:00:00 GMT".to_owned()),
                extra_headers: Vec::new(),
                gzip: true,
            },
        );
        urls.push(server.url(&path));
    }
    let config_path = write_config(dir.path(), &urls, &topics, "0s");
    let config = Config::load(&config_path).unwrap();

    let db = dir.path().join("kurator.db");
    let started = Instant::now();
    fill(&db, &config, sources, stored_feeds);
    let db_bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!(
        "Kurator daemon benchmark: {sources} sources on {HOSTS} loopback hosts, {} stored items \
         ({} MB database, filled in {:.0} s)",
        thousands(count_items(&db) as f64),
        db_bytes / 1_000_000,
        started.elapsed().as_secs_f64()
    );

    let memory = run_daemon(&config_path, seconds, &servers);
    keep_copy(dir.path());
    println!();
    println!("kurator run, {seconds} s (two rounds of polls: bodies, then 304s):");
    println!(
        "  resident memory: peak {} MB (VmHWM), at the end {} MB, median {} MB",
        memory.peak_kb / 1024,
        memory.last_kb / 1024,
        memory.median_kb / 1024
    );
    println!("  requests to the sources: {}", memory.source_requests);
    println!("  items stored: {}", thousands(count_items(&db) as f64));

    println!();
    println!("kurator fetch, every source once, all answering 304:");
    for host_delay in ["0s", "1s"] {
        write_config(dir.path(), &urls, &topics, host_delay);
        let before: usize = servers.iter().map(|s| s.requests().len()).sum();
        let started = Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_kurator"))
            .arg("-c")
            .arg(&config_path)
            .arg("fetch")
            .output()
            .unwrap();
        let took = started.elapsed();
        let text = String::from_utf8_lossy(&output.stdout);
        let not_modified = text.lines().filter(|l| l.contains("not modified")).count();
        let after: usize = servers.iter().map(|s| s.requests().len()).sum();
        println!(
            "  host_delay = {host_delay}: {:.2} s for {} requests ({not_modified} not modified), {:.0} sources/s",
            took.as_secs_f64(),
            after - before,
            sources as f64 / took.as_secs_f64()
        );
    }
}

fn keep_copy(dir: &Path) {
    if let Ok(keep) = std::env::var("KURATOR_BENCH_KEEP_DIR") {
        let keep = Path::new(&keep);
        std::fs::create_dir_all(keep).unwrap();
        for name in ["kurator.db", "feeds.toml"] {
            let _ = std::fs::copy(dir.join(name), keep.join(name));
        }
    }
}

fn write_config(dir: &Path, urls: &[String], topics: &str, host_delay: &str) -> PathBuf {
    let mut text = format!(
        "[storage]\npath = \"kurator.db\"\nkeep_days = 0\n\n[server]\nlisten = \"127.0.0.1:0\"\n\n\
         [fetch]\nschedule = \"0 * * * * *\"\nhost_delay = \"{host_delay}\"\n\n{topics}\n"
    );
    for (n, url) in urls.iter().enumerate() {
        text.push_str(&format!(
            "[[source]]\nid = \"stadt-{n}\"\nurl = \"{url}\"\n\n"
        ));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Stores `feeds` corpus feeds' items, spread over the sources, as ingest
/// would (parsed, normalized, identified, tagged), with no source state, so
/// the daemon's first round fetches every source.
fn fill(db: &Path, config: &Config, sources: usize, feeds: usize) {
    let mut store = Store::open(db).unwrap();
    let mut rng = ingest::Rng(0x6b75_7261_746f_7221);
    let now = kurator::time::unix_now();
    for index in 0..feeds {
        let feed = ingest::make_feed(&mut rng, index);
        let source_id = format!("stadt-{}", index % sources);
        let tagger = config.tagger(&source_id);
        let mut processed =
            kurator::ingest::process(&tagger, feed.bytes, feed.content_type, &feed.url, now)
                .unwrap();
        let record = FetchRecord::Success {
            status: 200,
            validators: Some(Validators::default()),
            body_sha256: None,
            effective_url: feed.url.to_string(),
            moved_to: None,
            feed_ttl: None,
            fresh_until: None,
        };
        store
            .record_fetch(
                &source_id,
                "https://corpus.invalid/",
                &record,
                &mut processed.items,
                now,
            )
            .unwrap();
    }
    // Each source's state says another URL: the daemon starts them over.
    store
        .connection()
        .execute("UPDATE sources SET last_fetched = NULL", [])
        .unwrap();
}

fn count_items(db: &Path) -> i64 {
    let store = Store::open(db).unwrap();
    store
        .connection()
        .query_row("SELECT count(*) FROM items", [], |row| row.get(0))
        .unwrap()
}

struct Memory {
    peak_kb: u64,
    last_kb: u64,
    median_kb: u64,
    source_requests: usize,
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(field)?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

fn run_daemon(config: &Path, seconds: u64, servers: &[TestServer]) -> Memory {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kurator"))
        .arg("-c")
        .arg(config)
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr: SocketAddr = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "kurator run ended"
        );
        if let Some(rest) = line.split("http://").nth(1)
            && line.starts_with("polling ")
        {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || {
        // Drain the log; warnings would otherwise fill the pipe.
        let mut sink = String::new();
        let _ = stderr.read_to_string(&mut sink);
    });
    let all_targets = [
        "/feeds/all.atom",
        "/feeds/politik.rss",
        "/feeds/digitalisierung.json",
        "/feeds/smart-city.atom",
        "/",
        "/sources.json",
        "/metrics",
        "/search.atom?q=haushalt*",
    ];
    // KURATOR_BENCH_GETS: `none` measures polling alone; or a comma-separated list.
    let chosen = std::env::var("KURATOR_BENCH_GETS").unwrap_or_default();
    let feeds: Vec<&str> = match chosen.as_str() {
        "" => all_targets.to_vec(),
        "none" => Vec::new(),
        list => list.split(',').collect(),
    };
    let mut samples = Vec::new();
    let started = Instant::now();
    let mut turn = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        samples.push(status_kb(pid, "VmRSS:"));
        if !feeds.is_empty() {
            get(addr, feeds[turn % feeds.len()]);
        }
        turn += 1;
        std::thread::sleep(Duration::from_millis(1000));
    }
    let peak_kb = status_kb(pid, "VmHWM:");
    println!(
        "  at the end: anonymous {} MB, file-backed {} MB, shared memory {} MB, {} threads",
        status_kb(pid, "RssAnon:") / 1024,
        status_kb(pid, "RssFile:") / 1024,
        status_kb(pid, "RssShmem:") / 1024,
        status_kb(pid, "Threads:")
    );
    let last_kb = status_kb(pid, "VmRSS:");
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "kurator run exited with {status}");
    if std::env::var_os("KURATOR_BENCH_TRACE").is_some() {
        let mb: Vec<u64> = samples.iter().map(|kb| kb / 1024).collect();
        println!("  RSS each second (MB): {mb:?}");
    }
    samples.sort_unstable();
    Memory {
        peak_kb,
        last_kb,
        median_kb: samples.get(samples.len() / 2).copied().unwrap_or(0),
        source_requests: servers.iter().map(|s| s.requests().len()).sum(),
    }
}

/// One GET over a fresh connection; the body is read and dropped.
fn get(addr: SocketAddr, target: &str) {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    );
    let mut sink = Vec::new();
    let _ = stream.read_to_end(&mut sink);
}
