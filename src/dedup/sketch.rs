//! MinHash sketches and their LSH band keys.
//!
//! A sketch summarizes an item's term set in [`SIGNATURE_LEN`] numbers such
//! that two sketches agree in a position with probability equal to the
//! Jaccard similarity of the two sets. Cutting the signature into
//! [`BANDS`] bands of [`ROWS`] positions and indexing each band gives the
//! candidates of a new item in a few hash lookups, whatever the number of
//! stored items: two items share at least one band key with probability
//! `1 - (1 - J^ROWS)^BANDS`. With one row per band that is 0.97 at J = 0.1
//! and 0.81 at J = 0.05: rewrites of one story often share only a tenth of
//! their telling terms, and two rows per band (0.28 at J = 0.1) missed one
//! same-story pair in seven on the labelled set. Unrelated items collide
//! too, so candidates are ranked by the bands they share and only the best
//! few are scored ([`super::index`]).
//! The final decision is made on the terms themselves ([`super::score`]).
//!
//! The signature uses one-permutation hashing (one hash per term, spread over
//! bins, empty bins filled from their neighbours), so building it costs one
//! pass over the terms, not one per position.

use super::text::mix;

/// Numbers in a signature.
pub const SIGNATURE_LEN: usize = BANDS * ROWS;
/// Bands of the LSH index.
pub const BANDS: usize = 32;
/// Signature positions per band.
pub const ROWS: usize = 1;

/// The band keys of one item: equal keys in the same band mean "compare".
pub type BandKeys = [u32; BANDS];

/// The MinHash signature of a set of term hashes, or `None` for no terms.
pub fn signature(terms: &[u64]) -> Option<[u32; SIGNATURE_LEN]> {
    signature_with_sources(terms).map(|(signature, _)| signature)
}

/// [`signature`], and for each position the index in `terms` of the term
/// its value comes from (how common that term is says how many items
/// share the position's value).
pub fn signature_with_sources(
    terms: &[u64],
) -> Option<([u32; SIGNATURE_LEN], [u16; SIGNATURE_LEN])> {
    if terms.is_empty() {
        return None;
    }
    let mut bins = [u32::MAX; SIGNATURE_LEN];
    let mut sources = [0u16; SIGNATURE_LEN];
    let mut filled = [false; SIGNATURE_LEN];
    for (at, &term) in terms.iter().enumerate() {
        let bin = (term % SIGNATURE_LEN as u64) as usize;
        let value = (term >> 32) as u32;
        if !filled[bin] || value < bins[bin] {
            bins[bin] = value;
            sources[bin] = at.min(usize::from(u16::MAX)) as u16;
            filled[bin] = true;
        }
    }
    // Densify: an empty bin borrows the nearest filled bin to its right,
    // mixed with the distance so borrowed values differ from the original.
    let mut signature = bins;
    let borrowed_from = sources;
    for bin in 0..SIGNATURE_LEN {
        if filled[bin] {
            continue;
        }
        let mut distance = 1;
        while !filled[(bin + distance) % SIGNATURE_LEN] {
            distance += 1;
        }
        let source = (bin + distance) % SIGNATURE_LEN;
        signature[bin] = (mix(u64::from(bins[source]) ^ ((distance as u64) << 40)) >> 32) as u32;
        sources[bin] = borrowed_from[source];
    }
    Some((signature, sources))
}

/// The key of each band of a signature.
pub fn band_keys(signature: &[u32; SIGNATURE_LEN]) -> BandKeys {
    let mut keys = [0; BANDS];
    for (band, key) in keys.iter_mut().enumerate() {
        let rows = &signature[band * ROWS..(band + 1) * ROWS];
        let mut hash = band as u64;
        for &row in rows {
            hash = mix(hash.rotate_left(32) ^ u64::from(row));
        }
        *key = hash as u32;
    }
    keys
}

/// The estimated Jaccard similarity of the sets behind two signatures
/// (what the band probabilities above assume; checked by the tests).
#[cfg(test)]
fn estimated_jaccard(a: &[u32; SIGNATURE_LEN], b: &[u32; SIGNATURE_LEN]) -> f64 {
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / SIGNATURE_LEN as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(range: std::ops::Range<u64>) -> Vec<u64> {
        range.map(mix).collect()
    }

    #[test]
    fn equal_sets_have_equal_signatures_and_keys() {
        let a = signature(&set(0..40)).unwrap();
        let mut shuffled = set(0..40);
        shuffled.reverse();
        let b = signature(&shuffled).unwrap();
        assert_eq!(a, b);
        assert_eq!(band_keys(&a), band_keys(&b));
        assert!(signature(&[]).is_none());
    }

    #[test]
    fn agreement_tracks_jaccard_similarity() {
        // Averaged over many set pairs with J = 1/3 (20 shared of 60).
        let mut total = 0.0;
        let trials = 200;
        for trial in 0..trials {
            let base = trial * 1000;
            let a = signature(&set(base..base + 40)).unwrap();
            let b = signature(&set(base + 20..base + 60)).unwrap();
            total += estimated_jaccard(&a, &b);
        }
        let mean = total / trials as f64;
        assert!((mean - 1.0 / 3.0).abs() < 0.05, "mean estimate {mean}");
    }

    #[test]
    fn disjoint_sets_rarely_share_a_band() {
        let mut shared = 0;
        for trial in 0..500 {
            let base = trial * 1000;
            let a = band_keys(&signature(&set(base..base + 30)).unwrap());
            let b = band_keys(&signature(&set(base + 500..base + 530)).unwrap());
            shared += a.iter().zip(&b).filter(|(x, y)| x == y).count();
        }
        assert!(
            shared <= 5,
            "{shared} shared band keys over 500 disjoint pairs"
        );
    }
}
