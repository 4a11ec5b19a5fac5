//! `kurator serve` under hostile clients: searches that would take minutes,
//! clients that hang up, floods of status requests and clients holding
//! many idle sockets. Real processes, real SQLite, raw HTTP on 127.0.0.0/8.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::http::{Response, get, parse};
use support::process::Running;
use support::run_kurator;
use support::server::{Behaviour, TestServer};

/// A feed of `count` items, each a paragraph with many `e`s and no `x`:
/// a regex like `(.{0,200}e){4}x` has much to try on every one of them.
fn many_items_feed(count: usize) -> String {
    let mut feed = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Stadt Musterhausen</title>\n",
    );
    let paragraph = "Im Quartier am Markt wird der Verkehr bequemer: Die Stadtverwaltung erneuert Strassen, Radwege und Beleuchtung. ".repeat(20);
    for n in 0..count {
        feed.push_str(&format!(
            "<item><title>Meldung {n} aus dem Rathaus</title><link>https://www.musterhausen.de/p/{n}</link>\
             <guid>p{n}</guid><description>{paragraph}</description>\
             <pubDate>Mon, 13 Apr 2026 10:00:00 +0200</pubDate></item>\n"
        ));
    }
    feed.push_str("<item><title>Gemeinderat beschließt Haushalt</title><link>https://www.musterhausen.de/h</link><guid>h</guid>\
                   <pubDate>Tue, 14 Apr 2026 10:00:00 +0200</pubDate></item>\n</channel></rss>");
    feed
}

struct Setup {
    _dir: tempfile::TempDir,
    _upstream: TestServer,
    config: PathBuf,
}

/// A database with `items` stored items and a config serving it with
/// `server` as the `[server]` section's further lines.
fn setup(items: usize, server: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let upstream = TestServer::start();
    upstream.route(
        "/presse.xml",
        Behaviour::ok("application/rss+xml", many_items_feed(items)),
    );
    let config = dir.path().join("feeds.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n{server}\n\n\
             [[source]]\nid = \"musterhausen\"\nurl = \"{}\"\n\n\
             [[topic]]\nslug = \"politik\"\nmatch = 'gemeinderat'\n",
            upstream.url("/presse.xml")
        ),
    )
    .unwrap();
    let output = run_kurator(&config, &["fetch"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Setup {
        _dir: dir,
        _upstream: upstream,
        config,
    }
}

fn serve(config: &Path) -> Running {
    Running::start(config, "serve", "serving ")
}

/// The CPU time a process has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the `(name)`: state is the 3rd field, utime the 14th, stime the 15th.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// Sends `GET target` and returns the open connection without reading.
fn send_get(addr: SocketAddr, target: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream
}

fn search_target(rule: &str) -> String {
    let rule: String = url::form_urlencoded::byte_serialize(rule.as_bytes()).collect();
    format!("/search.atom?q={rule}")
}

/// Eight regexes (as many as a rule may hold) that each try hard on every
/// item and never match: several seconds for 3,000 items in a debug build.
const HOSTILE_RULE: &str = "/(.{0,200}e){4}x/ OR /(.{0,200}r){4}x/ OR /(.{0,200}n){4}x/ \
     OR /(.{0,200}t){4}x/ OR /(.{0,200}s){4}x/ OR /(.{0,200}a){4}x/ OR /(.{0,200}i){4}x/ \
     OR /(.{0,200}d){4}x/";

#[test]
fn hostile_searches_end_in_time_and_stop_when_the_client_leaves() {
    // Scanning 3,000 items with the hostile rule takes several seconds in
    // a debug build; allowed one, it stops with a clear error.
    let setup = setup(3_000, "search_timeout = \"1s\"");
    let served = serve(&setup.config);
    let pid = served.child.id();
    let hostile = search_target(HOSTILE_RULE);

    let started = Instant::now();
    let response = served.get(&hostile);
    let took = started.elapsed();
    assert_eq!(response.status, 503, "{}", response.text());
    assert!(
        response.text().contains("took longer than 1 s")
            && response.text().contains("narrow the rule"),
        "{}",
        response.text()
    );
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    let metrics = served.get("/metrics").text();
    assert!(
        metrics.contains("\nkurator_searches_timed_out_total 1\n"),
        "{metrics}"
    );

    // Clients that send the search and hang up: their work stops too.
    for _ in 0..6 {
        let stream = send_get(served.addr, &hostile);
        std::thread::sleep(Duration::from_millis(100));
        drop(stream);
    }
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_seconds(pid) - before;
    assert!(
        used < 0.5,
        "{used:.2} s of CPU in 2 s after every client left"
    );

    // A burst of searches: one runs, eight wait their turn, and the rest
    // are told at once to retry; /healthz answers meanwhile.
    let started = Instant::now();
    let burst: Vec<_> = (0..30)
        .map(|n| send_get(served.addr, &search_target(&format!("{HOSTILE_RULE} {n}"))))
        .map(|stream| {
            std::thread::spawn(move || {
                let response = read_answer(stream);
                (started.elapsed(), response)
            })
        })
        .collect();
    let health = served.get("/healthz");
    assert_eq!(health.status, 200, "{}", health.text());
    assert!(started.elapsed() < Duration::from_secs(3));
    let answers: Vec<(Duration, Response)> = burst.into_iter().map(|t| t.join().unwrap()).collect();
    let told_at_once = answers
        .iter()
        .filter(|(at, response)| {
            response.status == 503
                && response.text().contains("too many searches at once")
                && *at < Duration::from_secs(3)
        })
        .count();
    assert!(
        told_at_once >= 20,
        "{told_at_once} of 30 told at once to retry: {:?}",
        answers
            .iter()
            .map(|(at, r)| (at, r.status))
            .collect::<Vec<_>>()
    );
    let metrics = served.get("/metrics").text();
    let refused: usize = metrics
        .lines()
        .find_map(|line| line.strip_prefix("kurator_searches_refused_total "))
        .unwrap_or_else(|| panic!("{metrics}"))
        .parse()
        .unwrap();
    assert!(refused >= told_at_once, "{refused} refused:\n{metrics}");

    // An ordinary search is answered at once.
    let started = Instant::now();
    let response = served.get(&(search_target("gemeinderat") + "&limit=1"));
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.text().contains("Gemeinderat beschließt Haushalt"));
    assert!(started.elapsed() < Duration::from_secs(5));

    // SIGTERM while a search runs: the search stops, the process exits promptly.
    let mut running = send_get(served.addr, &hostile);
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    served.stop();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "exited {:?} after SIGTERM",
        started.elapsed()
    );
    let mut answer = Vec::new();
    let _ = running.read_to_end(&mut answer);
    if !answer.is_empty() {
        assert_eq!(parse(&answer, false).status, 503);
    }
}

