//! Giving freed memory back to the system at once.
//!
//! mimalloc (the binary's allocator) hands free pages back to the OS only
//! after a purge delay, and only when a thread that owns them next runs its
//! collection. A daemon that ingests a burst and then sits mostly idle keeps
//! that burst resident for good: in the daemon benchmark (BENCHMARKS.md)
//! `kurator run` held about 30 MB more between polls than with immediate
//! purging, which costs nothing measurable there. Periodic `mi_collect`
//! calls do not help: they only reach the calling thread's pages.

/// `mi_option_purge_delay`: libmimalloc-sys names its neighbours in the
/// option enum but not this one. It is the 16th entry of `mi_option_e` in
/// mimalloc 2.1 and later and in 3.x ([`KNOWN_VERSIONS`]); the version of
/// the linked library is checked before it is set, and a test fails when a
/// new mimalloc leaves that range.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc versions (`major·10000 + minor·100 + patch`) whose option
/// enum has `mi_option_purge_delay` at [`MI_OPTION_PURGE_DELAY`].
const KNOWN_VERSIONS: std::ops::Range<i32> = 20_100..40_000;

/// Whether the linked mimalloc is one whose options we know.
fn knows_purge_delay() -> bool {
    // SAFETY: mi_version only returns a constant.
    let version = unsafe { libmimalloc_sys::mi_version() };
    KNOWN_VERSIONS.contains(&version)
}

/// Makes mimalloc purge freed pages as soon as they are free.
pub fn purge_freed_memory_at_once() {
    if !knows_purge_delay() {
        tracing::debug!("unknown mimalloc version: freed memory is purged after its default delay");
        return;
    }
    // SAFETY: mi_option_set only stores the value; mimalloc reads its options
    // atomically. If mimalloc is not the global allocator (tests, benches),
    // only its unused heap is affected.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_linked_mimalloc_has_the_purge_delay_option_where_we_set_it() {
        assert!(
            knows_purge_delay(),
            "mimalloc {} is new: check MI_OPTION_PURGE_DELAY against its mimalloc.h",
            // SAFETY: as above.
            unsafe { libmimalloc_sys::mi_version() }
        );
        purge_freed_memory_at_once();
        // SAFETY: mi_option_get only reads an option.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 0);
    }
}
