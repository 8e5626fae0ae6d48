//! Time and memory budgets for one evaluation.
//!
//! The interpreter has no way to be interrupted, but every step of its
//! machine goes through the evaluation cache (a thunk is read, added or
//! updated). [`BudgetedCache`] is the interpreter's own cache with a check
//! every few thousand of those operations: past the deadline, or past the
//! memory budget, it unwinds out of the interpreter with an [`Exceeded`]
//! payload, which `nickel::interpreter` catches and turns into J0010 or
//! J0011 on the file. The interrupted context is then dropped.

use std::cell::Cell;
use std::time::{Duration, Instant};

use nickel_lang_core::eval::cache::lazy::{CBNCache, ThunkUpdateFrame};
use nickel_lang_core::eval::cache::{BlackholedError, Cache, CacheIndex};
use nickel_lang_core::eval::value::NickelValue;
use nickel_lang_core::eval::Closure;
use nickel_lang_core::identifier::Ident;
use nickel_lang_core::term::record::FieldDeps;
use nickel_lang_core::term::BindingType;

/// What one file's evaluation may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub time: Duration,
    /// Bytes the evaluating thread may allocate on top of what it held
    /// when the evaluation started.
    pub memory: usize,
}

impl Default for Limits {
    /// Far above what any real file needs (a tenant takes milliseconds and
    /// a few MiB; the catalog's first evaluation a second at most), and low
    /// enough that a runaway file ends a CI job in seconds, not hours.
    fn default() -> Self {
        Limits {
            time: Duration::from_secs(30),
            memory: 1024 << 20,
        }
    }
}

/// Which budget an evaluation went over: the payload of the unwind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exceeded {
    Time(Duration),
    Memory(usize),
}

/// How many cache operations pass between two checks: a check reads the
/// clock, which costs about as much as a thousand operations.
const CHECK_EVERY: u32 = 4096;

struct Running {
    deadline: Instant,
    limits: Limits,
    /// Bytes the thread held when the evaluation started.
    base: isize,
}

thread_local! {
    static RUNNING: Cell<Option<Running>> = const { Cell::new(None) };
    static TICKS: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f` under `limits` on this thread: the interpreter's cache checks
/// them while `f` runs. `what` names the file for the message printed if
/// a single allocation goes so far over the budget that the process must
/// end at once.
pub(crate) fn run<T>(limits: Limits, what: &str, f: impl FnOnce() -> T) -> T {
    let base = jardin_core::budget::held();
    jardin_core::budget::set_evaluating(Some(what));
    RUNNING.with(|r| {
        r.set(Some(Running {
            deadline: Instant::now() + limits.time,
            limits,
            base,
        }))
    });
    // Twice the budget and 256 MiB more: the checks below normally stop
    // the file first, with a proper diagnostic.
    let hard = limits.memory.saturating_mul(2).saturating_add(256 << 20);
    jardin_core::budget::set_hard_limit(Some((
        hard,
        format!(
            "error[J0011]: evaluating {what} allocated more than {} MiB at once, over its budget of {} MiB (--max-eval-memory)\n",
            hard >> 20,
            limits.memory >> 20
        ),
    )));
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            RUNNING.with(|r| r.set(None));
            jardin_core::budget::set_hard_limit(None);
            jardin_core::budget::set_evaluating(None);
        }
    }
    let _reset = Reset;
    f()
}

/// Counts one operation, and every [`CHECK_EVERY`] checks the budgets.
#[inline]
fn tick() {
    let n = TICKS.with(|t| {
        let n = t.get().wrapping_add(1);
        t.set(n);
        n
    });
    if n.is_multiple_of(CHECK_EVERY) {
        check();
    }
}

#[cold]
fn check() {
    let Some(running) = RUNNING.with(Cell::take) else {
        return;
    };
    let over = if Instant::now() > running.deadline {
        Some(Exceeded::Time(running.limits.time))
    } else if jardin_core::budget::held().saturating_sub(running.base)
        > running.limits.memory as isize
    {
        Some(Exceeded::Memory(running.limits.memory))
    } else {
        None
    };
    match over {
        Some(exceeded) => std::panic::panic_any(exceeded),
        None => RUNNING.with(|r| r.set(Some(running))),
    }
}

/// The interpreter's call-by-need cache, with the budget checks.
#[derive(Clone)]
pub(crate) struct BudgetedCache(CBNCache);

impl Cache for BudgetedCache {
    type UpdateIndex = ThunkUpdateFrame;

    #[inline]
    fn get(&self, idx: CacheIndex) -> Closure {
        tick();
        self.0.get(idx)
    }

    #[inline]
    fn get_update_index(
        &mut self,
        idx: &mut CacheIndex,
    ) -> Result<Option<Self::UpdateIndex>, BlackholedError> {
        tick();
        self.0.get_update_index(idx)
    }

    #[inline]
    fn add(&mut self, clos: Closure, bty: BindingType) -> CacheIndex {
        tick();
        self.0.add(clos, bty)
    }

    #[inline]
    fn patch<F: Fn(&mut Closure)>(&mut self, idx: CacheIndex, f: F) {
        self.0.patch(idx, f)
    }

    #[inline]
    fn get_then<T, F: FnOnce(&Closure) -> T>(&self, idx: CacheIndex, f: F) -> T {
        tick();
        self.0.get_then(idx, f)
    }

    #[inline]
    fn update(&mut self, clos: Closure, idx: Self::UpdateIndex) {
        self.0.update(clos, idx)
    }

    fn new() -> Self {
        BudgetedCache(CBNCache::new())
    }

    #[inline]
    fn reset_index_state(&mut self, idx: &mut Self::UpdateIndex) {
        self.0.reset_index_state(idx)
    }

    #[inline]
    fn build_cached(&mut self, idx: &mut CacheIndex, rec_env: &[(Ident, CacheIndex)]) {
        self.0.build_cached(idx, rec_env)
    }

    #[inline]
    fn saturate<I: DoubleEndedIterator<Item = Ident> + Clone>(
        &mut self,
        idx: CacheIndex,
        fields: I,
    ) -> NickelValue {
        self.0.saturate(idx, fields)
    }

    #[inline]
    fn revert(&mut self, idx: &CacheIndex) -> CacheIndex {
        self.0.revert(idx)
    }

    #[inline]
    fn deps(&self, idx: &CacheIndex) -> Option<FieldDeps> {
        self.0.deps(idx)
    }

    #[inline]
    fn make_update_index(
        &mut self,
        idx: &mut CacheIndex,
    ) -> Result<Self::UpdateIndex, BlackholedError> {
        self.0.make_update_index(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_deadline_the_check_unwinds_with_the_budget() {
        let limits = Limits {
            time: Duration::ZERO,
            memory: usize::MAX >> 1,
        };
        let caught = std::panic::catch_unwind(|| {
            run(limits, "test", || {
                std::thread::sleep(Duration::from_millis(2));
                check();
            })
        });
        let payload = caught.expect_err("the check unwinds");
        assert_eq!(
            payload.downcast_ref::<Exceeded>(),
            Some(&Exceeded::Time(Duration::ZERO))
        );
        // The budget is lifted once `run` returns, even by unwinding.
        check();
    }

    #[test]
    fn within_budget_nothing_happens() {
        let out = run(Limits::default(), "test", || {
            for _ in 0..3 * CHECK_EVERY {
                tick();
            }
            7
        });
        assert_eq!(out, 7);
    }
}
