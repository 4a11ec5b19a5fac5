//! The fetcher against real sockets: the address guard, size caps with
//! bounded memory, per-host limits and conditional requests.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use kurator::config::FetchConfig;
use kurator::fetch::guard::AddressPolicy;
use kurator::fetch::{FetchError, Fetcher, Response, Validators};
use support::server::{Behaviour, TestServer};
use url::Url;

const FEED: &str = r#"<rss version="2.0"><channel><title>t</title><item><title>Eintrag</title><link>https://e.de/1</link></item></channel></rss>"#;

fn config() -> FetchConfig {
    FetchConfig {
        timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(5),
        max_bytes: 8 << 20,
        ..FetchConfig::default()
    }
}

/// A fetcher that treats 127.0.0.1 as a public address, so the test server
/// can play a public site; every other loopback address stays non-public.
fn fetcher_with_public_loopback() -> Fetcher {
    let policy = AddressPolicy {
        pretend_public: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
    };
    Fetcher::with_policy(&config(), policy).unwrap()
}

#[tokio::test]
async fn public_source_may_not_redirect_to_non_public_addresses() {
    let server = TestServer::start();
    let port = server.port();
    server.route("/feed", Behaviour::ok("application/rss+xml", FEED));
    server.route(
        "/to-loopback",
        Behaviour::Redirect {
            status: 302,
            location: format!("http://127.0.0.2:{port}/feed"),
        },
    );
    server.route(
        "/to-metadata",
        Behaviour::Redirect {
            status: 301,
            location: "http://169.254.169.254/latest/".into(),
        },
    );
    server.route(
        "/to-v6",
        Behaviour::Redirect {
            status: 307,
            location: format!("http://[::1]:{port}/feed"),
        },
    );
    server.route(
        "/to-private",
        Behaviour::Redirect {
            status: 302,
            location: "http://10.0.0.1/admin".into(),
        },
    );

    let fetcher = fetcher_with_public_loopback();
    for (path, reason) in [
        ("/to-loopback", "a loopback address"),
        ("/to-metadata", "a link-local address"),
        ("/to-v6", "a loopback address"),
        ("/to-private", "a private address"),
    ] {
        let url = Url::parse(&server.url(path)).unwrap();
        let err = fetcher
            .fetch(&url, &Validators::default())
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::NonPublic { .. }), "{path}: {err}");
        let message = err.to_string();
        assert!(message.contains(reason), "{path}: {message}");
        assert!(
            message.contains("a public feed may not lead to non-public addresses"),
            "{message}"
        );
    }
    // The redirect target was never contacted.
    assert!(server.requests_for("/feed").is_empty());

    // The same public source may redirect to another public address.
    server.route(
        "/to-public",
        Behaviour::Redirect {
            status: 302,
            location: "/feed".into(),
        },
    );
    let url = Url::parse(&server.url("/to-public")).unwrap();
    let fetched = fetcher.fetch(&url, &Validators::default()).await.unwrap();
    assert!(matches!(fetched.response, Response::Body(_)));
    assert_eq!(
        fetched.moved_permanently_to, None,
        "302 is not a permanent move"
    );
}

#[tokio::test]
async fn intranet_source_is_fetched_as_configured() {
    let server = TestServer::start();
    let port = server.port();
    server.route("/feed", Behaviour::ok("application/rss+xml", FEED));
    server.route(
        "/hop",
        Behaviour::Redirect {
            status: 308,
            location: format!("http://localhost:{port}/feed"),
        },
    );
    let fetcher = Fetcher::new(&config()).unwrap();
    let url = Url::parse(&server.url("/hop")).unwrap();
    let fetched = fetcher.fetch(&url, &Validators::default()).await.unwrap();
    assert_eq!(
        fetched.final_url.as_str(),
        format!("http://localhost:{port}/feed")
    );
    assert_eq!(
        fetched.moved_permanently_to,
        Some(fetched.final_url.clone())
    );
}

#[tokio::test]
async fn conditional_get_round_trip() {
    let server = TestServer::start();
    server.route(
        "/feed",
        Behaviour::conditional(FEED, "\"abc\"", "Wed, 15 Apr 2026 10:00:00 GMT"),
    );
    let fetcher = Fetcher::new(&config()).unwrap();
    let url = Url::parse(&server.url("/feed")).unwrap();
    let first = fetcher.fetch(&url, &Validators::default()).await.unwrap();
    let Response::Body(body) = first.response else {
        panic!("expected a body")
    };
    assert_eq!(body.validators.etag.as_deref(), Some("\"abc\""));
    let second = fetcher.fetch(&url, &body.validators).await.unwrap();
    assert!(matches!(second.response, Response::NotModified));
}

