//! Serving benchmark: requests per second and latency for a cached 50-item
//! topic feed, Kurator against nginx serving the same bytes from a file, in
//! the same run, with wrk as the load generator on loopback.
//!
//! Run: `cargo bench --bench serve` (needs `nginx` and `wrk`:
//! `apt-get install nginx-light wrk`). Environment:
//! * `KURATOR_BENCH_SECONDS` — length of each wrk run (default 10);
//! * `KURATOR_BENCH_ROUNDS` — alternating rounds per server (default 3);
//! * `KURATOR_BENCH_CONNECTIONS` — comma-separated wrk connection counts
//!   (default `16,64`);
//! * `KURATOR_BENCH_WORKERS` — comma-separated worker counts (default
//!   `1,2,1:2`): `K` is Kurator's `[server] threads` and nginx's
//!   `worker_processes` both K; `K:N` is K threads against N processes
//!   (`1:2` is both servers' default on two cores);
//! * `KURATOR_BENCH_PACED` — `0` leaves out the paced rows (32 connections
//!   that each wait 1 ms between requests);
//! * `KURATOR_BENCH_AGAINST` — comma-separated servers to measure Kurator
//!   against, each in every round (default `nginx`): `nginx`; `axum`, the
//!   same routes and response cache under the stock `axum::serve` (a task
//!   per connection; with K workers a work-stealing runtime of K threads)
//!   instead of Kurator's own accept loop and workers, and without
//!   `sendfile`; `axum-sendfile`, the same with Kurator's sendfile stream
//!   (and write timeout) as its connections. Only `nginx` needs nginx.
//!
//! Each row also shows how the server's CPU time split over its workers
//! (percent of one core, busiest first): at saturation the p99 depends on
//! how many busy threads share the two cores with wrk.
//!
//! nginx runs with `sendfile on`, `tcp_nopush off` (its stock `on` inflates
//! loopback tail latency), no access log and `gzip_static` for the gzip rows.
//! wrk needs as much CPU as either server and shares the two cores with
//! them, so the ratio is the figure to read, not the absolutes.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "made-up test data and counts, not values from outside"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kurator::config::Config;
use kurator::identify::identify;
use kurator::normalize::Item;
use kurator::serve::sendfile::SendfileStream;
use kurator::serve::{Server, WRITE_TIMEOUT};
use kurator::store::{FetchRecord, Store};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FEED_PATH: &str = "/feeds/smart-city.atom";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// 200 German items, every one in the topic, about the size real press
/// releases have in feeds.
fn fill_database(path: &Path) {
    let mut store = Store::open(path).expect("a fresh database");
    let now = 1_790_000_000;
    let items: Vec<Item> = (0..200)
        .map(|n| Item {
            guid: Some(format!("pm-{n}")),
            link: Some(format!("https://www.musterstadt.de/presse/meldung-{n}")),
            title: format!(
                "Smart City: Musterstadt startet Sensorprojekt Nr. {n} in der Königstraße"
            ),
            summary: Some(format!(
                "<p>Die Stadtverwaltung Musterstadt hat am Montag das Projekt {n} vorgestellt. \
                 Sensoren messen künftig Luftqualität, Verkehrsfluss und Parkplatzbelegung; \
                 die Daten erscheinen im offenen Datenportal der Stadt. Oberbürgermeisterin \
                 Beispiel: „Wir machen die Stadt Schritt für Schritt digitaler – gemeinsam mit \
                 den Bürgerinnen und Bürgern.“ Die Kosten von 1,2 Millionen Euro trägt zu \
                 großen Teilen das Förderprogramm Modellprojekte Smart Cities.</p>"
            )),
            content: None,
            author: Some("Pressestelle Musterstadt".into()),
            categories: vec!["Smart City".into(), "Digitalisierung".into()],
            published: Some(now - n * 3600),
            updated: None,
        })
        .collect();
    let mut identified = identify("musterstadt", items);
    for item in &mut identified {
        item.topics = vec!["smart-city".into()];
    }
    store
        .record_fetch(
            "musterstadt",
            "https://www.musterstadt.de/presse/feed.xml",
            &FetchRecord::Success {
                feed_ttl: None,
                fresh_until: None,
                status: 200,
                validators: None,
                body_sha256: None,
                effective_url: "https://www.musterstadt.de/presse/feed.xml".into(),
                moved_to: None,
            },
            &mut identified,
            now,
        )
        .expect("items stored");
}

