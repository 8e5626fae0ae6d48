//! The Kubernetes vocabulary jardin shares across crates: the labels and
//! annotations it writes and selects on, and API version arithmetic.

/// The label every object jardin manages carries (`jardin`).
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The label naming the tenant an object belongs to.
pub const TENANT_LABEL: &str = "jardin.dev/tenant";
/// The ApplySet (kubectl's inventory) an object belongs to: its id.
pub const APPLYSET_PART_OF: &str = "applyset.kubernetes.io/part-of";
/// The label selector of everything jardin manages, for live listings.
pub const SELECTOR: &str = "app.kubernetes.io/managed-by=jardin";
/// Annotation read by the in-cluster secret generator: values are created
/// there, once, and never pass through jardin or git.
pub const GENERATE_ANNOTATION: &str = "secret-generator.v1.mittwald.de/autogenerate";
/// k8up skips a PersistentVolumeClaim annotated with this set to "false".
pub const K8UP_BACKUP_ANNOTATION: &str = "k8up.io/backup";
/// The generator's encoding of the values it creates (default: base64).
pub const GENERATE_ENCODING_ANNOTATION: &str = "secret-generator.v1.mittwald.de/encoding";

/// The secret replicator (mittwald's kubernetes-replicator): a Secret
/// annotated `replicate-from: NS/NAME` pulls its data from that Secret, which
/// must allow it (`replication-allowed` and the namespaces it allows).
pub const REPLICATE_FROM: &str = "replicator.v1.mittwald.de/replicate-from";
pub const REPLICATION_ALLOWED: &str = "replicator.v1.mittwald.de/replication-allowed";
pub const REPLICATION_ALLOWED_NAMESPACES: &str =
    "replicator.v1.mittwald.de/replication-allowed-namespaces";

/// `apps/v1` → `apps`, `v1` → `` (the core group).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// `apps/v1` → `v1`, `v1` → `v1`.
pub fn version_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or(api_version, |(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_versions() {
        assert_eq!(group_of("apps/v1"), "apps");
        assert_eq!(group_of("v1"), "");
        assert_eq!(version_of("postgresql.cnpg.io/v1"), "v1");
        assert_eq!(version_of("v1"), "v1");
    }
}
