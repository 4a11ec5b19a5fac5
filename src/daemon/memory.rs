//! Giving freed memory back to the system at once.
//!
//! mimalloc (the binary's allocator) hands free pages back to the OS only
//! after a purge delay, and only when a thread that owns them next runs its
//! collection. A daemon that ingests a burst and then sits mostly idle keeps
//! that burst resident for good: in the daemon benchmark (BENCHMARKS.md)
//! `kurator run` held about 30 MB more between polls than with immediate
//! purging, which costs nothing measurable there. Periodic `mi_collect`
//! calls do not help: they only reach the calling thread's pages.

/// `mi_option_purge_delay` in mimalloc.h (v2.1 and v3): libmimalloc-sys
/// names its neighbours but not this one.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc purge freed pages as soon as they are free.
pub fn purge_freed_memory_at_once() {
    // SAFETY: mi_option_set only stores the value; mimalloc reads its options
    // atomically. If mimalloc is not the global allocator (tests, benches),
    // only its unused heap is affected.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}
