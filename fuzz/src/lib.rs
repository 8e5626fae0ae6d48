//! What the fuzz targets share.

/// Lets libFuzzer report a stack overflow as a crash and keep its input.
/// Call it from a target's `init`, before libFuzzer installs its handlers.
///
/// Outside a Rust `main`, nothing gives a thread an alternate signal stack:
/// the SIGSEGV of an overflow then has no stack to run its handler on, and
/// the process dies without writing the input down. libFuzzer keeps
/// `SA_ONSTACK` on its SIGSEGV handler when the disposition it replaces has
/// it, so this sets it on the default one and gives the calling thread an
/// alternate stack; threads the target starts need [`alternate_stack`].
pub fn report_stack_overflows() {
    // SAFETY: a zeroed `sigaction` is valid (no handler, empty mask), and
    // only the flags of the default disposition change.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        action.sa_flags = libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut());
    }
    alternate_stack();
}

/// Gives the calling thread an alternate signal stack, big enough for
/// libFuzzer's crash report. It lives as long as the process.
pub fn alternate_stack() {
    const SIZE: usize = 256 * 1024;
    // Kept in a static rather than leaked: the kernel's pointer to it is
    // invisible to LeakSanitizer, which would report it in an ASan build.
    static STACKS: std::sync::Mutex<Vec<Box<[u8]>>> = std::sync::Mutex::new(Vec::new());
    let mut stack = vec![0u8; SIZE].into_boxed_slice();
    let alt = libc::stack_t {
        ss_sp: stack.as_mut_ptr().cast(),
        ss_flags: 0,
        ss_size: SIZE,
    };
    STACKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(stack);
    // SAFETY: the stack is valid for `SIZE` bytes and, in `STACKS`, never
    // freed (moving the box does not move its heap allocation).
    unsafe {
        libc::sigaltstack(&alt, std::ptr::null_mut());
    }
}
