//! The memory allocator: mimalloc, tuned for a compiler that evaluates
//! thousands of files in a row.
//!
//! The interpreter and the JSON trees allocate small objects by the million;
//! mimalloc spends far less time on them than the system allocator (a third
//! of a cold build went to glibc's malloc and free).

#[global_allocator]
static ALLOCATOR: Counting = Counting(mimalloc::MiMalloc);

/// mimalloc, counting each thread's bytes for the evaluation budgets
/// (`jardin_core::budget`). A thread that goes over its hard limit (one
/// allocation far beyond the budget, which the evaluator's own checks
/// would see too late) ends the process with exit code 1 and the message
/// the evaluator left for it.
struct Counting(mimalloc::MiMalloc);

// SAFETY: every method forwards to mimalloc unchanged; the counting only
// touches const-initialized thread-locals without destructors.
unsafe impl std::alloc::GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        if jardin_core::budget::allocated(layout.size()) {
            over_budget();
        }
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.0.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if jardin_core::budget::allocated(layout.size()) {
            over_budget();
        }
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        jardin_core::budget::freed(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        jardin_core::budget::freed(layout.size());
        if jardin_core::budget::allocated(new) {
            over_budget();
        }
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.0.realloc(ptr, layout, new) }
    }
}

/// Ends the process from inside the allocator: nothing here allocates.
#[cold]
fn over_budget() -> ! {
    let message = jardin_core::budget::take_hard_message();
    let text = if message.is_empty() {
        "error[J0011]: an evaluation went far over its memory budget (--max-eval-memory)\n"
    } else {
        message.as_str()
    };
    // SAFETY: writes a buffer we own to stderr, then ends the process
    // without running destructors or atexit handlers, which could allocate.
    unsafe {
        libc::write(2, text.as_ptr().cast(), text.len());
        libc::_exit(1);
    }
}

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
///   check of 10,000 tenants (docs/PERFORMANCE.md);
/// - no transparent huge pages: mimalloc asks for them on its arenas, and
///   the kernel then compacts and zeroes 2 MiB at every first touch. That
///   was a sixth of a cold build's CPU time; with 4 KiB pages a cold build
///   of 1,000 tenants takes a fifth less time (docs/PERFORMANCE.md).
pub(crate) fn tune() {
    // SAFETY: each call sets one integer option of the allocator linked
    // in; no memory is touched.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(libmimalloc_sys::mi_option_large_os_pages, 0);
    }
    no_huge_pages();
}

/// Turns transparent huge pages off for this process. The allocator's own
/// option for this is read once, when it starts, before `main`; the
/// process-wide flag also covers the arena it reserved then, since the
/// kernel checks it at each page fault.
#[cfg(target_os = "linux")]
fn no_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process; it
    // fails harmlessly on kernels without THP.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn no_huge_pages() {}

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

    #[cfg(target_os = "linux")]
    #[test]
    fn huge_pages_are_turned_off() {
        super::no_huge_pages();
        // SAFETY: reads this process's flag.
        let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(disabled, 1);
    }
}
