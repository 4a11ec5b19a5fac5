//! Links: the canonical form of a link, so that two addresses of one article
//! compare equal.
//!
//! Canonical links: lower-case scheme and host, no default port, no fragment,
//! no tracking parameters, remaining parameters sorted. Two links that differ
//! only in `utm_source` are the same article.
//!
//! A leaf: identify, dedup and the page scraper share it, and it imports
//! nothing of the crate.

use url::Url;

/// Query parameters that only track the reader, never select content.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "wt_mc",
    "wt_zmc",
    "ns_mchannel",
    "ns_source",
    "ns_campaign",
    "ns_linkname",
    "ns_fee",
    "at_medium",
    "at_campaign",
    "at_custom1",
    "at_custom2",
    "at_custom3",
    "at_custom4",
    "xtor",
    "ref_src",
    "s_cid",
    "ito",
    "cmpid",
];

/// Whether a query parameter is tracking noise.
fn is_tracking_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_")
        || lower.starts_with("pk_")
        || TRACKING_PARAMS.contains(&lower.as_str())
}

/// The canonical form of a link (see the module docs). Non-http(s) or
/// unparsable links are returned as given.
pub fn canonical_link(link: &str) -> String {
    let Ok(mut url) = Url::parse(link.trim()) else {
        return link.trim().to_owned();
    };
    if !matches!(url.scheme(), "http" | "https") {
        return url.to_string();
    }
    // The url crate already lower-cases scheme and host and drops default ports.
    url.set_fragment(None);
    if url.query().is_some() {
        let mut params: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(name, _)| !is_tracking_param(name))
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        if params.is_empty() {
            url.set_query(None);
        } else {
            params.sort();
            url.query_pairs_mut().clear().extend_pairs(params);
        }
    }
    url.to_string()
}
