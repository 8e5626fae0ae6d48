//! Pure derivation: the model → one [`ZoneData`] per zone.
//!
//! Zones are every apex in the collective's `zones` plus every apex a
//! tenant lists (with default settings when the collective says nothing).
//! A host belongs to the zone with the longest matching apex. Records the
//! data cannot be parsed for are kept out and reported by `rules`.

use std::collections::BTreeMap;

use super::{canonical_data, fqdn, txt_strings, Origin, OwnedRr, Owner, Rr, ZoneData};
use jardin_core::model::TenantUnit;
use jardin_core::model::{Catalog, Collective, Zone};

/// The marker label: `_jardin-owner.<name>` holds a TXT that lists which
/// types jardin owns at `<name>` (see `plan`).
pub(crate) const MARKER_LABEL: &str = "_jardin-owner";

/// A record whose data could not be parsed: reported by `rules` (J0406).
#[derive(Clone, Debug)]
pub(crate) struct Rejected {
    pub(crate) zone: String,
    pub(crate) name: String,
    pub(crate) rtype: String,
    pub(crate) value: String,
    pub(crate) reason: String,
    pub(crate) origin: Origin,
}

/// Everything derivation gives.
#[derive(Clone, Debug, Default)]
pub struct Derived {
    pub zones: Vec<ZoneData>,
    pub(crate) rejected: Vec<Rejected>,
}

/// Derives every zone. Deterministic: zones by apex, records sorted.
/// The catalog says which apps are Matrix homeservers for their zone
/// (`matrix_server`).
pub fn derive(collective: &Collective, catalog: &Catalog, tenants: &[TenantUnit]) -> Derived {
    let matrix_servers: Vec<&str> = catalog
        .iter()
        .filter(|(_, app)| app.matrix_server)
        .map(|(id, _)| id.as_str())
        .collect();
    let mut settings: BTreeMap<String, Zone> = collective
        .zones
        .iter()
        .map(|(apex, z)| (fqdn(apex), z.clone()))
        .collect();
    for t in tenants {
        for apex in &t.compiled.tenant.zones {
            settings
                .entry(fqdn(apex))
                .or_insert_with(|| collective.zone_defaults.clone());
        }
    }
    let mut b = Builder {
        zones: settings
            .iter()
            .map(|(apex, z)| {
                (
                    apex.clone(),
                    ZoneData {
                        apex: apex.clone(),
                        settings: z.clone(),
                        records: Vec::new(),
                    },
                )
            })
            .collect(),
        rejected: Vec::new(),
    };
    let contact_domain = collective
        .contact
        .rsplit('@')
        .next()
        .unwrap_or("invalid")
        .to_string();
    for (apex, z) in &settings {
        zone_records(&mut b, apex, z, collective, &contact_domain);
    }
    for t in tenants {
        tenant_records(&mut b, collective, t, &matrix_servers);
    }
    let mut zones: Vec<ZoneData> = b.zones.into_values().collect();
    for z in &mut zones {
        z.records
            .sort_by(|a, b| a.rr.cmp(&b.rr).then(a.owner.cmp(&b.owner)));
        // The same record wanted twice (two apps on one host, say) is one record.
        z.records.dedup_by(|a, b| a.rr == b.rr);
        add_markers(z);
    }
    Derived {
        zones,
        rejected: b.rejected,
    }
}

struct Builder {
    zones: BTreeMap<String, ZoneData>,
    rejected: Vec<Rejected>,
}

impl Builder {
    /// The apex of the zone `name` falls in (longest match).
    fn zone_of(&self, name: &str) -> Option<String> {
        // Walk the name's suffixes, longest first: O(labels), not O(zones).
        let name = fqdn(name);
        let mut rest = name.as_str();
        loop {
            if self.zones.contains_key(rest) {
                return Some(rest.to_string());
            }
            let (_, parent) = rest.split_once('.')?;
            if parent.is_empty() {
                return None;
            }
            rest = parent;
        }
    }

