//! The `jardin` binary: the allocator, the panic hook, argv, the exit code.
//! Everything else is in the library crates (docs/ARCHITECTURE.md).

mod alloc;
mod cli;

fn main() {
    alloc::tune();
    jardin_eval::install_panic_hook();
    let code = match cli::parse() {
        Ok(cli) => cli::run(cli),
        Err(code) => code,
    };
    std::process::exit(code);
}
