use clap::Parser;

/// The interpreter and the JSON trees allocate small objects by the million;
/// mimalloc spends far less time on them than the system allocator (a third
/// of a cold build went to glibc's malloc and free).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    jardin::eval::install_panic_hook();
    let cli = jardin::cli::Cli::parse();
    std::process::exit(jardin::cli::run(cli));
}
