//! The tenants progress bar: on stderr, only when it is a terminal and the
//! user asked for neither `-q` nor JSON diagnostics, so logs and CI output
//! never carry it.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{ErrorFormat, Global};
use jardin_compiler::pipeline::Progress;

/// Below this many tenants a compilation is over before a bar is useful.
const FEW_TENANTS: usize = 200;

#[derive(Debug)]
struct TenantsBar {
    bar: ProgressBar,
}

impl Progress for TenantsBar {
    fn start(&self, tenants: usize) {
        if tenants < FEW_TENANTS {
            return;
        }
        self.bar.reset();
        self.bar.set_length(tenants as u64);
        self.bar.set_draw_target(ProgressDrawTarget::stderr());
        self.bar.enable_steady_tick(Duration::from_millis(200));
    }

    fn tenant_done(&self) {
        self.bar.inc(1);
    }

    fn finish(&self) {
        // Cleared, so that diagnostics and summaries print on a clean line.
        self.bar.finish_and_clear();
        self.bar.set_draw_target(ProgressDrawTarget::hidden());
    }
}

/// A bar for the tenants phase, where one is wanted.
pub(crate) fn tenants_bar(g: &Global) -> Option<Arc<dyn Progress>> {
    let wanted =
        !g.quiet && g.error_format == ErrorFormat::Human && std::io::stderr().is_terminal();
    wanted.then(|| {
        let style = ProgressStyle::with_template(
            "{spinner} compiling tenants {bar:30} {pos}/{len} ({elapsed}, about {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("█▉▊▋▌▍▎▏ ");
        let bar =
            ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()).with_style(style);
        Arc::new(TenantsBar { bar }) as Arc<dyn Progress>
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bar counts every tenant and clears itself, drawn or not.
    #[test]
    fn counts_tenants_and_clears() {
        let bar = TenantsBar {
            bar: ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()),
        };
        bar.start(FEW_TENANTS);
        for _ in 0..FEW_TENANTS {
            bar.tenant_done();
        }
        assert_eq!(bar.bar.position(), FEW_TENANTS as u64);
        assert_eq!(bar.bar.length(), Some(FEW_TENANTS as u64));
        bar.finish();
        assert!(bar.bar.is_finished());
        assert!(bar.bar.is_hidden());
    }
}
