//! jardin's network clients, and the only crate that opens sockets: the
//! Kubernetes API through kube-rs (`kube`), and authoritative DNS servers
//! through AXFR reads (`axfr`) and RFC 2136 updates (`update`), signed with
//! TSIG keys that never print their secret (`tsig`). Everything they read
//! is handed to jardin-compiler through its live-state traits.

pub mod apply;
pub mod axfr;
pub(crate) mod kube;
pub mod tsig;
pub mod update;

use std::path::PathBuf;

use jardin_compiler::live::snapshot::Snapshot;
use jardin_compiler::live::{LiveArg, LiveSource, SourceSpec};
use jardin_core::code;
use jardin_core::diag::Diagnostic;

use crate::kube::KubeSource;

/// The source for each cluster, resolved from the `--live` arguments.
pub fn live_source(args: &[LiveArg], cluster: &str) -> Result<Box<dyn LiveSource>, Diagnostic> {
    let explicit = args.iter().find(|a| a.cluster.as_deref() == Some(cluster));
    let arg = explicit.or_else(|| args.iter().find(|a| a.cluster.is_none()));
    let Some(arg) = arg else {
        return Err(Diagnostic::error(
            code::NO_LIVE_SOURCE,
            format!("no live state given for cluster \"{cluster}\""),
        )
        .with_help(format!(
            "pass --live {cluster}=PATH (a snapshot) or --live {cluster}=kube:CONTEXT, or restrict the plan with --cluster"
        )));
    };
    match &arg.spec {
        SourceSpec::Snapshot(path) => Ok(Box::new(Snapshot::for_cluster(
            path,
            cluster,
            arg.cluster.is_some(),
        )?)),
        SourceSpec::Kube { context } => Ok(Box::new(KubeSource {
            context: context.clone().unwrap_or_else(|| cluster.to_string()),
            kubeconfig: std::env::var_os("KUBECONFIG").map(PathBuf::from),
        })),
    }
}
