//! Byte classes of text, 64 bytes at a time, as bitmaps: the tagging scan
//! ([`super::compiled`]) jumps from word to word with them instead of
//! deciding what every byte is one at a time.
//!
//! Two classes matter to the scan: ASCII letters and digits (word bytes
//! that the trie folds by table), and bytes that need the careful path
//! (anything non-ASCII, and in markup `<` and `&`, which start tags and
//! entities). Everything else ends a word.
//!
//! On x86-64 the classes come from SSE2, which every x86-64 CPU has; elsewhere
//! from a plain loop.

/// The classes of up to 64 bytes: bit `k` stands for byte `k`. Bits past the
/// end of a short block are clear in both maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Block {
    pub alnum: u64,
    pub careful: u64,
}

/// The classes of `bytes` (at most 64 of them); with `MARKUP`, `<` and `&`
/// are careful too.
#[inline]
pub(super) fn classify<const MARKUP: bool>(bytes: &[u8]) -> Block {
    debug_assert!(bytes.len() <= 64);
    #[cfg(target_arch = "x86_64")]
    {
        let mut padded = [0u8; 64];
        let full = match <&[u8; 64]>::try_from(bytes) {
            Ok(full) => full,
            Err(_) => {
                // Zero bytes are neither word bytes nor careful, so the
                // padding leaves the bits past the end clear.
                padded[..bytes.len()].copy_from_slice(bytes);
                &padded
            }
        };
        // SAFETY: SSE2 is part of x86-64; every x86-64 CPU has it.
        unsafe { sse2::classify::<MARKUP>(full) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        classify_bytewise::<MARKUP>(bytes)
    }
}

/// The same classes, one byte at a time: the fallback, and what the SSE2
/// path is tested against.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn classify_bytewise<const MARKUP: bool>(bytes: &[u8]) -> Block {
    let mut block = Block {
        alnum: 0,
        careful: 0,
    };
    for (k, &b) in bytes.iter().enumerate() {
        if b.is_ascii_alphanumeric() {
            block.alnum |= 1 << k;
        } else if !b.is_ascii() || (MARKUP && (b == b'<' || b == b'&')) {
            block.careful |= 1 << k;
        }
    }
    block
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use super::Block;
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8,
        _mm_or_si128, _mm_set1_epi8,
    };

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn classify<const MARKUP: bool>(bytes: &[u8; 64]) -> Block {
        let mut block = Block {
            alnum: 0,
            careful: 0,
        };
        for (lane, chunk) in bytes.chunks_exact(16).enumerate() {
            let (alnum, careful) = classify16::<MARKUP>(chunk);
            block.alnum |= u64::from(alnum) << (lane * 16);
            block.careful |= u64::from(careful) << (lane * 16);
        }
        block
    }

    /// `chunk` is 16 bytes long.
    #[inline]
    #[target_feature(enable = "sse2")]
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "the movemask of 16 byte lanes sets only the low 16 bits"
    )]
    fn classify16<const MARKUP: bool>(chunk: &[u8]) -> (u16, u16) {
        assert_eq!(chunk.len(), 16);
        // SAFETY: the chunk holds 16 readable bytes, and `loadu` needs no
        // alignment. SSE2 is part of x86-64.
        let v: __m128i = unsafe { _mm_loadu_si128(chunk.as_ptr().cast()) };
        // ASCII letters with the case bit set; bytes of 0x80 and above stay
        // at 0xA0 and above, out of range.
        let letter = in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', 26);
        let digit = in_range(v, b'0', 10);
        let alnum = _mm_movemask_epi8(_mm_or_si128(letter, digit)) as u16;
        // The top bit of every non-ASCII byte.
        let mut careful = _mm_movemask_epi8(v) as u16;
        if MARKUP {
            let lt = _mm_cmpeq_epi8(v, _mm_set1_epi8(i8::from_ne_bytes([b'<'])));
            let amp = _mm_cmpeq_epi8(v, _mm_set1_epi8(i8::from_ne_bytes([b'&'])));
            careful |= _mm_movemask_epi8(_mm_or_si128(lt, amp)) as u16;
        }
        (alnum, careful)
    }

    /// Which bytes of `x` lie in `lo..lo + width`. SSE2 compares bytes as
    /// signed, so `lo` is moved to -128 and the result compared with
    /// -128 + `width`: the addition wraps, and only the bytes of the range
    /// land below that.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn in_range(x: __m128i, lo: u8, width: u8) -> __m128i {
        let shifted = _mm_add_epi8(
            x,
            _mm_set1_epi8(i8::from_ne_bytes([0x80u8.wrapping_sub(lo)])),
        );
        _mm_cmplt_epi8(shifted, _mm_set1_epi8(i8::from_ne_bytes([0x80u8 + width])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_at_every_offset() {
        for b in 0..=255u8 {
            for at in 0..64 {
                for len in [at + 1, 64] {
                    let mut bytes = [b'a'; 64];
                    bytes[at] = b;
                    let bytes = &bytes[..len];
                    assert_eq!(
                        classify::<true>(bytes),
                        classify_bytewise::<true>(bytes),
                        "byte {b:#x} at {at} of {len}"
                    );
                    assert_eq!(
                        classify::<false>(bytes),
                        classify_bytewise::<false>(bytes),
                        "byte {b:#x} at {at} of {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn classes() {
        let block = classify::<true>("a<Z&9 ä-".as_bytes());
        assert_eq!(block.alnum, 0b1_0101);
        assert_eq!(block.careful, 0b1100_1010);
        let block = classify::<false>("a<Z&9 ä-".as_bytes());
        assert_eq!(block.careful, 0b1100_0000);
        assert_eq!(classify::<true>(b""), classify_bytewise::<true>(b""));
    }
}