/// GET over a plain socket: the body, and the value of `header`.
fn fetch(
    addr: SocketAddr,
    path: &str,
    encoding: Encoding,
    header: &str,
) -> (Vec<u8>, Option<String>) {
    let mut stream = TcpStream::connect(addr).expect("server up");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{}Connection: close\r\n\r\n",
        encoding.request_header()
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response");
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let value = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case(header)
            .then(|| value.trim().to_owned())
    });
    (raw[end + 4..].to_vec(), value)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the load generator asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    Identity,
    Gzip,
}

impl Encoding {
    fn request_header(self) -> &'static str {
        match self {
            Encoding::Identity => "",
            Encoding::Gzip => "Accept-Encoding: gzip\r\n",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
        }
    }
}

/// nginx serving `body`, and `gzipped` as the precompressed copy
/// (`gzip_static`), exactly the bytes Kurator sends.
fn start_nginx(dir: &Path, body: &[u8], gzipped: &[u8], workers: usize) -> (Child, SocketAddr) {
    let www = dir.join("www/feeds");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("smart-city.atom"), body).unwrap();
    std::fs::write(www.join("smart-city.atom.gz"), gzipped).unwrap();
    let port = free_port();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let conf = format!(
        "{user}worker_processes {workers};\ndaemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush off;\n  tcp_nodelay on;\n\
           keepalive_requests 1000000;\n  keepalive_timeout 60s;\n\
           types {{ application/atom+xml atom; }}\n\
           client_body_temp_path {dir}/tmp;\n  proxy_temp_path {dir}/tmp;\n  fastcgi_temp_path {dir}/tmp;\n\
           uwsgi_temp_path {dir}/tmp;\n  scgi_temp_path {dir}/tmp;\n\
           gzip_static on;\n  gzip_vary on;\n\
           server {{ listen 127.0.0.1:{port}; root {dir}/www; }}\n}}\n",
        user = if is_root { "user root;\n" } else { "" },
        dir = dir.display()
    );
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let mut child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts (apt-get install nginx-light)");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..100 {
        if TcpStream::connect(addr).is_ok() {
            return (child, addr);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop_nginx(&mut child, dir);
    panic!(
        "nginx did not start: {}",
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    );
}

/// Stops nginx with its workers (killing only the master would leave them).
fn stop_nginx(master: &mut Child, dir: &Path) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(master.id().to_string())
        .status();
    for _ in 0..100 {
        if master.try_wait().is_ok_and(|status| status.is_some()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("nginx did not stop; see {}", dir.display());
    let _ = master.kill();
    let _ = master.wait();
}

/// How wrk loads a server: `connections` that each send the next request
/// as soon as the answer is in (saturating), or `paced`, 1 ms after it
/// (wrk's `delay()`), which holds the rate well below what either server
/// can do, so that latency is the server's and not the queue's.
#[derive(Debug, Clone, Copy)]
struct Load {
    connections: u64,
    paced: bool,
}

impl Load {
    fn label(self) -> String {
        if self.paced {
            format!("{} paced", self.connections)
        } else {
            self.connections.to_string()
        }
    }
}

/// Connections of the paced runs: each waits 1 ms between requests.
const PACED_CONNECTIONS: u64 = 32;

/// One wrk run: requests per second and the 99th percentile latency in ms.
fn wrk(addr: SocketAddr, encoding: Encoding, load: Load, seconds: u64) -> (f64, f64) {
    let mut command = Command::new("wrk");
    if encoding == Encoding::Gzip {
        command.args(["-H", "Accept-Encoding: gzip"]);
    }
    let connections = load.connections;
    if load.paced {
        let script = std::env::temp_dir().join("kurator-bench-paced.lua");
        std::fs::write(&script, "function delay()\n  return 1\nend\n").unwrap();
        command.arg("-s").arg(script);
    }
    let output = command
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
        ])
        .arg(format!("http://{addr}{FEED_PATH}"))
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("Non-2xx"), "errors during the run:\n{text}");
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in\n{text}"));
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(|v| parse_latency(v.trim()))
        .unwrap_or_else(|| panic!("no 99% latency in\n{text}"));
    (rps, p99)
}

