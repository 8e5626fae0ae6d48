//! The typed model: Rust mirrors of the stdlib contracts, deserialized from
//! evaluated JSON. Fields are already validated by the contracts; the rules
//! in `check` validate what spans files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::source::SourceMap;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SecretRef {
    pub name: String,
    pub key: String,
}

/// Where a secret comes from. Never a value: the contract rejects literals.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretSource {
    Generate(serde_json::Value),
    Ref(SecretRef),
    External(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Retention {
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

/// The night window in which `nightly` and `weekly` schedules are spread.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct BackupWindow {
    pub start_hour: u32,
    pub hours: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct BackupPolicy {
    pub target: String,
    /// `nightly`, or a five-field cron expression.
    pub schedule: String,
    pub retention: Retention,
    pub pitr_days: u32,
    #[serde(default)]
    pub encryption_key: Option<SecretSource>,
    /// `weekly`, or a five-field cron expression.
    pub verify_schedule: String,
    pub window: BackupWindow,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct PartialRetention {
    pub daily: Option<u32>,
    pub weekly: Option<u32>,
    pub monthly: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct PartialWindow {
    pub start_hour: Option<u32>,
    pub hours: Option<u32>,
}

/// A partial policy (a tenant's or an app's), merged field by field over
/// the policy it inherits.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct PolicyOverride {
    pub target: Option<String>,
    pub schedule: Option<String>,
    pub retention: Option<PartialRetention>,
    pub pitr_days: Option<u32>,
    pub encryption_key: Option<SecretSource>,
    pub verify_schedule: Option<String>,
    pub window: Option<PartialWindow>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CredentialKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct BackupTarget {
    pub endpoint: String,
    /// The endpoint's addresses (CIDRs), for NetworkPolicies, which cannot
    /// name a host; empty: every public address.
    #[serde(default)]
    pub addresses: Vec<String>,
    pub bucket: String,
    pub prefix: String,
    pub(crate) region: String,
    pub location: String,
    pub credentials: SecretSource,
    pub credential_keys: CredentialKeys,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SmtpRelay {
    pub host: String,
    pub port: u16,
    /// The relay's addresses (CIDRs); empty: every public address.
    #[serde(default)]
    pub addresses: Vec<String>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<SecretSource>,
    pub dkim_selector: String,
    pub spf_include: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Quotas {
    pub cpu: String,
    pub memory: String,
    pub storage: String,
    pub buckets: u32,
    pub max_apps: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Plan {
    pub(crate) description: String,
    pub quotas: Quotas,
    pub(crate) default_size: String,
    pub(crate) sizes: BTreeMap<String, String>,
    pub ha: bool,
    pub backup: PlanBackup,
}

/// A plan's backup class: a floor for overrides, and raised defaults.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PlanBackup {
    pub minimum_retention: Retention,
    pub minimum_pitr_days: u32,
    #[serde(default)]
    pub retention: Option<PartialRetention>,
    #[serde(default)]
    pub pitr_days: Option<u32>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PostgresService {
    pub cluster: String,
    pub namespace: String,
    pub version: u32,
    pub instances: u32,
    pub storage: String,
    pub extensions: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ObjectStore {
    pub bucket_class: String,
    pub endpoint: String,
    /// The endpoint's addresses (CIDRs); empty: every public address.
    #[serde(default)]
    pub addresses: Vec<String>,
    pub location: String,
    #[serde(default)]
    pub access_class: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Ingress {
    pub(crate) class: String,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
    pub hostname: String,
    pub(crate) cluster_issuer: String,
    /// Where the ingress controller runs.
    pub namespace: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct StorageClasses {
    pub rwo: String,
    pub(crate) rwx: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Capacity {
    pub cpu: String,
    pub memory: String,
    pub storage: String,
    pub nodes: u32,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ClusterServices {
    #[serde(default)]
    pub postgres: BTreeMap<String, PostgresService>,
    #[serde(default)]
    pub object_stores: BTreeMap<String, ObjectStore>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Cluster {
    pub location: String,
    pub(crate) kubernetes_version: String,
    pub ingress: Ingress,
    pub storage_classes: StorageClasses,
    pub capacity: Capacity,
    pub(crate) capabilities: Vec<String>,
    #[serde(default)]
    pub services: ClusterServices,
    /// Where the Kubernetes API server's endpoints listen, as pods reach
    /// them after the Service's address is translated.
    #[serde(default)]
    pub kubernetes_api: Option<KubernetesApi>,
    /// The cluster's DNS pods.
    #[serde(default)]
    pub dns: ClusterDns,
    /// The collective's own services on the cluster (SSO, office).
    #[serde(default)]
    pub shared: SharedServices,
}

/// The services a collective runs on a cluster for its tenants' apps:
/// compiled like a tenant of the collective's own (id [`SHARED_TENANT`]).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct SharedServices {
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub zones: Vec<String>,
    #[serde(default)]
    pub apps: BTreeMap<String, AppInstance>,
}

/// The tenant id the shared services are compiled under: their namespaces
/// are `jardin-<name>`, and no tenant may take the id.
pub const SHARED_TENANT: &str = "jardin";

/// The API server's endpoint addresses and port (`kubectl get endpoints
/// kubernetes`): a NetworkPolicy sees these, never the Service's address.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct KubernetesApi {
    pub addresses: Vec<String>,
    pub port: u16,
}

/// Where the cluster's DNS server runs.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ClusterDns {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
}

impl Default for ClusterDns {
    fn default() -> Self {
        ClusterDns {
            namespace: "kube-system".into(),
            labels: [("k8s-app".to_string(), "kube-dns".to_string())].into(),
        }
    }
}

impl Cluster {
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ZoneRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    pub ttl: Option<u32>,
}

/// A TSIG key reference: the secret itself is read at run time from the
/// environment or a file (see `dns::tsig`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TsigKeyRef {
    pub name: String,
    pub algorithm: String,
    pub secret: SecretSource,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct DeletionBudget {
    pub count: u32,
    pub percent: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Zone {
    pub provider: String,
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub tsig: Option<TsigKeyRef>,
    pub ttl: u32,
    pub exclusive: bool,
    pub hosts: String,
    pub nameservers: Vec<String>,
    pub caa_issuers: Vec<String>,
    pub matrix_delegation: String,
    pub deletion_budget: DeletionBudget,
    pub records: Vec<ZoneRecord>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Defaults {
    pub plan: String,
    #[serde(default)]
    pub backup: Option<BackupPolicy>,
}

/// `jardin.ncl`: the collective, its clusters, plans and shared services.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Collective {
    pub(crate) name: String,
    pub contact: String,
    pub dmarc_report: Option<String>,
    pub(crate) catalog_version: String,
    pub defaults: Defaults,
    pub plans: BTreeMap<String, Plan>,
    pub clusters: BTreeMap<String, Cluster>,
    pub backup_targets: BTreeMap<String, BackupTarget>,
    pub smtp_relays: BTreeMap<String, SmtpRelay>,
    pub zones: BTreeMap<String, Zone>,
    /// The settings of a zone a tenant lists that `zones` does not
    /// configure (the stdlib's defaults unless the collective sets them).
    pub zone_defaults: Zone,
    #[serde(default)]
    pub plan: PlanConfig,
}

/// `plan` in jardin.ncl: how plans are computed.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct PlanConfig {
    /// Fields that controllers own, left out of every comparison.
    #[serde(default)]
    pub ignore: Vec<IgnoreRule>,
}

/// One entry of the ignore list in jardin.ncl:
/// `plan.ignore = [{ kind = "Deployment", pointer = "/spec/replicas" }]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct IgnoreRule {
    /// A kind (`Deployment`) or `*` for every kind.
    pub kind: String,
    pub pointer: String,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Bindings {
    pub postgres: Option<String>,
    pub object_store: Option<String>,
    pub smtp: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AppInstance {
    pub app: String,
    pub version: Option<String>,
    pub host: String,
    pub aliases: Vec<String>,
    /// Hosts of the app's other parts, by the catalog's names.
    #[serde(default)]
    pub extra_hosts: BTreeMap<String, String>,
    pub(crate) size: Option<String>,
    pub replicas: Option<u32>,
    pub bindings: Bindings,
    pub(crate) secrets: BTreeMap<String, SecretSource>,
    pub backup: serde_json::Value,
    pub(crate) state: String,
    /// Office documents open in the cluster's shared office service.
    #[serde(default)]
    pub office: bool,
}

/// A tenant's single sign-on.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Identity {
    #[serde(default)]
    pub sso: bool,
    /// The realm's first users; `None`: the tenant's contacts.
    #[serde(default)]
    pub admins: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Mail {
    pub sending_domain: String,
    pub relay: String,
}

/// A tenant file, after the `Tenant` contract.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Tenant {
    pub id: String,
    pub display_name: String,
    pub contacts: Vec<String>,
    pub cluster: String,
    pub plan: Option<String>,
    pub state: String,
    pub zones: Vec<String>,
    #[serde(default)]
    pub identity: Identity,
    pub mail: Option<Mail>,
    #[serde(default)]
    pub backup: PolicyOverride,
    pub apps: BTreeMap<String, AppInstance>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ResolvedBindings {
    pub postgres: Option<String>,
    pub object_store: Option<String>,
    pub smtp: Option<String>,
}

/// An instance's size, as its plan and catalog entry give it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Resources {
    pub cpu: String,
    pub memory: String,
    pub storage: String,
}

/// One app instance after resolution against the collective and catalog.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CompiledApp {
    pub app: String,
    pub version: Option<String>,
    pub namespace: String,
    pub host: String,
    pub hosts: Vec<String>,
    pub(crate) size: String,
    pub(crate) state: String,
    pub bindings: ResolvedBindings,
    pub missing_services: Vec<String>,
    /// False when a reference could not be resolved; `check` says which.
    pub rendered: bool,
    #[serde(default)]
    pub(crate) image: Option<String>,
    #[serde(default)]
    pub(crate) replicas: Option<u32>,
    #[serde(default)]
    pub resources: Option<Resources>,
    /// The objects the catalog's render function produced; moved out
    /// when the tenant is emitted.
    pub objects: Vec<serde_json::Value>,
    /// What the cross-tenant rules read of them, kept once they are
    /// emitted (`crate::facts`).
    #[serde(skip)]
    pub facts: Vec<crate::facts::ObjectFacts>,
    /// The network flows the instance needs, resolved against its cluster
    /// (`emit::flows`), then those of its backup pods (`backup::derive`).
    #[serde(default)]
    pub flows: Vec<Flow>,
}

/// Which way a flow goes, seen from the app's pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Egress,
    Ingress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Egress => "egress",
            Direction::Ingress => "ingress",
        }
    }
}

/// A flow an app's pods need, resolved: what the NetworkPolicies of its
/// namespace must allow, and all they may allow.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Flow {
    /// The flow in words, for messages: `nextcloud → postgres`.
    pub name: String,
    /// Why it is needed, and the document that says so.
    pub why: String,
    pub direction: Direction,
    /// Short name of the pods it concerns (a component, `k8up`…): the
    /// NetworkPolicy that allows it is named after it.
    pub group: String,
    /// The labels of the pods it concerns, in the app's namespace.
    pub pods: BTreeMap<String, String>,
    pub peer: Peer,
    /// Empty: every port (never declared by the catalog).
    pub ports: Vec<FlowPort>,
}

/// The other end of a flow.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    /// Pods with these labels, in `namespace` (`None`: the app's own).
    Pods {
        namespace: Option<String>,
        labels: BTreeMap<String, String>,
    },
    /// Addresses outside the cluster's pods.
    Block { cidr: String, except: Vec<String> },
    /// An address the model does not know: `missing` says what to set.
    Unknown { missing: String },
}

/// A port of a flow; `port: None` is every port of the protocol.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
pub struct FlowPort {
    pub protocol: String,
    pub port: Option<u16>,
}

/// What evaluating one tenant file gives.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct CompiledTenant {
    pub tenant: Tenant,
    pub plan: String,
    pub apps: BTreeMap<String, CompiledApp>,
}

/// A tenant with where it came from.
#[derive(Clone, Debug)]
pub struct TenantUnit {
    pub compiled: CompiledTenant,
    pub source_map: SourceMap,
    pub from_cache: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresNeed {
    pub min_version: u32,
    pub extensions: Vec<String>,
    pub collation: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BucketNeed {
    pub purpose: String,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requires {
    pub postgres: Option<PostgresNeed>,
    #[serde(default)]
    pub buckets: Vec<BucketNeed>,
    #[serde(default)]
    pub smtp: bool,
    /// A MariaDB server of the app's own, which jardin runs
    /// (`emit::services`).
    #[serde(default)]
    pub mariadb: Option<MariadbNeed>,
    /// A Redis server of the app's own, which jardin runs.
    #[serde(default)]
    pub redis: Option<RedisNeed>,
    /// A MongoDB replica set of the app's own, which jardin runs.
    #[serde(default)]
    pub mongodb: Option<MongodbNeed>,
}

/// What an app needs of its MongoDB server.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MongodbNeed {
    /// The oldest release the app supports, as "major.minor".
    pub min_version: String,
}

/// What an app needs of its MariaDB server.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MariadbNeed {
    /// The oldest release the app supports, as "major.minor".
    pub min_version: String,
}

/// What an app needs of its Redis server.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedisNeed {
    /// The data outlives a restart (append-only file on a volume): the app
    /// keeps queues there, not only a cache.
    #[serde(default)]
    pub persistent: bool,
}

/// A piece of data an app keeps, as its catalog entry declares it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StateItem {
    pub name: String,
    pub kind: StateKind,
    pub criticality: String,
}

/// What kind of storage a piece of state is; each has its backup method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StateKind {
    Database,
    Bucket,
    Volume,
    /// The app's own MariaDB server (`requires.mariadb`), dumped.
    Mariadb,
    /// The app's own MongoDB replica set (`requires.mongodb`), dumped.
    Mongodb,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretDecl {
    pub keys: Vec<String>,
    pub encrypts_data: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Versions {
    pub default: String,
    pub available: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SizeProfile {
    pub cpu: String,
    pub memory: String,
    pub storage: String,
    pub replicas: u32,
}

/// A catalog app's metadata (everything but its render function).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogApp {
    pub id: String,
    pub description: String,
    pub versions: Versions,
    pub requires: Requires,
    pub state: Vec<StateItem>,
    pub secrets: BTreeMap<String, SecretDecl>,
    pub sizes: BTreeMap<String, SizeProfile>,
    /// Components that cannot run more than one replica, even on a highly
    /// available plan.
    pub singletons: Vec<String>,
    /// The Pod Security Standards level the app's namespace enforces.
    pub pod_security: String,
    /// The network flows the app needs: its namespace allows these, and
    /// nothing else.
    #[serde(default)]
    pub flows: Vec<FlowNeed>,
    /// What the app offers its cluster's tenants as a shared service:
    /// `sso` or `office`.
    #[serde(default)]
    pub provides: Option<String>,
    /// How the app signs in with OIDC, when it can.
    #[serde(default)]
    pub oidc: Option<OidcNeed>,
    /// The app opens office documents with the shared office service.
    #[serde(default)]
    pub office: bool,
    /// The app answers on its host's `www.` twin too, and redirects it.
    #[serde(default)]
    pub www_twin: bool,
    /// A Matrix homeserver for its zone: the apex delegates to it.
    #[serde(default)]
    pub matrix_server: bool,
    /// Hosts of its own beside the main one, by name, with what each serves.
    #[serde(default)]
    pub extra_hosts: BTreeMap<String, String>,
    /// The upstream documents its facts come from.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Its settings' defaults (`{} | Settings`), for its docs page.
    #[serde(default)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// An app's OIDC client, as its catalog entry declares it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcNeed {
    /// Paths of its redirect URIs, on each of its hosts.
    pub redirect_paths: Vec<String>,
    #[serde(default)]
    pub logout_paths: Vec<String>,
    /// It has no login of its own.
    #[serde(default)]
    pub required: bool,
}

/// A flow as a catalog entry declares it, before it is resolved against
/// a cluster (`emit::flows`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FlowNeed {
    /// The component whose pods need it, or `*` for every pod of the app.
    pub component: String,
    pub direction: Direction,
    /// `dns`, `postgres`, `smtp`, `object_store`, `kubernetes_api`,
    /// `ingress_controller`, `acme_http01`, `internet`, `anywhere` or
    /// `component`.
    pub peer: String,
    #[serde(default)]
    pub peer_component: Option<String>,
    #[serde(default)]
    pub ports: Vec<PortNeed>,
    pub why: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PortNeed {
    #[serde(default)]
    pub port: Option<u16>,
    pub protocol: String,
}

pub type Catalog = BTreeMap<String, CatalogApp>;
