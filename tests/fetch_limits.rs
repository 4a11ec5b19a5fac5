//! The fetcher against real sockets: the address guard, size caps with
//! bounded memory, per-host limits and conditional requests.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use kurator::fetch::guard::AddressPolicy;
use kurator::fetch::{FetchError, Fetcher, Response, Settings, Validators};
use support::server::{Behaviour, TestServer, gzip_bomb, gzip_bytes};
use url::Url;

const FEED: &str = r#"<rss version="2.0"><channel><title>t</title><item><title>Eintrag</title><link>https://e.de/1</link></item></channel></rss>"#;

fn config() -> Settings {
    Settings {
        timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(5),
        max_bytes: 8 << 20,
        ..Settings::default()
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
            message.contains("; a public source may only reach public addresses"),
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
    // The same bomb served as plain bytes, as `feed.xml.gz` without
    // `Content-Encoding` (the fetcher recognises the gzip magic bytes).
    server.route(
        "/bomb.xml.gz",
        Behaviour::ok("application/xml", gzip_bomb(4 << 30).to_vec()),
    );
    let fetcher = Fetcher::new(&config()).unwrap();
    let before = peak_rss_kib();
    for path in ["/bomb", "/endless", "/bomb.xml.gz"] {
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
    // The cap is 8 MiB; a 4 GiB bomb read whole would need 4096 MiB. The
    // peak is the whole test process's, and the other tests of this file run
    // beside this one: the bound leaves them room.
    assert!(grown_mib < 256, "peak memory grew by {grown_mib} MiB");
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

/// A "public" server on 127.0.0.1 and a "private" one on 127.0.0.2, both on
/// the same port, so one host name with both addresses reaches either.
fn public_and_private_servers() -> (TestServer, TestServer) {
    for _ in 0..20 {
        let private = TestServer::bind(SocketAddr::from(([127, 0, 0, 2], 0))).unwrap();
        let same_port = SocketAddr::from(([127, 0, 0, 1], private.port()));
        if let Ok(public) = TestServer::bind(same_port) {
            return (public, private);
        }
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

/// [`fetcher_with_public_loopback`] with DNS answers for some names.
fn fetcher_with_dns(answers: &[(&str, &[[u8; 4]])]) -> Fetcher {
    let policy = AddressPolicy {
        pretend_public: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
    };
    let dns = answers
        .iter()
        .map(|(name, ips)| {
            let ips = ips.iter().map(|ip| IpAddr::from(*ip)).collect();
            (name.to_string(), ips)
        })
        .collect();
    Fetcher::with_policy_and_dns(&config(), policy, dns).unwrap()
}

#[tokio::test]
async fn mixed_dns_answers_never_lead_a_public_source_to_a_private_address() {
    let (public, private) = public_and_private_servers();
    let port = public.port();
    public.route("/feed", Behaviour::ok("application/rss+xml", FEED));
    private.route("/feed", Behaviour::ok("application/rss+xml", "intern"));
    private.route("/intern", Behaviour::ok("application/rss+xml", "intern"));
    for (path, location) in [
        (
            "/to-private-name",
            format!("http://private.test:{port}/intern"),
        ),
        ("/to-literal", format!("http://127.0.0.2:{port}/intern")),
        ("/to-mixed", format!("http://mixed.test:{port}/feed")),
    ] {
        let redirect = Behaviour::Redirect {
            status: 302,
            location,
        };
        public.route(path, redirect);
    }
    // The private answer first: the order of the answers must not matter.
    let fetcher = fetcher_with_dns(&[
        ("mixed.test", &[[127, 0, 0, 2], [127, 0, 0, 1]]),
        ("private.test", &[[127, 0, 0, 2]]),
    ]);
    let fetch = |url: String| {
        let fetcher = &fetcher;
        async move {
            let url = Url::parse(&url).unwrap();
            fetcher.fetch(&url, &Validators::default()).await
        }
    };

    // A source on a name with a public and a private answer is a public
    // source: it connects to the public address only, every time.
    for _ in 0..3 {
        let fetched = fetch(format!("http://mixed.test:{port}/feed"))
            .await
            .unwrap();
        let Response::Body(body) = fetched.response else {
            panic!("expected a body")
        };
        assert_eq!(body.bytes, FEED.as_bytes());
    }
    // And its redirects may not lead to the private address, by name or literal.
    let err = fetch(format!("http://mixed.test:{port}/to-private-name"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::NonPublic { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "refused to connect to private.test (127.0.0.2): a loopback address; \
         a public source may only reach public addresses"
    );
    let err = fetch(format!("http://mixed.test:{port}/to-literal"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused to connect to 127.0.0.2: a loopback address; \
         a public source may only reach public addresses"
    );
    // A redirect to the mixed name reaches its public address.
    let fetched = fetch(format!("http://127.0.0.1:{port}/to-mixed"))
        .await
        .unwrap();
    assert_eq!(fetched.final_url.host_str(), Some("mixed.test"));
    assert!(matches!(fetched.response, Response::Body(_)));

    assert!(
        private.requests().is_empty(),
        "the private server was reached: {:?}",
        private.requests()
    );
    assert_eq!(public.requests_for("/feed").len(), 4);
}

#[tokio::test]
async fn a_name_with_only_private_answers_is_an_intranet_source() {
    let (public, private) = public_and_private_servers();
    let port = private.port();
    private.route("/feed", Behaviour::ok("application/rss+xml", FEED));
    let fetcher = fetcher_with_dns(&[("intranet.test", &[[127, 0, 0, 2]])]);
    let url = Url::parse(&format!("http://intranet.test:{port}/feed")).unwrap();
    let fetched = fetcher.fetch(&url, &Validators::default()).await.unwrap();
    assert!(matches!(fetched.response, Response::Body(_)));
    assert_eq!(private.requests_for("/feed").len(), 1);
    assert!(public.requests().is_empty());
}

#[tokio::test]
async fn intranet_redirects_may_not_reach_link_local_or_metadata_addresses() {
    let server = TestServer::start();
    let port = server.port();
    server.route("/feed", Behaviour::ok("application/rss+xml", FEED));
    for (path, location) in [
        (
            "/to-metadata",
            "http://169.254.169.254/latest/meta-data/".into(),
        ),
        ("/to-metadata-v6", "http://[fd00:ec2::254]/latest/".into()),
        (
            "/to-metadata-mapped",
            "http://[::ffff:169.254.169.254]/".into(),
        ),
        ("/to-metadata-name", "http://metadata.test/latest/".into()),
        ("/to-loopback-name", format!("http://localhost:{port}/feed")),
    ] {
        let redirect = Behaviour::Redirect {
            status: 302,
            location,
        };
        server.route(path, redirect);
    }
    // 127.0.0.1 is not pretended public here: this is an intranet source on
    // loopback. The refused targets are refused before any connection.
    let dns = [(
        "metadata.test".to_string(),
        vec![IpAddr::from([169, 254, 169, 254])],
    )]
    .into();
    let fetcher = Fetcher::with_policy_and_dns(&config(), AddressPolicy::default(), dns).unwrap();
    for (path, expected) in [
        (
            "/to-metadata",
            "refused to connect to 169.254.169.254: a link-local address",
        ),
        (
            "/to-metadata-v6",
            "refused to connect to fd00:ec2::254: the cloud metadata address",
        ),
        (
            "/to-metadata-mapped",
            "refused to connect to ::ffff:169.254.169.254: a link-local address",
        ),
        (
            "/to-metadata-name",
            "refused to connect to metadata.test (169.254.169.254): a link-local address",
        ),
    ] {
        let url = Url::parse(&server.url(path)).unwrap();
        let err = fetcher
            .fetch(&url, &Validators::default())
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::NonPublic { .. }), "{path}: {err}");
        assert_eq!(
            err.to_string(),
            format!(
                "{expected}; a redirect from an intranet source may not reach link-local or cloud metadata addresses"
            ),
            "{path}"
        );
    }
    // A source on loopback may be redirected to loopback.
    let url = Url::parse(&server.url("/to-loopback-name")).unwrap();
    let fetched = fetcher.fetch(&url, &Validators::default()).await.unwrap();
    assert!(matches!(fetched.response, Response::Body(_)));

    // A feed found on an intranet page is judged like a redirect.
    let page = Url::parse(&server.url("/presse/")).unwrap();
    let linked = Url::parse("http://169.254.169.254/feed.xml").unwrap();
    let err = fetcher
        .fetch_found_on(&linked, &Validators::default(), &page)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("a link-local address"), "{err}");
}

#[tokio::test]
async fn gzip_bytes_without_content_encoding_are_decompressed() {
    let server = TestServer::start();
    // A misconfigured server publishing `feed.xml.gz` as XML.
    server.route(
        "/feed.xml.gz",
        Behaviour::ok("application/xml", gzip_bytes(FEED.as_bytes())),
    );
    let mut corrupt = gzip_bytes(FEED.as_bytes());
    corrupt.truncate(corrupt.len() / 2);
    server.route("/corrupt.xml.gz", Behaviour::ok("application/xml", corrupt));
    let fetcher = Fetcher::new(&config()).unwrap();
    let fetch = |path: &str| {
        let url = Url::parse(&server.url(path)).unwrap();
        let fetcher = &fetcher;
        async move { fetcher.fetch(&url, &Validators::default()).await }
    };
    let Response::Body(body) = fetch("/feed.xml.gz").await.unwrap().response else {
        panic!("expected a body")
    };
    assert_eq!(body.bytes, FEED.as_bytes());
    let err = fetch("/corrupt.xml.gz").await.unwrap_err();
    assert!(
        err.to_string().contains(
            "the body is gzip data (it starts with the gzip magic bytes) but does not decompress"
        ),
        "{err}"
    );

    // A local `feed.xml.gz` too.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.xml.gz");
    std::fs::write(&path, gzip_bytes(FEED.as_bytes())).unwrap();
    let fetched = fetcher
        .fetch(&Url::from_file_path(&path).unwrap(), &Validators::default())
        .await
        .unwrap();
    let Response::Body(body) = fetched.response else {
        panic!("expected a body")
    };
    assert_eq!(body.bytes, FEED.as_bytes());
}

#[tokio::test]
async fn retry_after_from_one_source_defers_every_source_on_that_host() {
    let publisher = TestServer::start();
    publisher.route(
        "/presse.xml",
        Behaviour::RetryAfter {
            status: 429,
            retry_after: "30".into(),
        },
    );
    publisher.route("/amtsblatt.xml", Behaviour::ok("application/rss+xml", FEED));
    let elsewhere = TestServer::start();
    elsewhere.route("/feed", Behaviour::ok("application/rss+xml", FEED));
    let fetcher = Fetcher::new(&config()).unwrap();
    let fetch = |url: String| {
        let fetcher = &fetcher;
        async move {
            fetcher
                .fetch(&Url::parse(&url).unwrap(), &Validators::default())
                .await
        }
    };

    let err = fetch(publisher.url("/presse.xml")).await.unwrap_err();
    assert!(
        matches!(err, FetchError::RateLimited { status: 429, .. }),
        "{err}"
    );
    // Another source on the same host is not asked at all until then.
    let err = fetch(publisher.url("/amtsblatt.xml")).await.unwrap_err();
    let FetchError::HostDeferred { until, .. } = &err else {
        panic!("deferred: {err}");
    };
    let wait = until.duration_since(std::time::SystemTime::now()).unwrap();
    assert!(wait > Duration::from_secs(25), "{wait:?}");
    assert!(
        err.to_string().contains("every source on it waits"),
        "{err}"
    );
    assert!(publisher.requests_for("/amtsblatt.xml").is_empty());
    assert_eq!(publisher.requests_for("/presse.xml").len(), 1);
    // Other hosts are not affected.
    assert!(fetch(elsewhere.url("/feed")).await.is_ok());
}