/// wrk prints latencies like `812.00us`, `1.23ms` or `1.01s`.
fn parse_latency(text: &str) -> f64 {
    let (number, unit) = text.split_at(
        text.find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(text.len()),
    );
    let value: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        _ => f64::NAN,
    }
}

/// CPU time (user + system, in clock ticks) of a `/proc` stat file.
fn cpu_ticks(stat: &Path) -> u64 {
    let text = std::fs::read_to_string(stat).unwrap_or_default();
    // The fields after the command name, which is in parentheses: utime and
    // stime are the 14th and 15th of the whole line.
    let fields: Vec<&str> = text
        .rsplit_once(") ")
        .map_or(vec![], |(_, rest)| rest.split(' ').collect());
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Where a server's workers run.
#[derive(Debug, Clone, Copy)]
enum WorkersOf {
    /// Threads of this process whose names start so.
    Threads(&'static str),
    /// The worker processes of this nginx master.
    Nginx(u32),
}

/// The stat files of a server's workers.
fn worker_stats(workers: WorkersOf) -> Vec<PathBuf> {
    let mut stats = Vec::new();
    match workers {
        WorkersOf::Threads(prefix) => {
            for task in std::fs::read_dir("/proc/self/task")
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
                if name.starts_with(prefix) {
                    stats.push(task.path().join("stat"));
                }
            }
        }
        WorkersOf::Nginx(master) => {
            for process in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let stat = process.path().join("stat");
                let text = std::fs::read_to_string(&stat).unwrap_or_default();
                let parent = text
                    .rsplit_once(") ")
                    .and_then(|(_, rest)| rest.split(' ').nth(1))
                    .and_then(|p| p.parse::<u32>().ok());
                if parent == Some(master) {
                    stats.push(stat);
                }
            }
        }
    }
    stats
}

/// How a run's CPU time split over the workers, busiest first, in percent
/// of the run's wall time (e.g. "98+2": one worker did nearly all the work).
fn cpu_split(stats: &[PathBuf], before: &[u64], seconds: u64) -> String {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let mut shares: Vec<f64> = stats
        .iter()
        .zip(before)
        .map(|(stat, &b)| {
            (cpu_ticks(stat).saturating_sub(b)) as f64 / ticks_per_second / seconds as f64 * 100.0
        })
        .collect();
    shares.sort_by(|a, b| b.total_cmp(a));
    shares
        .iter()
        .map(|s| format!("{s:.0}"))
        .collect::<Vec<_>>()
        .join("+")
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// A server Kurator is measured against.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Against {
    Nginx,
    /// The same routes under the stock `axum::serve`, with or without
    /// Kurator's sendfile stream.
    Axum {
        sendfile: bool,
    },
}

impl Against {
    fn parse(name: &str) -> Option<Against> {
        match name.trim() {
            "nginx" => Some(Against::Nginx),
            "axum" => Some(Against::Axum { sendfile: false }),
            "axum-sendfile" => Some(Against::Axum { sendfile: true }),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Against::Nginx => "nginx",
            Against::Axum { sendfile: false } => "axum::serve",
            Against::Axum { sendfile: true } => "axum::serve+sendfile",
        }
    }
}

/// A running server Kurator is measured against.
struct Other {
    against: Against,
    addr: SocketAddr,
    workers: WorkersOf,
    stop: Box<dyn FnOnce()>,
}

