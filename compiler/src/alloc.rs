//! The memory allocator: mimalloc, tuned for a compiler that evaluates
//! thousands of files in a row.
//!
//! The interpreter and the JSON trees allocate small objects by the million;
//! mimalloc spends far less time on them than the system allocator (a third
//! of a cold build went to glibc's malloc and free).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_arena_eager_commit` and `mi_option_purge_delay`,
/// which `libmimalloc-sys` does not name; a test checks the numbers
/// against the options' defaults.
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tunes the allocator for one short run that allocates gigabytes in small
/// pieces, before anything is allocated:
/// - freed memory is kept for reuse instead of being given back to the OS a
///   moment later (evaluation frees and reallocates tenant after tenant);
/// - arenas are committed as they are used, not all at once: committing
///   them eagerly made the kernel zero whole huge pages, 22% of a cached
///   check of 10,000 tenants (docs/PERFORMANCE.md).
pub fn tune() {
    // SAFETY: each call sets one integer option of the allocator linked
    // in; no memory is touched.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn options_are_the_ones_we_mean() {
        // SAFETY: reads one integer option.
        let purge_delay = unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) };
        assert_eq!(purge_delay, 1000, "mimalloc renumbered its options");
        // SAFETY: as above.
        let eager = unsafe { libmimalloc_sys::mi_option_get(super::ARENA_EAGER_COMMIT) };
        assert_eq!(eager, 2, "mimalloc renumbered its options");
    }
}