    /// Adds a record whose data is jardin's own (always parseable) or the
    /// user's (rejected with a reason when not).
    fn add(
        &mut self,
        name: &str,
        rtype: &str,
        ttl: Option<u32>,
        data: &str,
        owner: Owner,
        origin: Origin,
    ) {
        let name = fqdn(name);
        let Some(apex) = self.zone_of(&name) else {
            return;
        };
        let Some(zone) = self.zones.get_mut(&apex) else {
            return;
        };
        match valid_owner_name(&name).and_then(|()| canonical_data(rtype, data)) {
            Ok(data) => zone.records.push(OwnedRr {
                rr: Rr {
                    name,
                    rtype: rtype.to_ascii_uppercase(),
                    ttl: ttl.unwrap_or(zone.settings.ttl),
                    data,
                },
                owner,
                origin,
            }),
            Err(reason) => self.rejected.push(Rejected {
                zone: apex,
                name,
                rtype: rtype.to_string(),
                value: data.to_string(),
                reason,
                origin,
            }),
        }
    }
}

/// A record's owner name, absolute: labels of 1 to 63 letters, digits, `-`
/// or `_` (a `*` alone first), at most 253 characters. Anything else (a
/// newline would write another record into the zone file) is refused
/// before the name reaches a zone file or a DNS message.
/// A record's owner name: labels of letters, digits and '-', not starting
/// or ending with '-', or service labels starting with '_' (`_dmarc`);
/// a leading `*` for a wildcard. The DNS library reads nothing else back
/// from a zone file.
pub(crate) fn valid_owner_name(name: &str) -> Result<(), String> {
    let printable: String = name.escape_debug().take(80).collect();
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.is_empty() || bare.len() > 253 {
        return Err(format!(
            "the name \"{printable}\" is not 1 to 253 characters long"
        ));
    }
    for (i, label) in bare.split('.').enumerate() {
        let ok = (i == 0 && label == "*")
            || (!label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .enumerate()
                    .all(|(i, b)| b.is_ascii_alphanumeric() || b == b'-' || (b == b'_' && i == 0)));
        if !ok {
            return Err(format!(
                "the name \"{printable}\" is not a domain name (labels of letters, digits and '-', not starting or ending with '-', or starting with '_')"
            ));
        }
    }
    Ok(())
}

fn zone_records(b: &mut Builder, apex: &str, z: &Zone, c: &Collective, contact_domain: &str) {
    let owner = Owner::Zone {
        apex: apex.trim_end_matches('.').to_string(),
    };
    let at =
        |path: &str| Origin::Collective(format!("zones.{}.{path}", apex.trim_end_matches('.')));
    let nameservers: Vec<String> = if z.nameservers.is_empty() {
        vec![format!("ns1.{contact_domain}")]
    } else {
        z.nameservers.clone()
    };
    let hostmaster = c.contact.replacen('@', ".", 1);
    // The serial is a placeholder here: the writer puts the content hash in.
    let soa = format!(
        "{} {} 1 3600 900 1209600 {}",
        fqdn(&nameservers[0]),
        fqdn(&hostmaster),
        z.ttl.min(86400)
    );
    b.add(apex, "SOA", None, &soa, owner.clone(), at("nameservers"));
    for ns in &nameservers {
        b.add(
            apex,
            "NS",
            None,
            &fqdn(ns),
            owner.clone(),
            at("nameservers"),
        );
    }
    for issuer in &z.caa_issuers {
        b.add(
            apex,
            "CAA",
            None,
            &format!("0 issue {}", super::quote(issuer)),
            owner.clone(),
            at("caa_issuers"),
        );
    }
    for (i, r) in z.records.iter().enumerate() {
        let name = if r.name == "@" || r.name.is_empty() {
            apex.to_string()
        } else if r.name.ends_with('.') {
            r.name.clone()
        } else {
            format!("{}.{apex}", r.name)
        };
        let data = if r.kind.eq_ignore_ascii_case("TXT") && !r.value.trim_start().starts_with('"') {
            txt_strings(&r.value)
        } else {
            r.value.clone()
        };
        b.add(
            &name,
            &r.kind,
            r.ttl,
            &data,
            owner.clone(),
            at(&format!("records.{i}")),
        );
    }
}