fn start_other(
    against: Against,
    dir: &Path,
    db: &Path,
    body: &[u8],
    gzipped: &[u8],
    (threads, nginx_workers): (usize, usize),
) -> Other {
    match against {
        Against::Nginx => {
            let nginx_dir = dir.join(format!("nginx-{threads}-{nginx_workers}"));
            let (mut nginx, addr) = start_nginx(&nginx_dir, body, gzipped, nginx_workers);
            Other {
                against,
                addr,
                workers: WorkersOf::Nginx(nginx.id()),
                stop: Box::new(move || stop_nginx(&mut nginx, &nginx_dir)),
            }
        }
        Against::Axum { sendfile } => {
            let (addr, stop, thread) = start_stock(dir, db, threads, sendfile);
            Other {
                against,
                addr,
                workers: WorkersOf::Threads(if sendfile {
                    "axum-sf-http"
                } else {
                    "axum-http"
                }),
                stop: Box::new(move || {
                    let _ = stop.send(());
                    let _ = thread.join();
                }),
            }
        }
    }
}

/// The medians of one row's rounds.
struct Measured {
    rps: f64,
    p99: f64,
    cpu: String,
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let against: Vec<Against> = std::env::var("KURATOR_BENCH_AGAINST")
        .unwrap_or_else(|_| "nginx".into())
        .split(',')
        .map(|name| {
            Against::parse(name).unwrap_or_else(|| {
                panic!("KURATOR_BENCH_AGAINST: `{name}` is none of nginx, axum, axum-sendfile")
            })
        })
        .collect();
    let mut tools = vec!["wrk"];
    if against.contains(&Against::Nginx) {
        tools.push("nginx");
    }
    for tool in tools {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map_or(true, |o| !o.status.success())
        {
            eprintln!(
                "serve benchmark skipped: `{tool}` is not installed (apt-get install nginx-light wrk)"
            );
            return;
        }
    }
    let seconds = env_number("KURATOR_BENCH_SECONDS", 10);
    let rounds = env_number("KURATOR_BENCH_ROUNDS", 3) as usize;
    let connection_counts: Vec<u64> = std::env::var("KURATOR_BENCH_CONNECTIONS")
        .unwrap_or_else(|_| "16,64".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();

    let paced = env_number("KURATOR_BENCH_PACED", 1) != 0;

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    fill_database(&db);
    // "K" is K workers each; "K:N" is Kurator with K threads against nginx
    // with N worker processes ("1:2": both as they come out of the box).
    let workers: Vec<(usize, usize)> = std::env::var("KURATOR_BENCH_WORKERS")
        .unwrap_or_else(|_| "1,2,1:2".into())
        .split(',')
        .filter_map(|pair| match pair.trim().split_once(':') {
            Some((k, n)) => Some((k.parse().ok()?, n.parse().ok()?)),
            None => pair.trim().parse().ok().map(|k| (k, k)),
        })
        .collect();

    println!(
        "wrk -t1 on the same two cores, {seconds}s per run, {rounds} rounds alternating the servers, medians\n"
    );
    println!(
        "| against | workers | encoding | connections | kurator req/s | other req/s | ratio | paired ratio | kurator p99 ms | other p99 ms | kurator CPU % per worker | other CPU % per worker |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut summary = Vec::new();
    for &(threads, nginx_workers) in &workers {
        let label = if threads == nginx_workers {
            threads.to_string()
        } else {
            format!("{threads} vs {nginx_workers}")
        };
        let (kurator_addr, stop_kurator, kurator_thread) = start_kurator(dir.path(), &db, threads);
        let (body, _) = fetch(
            kurator_addr,
            FEED_PATH,
            Encoding::Identity,
            "x-kurator-cache",
        );
        let (_, cache) = fetch(
            kurator_addr,
            FEED_PATH,
            Encoding::Identity,
            "x-kurator-cache",
        );
        assert_eq!(
            cache.as_deref(),
            Some("hit"),
            "the benchmark measures the cached path"
        );
        let entries = body.windows(7).filter(|w| w == b"<entry>").count();
        assert_eq!(entries, 50, "a 50-item feed");
        let (gzipped, coding) = fetch(kurator_addr, FEED_PATH, Encoding::Gzip, "content-encoding");
        assert_eq!(coding.as_deref(), Some("gzip"));

        let others: Vec<Other> = against
            .iter()
            .map(|&other| {
                let started = start_other(
                    other,
                    dir.path(),
                    &db,
                    &body,
                    &gzipped,
                    (threads, nginx_workers),
                );
                let name = other.name();
                // Twice: the stock servers render on the first request.
                fetch(started.addr, FEED_PATH, Encoding::Identity, "etag");
                let (other_body, _) = fetch(started.addr, FEED_PATH, Encoding::Identity, "etag");
                assert_eq!(other_body, body, "{name} serves the same bytes");
                let (other_gzipped, coding) =
                    fetch(started.addr, FEED_PATH, Encoding::Gzip, "content-encoding");
                assert_eq!(coding.as_deref(), Some("gzip"));
                assert_eq!(other_gzipped, gzipped, "{name} serves the same gzip bytes");
                started
            })
            .collect();
        eprintln!(
            "{label} worker(s): a cached {entries}-entry Atom feed, {} bytes ({} gzipped)",
            body.len(),
            gzipped.len()
        );

        let loads: Vec<Load> = connection_counts
            .iter()
            .map(|&connections| Load {
                connections,
                paced: false,
            })
            .chain(paced.then_some(Load {
                connections: PACED_CONNECTIONS,
                paced: true,
            }))
            .collect();
        let kurator_workers = worker_stats(WorkersOf::Threads("kurator-http-"));
        let other_workers: Vec<Vec<PathBuf>> =
            others.iter().map(|o| worker_stats(o.workers)).collect();
        // One run: requests/s, p99 and the CPU split of `stats`.
        let run = |addr, stats: &[PathBuf], encoding, load| {
            let before: Vec<u64> = stats.iter().map(|s| cpu_ticks(s)).collect();
            let (rps, p99) = wrk(addr, encoding, load, seconds);
            (rps, p99, cpu_split(stats, &before, seconds))
        };
        for encoding in [Encoding::Identity, Encoding::Gzip] {
            for &load in &loads {
                // Warm all up.
                wrk(kurator_addr, encoding, load, 2);
                for other in &others {
                    wrk(other.addr, encoding, load, 2);
                }
                // Per server (Kurator first): each round's figures.
                let mut runs: Vec<Vec<(f64, f64, String)>> = vec![vec![]; 1 + others.len()];
                for _ in 0..rounds {
                    runs[0].push(run(kurator_addr, &kurator_workers, encoding, load));
                    for (index, other) in others.iter().enumerate() {
                        runs[1 + index].push(run(
                            other.addr,
                            &other_workers[index],
                            encoding,
                            load,
                        ));
                    }
                }
                let measured: Vec<Measured> = runs
                    .iter()
                    .map(|rounds| Measured {
                        rps: median(&mut rounds.iter().map(|r| r.0).collect::<Vec<_>>()),
                        p99: median(&mut rounds.iter().map(|r| r.1).collect::<Vec<_>>()),
                        cpu: rounds.last().map(|r| r.2.clone()).unwrap_or_default(),
                    })
                    .collect();
                let kurator = &measured[0];
                let name = encoding.name();
                let load_label = load.label();
                for (index, other) in others.iter().enumerate() {
                    let theirs = &measured[1 + index];
                    // The median of the rounds' own ratios: each pair ran
                    // back to back, so a slow stretch of the host hits both.
                    let paired = median(
                        &mut runs[0]
                            .iter()
                            .zip(&runs[1 + index])
                            .map(|(k, o)| k.0 / o.0)
                            .collect::<Vec<_>>(),
                    );
                    println!(
                        "| {} | {label} | {name} | {load_label} | {:.0} | {:.0} | {:.2} | {paired:.2} | {:.2} | {:.2} | {} | {} |",
                        other.against.name(),
                        kurator.rps,
                        theirs.rps,
                        kurator.rps / theirs.rps,
                        kurator.p99,
                        theirs.p99,
                        kurator.cpu,
                        theirs.cpu,
                    );
                    summary.push((
                        other.against.name(),
                        label.clone(),
                        name,
                        load_label.clone(),
                        kurator.rps / theirs.rps,
                        kurator.p99,
                        theirs.p99,
                    ));
                }
            }
        }
        for other in others {
            (other.stop)();
        }
        let _ = stop_kurator.send(());
        let _ = kurator_thread.join();
    }
    println!();
    for (other, workers, name, connections, ratio, kp, op) in summary {
        let target = if other == "nginx" {
            " (target ≥ 0.90)"
        } else {
            ""
        };
        println!(
            "{workers} worker(s), {name}, {connections} connections: requests/s {ratio:.2}× {other}{target}; p99 {kp:.2} ms vs {op:.2} ms ({})",
            if kp <= op { "no worse" } else { "worse" }
        );
    }
}

/// The bench's config: the one topic, `threads` serving threads.
fn bench_config(dir: &Path, name: &str, threads: usize) -> Config {
    let config_path = dir.join(format!("feeds-{name}-{threads}.toml"));
    std::fs::write(
        &config_path,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"https://feeds.example.de/\"\nthreads = {threads}\n\n\
             [[topic]]\nslug = \"smart-city\"\ntitle = \"Smart City\"\nmatch = '\"smart city\"'\n"
        ),
    )
    .unwrap();
    Config::load(&config_path).expect("bench config")
}

/// Kurator with `threads` serving threads on a runtime of its own, as
/// `kurator serve` runs it; stopped by the returned sender.
fn start_kurator(
    dir: &Path,
    db: &Path,
    threads: usize,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let config = bench_config(dir, "kurator", threads);
    let db = db.to_path_buf();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // Named like the server's other workers: this thread runs worker 0.
    let thread = std::thread::Builder::new()
        .name("kurator-http-0".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let server = Server::bind(config.serve_settings(), config, db)
                    .await
                    .expect("server binds");
                addr_tx.send(server.local_addr()).unwrap();
                server
                    .run(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        })
        .unwrap();
    (addr_rx.recv().unwrap(), stop_tx, thread)
}

/// Kurator's connections for the stock server: no delay, a write timeout
/// and large cached bodies sent with `sendfile(2)`.
struct SendfileListener(tokio::net::TcpListener);

impl axum::serve::Listener for SendfileListener {
    type Io = Pin<Box<tokio_io_timeout::TimeoutStream<SendfileStream>>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let mut stream =
                        tokio_io_timeout::TimeoutStream::new(SendfileStream::new(stream));
                    stream.set_write_timeout(Some(WRITE_TIMEOUT));
                    return (Box::pin(stream), peer);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// The same routes and response cache under the stock `axum::serve`: one
/// current-thread runtime for one worker, else a work-stealing runtime of
/// `threads` threads, with the accept loop a task on it. Stopped by the
/// returned sender.
fn start_stock(
    dir: &Path,
    db: &Path,
    threads: usize,
    sendfile: bool,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let config = bench_config(dir, "stock", threads);
    let db = db.to_path_buf();
    let name = if sendfile {
        "axum-sf-http"
    } else {
        "axum-http"
    };
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("{name}-0"))
        .spawn(move || {
            let runtime = if threads == 1 {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name(format!("{name}-w"))
                    .enable_all()
                    .build()
            }
            .unwrap();
            runtime.block_on(async move {
                let server = Server::bind(config.serve_settings(), config, db)
                    .await
                    .expect("server binds");
                addr_tx.send(server.local_addr()).unwrap();
                let (listener, router) = server.into_stock();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let stopped = async move {
                    let _ = stop_rx.await;
                };
                let serving = if sendfile {
                    tokio::spawn(
                        axum::serve(SendfileListener(listener), router)
                            .with_graceful_shutdown(stopped)
                            .into_future(),
                    )
                } else {
                    use axum::serve::ListenerExt;
                    let listener = listener.tap_io(|stream| {
                        let _ = stream.set_nodelay(true);
                    });
                    tokio::spawn(
                        axum::serve(listener, router)
                            .with_graceful_shutdown(stopped)
                            .into_future(),
                    )
                };
                serving.await.unwrap().unwrap();
            });
        })
        .unwrap();
    (addr_rx.recv().unwrap(), stop_tx, thread)
}
