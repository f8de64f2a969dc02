//! Fingerprints of everything a plan was built from, so a saved plan can tell
//! when the world moved on after it was reviewed.
//!
//! Each side is hashed per object (the server, and each table) so a refusal can
//! name what changed. Statistics (row and size estimates) are left out: they drift
//! with every ANALYZE and change nothing the plan does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Inputs;
use crate::spec::Spec;

/// SHA-256 fingerprints of the spec and of both catalogs, object by object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprints {
    /// The resolved spec (without any password).
    pub spec: String,
    /// `server` and one entry per moved source table (`table public.conditions`).
    pub source: BTreeMap<String, String>,
    /// `server` and the target objects the plan checked.
    pub target: BTreeMap<String, String>,
}

fn sha256(value: &impl Serialize) -> String {
    let json = serde_json::to_vec(value).expect("catalog facts serialize");
    hex::encode(Sha256::digest(&json))
}

/// The spec's fingerprint: what the spec asks for, not how it is laid out (comments
/// and positions do not count), and never a password (connections are hashed as
/// `user@host:port/db`).
pub fn spec_fingerprint(spec: &Spec) -> String {
    let tables: Vec<String> = spec
        .tables
        .iter()
        .map(|t| {
            format!(
                "{:?} {:?} {:?} {} {:?} {:?}",
                t.source, t.target, t.shape, t.create_default_indexes, t.from, t.until
            )
        })
        .collect();
    let patterns =
        |p: &[crate::spec::Pattern]| p.iter().map(|p| p.text.clone()).collect::<Vec<_>>();
    let canonical = format!(
        "source={}\ntarget={}\nworkers={}\nverify={:?}\ngrants={}\non_unsupported={:?}\nmax_window_rows={:?}\nmax_window_bytes={:?}\nschema_map={:?}\ninclude={:?}\nexclude={:?}\ndefaults={:?}\ntables={tables:?}",
        spec.source,
        spec.target,
        spec.workers,
        spec.verify,
        spec.grants,
        spec.on_unsupported,
        spec.max_window_rows,
        spec.max_window_bytes,
        spec.schema_map,
        patterns(&spec.include),
        patterns(&spec.exclude),
        spec.defaults,
    );
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// The source's fingerprint, per object.
pub fn source_fingerprint(inputs: &Inputs) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let s = &inputs.source_server;
    out.insert(
        "server".to_string(),
        sha256(&(
            &s.version,
            &s.database,
            &s.timescaledb,
            &s.timescaledb_schema,
        )),
    );
    for (table, bounds) in inputs.tables.iter().zip(&inputs.time_bounds) {
        out.insert(format!("table {}", table.name), sha256(&(table, bounds)));
    }
    for view in &inputs.views {
        out.insert(format!("view {}", view.name), sha256(view));
    }
    out
}

/// One hash over a whole side, as recorded in the target's `hypermove.applied`.
pub fn combined(parts: &BTreeMap<String, String>) -> String {
    sha256(parts)
}

/// Compute all fingerprints of a plan's inputs.
pub fn fingerprints(spec: &Spec, inputs: &Inputs) -> Fingerprints {
    let t = &inputs.target_server;
    let mut target = BTreeMap::new();
    target.insert(
        "server".to_string(),
        sha256(&(
            &t.version,
            &t.database,
            &t.timescaledb,
            &t.timescaledb_schema,
            &t.timescaledb_available,
        )),
    );
    target.insert(
        "objects".to_string(),
        sha256(&(
            &inputs.target_existing,
            &inputs.target_schemas,
            &inputs.target_references,
            &inputs.target_types,
            &inputs.target_extensions,
        )),
    );
    Fingerprints {
        spec: spec_fingerprint(spec),
        source: source_fingerprint(inputs),
        target,
    }
}

/// What changed between a saved plan's fingerprints and today's, in words.
pub fn differences(saved: &Fingerprints, now: &Fingerprints) -> Vec<String> {
    let mut out = Vec::new();
    if saved.spec != now.spec {
        out.push("the spec was edited".to_string());
    }
    for (side, a, b) in [
        ("source", &saved.source, &now.source),
        ("target", &saved.target, &now.target),
    ] {
        for (key, hash) in a {
            match b.get(key) {
                Some(h) if h == hash => {}
                Some(_) => out.push(format!("{side} {key} changed")),
                None => out.push(format!("{side} {key} is gone")),
            }
        }
        for key in b.keys().filter(|k| !a.contains_key(*k)) {
            out.push(format!("{side} {key} is new"));
        }
    }
    out
}