/// Reads a response to a request sent with `Connection: close`.
fn read_answer(mut stream: TcpStream) -> Response {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse(&raw, false)
}

#[test]
fn status_floods_share_one_database_read() {
    let setup = setup(10, "max_connections = 512");
    let served = serve(&setup.config);
    let pid = served.child.id();
    let threads_of = || {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .count()
    };
    let before = threads_of();
    let mut most_threads = before;
    for target in ["/sources", "/sources.json", "/metrics"] {
        let streams: Vec<TcpStream> = (0..200).map(|_| send_get(served.addr, target)).collect();
        most_threads = most_threads.max(threads_of());
        for stream in streams {
            let response = read_answer(stream);
            assert_eq!(response.status, 200, "{target}: {}", response.text());
        }
        most_threads = most_threads.max(threads_of());
    }
    // Each wave is answered from one read a second: a handful of blocking
    // threads at most, not one (and one database connection) per request.
    assert!(
        most_threads <= before + 8,
        "{before} threads grew to {most_threads}"
    );
    let response = served.get("/sources.json");
    assert!(
        response.text().contains("\"musterhausen\""),
        "{}",
        response.text()
    );
}

#[test]
fn idle_sockets_from_one_client_do_not_block_others() {
    // A long header timeout: without shedding, idle sockets hold their
    // slots for 30 s.
    let setup = setup(10, "header_timeout = \"30s\"\nmax_connections = 32");
    let served = serve(&setup.config);
    // One client opens 100 sockets and sends nothing (or half a request).
    let idle: Vec<TcpStream> = (0..100)
        .map(|n| {
            let mut stream = TcpStream::connect(served.addr).unwrap();
            if n % 2 == 0 {
                stream
                    .write_all(b"GET /feeds/all.atom HTTP/1.1\r\n")
                    .unwrap();
            }
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    // Another client (another loopback address) is served at once.
    let other = bound_connection("127.0.0.2", served.addr);
    let started = Instant::now();
    let response = read_answer(write_get(other, "/healthz"));
    assert_eq!(response.status, 200, "{}", response.text());
    let response = read_answer(write_get(
        bound_connection("127.0.0.3", served.addr),
        "/feeds/politik.atom",
    ));
    assert_eq!(response.status, 200, "{}", response.text());
    // So is the same address: its oldest idle socket makes room.
    let response = get(served.addr, "/healthz", &[]);
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered after {:?}",
        started.elapsed()
    );

    // The client holds no more than its share: half of max_connections.
    let still_open = idle
        .into_iter()
        .filter(|stream| {
            stream
                .set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            let mut byte = [0u8; 1];
            matches!((&*stream).read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut)
        })
        .count();
    assert!(still_open <= 16, "{still_open} idle sockets still open");
    let metrics = get(served.addr, "/metrics", &[]).text();
    let shed: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("kurator_connections_shed_total "))
        .unwrap_or_else(|| panic!("{metrics}"))
        .parse()
        .unwrap();
    assert!(shed >= 84, "{shed} connections shed");
}

/// A connection from `local` (an address of 127.0.0.0/8) to `server`.
fn bound_connection(local: &str, server: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::new(local.parse().unwrap(), 0))
            .unwrap();
        socket.connect(server).await.unwrap().into_std().unwrap()
    })
}

fn write_get(mut stream: TcpStream, target: &str) -> TcpStream {
    stream.set_nonblocking(false).unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream
}
