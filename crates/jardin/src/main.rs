//! The `jardin` binary: the allocator, the panic hook, the stack overflow
//! handler, argv, the exit code.
//! Everything else is in the library crates (docs/ARCHITECTURE.md).

mod alloc;
mod cli;
mod overflow;

fn main() {
    alloc::tune();
    overflow::install();
    jardin_eval::install_panic_hook();
    let code = match cli::parse() {
        Ok(cli) => cli::run(cli),
        Err(code) => code,
    };
    std::process::exit(code);
}
