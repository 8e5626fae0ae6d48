//! `jardin catalog` and `jardin stdlib`.

use std::path::PathBuf;

use super::{exit, CatalogCommand, Output};
use jardin_compiler::{catalog_page, pipeline};
use jardin_core::code;
use jardin_core::diag::Diagnostic;

pub(super) fn catalog(out: &Output, command: CatalogCommand) -> i32 {
    let catalog = match pipeline::catalog() {
        Ok(c) => c,
        Err(d) => {
            out.diagnostics(&d);
            return exit::ERROR;
        }
    };
    match command {
        CatalogCommand::List => {
            for (id, app) in catalog {
                println!("{id:<12} {:<14} {}", app.versions.default, app.description);
            }
            exit::OK
        }
        CatalogCommand::Show { app, json } => match catalog.get(&app) {
            Some(a) if json => {
                println!("{}", serde_json::to_string_pretty(a).unwrap_or_default());
                exit::OK
            }
            Some(a) => {
                print!("{}", catalog_page::page(a));
                exit::OK
            }
            None => {
                out.diagnostics(&[Diagnostic::error(
                    code::UNKNOWN_APP,
                    format!("unknown app \"{app}\""),
                )
                .with_help(jardin_core::diag::hint(
                    &app,
                    catalog.keys().map(String::as_str),
                ))]);
                exit::ERROR
            }
        },
        CatalogCommand::Docs { out: dir } => {
            for (id, app) in catalog {
                let path = dir.join(format!("{id}.md"));
                if let Err(e) = std::fs::create_dir_all(&dir)
                    .and_then(|()| std::fs::write(&path, catalog_page::page(app)))
                {
                    out.diagnostics(&[Diagnostic::error(
                        code::CANNOT_WRITE,
                        format!("cannot write {}: {e}", path.display()),
                    )]);
                    return exit::ERROR;
                }
                println!("{}", path.display());
            }
            exit::OK
        }
    }
}

pub(super) fn stdlib_path(out: &Output, write: Option<PathBuf>) -> i32 {
    let dir = write
        .or_else(|| jardin_eval::DiskCache::default_dir().map(|d| d.join("stdlib")))
        .unwrap_or_else(|| PathBuf::from("jardin-stdlib"));
    match jardin_eval::write_library(&dir) {
        Ok(()) => {
            println!("{}", dir.display());
            exit::OK
        }
        Err(e) => {
            out.diagnostics(&[Diagnostic::error(
                code::CANNOT_WRITE,
                format!("cannot write {}: {e}", dir.display()),
            )]);
            exit::ERROR
        }
    }
}
