fn main() {
    jardin::alloc::tune();
    jardin::eval::install_panic_hook();
    let code = match jardin::cli::parse() {
        Ok(cli) => jardin::cli::run(cli),
        Err(code) => code,
    };
    std::process::exit(code);
}