#[tokio::test]
async fn gzip_is_negotiated_and_decompressed() {
    let server = TestServer::start();
    server.route(
        "/feed",
        Behaviour::Feed {
            status: 200,
            content_type: "application/rss+xml".into(),
            body: FEED.as_bytes().to_vec(),
            etag: None,
            last_modified: None,
            extra_headers: vec![],
            gzip: true,
        },
    );
    let fetcher = Fetcher::new(&config()).unwrap();
    let url = Url::parse(&server.url("/feed")).unwrap();
    let fetched = fetcher.fetch(&url, &Validators::default()).await.unwrap();
    let Response::Body(body) = fetched.response else {
        panic!("expected a body")
    };
    assert_eq!(body.bytes, FEED.as_bytes());
    let request = server.requests_for("/feed").pop().unwrap();
    let accepted = request.header("accept-encoding").unwrap();
    for coding in ["gzip", "br", "deflate"] {
        assert!(accepted.contains(coding), "{accepted}");
    }
}

/// Peak resident memory of this process, from /proc.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn gzip_bomb_and_endless_body_stop_at_the_cap_with_bounded_memory() {
    let server = TestServer::start();
    server.route(
        "/bomb",
        Behaviour::GzipBomb {
            inflated_bytes: 4 << 30,
        },
    );
    server.route(
        "/endless",
        Behaviour::Endless {
            content_type: "application/rss+xml".into(),
        },
    );
    let fetcher = Fetcher::new(&config()).unwrap();
    let before = peak_rss_kib();
    for path in ["/bomb", "/endless"] {
        let url = Url::parse(&server.url(path)).unwrap();
        let err = fetcher
            .fetch(&url, &Validators::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, FetchError::TooLarge { limit } if limit == 8 << 20),
            "{path}: {err}"
        );
    }
    let grown_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    // The cap is 8 MiB; a 4 GiB bomb read whole would need 4096 MiB.
    assert!(grown_mib < 64, "peak memory grew by {grown_mib} MiB");
}

#[tokio::test]
async fn per_host_limit_holds() {
    let server = TestServer::start();
    server.route(
        "/slow",
        Behaviour::Drip {
            content_type: "application/rss+xml".into(),
            body: FEED.as_bytes().to_vec(),
            interval: Duration::from_millis(2),
        },
    );
    let mut limited = config();
    limited.per_host = 1;
    let fetcher = std::sync::Arc::new(Fetcher::new(&limited).unwrap());
    let url = Url::parse(&server.url("/slow")).unwrap();
    let single = std::time::Instant::now();
    fetcher.fetch(&url, &Validators::default()).await.unwrap();
    let one = single.elapsed();
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let fetcher = fetcher.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            fetcher
                .fetch(&url, &Validators::default())
                .await
                .map(|_| ())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    // With one request at a time per host, three fetches take about three times one.
    assert!(
        started.elapsed() >= one * 2,
        "{:?} vs one fetch {:?}",
        started.elapsed(),
        one
    );
}

#[tokio::test]
async fn file_urls_are_read_with_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.xml");
    std::fs::write(&path, FEED).unwrap();
    let fetcher = Fetcher::new(&config()).unwrap();
    let fetched = fetcher
        .fetch(&Url::from_file_path(&path).unwrap(), &Validators::default())
        .await
        .unwrap();
    let Response::Body(body) = fetched.response else {
        panic!("expected a body")
    };
    assert_eq!(body.bytes, FEED.as_bytes());
    let missing = Url::from_file_path(dir.path().join("missing.xml")).unwrap();
    let err = fetcher
        .fetch(&missing, &Validators::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot read"), "{err}");
}

#[tokio::test]
async fn a_feed_found_on_a_public_page_is_guarded_like_a_redirect() {
    let server = TestServer::start();
    let port = server.port();
    server.route("/feed", Behaviour::ok("application/rss+xml", FEED));
    let fetcher = fetcher_with_public_loopback();
    let page = Url::parse(&server.url("/presse/")).unwrap();
    // The page (public) links to a feed on a loopback address.
    let linked = Url::parse(&format!("http://127.0.0.2:{port}/feed")).unwrap();
    let err = fetcher
        .fetch_found_on(&linked, &Validators::default(), &page)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::NonPublic { .. }), "{err}");
    // Or to a local file.
    let file = Url::parse("file:///etc/passwd").unwrap();
    let err = fetcher
        .fetch_found_on(&file, &Validators::default(), &page)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused to read file:///etc/passwd: a page on the web may not lead to a local file"
    );
    assert!(server.requests_for("/feed").is_empty());
    // A public feed on a public page is fetched.
    let public = Url::parse(&server.url("/feed")).unwrap();
    let fetched = fetcher
        .fetch_found_on(&public, &Validators::default(), &page)
        .await
        .unwrap();
    assert!(matches!(fetched.response, Response::Body(_)));
}
