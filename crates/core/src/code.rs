//! Every diagnostic code jardin raises, in one typed registry.
//!
//! A diagnostic is raised by constant (`Diagnostic::error(code::DUPLICATE_HOST,
//! ...)`), so a code cannot be raised without being registered here with
//! its title and its doc paragraph; docs/DIAGNOSTICS.md is generated from
//! [`ALL`], and a test checks that every code has a fixture that raises it.

use std::fmt;

/// A diagnostic code: stable, with a title and a doc paragraph. It is
/// private to this module: the only codes there are, are the constants
/// below. One pointer wide, so that diagnostics stay small.
#[derive(Clone, Copy)]
pub struct Code(&'static Entry);

struct Entry {
    id: &'static str,
    title: &'static str,
    doc: &'static str,
}

impl PartialEq for Code {
    fn eq(&self, other: &Code) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for Code {}

impl PartialOrd for Code {
    fn partial_cmp(&self, other: &Code) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Code {
    fn cmp(&self, other: &Code) -> std::cmp::Ordering {
        self.0.id.cmp(other.0.id)
    }
}

impl std::hash::Hash for Code {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

impl Code {
    /// `J` and four digits: the first two give the family (00 evaluation,
    /// 01 references, 02 names, 03 services, 04 DNS, 05 backup, 06 live
    /// state, 07 secrets and review, 08 capacity and the graph, 09 schemas).
    pub fn id(self) -> &'static str {
        self.0.id
    }

    pub fn title(self) -> &'static str {
        self.0.title
    }

    /// The paragraph docs/DIAGNOSTICS.md shows.
    pub fn doc(self) -> &'static str {
        self.0.doc
    }

    /// The code's constant name in this module (`DUPLICATE_HOST`).
    pub fn name(self) -> &'static str {
        NAMES[ALL.iter().position(|c| *c == self).unwrap_or(0)]
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.id)
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.id)
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.0.id == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.0.id == *other
    }
}

/// Looks a code up by its id (`J0210`).
pub fn by_id(id: &str) -> Option<Code> {
    ALL.iter().copied().find(|c| c.id() == id)
}