fn tenant_records(b: &mut Builder, c: &Collective, unit: &TenantUnit, matrix_servers: &[&str]) {
    let t = &unit.compiled.tenant;
    if t.state == "archived" {
        return;
    }
    let Some(cluster) = c.clusters.get(&t.cluster) else {
        return;
    };
    let ingress = &cluster.ingress;
    // The hosts the tenant's apps serve: an apex one of them serves keeps
    // that app as the owner of its addresses, not a homeserver delegating.
    let served: std::collections::BTreeSet<String> = unit
        .compiled
        .apps
        .values()
        .flat_map(|a| std::iter::once(&a.host).chain(&a.hosts))
        .map(|h| fqdn(h))
        .collect();
    for (name, app) in &unit.compiled.apps {
        let owner = Owner::App {
            tenant: t.id.clone(),
            app: name.clone(),
        };
        let origin = Origin::Tenant(t.id.clone(), format!("apps.{name}.host"));
        let mut hosts = vec![app.host.clone()];
        hosts.extend(app.hosts.iter().cloned());
        hosts.sort();
        hosts.dedup();
        for host in &hosts {
            let host = fqdn(host);
            let Some(apex) = b.zone_of(&host) else {
                continue;
            };
            let address = host == apex
                || b.zones
                    .get(&apex)
                    .is_some_and(|z| z.settings.hosts == "address");
            web(b, &host, address, ingress, &owner, &origin);
            if host == apex {
                web(b, &format!("www.{apex}"), false, ingress, &owner, &origin);
            }
        }
        if matrix_servers.contains(&app.app.as_str()) {
            matrix(b, &app.host, &served, ingress, &owner, &origin);
        }
    }
    if let Some(mail) = &t.mail {
        mail_records(b, c, unit, mail);
    }
}

fn web(
    b: &mut Builder,
    host: &str,
    address: bool,
    ingress: &jardin_core::model::Ingress,
    owner: &Owner,
    origin: &Origin,
) {
    if address {
        for ip in &ingress.ipv4 {
            b.add(host, "A", None, ip, owner.clone(), origin.clone());
        }
        for ip in &ingress.ipv6 {
            b.add(host, "AAAA", None, ip, owner.clone(), origin.clone());
        }
    } else {
        b.add(
            host,
            "CNAME",
            None,
            &fqdn(&ingress.hostname),
            owner.clone(),
            origin.clone(),
        );
    }
}

/// Matrix federation. The homeserver's users are `@name:<zone apex>`, and
/// the apex delegates to the homeserver's host: the app serves
/// `/.well-known/matrix/*` on the apex (the default), so the apex points at
/// the ingress. With SRV delegation, `_matrix-fed._tcp` (Matrix spec 1.8,
/// which replaced `_matrix._tcp`) names the host, and the apex still needs
/// the ingress: a server reached through SRV must show a certificate for
/// the apex.
fn matrix(
    b: &mut Builder,
    host: &str,
    served: &std::collections::BTreeSet<String>,
    ingress: &jardin_core::model::Ingress,
    owner: &Owner,
    origin: &Origin,
) {
    let Some(apex) = b.zone_of(host) else {
        return;
    };
    if !served.contains(&apex) {
        web(b, &apex, true, ingress, owner, origin);
    }
    if b.zones
        .get(&apex)
        .is_some_and(|z| z.settings.matrix_delegation == "srv")
    {
        let data = format!("10 0 443 {}", fqdn(host));
        b.add(
            &format!("_matrix-fed._tcp.{apex}"),
            "SRV",
            None,
            &data,
            owner.clone(),
            origin.clone(),
        );
    }
}

