use clap::Parser;

fn main() {
    jardin::alloc::tune();
    jardin::eval::install_panic_hook();
    let cli = jardin::cli::Cli::parse();
    std::process::exit(jardin::cli::run(cli));
}
