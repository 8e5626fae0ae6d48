//! The memory allocator: mimalloc, tuned for a compiler that evaluates
//! thousands of files in a row.
//!
//! The interpreter and the JSON trees allocate small objects by the million;
//! mimalloc spends far less time on them than the system allocator (a third
//! of a cold build went to glibc's malloc and free).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`, which `libmimalloc-sys` does not
/// name; a test checks the number against the option's default (1 s).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory for reuse instead of giving it back to the OS a
/// moment after it is freed. Evaluation frees and reallocates tenant after
/// tenant: giving pages back and faulting them in again (zeroed by the
/// kernel) cost up to a fifth of a cold build. jardin is a short-lived
/// process: its peak is what it holds anyway.
pub fn keep_freed_memory() {
    // SAFETY: sets one integer option of the allocator linked in; no
    // memory is touched.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn purge_delay_is_the_option_we_mean() {
        // SAFETY: reads one integer option.
        let default = unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) };
        assert_eq!(default, 1000, "mimalloc renumbered its options");
    }
}
