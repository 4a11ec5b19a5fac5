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
//! bins), so building it costs one pass over the terms, not one per
//! position. A short text leaves bins empty; only bands whose bins hold
//! terms are indexed. (Filling empty bins from their neighbours, as
//! densified one-permutation hashing does, would make two items agree in a
//! filled-in band only when they agree in the band it was filled from: the
//! same candidates, found again, for 32 index entries per item instead of
//! at most one per term.)

use super::text::mix;

/// Numbers in a signature.
pub const SIGNATURE_LEN: usize = BANDS * ROWS;
/// Bands of the LSH index.
pub const BANDS: usize = 32;
/// Signature positions per band.
pub const ROWS: usize = 1;

/// The MinHash signature of a term set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// For each position, the smallest hash value of the terms in its bin.
    pub values: [u32; SIGNATURE_LEN],
    /// For each position, the index (in the terms given) of the term its
    /// value comes from: how common that term is says how many items share
    /// the value.
    pub sources: [u16; SIGNATURE_LEN],
    /// Bit `p` is set when position `p`'s bin holds a term.
    pub filled: u64,
}

/// The MinHash signature of a set of term hashes, or `None` for no terms.
#[expect(
    clippy::cast_possible_truncation,
    reason = "hash bits: keeping the low ones is the point"
)]
pub fn signature(terms: &[u64]) -> Option<Signature> {
    if terms.is_empty() {
        return None;
    }
    let mut values = [u32::MAX; SIGNATURE_LEN];
    let mut sources = [0u16; SIGNATURE_LEN];
    let mut filled = 0u64;
    for (at, &term) in terms.iter().enumerate() {
        let bin = (term % SIGNATURE_LEN as u64) as usize;
        let value = (term >> 32) as u32;
        if filled & (1 << bin) == 0 || value < values[bin] {
            values[bin] = value;
            sources[bin] = at.min(usize::from(u16::MAX)) as u16;
            filled |= 1 << bin;
        }
    }
    Some(Signature {
        values,
        sources,
        filled,
    })
}

/// The LSH band keys of one item: equal keys in the same band mean
/// "compare". Only bands whose bins all hold terms have a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BandKeys {
    keys: [u32; BANDS],
    /// Bit `band` is set when the band has a key.
    keyed: u32,
}

impl BandKeys {
    /// The keys of a signature's bands.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "hash bits: keeping the low ones is the point"
    )]
    pub fn of(signature: &Signature) -> BandKeys {
        let mut keys = [0; BANDS];
        let mut keyed = 0u32;
        let all_rows = (1u64 << ROWS) - 1;
        for (band, key) in keys.iter_mut().enumerate() {
            if (signature.filled >> (band * ROWS)) & all_rows != all_rows {
                continue;
            }
            let rows = &signature.values[band * ROWS..(band + 1) * ROWS];
            let mut hash = band as u64;
            for &row in rows {
                hash = mix(hash.rotate_left(32) ^ u64::from(row));
            }
            *key = hash as u32;
            keyed |= 1 << band;
        }
        BandKeys { keys, keyed }
    }

    /// The key of `band`, if it has one.
    pub fn get(&self, band: usize) -> Option<u32> {
        (self.keyed & (1 << band) != 0).then_some(self.keys[band])
    }

    /// The bands that have keys, with their keys.
    pub fn iter(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        (0..BANDS).filter_map(|band| Some((band, self.get(band)?)))
    }

    /// How many bands have keys.
    pub fn len(&self) -> usize {
        self.keyed.count_ones() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.keyed == 0
    }

    /// Whether two items share a band key (are LSH candidates of each other).
    pub fn shares_band(&self, other: &BandKeys) -> bool {
        self.iter().any(|(band, key)| other.get(band) == Some(key))
    }
}

/// The estimated Jaccard similarity of the sets behind two signatures
/// (what the band probabilities above assume; checked by the tests): the
/// share of positions filled in either that agree.
#[cfg(test)]
fn estimated_jaccard(a: &Signature, b: &Signature) -> f64 {
    let either = a.filled | b.filled;
    let equal = (0..SIGNATURE_LEN)
        .filter(|&p| a.filled & b.filled & (1 << p) != 0 && a.values[p] == b.values[p])
        .count();
    equal as f64 / either.count_ones() as f64
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
        assert_eq!((a.values, a.filled), (b.values, b.filled));
        assert_eq!(BandKeys::of(&a), BandKeys::of(&b));
        assert!(signature(&[]).is_none());
    }

    #[test]
    fn only_bins_holding_terms_are_keyed() {
        // Three terms fill at most three of the 32 bins.
        let few = BandKeys::of(&signature(&set(0..3)).unwrap());
        assert!((1..=3).contains(&few.len()), "{} bands keyed", few.len());
        assert_eq!(few.iter().count(), few.len());
        // One more term changes at most one bin: the rest still agree.
        let base = BandKeys::of(&signature(&set(0..20)).unwrap());
        let grown = BandKeys::of(&signature(&set(0..21)).unwrap());
        let agreeing = base
            .iter()
            .filter(|&(band, key)| grown.get(band) == Some(key))
            .count();
        assert!(agreeing + 1 >= base.len(), "{agreeing} of {}", base.len());
        assert!(base.shares_band(&grown));
        let unrelated = BandKeys::of(&signature(&set(100..103)).unwrap());
        assert!(!few.shares_band(&unrelated));
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
            let a = BandKeys::of(&signature(&set(base..base + 30)).unwrap());
            let b = BandKeys::of(&signature(&set(base + 500..base + 530)).unwrap());
            shared += usize::from(a.shares_band(&b));
        }
        assert!(
            shared <= 5,
            "{shared} of 500 disjoint pairs share a band key"
        );
    }
}