fn mail_records(
    b: &mut Builder,
    c: &Collective,
    unit: &TenantUnit,
    mail: &jardin_core::model::Mail,
) {
    let t = &unit.compiled.tenant;
    let Some(relay) = c.smtp_relays.get(&mail.relay) else {
        return;
    };
    let owner = Owner::Mail {
        tenant: t.id.clone(),
    };
    let origin = Origin::Tenant(t.id.clone(), "mail.sending_domain".into());
    let domain = fqdn(&mail.sending_domain);
    let spf = match &relay.spf_include {
        Some(include) => format!("v=spf1 include:{} ~all", include.trim_end_matches('.')),
        None => format!("v=spf1 a:{} ~all", relay.host.trim_end_matches('.')),
    };
    b.add(
        &domain,
        "TXT",
        None,
        &txt_strings(&spf),
        owner.clone(),
        origin.clone(),
    );
    // The relay signs with its own key: the tenant's selector delegates to
    // the key the relay publishes under its own name.
    let selector = &relay.dkim_selector;
    b.add(
        &format!("{selector}._domainkey.{domain}"),
        "CNAME",
        None,
        &fqdn(&format!("{selector}._domainkey.{}", relay.host)),
        owner.clone(),
        origin.clone(),
    );
    let report = c.dmarc_report.as_deref().unwrap_or(&c.contact);
    let dmarc = format!("v=DMARC1; p=quarantine; adkim=r; aspf=r; rua=mailto:{report}");
    b.add(
        &format!("_dmarc.{domain}"),
        "TXT",
        None,
        &txt_strings(&dmarc),
        owner,
        origin,
    );
}

/// Adds one ownership marker per owned name: a TXT at
/// `_jardin-owner.<name>` whose strings are `jardin-owner` then one
/// `TYPE=owner` per RRset jardin writes at that name. SOA and apex NS are
/// the server's and are never marked.
pub(crate) fn add_markers(z: &mut ZoneData) {
    let markers = markers_for(z.records.iter(), &z.apex, z.settings.ttl, &[]);
    z.records.extend(markers);
    z.records
        .sort_by(|a, b| a.rr.cmp(&b.rr).then(a.owner.cmp(&b.owner)));
}

/// The marker records for `records`, leaving out the RRsets in `except`.
pub(crate) fn markers_for<'a>(
    records: impl Iterator<Item = &'a OwnedRr>,
    apex: &str,
    ttl: u32,
    except: &[super::RrKey],
) -> Vec<OwnedRr> {
    let mut by_name: BTreeMap<String, BTreeMap<String, std::collections::BTreeSet<String>>> =
        BTreeMap::new();
    for r in records {
        if !managed_type(&r.rr, apex) || is_marker(&r.rr.name) {
            continue;
        }
        if except
            .iter()
            .any(|(n, t)| *n == r.rr.name && *t == r.rr.rtype)
        {
            continue;
        }
        by_name
            .entry(r.rr.name.clone())
            .or_default()
            .entry(r.rr.rtype.clone())
            .or_default()
            .insert(r.owner.to_string());
    }
    let zone_owner = Owner::Zone {
        apex: apex.trim_end_matches('.').to_string(),
    };
    by_name
        .into_iter()
        .map(|(name, types)| {
            let mut strings = vec![super::quote("jardin-owner")];
            strings.extend(types.iter().map(|(t, owners)| {
                let owners: Vec<&str> = owners.iter().map(String::as_str).collect();
                super::quote(&format!("{t}={}", owners.join(",")))
            }));
            OwnedRr {
                rr: Rr {
                    name: marker_name(&name),
                    rtype: "TXT".into(),
                    ttl,
                    data: strings.join(" "),
                },
                owner: zone_owner.clone(),
                origin: Origin::Derived,
            }
        })
        .collect()
}

/// The marker's name for an owned name.
pub(crate) fn marker_name(name: &str) -> String {
    format!("{MARKER_LABEL}.{name}")
}

pub(crate) fn is_marker(name: &str) -> bool {
    name.starts_with(&format!("{MARKER_LABEL}."))
}

