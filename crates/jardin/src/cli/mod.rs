//! The command line: the only module that knows argv, stdout, stderr and
//! exit codes. One file per command family; this one holds the arguments
//! and the dispatch.

mod apply;
mod backup;
mod build;
mod catalog;
mod diff;
mod dns;
mod graph;
mod plan;
mod progress;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use jardin_compiler::pipeline::{Compilation, Options};
use jardin_core::diag::{Diagnostic, Renderer, Severity};

/// Exit codes, shared by every command (see docs/CLI.md).
pub(crate) mod exit {
    pub(crate) const OK: i32 = 0;
    pub(crate) const ERROR: i32 = 1;
    /// `plan`: there are changes.
    pub(crate) const CHANGES: i32 = 2;
    /// `plan`: there are changes that need approval.
    pub(crate) const APPROVAL: i32 = 3;
}

#[derive(Parser, Debug)]
#[command(
    name = "jardin",
    version,
    about = "Compiles a hosting collective's Nickel config into Kubernetes manifests"
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    Text,
    Dot,
    Mermaid,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ErrorFormat {
    Human,
    Json,
}

#[derive(Args, Debug)]
#[command(next_help_heading = "Global options")]
pub(crate) struct Global {
    /// Colour in diagnostics (NO_COLOR turns `auto` off).
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub color: Color,
    /// How diagnostics are printed on stderr.
    #[arg(long, global = true, value_enum, default_value = "human")]
    pub error_format: ErrorFormat,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print timings of each phase.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Where evaluated tenants are cached [default: $JARDIN_CACHE_DIR, $XDG_CACHE_HOME/jardin or ~/.cache/jardin].
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Evaluate every tenant again, ignoring the cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// Only this tenant (repeatable).
    #[arg(long = "tenant", global = true, value_name = "ID")]
    pub tenants: Vec<String>,
    /// Only tenants on this cluster (repeatable).
    #[arg(long = "cluster", global = true, value_name = "ID")]
    pub clusters: Vec<String>,
    /// Let config files import files anywhere under DIR, an ancestor of the
    /// config root (by default, only files under the root).
    #[arg(long, global = true, value_name = "DIR")]
    pub import_root: Option<PathBuf>,
    /// Stop evaluating a file after this many seconds (J0010).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub max_eval_seconds: u64,
    /// Stop evaluating a file once it has allocated this many MiB (J0011).
    #[arg(long, global = true, value_name = "MIB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(16..=1_048_576))]
    pub max_eval_memory: u64,
    /// Render each app once per shape (names put back in afterwards), or
    /// every tenant's apps in full; the output is the same (docs/CONFIG.md).
    #[arg(long, global = true, value_enum, default_value_t = Render::Shapes)]
    pub render: Render,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Validate a config root; diagnostics go to stderr.
    Check {
        #[arg(default_value = ".")]
        root: PathBuf,
        /// Treat warnings as errors (for CI).
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Write the desired state to a directory, atomically.
    Build {
        #[arg(default_value = ".")]
        root: PathBuf,
        #[arg(short, long, default_value = "out")]
        output: PathBuf,
    },
    /// The dependency graph: apply waves, DOT, or Mermaid.
    Graph {
        #[arg(default_value = ".")]
        root: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: GraphFormat,
        /// Show the network flows of each app namespace (what its
        /// NetworkPolicies allow) instead of the dependencies.
        #[arg(long)]
        flows: bool,
    },
    /// Backup coverage of a config root.
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Compare the desired state with the live state: what `apply` would change.
    /// Exit code 0: no changes, 2: changes, 3: changes that need approval.
    Plan(plan::PlanArgs),
    /// Apply a reviewed plan (or a config root, with --auto-approve) to the
    /// clusters: server-side apply in waves, inventory, safe deletions.
    /// Exit code 0: nothing to do, 2: applied, 3: needs approval (nothing
    /// touched), 1: error.
    Apply(apply::ApplyArgs),
    /// What a change does to the generated output, between git revisions
    /// (HEAD defaults to the working tree). Exit code 0: nothing changes, 2: changes.
    Diff(diff::DiffArgs),
    /// The apps jardin can deploy.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// DNS: plan and apply the zones' records on their authoritative servers.
    Dns {
        #[command(subcommand)]
        command: dns::DnsCommand,
    },
    /// The embedded Nickel library (stdlib and catalog).
    Stdlib {
        #[command(subcommand)]
        command: StdlibCommand,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum BackupCommand {
    /// Per tenant and app: each piece of state, how it is backed up, how
    /// often, how long it is kept, where to. Exits 1 if any is not covered.
    Coverage {
        #[arg(default_value = ".")]
        root: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: backup::Format,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum CatalogCommand {
    /// One line per app.
    List,
    /// An app's page: versions, settings, requirements, state, sizes,
    /// flows and upstream sources (Markdown; `--json`: the entry's data).
    Show {
        app: String,
        #[arg(long)]
        json: bool,
    },
    /// Write every app's page into DIR (docs/catalog in this repository).
    Docs {
        #[arg(long, default_value = "docs/catalog")]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum StdlibCommand {
    /// Write the library to DIR (default: the cache directory) and print the
    /// import path to give the Nickel language server or `nickel --import-path`.
    Path {
        #[arg(long)]
        write: Option<PathBuf>,
    },
}

/// Colour on stdout (plans and reviews): `--color`, then `NO_COLOR` and
/// whether stdout is a terminal.
pub(crate) fn stdout_color(g: &Global) -> bool {
    match g.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal(),
    }
}

pub(crate) struct Output {
    renderer: Renderer,
    format: ErrorFormat,
    quiet: bool,
}

impl Output {
    pub(crate) fn new(g: &Global) -> Self {
        let color = match g.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
            }
        };
        Output {
            renderer: Renderer::new(color),
            format: g.error_format,
            quiet: g.quiet,
        }
    }

    pub(crate) fn diagnostics(&self, diags: &[Diagnostic]) {
        let mut err = std::io::stderr().lock();
        for d in diags {
            if self.quiet && d.severity == Severity::Warning {
                continue;
            }
            let text = match self.format {
                ErrorFormat::Human => self.renderer.render(d),
                ErrorFormat::Json => serde_json::to_string(&d.to_json()).unwrap_or_default() + "\n",
            };
            let _ = err.write_all(text.as_bytes());
        }
    }

    pub(crate) fn summary(&self, c: &Compilation) {
        if self.quiet || self.format == ErrorFormat::Json {
            return;
        }
        let (e, w) = (c.errors(), c.warnings());
        if e > 0 || w > 0 {
            eprintln!(
                "{} error{}, {} warning{}",
                e,
                if e == 1 { "" } else { "s" },
                w,
                if w == 1 { "" } else { "s" }
            );
        }
    }
}

/// How tenants' apps are rendered (`--render`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Render {
    Shapes,
    PerTenant,
}

pub(crate) fn options(g: &Global, root: PathBuf) -> Options {
    let cache = if g.no_cache {
        None
    } else {
        g.cache_dir
            .clone()
            .or_else(jardin_eval::DiskCache::default_dir)
    };
    Options {
        root,
        cache,
        tenants: g.tenants.clone(),
        clusters: g.clusters.clone(),
        keep_objects: false,
        keep_flows: false,
        manifests_to: None,
        only: None,
        progress: progress::tenants_bar(g),
        import_root: g.import_root.clone(),
        reuse: None,
        render: match g.render {
            Render::Shapes => jardin_eval::RenderMode::Shapes,
            Render::PerTenant => jardin_eval::RenderMode::PerTenant,
        },
        limits: jardin_eval::Limits {
            time: std::time::Duration::from_secs(g.max_eval_seconds),
            memory: (g.max_eval_memory as usize).saturating_mul(1 << 20),
        },
    }
}

pub(crate) fn timings(g: &Global, c: &Compilation) {
    if g.verbose {
        let t = &c.timings;
        eprintln!(
            "tenants: {} ({} from cache, {} manifests linked from the previous output); tenants (evaluate, emit, validate, write) {:?}, rules {:?}, shared objects {:?}, graph {:?}, dns and coverage {:?}; objects: {}",
            t.tenants, t.cached, t.reused, t.tenants_phase, t.check, t.shared, t.graph, t.outputs, c.object_count()
        );
        let s = &c.shapes;
        if s.apps_from_shapes + s.apps_in_full > 0 {
            eprintln!(
                "apps rendered: {} from {} shapes, {} in full (the first of each shape, checked against it, and apps rendered per tenant)",
                s.apps_from_shapes, s.shapes, s.apps_in_full
            );
        }
        if s.tenants_settled_in_rust + s.tenants_settled_by_interpreter > 0 {
            eprintln!(
                "tenants' contracts: {} checked in Rust (plain data), {} by the interpreter",
                s.tenants_settled_in_rust, s.tenants_settled_by_interpreter
            );
        }
        for tenant in &s.settle_disagreements {
            eprintln!("tenant {tenant}: its contracts checked in Rust disagree with the interpreter's (a bug in jardin: please report it); the interpreter's result is used");
        }
        for (app, why) in &s.per_tenant_apps {
            eprintln!(
                "app {app} is rendered per tenant: {} (seen first in {})",
                why.reason, why.tenant
            );
        }
    }
}

/// Parses argv. A usage error exits 1, like any other error: clap's own
/// code for it is 2, which means "there are changes" to CI scripts that
/// run `jardin plan … || test $? -eq 2`. `--help` and `--version` exit 0.
pub(crate) fn parse() -> Result<Cli, i32> {
    Cli::try_parse().map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            exit::ERROR
        } else {
            exit::OK
        }
    })
}

pub(crate) fn run(cli: Cli) -> i32 {
    let out = Output::new(&cli.global);
    let g = &cli.global;
    match cli.command {
        Command::Check {
            root,
            deny_warnings,
        } => build::check(g, &out, root, deny_warnings),
        Command::Build { root, output } => build::build(g, &out, root, output),
        Command::Graph {
            root,
            format,
            flows,
        } => graph::graph(g, &out, root, format, flows),
        Command::Backup {
            command: BackupCommand::Coverage { root, format },
        } => backup::coverage(g, &out, root, format),
        Command::Plan(args) => plan::plan(g, &out, args),
        Command::Apply(args) => apply::apply(g, &out, args),
        Command::Diff(args) => diff::diff(g, &out, args),
        Command::Catalog { command } => catalog::catalog(&out, command),
        Command::Dns { command } => dns::dns(g, &out, command),
        Command::Stdlib {
            command: StdlibCommand::Path { write },
        } => catalog::stdlib_path(&out, write),
    }
}