macro_rules! registry {
    ($($name:ident = $id:literal, $title:literal, $doc:literal;)*) => {
        $(
            #[doc = concat!($id, ": ", $title, ".")]
            pub const $name: Code = Code(&Entry { id: $id, title: $title, doc: $doc });
        )*
        /// Every code, in id order.
        pub static ALL: &[Code] = &[$($name),*];
        static NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

registry! {
    SYNTAX_ERROR = "J0001", "syntax error",
        "A Nickel file does not parse. The diagnostic points at the first token the parser could not accept.";
    CONTRACT_VIOLATION = "J0002", "contract violation",
        "A value does not satisfy the stdlib contract of its field: a wrong type, a missing or misspelt field, a value out of range. The message names the full field path; the help names the contract and suggests the closest field name for a misspelling.";
    NOT_EXPORTABLE = "J0003", "not exportable",
        "The evaluated config contains something that is not data (a function, a number too large for JSON).";
    IMPORT_FAILED = "J0004", "import failed",
        "A Nickel `import` could not be resolved. Imports resolve relative to the importing file, then in the embedded library (`jardin/std.ncl`, `jardin/catalog/*.ncl`).";
    CANNOT_READ = "J0005", "cannot read",
        "A file or directory of the config root could not be read.";
    INTERPRETER_CRASH = "J0006", "interpreter crash",
        "The Nickel interpreter panicked on this file. jardin caught it; the other files are still checked. Simplify the file around recent changes to work around it and report it.";
    MODEL_MISMATCH = "J0007", "model mismatch",
        "The evaluated value does not match jardin's Rust model: the stdlib and the compiler disagree. This is a bug in jardin.";
    CANNOT_WRITE = "J0008", "cannot write",
        "The output could not be written. The previous output directory is left as it was.";
    IMPORT_OUTSIDE_ROOT = "J0009", "import outside the config root",
        "A file may import only files under the config root (the directory holding `jardin.ncl`) and jardin's embedded library (`jardin/...`). An absolute path, a `..` that leaves the root, a symbolic link whose target leaves it, or a package import is refused before anything is read, so that no file outside the root can reach an output, a review comment or a diagnostic (docs/SECURITY.md).";
    EVALUATION_TIMEOUT = "J0010", "evaluation took too long",
        "Evaluating one file took longer than its time budget (`--max-eval-seconds`, 30 seconds by default). Evaluation of that file is stopped; the other files are still checked. Usually an unbounded or exponential recursion.";
    EVALUATION_MEMORY = "J0011", "evaluation used too much memory",
        "Evaluating one file allocated more than its memory budget (`--max-eval-memory`, 1024 MiB by default). Evaluation of that file is stopped; the other files are still checked. Usually an unbounded recursion or a huge generated array.";
    INPUT_TOO_LARGE = "J0012", "input too large or too deeply nested",
        "A config file is larger than 1 MiB, nests brackets more than 64 deep, or its expressions nest more than 512 deep (a very long chain of operators or applications), or an evaluated value nests more than 64 deep. jardin refuses it before parsing or exporting, so that a hostile file cannot exhaust the parser or the stack.";
    UNKNOWN_CLUSTER = "J0101", "unknown cluster",
        "A tenant names a cluster that `jardin.ncl` does not declare.";
    UNKNOWN_PLAN = "J0102", "unknown plan",
        "A tenant, or the collective's `defaults.plan`, names a plan that `plans` does not declare.";
    UNKNOWN_APP = "J0103", "unknown app",
        "An app instance names a catalog app that does not exist. `jardin catalog list` shows the catalog.";
    UNKNOWN_VERSION = "J0104", "unknown version",
        "An app instance pins a version that the catalog app does not offer.";
    UNKNOWN_SERVICE = "J0105", "unknown service",
        "A binding (`bindings.postgres`, `bindings.object_store`, `bindings.smtp`, or `mail.relay`) names a service that the tenant's cluster or the collective does not offer.";
    MISSING_SERVICE = "J0106", "required service missing",
        "An app requires a service (a Postgres database, an object store, an SMTP relay) and the tenant's cluster offers none.";
    UNKNOWN_BACKUP_TARGET = "J0107", "unknown backup target",
        "The collective's default backup policy names a target that `backup_targets` does not declare.";
    TENANT_FILE_NAME = "J0120", "tenant id differs from its file name",
        "A tenant file is named after the tenant's id (`tenants/<id>.ncl`), so that each tenant is defined once and found by name. Two files can then never define the same tenant.";
    INVALID_HOSTNAME = "J0201", "invalid hostname",
        "A hostname is not a valid DNS name: labels of 1 to 63 lowercase letters, digits or '-', at most 253 characters, no trailing dot. Raised by the `Hostname` contract.";
    INVALID_IDENTIFIER = "J0202", "invalid identifier",
        "An identifier that becomes a Kubernetes name or a DNS label (a tenant id, a realm) is not a DNS label. Raised by the `DnsLabel` contract.";
    DUPLICATE_HOST = "J0210", "hostname claimed twice",
        "Two app instances, in the same tenant or in different ones, serve the same hostname (a primary host or an alias; compared without case). The ingress controller would route it to only one of them, and certificates would be issued twice. Each hostname belongs to exactly one app. The same holds for the paths an app routes on a host that is not its own (Synapse's `/.well-known/matrix` on its zone's apex): two Matrix servers in one zone would both claim to be that domain.";
    HOST_OUTSIDE_ZONE = "J0211", "hostname outside the tenant's zones",
        "A tenant serves a hostname that is neither one of the zones listed in its `zones` nor below one. jardin derives DNS records only inside zones a tenant owns, so the hostname would never resolve, and a tenant must not serve names of zones it does not own.";
    ZONE_OWNED_TWICE = "J0212", "zone owned by two tenants",
        "Two tenants list the same zone in `zones`. A zone has one owner, who decides what is served under it; shared zones would let one tenant claim the other's names.";
    RESERVED_TENANT_ID = "J0213", "reserved tenant id",
        "A tenant file uses the id `jardin`, which names the collective's own tenant: its shared services (single sign-on, office) are compiled under it, in namespaces `jardin-<name>`. A tenant with that id would share their namespaces and their place in every report.";
    WWW_TWIN_MISSING = "J0214", "www twin missing",
        "The app answers on both a domain and its `www.` name and redirects one to the other (its catalog entry says `www_twin = true`: wordpress). Its host is a tenant's zone apex or `www.` under it, and the other name is not among its `aliases`: visitors who type it get no site, and no certificate covers it. Add it to `aliases`.";
    OBJECT_NAME_UNUSABLE = "J0230", "object name unusable",
        "An object an app renders has a kind, a namespace or a name that can name neither a Kubernetes object nor a file of the output: a kind must be letters and digits, a namespace a DNS label, a name 1 to 253 characters, not `.` or `..`, without `/`, `%` or control characters, and `<kind>-<name>.yaml` at most 255 bytes (one file name). Each object is written to `k8s/<cluster>/<namespace>/<kind>-<name>.yaml`, so such a name could make the build write outside its output directory: the tenant's objects are not written, and nothing is published. The catalog app's render function (often a collective's own `catalog/` app) must be fixed.";
    INCOMPATIBLE_SERVICE = "J0301", "incompatible service",
        "An app is bound to a shared Postgres cluster that does not meet its needs: a major version below the app's minimum, or an extension the app needs that the cluster's image does not offer (Decidim's PostGIS). (A collation is not a cluster's: jardin creates each database with the one its app needs.) Or its catalog entry needs a newer MariaDB than the one jardin runs for it (docs/SERVICES.md). The app would fail at start or, worse, corrupt its data later.";
    MISSING_CAPABILITY = "J0302", "missing cluster capability",
        "An app needs an operator or CRD that its cluster does not declare in `capabilities`: cert-manager for TLS, CloudNativePG (`cnpg`) and the secret replicator for databases, COSI for buckets, the secret generator for generated secrets, k8up for volume backups. The objects jardin emits for it would be rejected or ignored by the cluster.";
    BINDING_CROSSES_CLUSTERS = "J0303", "binding crosses clusters",
        "A binding names a service that exists on another cluster than the tenant's. Apps reach only the services of their own cluster: move the tenant or bind a local service.";
    SSO_UNAVAILABLE = "J0304", "single sign-on without an SSO service",
        "A tenant sets `identity.sso = true` on a cluster whose `shared` services provide no single sign-on (no catalog app with `provides = \"sso\"`, such as keycloak). The tenant would get no realm, and its apps no client: declare the service in the cluster's `shared.apps`, or move the tenant.";
    OIDC_REQUIRED = "J0305", "app requires single sign-on",
        "An app whose catalog entry says `oidc.required` (it has no login of its own) is deployed for a tenant without a realm: the tenant has no `identity.sso`, or its cluster no SSO service. Nobody could sign in.";
    REDIRECT_OUTSIDE_ZONES = "J0306", "redirect URI outside the tenant's zones",
        "An OIDC client's redirect URI, made from an app's hosts and its catalog entry's `redirect_paths`, points at a host outside the zones its tenant owns (a path such as `@other.example/` changes the host). The realm would hand sign-in codes to a site the tenant does not own.";
    OFFICE_UNAVAILABLE = "J0307", "office without an office service",
        "An app sets `office = true`, but its cluster's `shared` services provide no office editor (no catalog app with `provides = \"office\"`, such as collabora), or the app's catalog entry cannot open office documents. Documents would not open: declare the service in the cluster's `shared.apps`, or remove `office`.";
    CNAME_CONFLICT = "J0401", "CNAME at an apex or beside other data",
        "A CNAME cannot live at a zone apex (where SOA and NS are) nor beside any other record at the same name (RFC 1034). Serve the apex with addresses (A/AAAA), or move the other data.";
    OWNER_CONFLICT = "J0402", "conflicting owners",
        "Two owners (apps, tenants, the zone's hand-written records) want different records of the same type at the same name. jardin does not pick one: remove one of them.";
    SEVERAL_SPF = "J0403", "more than one SPF record",
        "A name has several TXT records starting with `v=spf1`. Receivers then treat SPF as a permanent error and mail from the domain fails authentication. Merge them into one.";
    MAIL_AUTHENTICATION = "J0404", "sending domain without SPF, DKIM or DMARC",
        "A tenant sends mail from a domain that lacks one of SPF, DKIM or DMARC in the zones jardin writes. Mail would land in spam or be rejected. The hint names what is missing.";
    TTL_OUT_OF_RANGE = "J0405", "TTL out of range",
        "A zone or record TTL is outside 60 seconds to one week: too short floods the servers, too long makes changes take days.";
    INVALID_RECORD = "J0406", "invalid hand-written record",
        "A record in a zone's `records` has a name that is not a domain name (labels of letters, digits and '-', not starting or ending with '-', or service labels starting with '_'), an unknown type, or data that does not parse for its type.";
    MISSING_GLUE = "J0407", "nameserver without glue",
        "A nameserver of the zone lies inside the zone and has no address record in it: resolvers could never reach it, and `kzonecheck` rejects the zone.";
    DNS_SNAPSHOT_UNREADABLE = "J0420", "DNS snapshot unreadable",
        "A zone-file snapshot given to `jardin dns plan --snapshot` cannot be read or parsed.";
    DNS_SERVER_ERROR = "J0421", "DNS server unreachable or refusing",
        "The authoritative server could not be reached, or answered an AXFR or an update with an error.";
    DNS_PLAN_UNUSABLE = "J0422", "DNS plan file unusable",
        "A plan given to `jardin dns apply --plan` cannot be read, or was made for other zones.";
    DNS_DELETIONS_OVER_BUDGET = "J0423", "DNS deletions over budget",
        "The plan deletes more records than the budget allows (a count and a share of the zone). Nothing is applied without `--allow-deletes N`.";
    DNS_PROVIDER_UNPLANNABLE = "J0424", "DNS provider cannot be planned",
        "The zone's provider has no live source jardin can read (for example a zone written only as a file).";
    UNKNOWN_ZONE = "J0425", "unknown zone",
        "A zone named on the command line (`--zone`) is not one the config derives: no tenant lists it in `zones` and the collective does not configure it. The note suggests the closest name.";
    TSIG_KEY_UNUSABLE = "J0430", "TSIG key unusable",
        "The TSIG key named in the zone's config cannot be loaded from its environment variable or file, or is not valid. Its value is never printed.";
    TSIG_KEY_REFUSED = "J0431", "TSIG key refused",
        "The server refused the TSIG signature: a wrong key name, algorithm or secret.";
    DNS_UPDATE_UNENCODABLE = "J0432", "DNS update cannot be encoded",
        "A record of the plan cannot be turned into an RFC 2136 update (a name or data the wire format refuses).";
    ZONE_CHANGED = "J0433", "zone changed since the plan",
        "The zone's SOA on the server differs from the one the plan was computed against: someone changed the zone. Nothing was applied; plan again.";
    DNS_PLAN_CHANGE_REFUSED = "J0440", "saved DNS change not proposed now",
        "A change in a plan given to `jardin dns apply --plan` is not one that jardin proposes now, from the current config and the live zone: a record jardin does not own, a record the config does not ask for, or other data than jardin would write. The plan file is only what was reviewed; apply recomputes ownership and the changes, and sends nothing when a saved change is not among them. The file was edited, or the config changed since the plan: plan again and review.";
    DNS_PLAN_APPROVAL_MISMATCH = "J0441", "saved DNS plan's budget or approval differs",
        "A plan given to `jardin dns apply --plan` states a deletion count, a deletion budget, a zone size or an approval flag other than the ones apply recomputes from the current config and the live zone. Apply decides with its own figures and sends nothing: the plan was edited, or the config's `deletion_budget` changed since the plan.";
    DNS_PLAN_OTHER_SERVER = "J0442", "saved DNS plan made against another server",
        "A plan given to `jardin dns apply --plan` was read from another server than the one apply would change (the zone's `server`, or `--server`). Nothing is sent: pass `--server` with the plan's server if that is the one you meant.";
    DNS_CHANGES_NOT_REVIEWED = "J0443", "DNS changes left out of the saved plan",
        "Apply with `--plan` sends only the reviewed changes; jardin now also proposes changes the plan does not hold (the config changed since the plan). They are not applied, and apply exits 2: plan again to review them.";
    DNS_UPDATE_NOT_TAKEN = "J0444", "DNS change not taken by the server",
        "After an update, jardin reads the zone back: an RRset that is not what the update wrote was dropped or altered by the server, though it answered NOERROR. RFC 2136 servers silently ignore, for example, a CNAME added beside other data at the same name, or other data added beside a CNAME, and unify the TTLs of an RRset. The note says what the server holds instead.";
    BACKUP_UNCOVERED = "J0501", "state without backup",
        "A piece of state (a database, a bucket, a volume, a secret that encrypts data) that no policy covers. Every piece must be backed up or opted out with a written reason (`backup.exclude.<state> = \"...\"`, or the whole app with `backup.disabled.reason`). A piece is uncovered when there is no policy at all, when its cluster lacks the operator that would back it up (k8up, CloudNativePG), or when a database has no Postgres service bound.";
    BACKUP_SAME_PLACE = "J0502", "backup in the same place as the data",
        "A backup that burns with the datacenter is no backup: the target's `location` must differ from the cluster's location (databases, volumes, secrets) and from the bucket's object store (buckets: same location, or the same endpoint).";
    BACKUP_RETENTION = "J0503", "retention below the plan's minimum",
        "A plan sets a floor (`backup.minimum_retention`, `backup.minimum_pitr_days`); a tenant or an app may change its policy, but not keep fewer daily, weekly or monthly snapshots, or a shorter recovery window, than its plan promises.";
    BACKUP_NO_KEY = "J0504", "no encryption key",
        "Backups leave the cluster for someone else's storage: k8up encrypts each repository with the policy's `encryption_key` (a secret reference, never a value), and refuses to run without one.";
    BACKUP_BAD_SCHEDULE = "J0505", "schedule that cannot run",
        "A cron field out of range (minute 61, hour 24, month 13), a backwards range, a zero step, or a night window that is not within 24 hours. Caught at compile time rather than by an operator that silently never starts the job.";
    BACKUP_BAD_OVERRIDE = "J0506", "unreadable backup override",
        "An app's `backup` override with an unknown field (a typo would silently change nothing), or an `exclude` naming state that the app does not have.";
    NO_LIVE_SOURCE = "J0601", "no live source",
        "A cluster has no live source (`--live`), or a snapshot has no entry for it.";
    SNAPSHOT_UNREADABLE = "J0602", "live snapshot unreadable",
        "A live snapshot cannot be read or parsed. The error names a file and position, never a value.";
    CLUSTER_UNREACHABLE = "J0603", "cluster unreachable",
        "The cluster cannot be reached or listed: kubeconfig, context, or an API error.";
    LISTED_TWICE = "J0604", "object listed twice",
        "The same object appears twice in the live state (for example in two snapshot files).";
    PLAN_NOT_WRITTEN = "J0605", "plan not written",
        "The JSON plan cannot be written to the `-o` path.";
    PLAN_NOT_READ = "J0620", "plan file unreadable",
        "`jardin apply PLAN`: the file cannot be read, or is not a JSON plan written by `jardin plan -o`.";
    PLAN_STALE = "J0621", "plan stale",
        "`jardin apply PLAN` made the plan again and it is not the saved one: another jardin version, another scope, another config revision, or a live state that moved since (the message lists the objects). Nothing was touched; make and review a new plan.";
    APPLY_NEEDS_APPROVAL = "J0622", "apply needs approval",
        "The apply would do something only a flag allows: deletions over the budget (`--max-deletes`, `--max-delete-percent`), an immutable field (`--recreate KIND/NAMESPACE/NAME`), a shrinking volume, or applying a config without a reviewed plan (`--auto-approve`). Nothing was touched; the exit code is 3.";
    APPLY_DELETES_EVERYTHING = "J0623", "apply would delete everything",
        "The plan deletes every object jardin manages in a cluster and creates nothing there: almost always a broken config or the wrong cluster. Refused whatever the flags.";
    FIELD_CONFLICT = "J0624", "field owned by another manager",
        "Server-side apply refused a change to fields another field manager owns (`kubectl edit`, an operator). The message names the manager and its fields; `--force-conflicts` takes them over.";
    OBJECT_REJECTED = "J0625", "object rejected by the cluster",
        "The API server refused an object (validation, admission, a missing namespace). The message gives the server's reasons.";
    OBJECT_NOT_READY = "J0626", "object not ready",
        "An applied object did not become ready within its timeout, or failed (kstatus rules, docs/APPLY.md). The apply stopped before the next wave; the message gives the object's status and conditions.";
    KIND_NOT_SERVED = "J0627", "kind not served by the cluster",
        "The cluster does not serve a kind jardin emits (its CRD is not installed, or the Kubernetes version is too old).";
    DELETION_KEPT = "J0628", "deletion kept back",
        "`jardin apply` did not delete an object the plan proposed to delete: it holds state (`--allow-delete-state` allows it), or it is not in jardin's inventory (applied by another tool or before `jardin apply`), or its uid changed.";
    REPORT_NOT_WRITTEN = "J0629", "apply report not written",
        "The JSON report of `jardin apply --report FILE` cannot be written.";
    LITERAL_SECRET = "J0701", "literal secret",
        "A secret was written as a value in the config. Secrets are generated in the cluster (`{ generate = {} }`), referenced from an existing Secret (`{ ref = { name, key } }`) or read from outside by jardin itself (`{ external = \"env:VAR\" }`); never committed. Raised by the `SecretSource` contract.";
    GIT_FAILED = "J0710", "git unavailable",
        "`jardin diff` could not run git, or git failed while reading a revision's files from its objects into a temporary directory.";
    UNKNOWN_REVISION = "J0711", "unknown revision",
        "A revision given to `jardin diff` does not exist in the repository, or git refused the command. The message names the revision and what git said.";
    RWO_REPLICAS = "J0801", "replicas on a ReadWriteOnce volume",
        "A workload runs more than one replica and mounts a volume whose access mode is ReadWriteOnce. The replicas scheduled on another node cannot mount it and never start. Give the cluster a ReadWriteMany storage class (`storage_classes.rwx`) or run a single replica.";
    HA_SINGLE_REPLICA = "J0802", "single replica on a highly available plan",
        "The tenant's plan promises high availability, but one of its workloads would run a single replica, so a node failure or a drain takes the app down. Components that cannot run more than once are declared as `singletons` in the catalog and are exempt.";
    SINGLETON_REPLICAS = "J0803", "replicas for an app that runs one instance",
        "An app instance asks for `replicas` above 1, but every component of the app is declared a singleton in its catalog entry (`singletons`): its upstream cannot run two instances side by side (HedgeDoc keeps each note's live state in its one process). jardin runs one replica; remove `replicas`.";
    QUOTA_EXCEEDED = "J0810", "quota exceeded",
        "A tenant's apps ask more than its plan's quotas: CPU or memory requests (summed over replicas), storage of its volumes, number of buckets or number of apps. The diagnostic gives what is asked and what the plan allows; pick a larger plan or smaller sizes.";
    CAPACITY_EXCEEDED = "J0811", "cluster capacity exceeded",
        "The requests of every app placed on a cluster (CPU and memory summed over replicas, storage of volumes) exceed the capacity the cluster declares. Pods would stay pending. The diagnostic gives what is asked and what is available.";
    CAPACITY_NEARLY_USED = "J0812", "cluster capacity nearly used (warning)",
        "The requests placed on a cluster exceed 80% of its declared capacity: there is little room left for growth, rolling updates or a failed node.";
    NO_ROOM_FOR_NODE_LOSS = "J0813", "no room to lose a node (warning)",
        "A cluster hosts tenants on a highly available plan, but with one of its nodes lost the remaining capacity (capacity × (nodes − 1) / nodes) would not hold every request. High availability then holds only on paper.";
    UNREADABLE_QUANTITY = "J0814", "unreadable quantity",
        "A quantity jardin cannot count: in an app's rendered objects (a container's `resources.requests` or `resources.limits`, a volume claim's storage request), in a plan's `quotas` or in a cluster's `capacity`. It is outside the Kubernetes grammar (a number with an optional suffix: `n`, `u`, `m`, `k`, `M`, `G`, `T`, `P`, `E`, `Ki` to `Ei`, or an exponent such as `e3`), negative, or larger than 2^64 − 1 bytes or millicores. jardin never counts it as zero: the quotas and capacities that depend on it are not checked until it is fixed.";
    DERIVED_NAME_INVALID = "J0820", "derived name invalid",
        "A name jardin derives from the config is not valid where it is used: the namespace `<tenant>-<app>` must be a DNS label of at most 63 characters, and the database and role named after it must fit Postgres' 63-byte identifiers. Shorten the tenant id or the app's key.";
    DERIVED_NAMES_COLLIDE = "J0822", "derived names collide",
        "Two different app instances derive the same namespace (and database name): tenant `a-b` with app `c` and tenant `a` with app `b-c` both give `a-b-c`. Their objects would overwrite each other. Rename one app's key.";
    DEPENDENCY_CYCLE = "J0830", "dependency cycle",
        "The resources jardin would create need each other in a circle, so none can be created first. The diagnostic lists the whole path, each step pointing at the app it belongs to.";
    POD_SECURITY = "J0850", "pod refused by Pod Security",
        "A pod jardin emits, or one an operator will create from a jardin object (k8up's backup, check and prune pods, which get only the Schedule's pod security context), breaks the Pod Security Standards level its namespace enforces (`pod-security.kubernetes.io/enforce`): the API server would refuse it and nothing would run. The message names the object, the container and the field.";
    NETWORK_FLOW_BLOCKED = "J0860", "network flow blocked",
        "A flow an app needs (its catalog entry's `flows`, or its backup pods': DNS, its database, relay and object store, the ingress controller, the Kubernetes API…) is not allowed by the NetworkPolicies of its namespace, read as the cluster would read them: the app or its backup would fail at run time. The message names the flow, the pods, the port and the policies that select them; an address the cluster model lacks (`kubernetes_api`) is named with the field to set.";
    NETWORK_FLOW_UNDECLARED = "J0861", "network flow allowed but not declared",
        "A NetworkPolicy of an app's namespace allows traffic that no declared flow needs (a peer, a port, or every peer or port for an empty list), or a pod of the namespace is isolated by no policy, so everything is allowed to it. The message names the policy, the direction, the peer, the port and the pods. Declare the flow in the catalog entry (with why the app needs it) or narrow the policy.";
    BACKUP_CANNOT_RUN = "J0862", "backup cannot run",
        "A piece of state has a backup, but the backup could not run: the pod k8up starts is refused by its namespace's Pod Security level, a flow it needs (the backup target, the Kubernetes API, the object store, DNS) is blocked, or a credential it references (repository password, object-store keys, a bucket's credentials) is neither in the output nor generated. The piece counts as not covered in `backup/coverage.json`, which names what stands in the way.";
    SHARED_OBJECTS_LEFT_OUT = "J0870", "shared objects left out of a filtered build",
        "A build filtered with `--tenant` computes the objects tenants share (each shared CloudNativePG `Cluster` with every tenant's managed role, the database backups, the repository keys' replication) from every tenant on the selected tenants' clusters, not only the selected ones: a Cluster listing only the selected tenants' roles would drop every other tenant's role when applied. Another tenant file did not compile, so those objects cannot be complete: they are left out of the output, which holds only the selected tenants' own objects. Fix that tenant, or build without `--tenant`.";
    SCHEMA_VIOLATION = "J0901", "schema violation",
        "An emitted object does not validate against the JSON schema of its kind for the target Kubernetes version. It names the object and the JSON path; nothing is written.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_sorted_and_well_formed() {
        for pair in ALL.windows(2) {
            assert!(pair[0] < pair[1], "{} then {}", pair[0], pair[1]);
        }
        for c in ALL {
            let id = c.id();
            assert!(id.len() == 5 && id.starts_with('J'), "{id}");
            assert!(id[1..].bytes().all(|b| b.is_ascii_digit()), "{id}");
            assert!(!c.title().is_empty() && c.doc().ends_with('.'), "{id}");
        }
    }

    #[test]
    fn names_follow_the_constants() {
        assert_eq!(DUPLICATE_HOST.name(), "DUPLICATE_HOST");
        assert_eq!(SCHEMA_VIOLATION.name(), "SCHEMA_VIOLATION");
    }

    #[test]
    fn by_id_finds_every_code() {
        for c in ALL {
            assert_eq!(by_id(c.id()), Some(*c));
        }
        assert_eq!(by_id("J9999"), None);
    }
}