/// SOA and the apex NS belong to the server: never planned, never marked.
pub(crate) fn managed_type(rr: &Rr, apex: &str) -> bool {
    !(rr.rtype == "SOA" || (rr.rtype == "NS" && rr.name == apex))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model() -> (Collective, Vec<TenantUnit>) {
        let secret = json!({ "ref": { "name": "s", "key": "k" } });
        let mut b_org = crate::test_support::zone_settings_json(600);
        b_org["hosts"] = json!("address");
        b_org["matrix_delegation"] = json!("srv");
        let collective: Collective = serde_json::from_value(json!({
            "name": "C", "contact": "admin@c.org", "dmarc_report": null, "catalog_version": "1",
            "defaults": { "plan": "p", "backup": { "target": "t", "schedule": "0 1 * * *",
                "retention": { "daily": 1, "weekly": 1, "monthly": 1 }, "pitr_days": 1,
                "encryption_key": secret, "verify_schedule": "0 5 * * 0",
                "window": { "start_hour": 1, "hours": 4 } } },
            "plans": {}, "backup_targets": {},
            "clusters": { "k": { "location": "l", "kubernetes_version": "1.33",
                "ingress": { "class": "nginx", "ipv4": ["192.0.2.1"], "ipv6": ["2001:db8::1"],
                    "hostname": "ingress.c.org", "cluster_issuer": "letsencrypt", "namespace": "ingress-nginx" },
                "storage_classes": { "rwo": "r", "rwx": null },
                "capacity": { "cpu": "1", "memory": "1Gi", "storage": "1Gi", "nodes": 1 },
                "capabilities": [] } },
            "smtp_relays": { "relay": { "host": "smtp.c.org", "port": 587, "username": null,
                "password": null, "dkim_selector": "sel", "spf_include": null } },
            "zones": { "b.org": b_org },
            "zone_defaults": crate::test_support::zone_settings_json(3600),
        }))
        .unwrap();
        let app = |app: &str, host: &str| {
            json!({ "app": app, "version": null, "namespace": "n",
            "host": host, "hosts": [host], "size": "s", "state": "active",
            "bindings": { "postgres": null, "object_store": null, "smtp": null },
            "missing_services": [], "rendered": true, "objects": [] })
        };
        let compiled = serde_json::from_value(json!({
            "plan": "p",
            "tenant": { "id": "t", "display_name": "T", "contacts": [], "cluster": "k", "plan": null,
                "state": "active", "zones": ["a.org", "b.org"],
                "mail": { "sending_domain": "a.org", "relay": "relay" }, "apps": {} },
            "apps": { "site": app("hedgedoc", "a.org"), "pad": app("hedgedoc", "pad.a.org"),
                "chat": app("synapse", "matrix.b.org") },
        }))
        .unwrap();
        let unit = TenantUnit {
            compiled,
            source_map: Default::default(),
            from_cache: false,
        };
        (collective, vec![unit])
    }

    /// A catalog whose `synapse` is a Matrix homeserver.
    fn homeserver_catalog() -> jardin_core::model::Catalog {
        let homeserver: jardin_core::model::CatalogApp = serde_json::from_value(json!({
            "id": "synapse", "description": "", "versions": {"default": "1", "available": {"1": {}}},
            "requires": {}, "state": [], "secrets": {}, "sizes": {}, "singletons": [],
            "pod_security": "restricted", "matrix_server": true,
        }))
        .unwrap();
        [("synapse".to_string(), homeserver)].into_iter().collect()
    }

    fn find<'a>(z: &'a ZoneData, name: &str, t: &str) -> Vec<&'a str> {
        z.records
            .iter()
            .filter(|r| r.rr.name == name && r.rr.rtype == t)
            .map(|r| r.rr.data.as_str())
            .collect()
    }

    #[test]
    fn record_names_that_are_not_domain_names_are_refused() {
        assert!(valid_owner_name("www.example.org.").is_ok());
        assert!(valid_owner_name("*.example.org.").is_ok());
        assert!(valid_owner_name("_dmarc.example.org.").is_ok());
        for bad in [
            "www\nevil IN NS attacker.example.\nx.example.org.",
            "a b.example.org.",
            "a..example.org.",
            "a.*.example.org.",
            "-x.example.org.",
            "x-.example.org.",
            "a_b.example.org.",
            "",
        ] {
            assert!(valid_owner_name(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}.example.org.", "a".repeat(65_536));
        let err = valid_owner_name(&long).unwrap_err();
        assert!(err.len() < 200, "{err}");
    }

    #[test]
    fn derives_web_mail_matrix_and_zone_records() {
        let (c, t) = model();
        let catalog = homeserver_catalog();
        let d = derive(&c, &catalog, &t);
        assert!(d.rejected.is_empty());
        let a = &d.zones[0];
        assert_eq!(a.apex, "a.org.");
        assert_eq!(find(a, "a.org.", "A"), ["192.0.2.1"]);
        assert_eq!(find(a, "a.org.", "AAAA"), ["2001:db8::1"]);
        assert_eq!(find(a, "www.a.org.", "CNAME"), ["ingress.c.org."]);
        assert_eq!(find(a, "pad.a.org.", "CNAME"), ["ingress.c.org."]);
        assert_eq!(find(a, "a.org.", "TXT"), ["\"v=spf1 a:smtp.c.org ~all\""]);
        assert_eq!(
            find(a, "sel._domainkey.a.org.", "CNAME"),
            ["sel._domainkey.smtp.c.org."]
        );
        assert!(find(a, "_dmarc.a.org.", "TXT")[0].contains("rua=mailto:admin@c.org"));
        assert_eq!(find(a, "a.org.", "CAA"), ["0 issue \"letsencrypt.org\""]);
        assert_eq!(find(a, "a.org.", "NS"), ["ns1.c.org."]);
        let b = &d.zones[1];
        assert_eq!(
            find(b, "matrix.b.org.", "A"),
            ["192.0.2.1"],
            "hosts = address"
        );
        assert_eq!(
            find(b, "_matrix-fed._tcp.b.org.", "SRV"),
            ["10 0 443 matrix.b.org."]
        );
        assert_eq!(
            find(b, "b.org.", "A"),
            ["192.0.2.1"],
            "the apex delegates, and a server reached by SRV shows its certificate"
        );
        assert!(b.records.iter().all(|r| r.rr.ttl == 600));
    }

    #[test]
    fn an_apex_served_by_an_app_stays_that_apps() {
        let (c, mut t) = model();
        let chat = t[0].compiled.apps.get_mut("chat").unwrap();
        chat.host = "matrix.a.org".into();
        chat.hosts = vec!["matrix.a.org".into()];
        let catalog = homeserver_catalog();
        let d = derive(&c, &catalog, &t);
        assert!(d.rejected.is_empty(), "{:?}", d.rejected);
        let a = &d.zones[0];
        let owners: Vec<String> = a
            .records
            .iter()
            .filter(|r| r.rr.name == "a.org." && r.rr.rtype == "A")
            .map(|r| r.owner.to_string())
            .collect();
        assert_eq!(owners, ["app:t/site"], "the site keeps the apex it serves");
    }

    #[test]
    fn fqdn_is_lower_case_and_absolute() {
        assert_eq!(fqdn("Pad.Example.org"), "pad.example.org.");
        assert_eq!(fqdn("example.org."), "example.org.");
    }

    #[test]
    fn markers_list_types_and_owners() {
        let owner = Owner::App {
            tenant: "t".into(),
            app: "pad".into(),
        };
        let rec = |name: &str, t: &str| OwnedRr {
            rr: Rr {
                name: name.into(),
                rtype: t.into(),
                ttl: 60,
                data: "x".into(),
            },
            owner: owner.clone(),
            origin: Origin::Derived,
        };
        let recs = [
            rec("example.org.", "SOA"),
            rec("example.org.", "A"),
            rec("example.org.", "AAAA"),
            rec("pad.example.org.", "CNAME"),
        ];
        let m = markers_for(recs.iter(), "example.org.", 300, &[]);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].rr.name, "_jardin-owner.example.org.");
        assert_eq!(
            m[0].rr.data,
            "\"jardin-owner\" \"A=app:t/pad\" \"AAAA=app:t/pad\""
        );
    }
}
