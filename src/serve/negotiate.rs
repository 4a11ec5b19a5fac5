//! HTTP negotiation: which content coding a client gets, and whether its
//! conditional request (`If-None-Match`, `If-Modified-Since`) lets us answer
//! 304 Not Modified.

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT_ENCODING, IF_MODIFIED_SINCE, IF_NONE_MATCH};

use super::cache::{Coding, Rendered};

/// The best coding `Accept-Encoding` allows: brotli, then gzip, else none.
pub fn coding(headers: &HeaderMap) -> Coding {
    let mut brotli = None;
    let mut gzip = None;
    let mut any = None;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for part in value.split(',') {
            let mut pieces = part.split(';');
            let name = pieces.next().unwrap_or("").trim();
            let quality = pieces
                .filter_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .or_else(|| p.trim().strip_prefix("Q="))
                })
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            let accepted = quality > 0.0;
            if name.eq_ignore_ascii_case("br") {
                brotli = Some(accepted);
            } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(accepted);
            } else if name == "*" {
                any = Some(accepted);
            }
        }
    }
    if brotli.or(any) == Some(true) {
        Coding::Brotli
    } else if gzip.or(any) == Some(true) {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

/// Whether the client's copy is current (RFC 9110 §13.2.2: `If-None-Match`
/// decides when present; `If-Modified-Since` only without it).
pub fn not_modified(headers: &HeaderMap, rendered: &Rendered) -> bool {
    let mut saw_none_match = false;
    for value in headers.get_all(IF_NONE_MATCH) {
        saw_none_match = true;
        let Ok(value) = value.to_str() else { continue };
        if value.trim() == "*" || value.split(',').any(|tag| rendered.matches_etag(tag)) {
            return true;
        }
    }
    if saw_none_match {
        return false;
    }
    let Some(since) = headers
        .get(IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    else {
        return false;
    };
    let since = since
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, crate::time::duration_secs);
    rendered.last_modified <= since
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn codings() {
        assert_eq!(coding(&headers(&[])), Coding::Identity);
        assert_eq!(
            coding(&headers(&[("accept-encoding", "gzip, deflate, br")])),
            Coding::Brotli
        );
        assert_eq!(
            coding(&headers(&[("accept-encoding", "gzip")])),
            Coding::Gzip
        );
        assert_eq!(
            coding(&headers(&[("accept-encoding", "br;q=0, gzip;q=0.5")])),
            Coding::Gzip
        );
        assert_eq!(
            coding(&headers(&[("accept-encoding", "identity")])),
            Coding::Identity
        );
        assert_eq!(
            coding(&headers(&[("accept-encoding", "*")])),
            Coding::Brotli
        );
        assert_eq!(
            coding(&headers(&[("accept-encoding", "*, br;q=0")])),
            Coding::Gzip
        );
        assert_eq!(
            coding(&headers(&[("accept-encoding", "GZIP;Q=1")])),
            Coding::Gzip
        );
    }

    #[test]
    fn conditionals() {
        let rendered = Rendered::new("text/plain", b"hello".to_vec(), 1_700_000_000, 1);
        let etag = rendered.etag(Coding::Identity).to_str().unwrap().to_owned();
        assert!(not_modified(
            &headers(&[("if-none-match", &etag)]),
            &rendered
        ));
        assert!(not_modified(
            &headers(&[("if-none-match", &format!("\"x\", {etag}"))]),
            &rendered
        ));
        assert!(!not_modified(
            &headers(&[("if-none-match", "\"x\"")]),
            &rendered
        ));
        let date = httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
        );
        assert!(not_modified(
            &headers(&[("if-modified-since", &date)]),
            &rendered
        ));
        let earlier = httpdate::fmt_http_date(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000),
        );
        assert!(!not_modified(
            &headers(&[("if-modified-since", &earlier)]),
            &rendered
        ));
        assert!(
            !not_modified(
                &headers(&[("if-none-match", "\"x\""), ("if-modified-since", &date)]),
                &rendered
            ),
            "If-None-Match decides when present"
        );
        assert!(!not_modified(
            &headers(&[("if-modified-since", "yesterday")]),
            &rendered
        ));
    }
}
