//! Memory budgets: how many bytes the current thread holds, counted by the
//! binary's allocator, so that evaluation can stop a file that allocates
//! without bound before the machine runs out (docs/SECURITY.md).
//!
//! The counter is per thread, because one worker thread evaluates one file
//! at a time: the growth of a thread's counter during an evaluation is
//! what that file cost. Memory freed by another thread than the one that
//! allocated it skews both counters a little; budgets are far above what a
//! real config uses, so that does not matter.
//!
//! Without the binary's counting allocator (unit tests, fuzzing), the
//! counters stay at zero and only the time budget applies.

use std::cell::{Cell, RefCell};

thread_local! {
    /// Bytes allocated minus bytes freed by this thread. No destructor and a
    /// const initializer: the allocator may read it at any time.
    static HELD: Cell<isize> = const { Cell::new(0) };
    /// Above this many bytes held, the allocator ends the process (see
    /// [`over_hard_limit`]).
    static HARD_LIMIT: Cell<isize> = const { Cell::new(isize::MAX) };
    /// What the process prints when it ends on the hard limit. Only the
    /// hard limit's path reads it from inside the allocator.
    static HARD_MESSAGE: RefCell<String> = const { RefCell::new(String::new()) };
    /// The file this thread evaluates, for a signal handler to name: a
    /// plain copy, readable without allocating or borrowing.
    static EVALUATING: Cell<([u8; NAME_BYTES], usize)> = const { Cell::new(([0; NAME_BYTES], 0)) };
}

/// How much of a file's name [`evaluating`] keeps.
const NAME_BYTES: usize = 200;

/// Records which file this thread evaluates (`None`: none).
pub fn set_evaluating(name: Option<&str>) {
    let mut buf = [0u8; NAME_BYTES];
    let bytes = name.unwrap_or_default().as_bytes();
    let len = bytes.len().min(NAME_BYTES);
    buf[..len].copy_from_slice(&bytes[..len]);
    EVALUATING.with(|e| e.set((buf, len)));
}

/// The file this thread evaluates, as recorded (possibly cut short), for
/// a message written where nothing may allocate: a stack overflow's
/// signal handler.
pub fn evaluating() -> ([u8; NAME_BYTES], usize) {
    EVALUATING.with(Cell::get)
}

/// Called by the allocator for every allocation of `bytes`. True when this
/// thread now holds more than its hard limit.
#[inline]
pub fn allocated(bytes: usize) -> bool {
    HELD.with(|held| {
        let now = held.get().wrapping_add(bytes as isize);
        held.set(now);
        now > HARD_LIMIT.with(Cell::get)
    })
}

/// Called by the allocator for every deallocation.
#[inline]
pub fn freed(bytes: usize) {
    HELD.with(|held| held.set(held.get().wrapping_sub(bytes as isize)));
}

/// Bytes this thread holds, as counted so far.
pub fn held() -> isize {
    HELD.with(Cell::get)
}

/// The message to print when the hard limit ends the process, and clears
/// the limit so that printing it cannot trip it again.
pub fn take_hard_message() -> String {
    HARD_LIMIT.with(|l| l.set(isize::MAX));
    HARD_MESSAGE.with(|m| {
        m.try_borrow_mut()
            .map(|mut m| std::mem::take(&mut *m))
            .unwrap_or_default()
    })
}

/// Sets this thread's hard limit: above `held() + bytes`, the allocator ends
/// the process with `message` (a single allocation far larger than the
/// budget cannot wait for the evaluator's next check). `None` lifts it.
pub fn set_hard_limit(limit: Option<(usize, String)>) {
    match limit {
        Some((bytes, message)) => {
            HARD_MESSAGE.with(|m| *m.borrow_mut() = message);
            let limit = held().saturating_add(bytes.min(isize::MAX as usize) as isize);
            HARD_LIMIT.with(|l| l.set(limit));
        }
        None => {
            HARD_LIMIT.with(|l| l.set(isize::MAX));
            HARD_MESSAGE.with(|m| m.borrow_mut().clear());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_counter_follows_allocations_and_the_hard_limit() {
        let before = super::held();
        assert!(!super::allocated(100));
        assert_eq!(super::held(), before + 100);
        super::freed(100);
        assert_eq!(super::held(), before);
        super::set_hard_limit(Some((1000, "too much".to_string())));
        assert!(!super::allocated(999));
        assert!(super::allocated(2));
        assert_eq!(super::take_hard_message(), "too much");
        // Taking the message lifts the limit.
        assert!(!super::allocated(1 << 20));
        super::freed(1001 + (1 << 20));
        super::set_hard_limit(None);
        assert_eq!(super::held(), before);
    }
}
