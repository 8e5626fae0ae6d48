//! The live state of a cluster through the Kubernetes API (kube-rs).
//!
//! Deliberately thin: one `list` per kind with jardin's label selector, all
//! kinds in parallel, pages of 500, never a GET per object. Everything else
//! (normalizing, diffing) happens on the same JSON values a snapshot gives.
//! No API server can run on our machines: this layer is tested only against
//! recorded list responses served from 127.0.0.1 (tests/plan.rs).

use std::path::PathBuf;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use jardin_compiler::live::{is_managed, slim, KindRef, LiveObject, LiveSource};
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_core::kube::{group_of, version_of, SELECTOR};

pub(crate) struct KubeSource {
    pub(crate) context: String,
    /// `$KUBECONFIG` when set (first file), else kube's default lookup.
    pub(crate) kubeconfig: Option<PathBuf>,
}

fn error(context: &str, message: String) -> Diagnostic {
    Diagnostic::error(code::CLUSTER_UNREACHABLE, message).with_help(format!(
        "check the kubeconfig context \"{context}\" (`kubectl --context {context} get ns`), or plan against a snapshot with --live PATH"
    ))
}

impl KubeSource {
    pub(crate) async fn client(&self) -> Result<kube::Client, Diagnostic> {
        let kubeconfig = match &self.kubeconfig {
            Some(p) => {
                // KUBECONFIG may list several files; kube merges them.
                let first = std::env::split_paths(p).next().unwrap_or_else(|| p.clone());
                Kubeconfig::read_from(&first)
            }
            None => Kubeconfig::read(),
        }
        .map_err(|e| error(&self.context, format!("cannot read the kubeconfig: {e}")))?;
        let options = KubeConfigOptions {
            context: Some(self.context.clone()),
            ..KubeConfigOptions::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| {
                error(
                    &self.context,
                    format!("kubeconfig context \"{}\": {e}", self.context),
                )
            })?;
        kube::Client::try_from(config)
            .map_err(|e| error(&self.context, format!("cannot build a client: {e}")))
    }

    async fn list_all(
        &self,
        cluster: &str,
        kinds: &[KindRef],
    ) -> Result<Vec<LiveObject>, Diagnostic> {
        let client = self.client().await?;
        let mut tasks = tokio::task::JoinSet::new();
        for (i, k) in kinds.iter().enumerate() {
            let gvk = GroupVersionKind::gvk(
                group_of(&k.api_version),
                version_of(&k.api_version),
                &k.kind,
            );
            let resource = ApiResource::from_gvk(&gvk);
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            // An older cluster serves some kinds only in a beta version
            // with the same fields: read them there when the version
            // asked for is not served.
            let older = crate::apply::served_instead(&gvk.group, &gvk.kind).map(|v| {
                let gvk = GroupVersionKind::gvk(&gvk.group, v, &gvk.kind);
                Api::<DynamicObject>::all_with(client.clone(), &ApiResource::from_gvk(&gvk))
            });
            let kind = k.clone();
            tasks.spawn(async move {
                let mut listed = list_kind(api, &kind).await;
                if let (Ok(None), Some(older)) = (&listed, older) {
                    listed = list_kind(older, &kind).await;
                }
                (
                    i,
                    listed.map(Option::unwrap_or_default).map_err(|e| (kind, e)),
                )
            });
        }
        let mut results: Vec<(usize, Vec<Value>)> = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let (i, result) =
                joined.map_err(|e| error(&self.context, format!("a list task failed: {e}")))?;
            match result {
                Ok(items) => results.push((i, items)),
                Err((kind, e)) => {
                    return Err(error(
                        &self.context,
                        format!(
                            "cannot list {} ({}) in cluster \"{cluster}\": {}",
                            kind.kind,
                            kind.api_version,
                            describe_error(&e)
                        ),
                    ))
                }
            }
        }
        results.sort_by_key(|(i, _)| *i);
        Ok(results
            .into_iter()
            .flat_map(|(_, items)| items)
            .filter(is_managed)
            .map(|value| LiveObject {
                cluster: cluster.to_string(),
                value: slim(value),
            })
            .collect())
    }
}

// A decoding error could quote part of the body (a Secret's data): name
// only the position.
fn describe_error(e: &kube::Error) -> String {
    match e {
        kube::Error::SerdeError(se) => format!(
            "the response is not a valid list (line {}, column {})",
            se.line(),
            se.column()
        ),
        other => other.to_string(),
    }
}

/// Every page of one kind's label-selected list; None when the server does
/// not serve the kind (its CRD is not installed): it has no objects.
async fn list_kind(
    api: Api<DynamicObject>,
    kind: &KindRef,
) -> Result<Option<Vec<Value>>, kube::Error> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().labels(SELECTOR).limit(500);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = match api.list(&params).await {
            Ok(p) => p,
            Err(kube::Error::Api(status)) if status.code == 404 && out.is_empty() => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        for item in page.items {
            let Ok(mut value) = serde_json::to_value(&item) else {
                continue;
            };
            // List items from the API server carry no apiVersion/kind.
            value["apiVersion"] = Value::String(kind.api_version.clone());
            value["kind"] = Value::String(kind.kind.clone());
            out.push(value);
        }
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(Some(out));
        }
    }
}

impl LiveSource for KubeSource {
    fn list(&self, cluster: &str, kinds: &[KindRef]) -> Result<Vec<LiveObject>, Diagnostic> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| {
                error(
                    &self.context,
                    format!("cannot start the async runtime: {e}"),
                )
            })?;
        runtime.block_on(self.list_all(cluster, kinds))
    }

    fn describe(&self) -> String {
        format!("kube context {}", self.context)
    }
}
