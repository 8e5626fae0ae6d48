//! A stack overflow ends the process with exit code 1 and a diagnostic
//! naming the file being evaluated, never with SIGABRT (exit 134).
//!
//! The evaluator's limits (docs/SECURITY.md) keep every file it accepts
//! well within the workers' stacks, but some built-in functions of the
//! interpreter recurse over values built at run time (`std.serialize` of an
//! array nested a hundred thousand deep), which no limit on the file can
//! bound. The Rust runtime's own handler would abort; this one, run on the
//! signal stack the runtime gives each thread, writes one line and exits.

/// Replaces the runtime's handler for SIGSEGV and SIGBUS (what a guard
/// page hit raises). Call once, early in `main`.
pub(crate) fn install() {
    // SAFETY: installs a handler that only reads a thread-local copy,
    // writes to stderr and calls `_exit`, all async-signal-safe; SA_ONSTACK
    // runs it on the alternate stack the runtime set up for each thread.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut());
        libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
    }
}

extern "C" fn handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let (name, len) = jardin_core::budget::evaluating();
    let mut line = [0u8; 512];
    let mut at = 0;
    let mut push = |bytes: &[u8]| {
        let n = bytes.len().min(line.len() - at);
        line[at..at + n].copy_from_slice(&bytes[..n]);
        at += n;
    };
    if len > 0 {
        push(b"error[J0012]: the stack overflowed while evaluating ");
        push(&name[..len]);
        push(b": a value nested too deeply (a recursive function building nested arrays or records?)\n");
    } else {
        push(b"error: jardin stopped on a stack overflow or a memory fault (a bug in jardin, not in your config); please report it\n");
    }
    // SAFETY: write(2) and _exit(2) are async-signal-safe.
    unsafe {
        libc::write(2, line.as_ptr().cast(), at);
        libc::_exit(1);
    }
}
