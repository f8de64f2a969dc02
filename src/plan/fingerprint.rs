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
use crate::pg::QualifiedName;
use crate::spec::{JobsSetting, OnUnsupported, Spec, TableDefaults, TargetShape, TimeValue};

/// SHA-256 fingerprints of the spec and of both catalogs, object by object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprints {
    /// The resolved spec (without any password): what the move is. The journal is
    /// keyed by it.
    pub spec: String,
    /// The spec's settings that change the plan without changing the move (the
    /// verify level, window sizes): a saved plan is stale when they change too.
    #[serde(default)]
    pub plan_settings: String,
    /// `server` and one entry per moved source table (`table public.conditions`).
    pub source: BTreeMap<String, String>,
    /// `server` and the target objects the plan checked.
    pub target: BTreeMap<String, String>,
}

fn sha256(value: &impl Serialize) -> String {
    let json = serde_json::to_vec(value).expect("catalog facts serialize");
    hex::encode(Sha256::digest(&json))
}

/// The version of what the spec fingerprint covers; bumped whenever that changes, so
/// a fingerprint never silently means something else.
const SPEC_FINGERPRINT_VERSION: u32 = 2;

/// What defines a move, and nothing else: the tables, their target shapes, the
/// endpoints and what travels with the rows. Settings that only shape how the move
/// runs (workers, the verify level, window sizes, the stall timeout) are left out, so
/// changing them does not orphan an interrupted run. Serialized as JSON, never through
/// `Debug`, whose output may change with a dependency.
#[derive(Serialize)]
struct MoveIdentity<'a> {
    fingerprint_version: u32,
    /// `user@host:port/db` or a directory: never a password.
    source: String,
    target: String,
    grants: bool,
    on_unsupported: OnUnsupported,
    schema_map: &'a BTreeMap<String, String>,
    /// Left out when empty, so the fingerprints of specs without one stay as they were.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tablespace_map: &'a BTreeMap<String, String>,
    include: Vec<&'a str>,
    exclude: Vec<&'a str>,
    /// What becomes of the target's jobs; left out at its default, so the
    /// fingerprints of specs without `jobs:` stay as they were.
    #[serde(skip_serializing_if = "jobs_default")]
    jobs: JobsSetting,
    defaults: &'a TableDefaults,
    tables: Vec<TableIdentity<'a>>,
}

fn jobs_default(j: &JobsSetting) -> bool {
    *j == JobsSetting::default()
}

/// One table entry of [`MoveIdentity`].
#[derive(Serialize)]
struct TableIdentity<'a> {
    source: &'a QualifiedName,
    target: &'a QualifiedName,
    shape: &'a TargetShape,
    create_default_indexes: bool,
    from: Option<TimeValue>,
    until: Option<TimeValue>,
    /// Left out when empty, as the spec's.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tablespace_map: &'a BTreeMap<String, String>,
}

/// The spec's fingerprint: what the move is, not how it is laid out (comments and
/// positions do not count) nor how it runs (workers, verify level, window sizes),
/// and never a password (connections are hashed as `user@host:port/db`).
pub fn spec_fingerprint(spec: &Spec) -> String {
    let patterns = |p: &'_ [crate::spec::Pattern]| -> Vec<String> {
        p.iter().map(|p| p.text.clone()).collect()
    };
    let (include, exclude) = (patterns(&spec.include), patterns(&spec.exclude));
    sha256(&MoveIdentity {
        fingerprint_version: SPEC_FINGERPRINT_VERSION,
        source: spec.source.to_string(),
        target: spec.target.to_string(),
        grants: spec.grants,
        on_unsupported: spec.on_unsupported,
        schema_map: &spec.schema_map,
        tablespace_map: &spec.tablespace_map,
        include: include.iter().map(String::as_str).collect(),
        exclude: exclude.iter().map(String::as_str).collect(),
        jobs: spec.jobs,
        defaults: &spec.defaults,
        tables: spec
            .tables
            .iter()
            .map(|t| TableIdentity {
                source: &t.source,
                target: &t.target,
                shape: &t.shape,
                create_default_indexes: t.create_default_indexes,
                from: t.from,
                until: t.until,
                tablespace_map: &t.tablespace_map,
            })
            .collect(),
    })
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
    // Only when there are any, so the fingerprints of other plans stay as they were.
    if inputs.target_objects != Default::default() {
        target.insert("named objects".to_string(), sha256(&inputs.target_objects));
    }
    Fingerprints {
        spec: spec_fingerprint(spec),
        plan_settings: sha256(&(spec.verify, spec.max_window_rows, spec.max_window_bytes)),
        source: source_fingerprint(inputs),
        target,
    }
}

/// What changed between a saved plan's fingerprints and today's, in words.
pub fn differences(saved: &Fingerprints, now: &Fingerprints) -> Vec<String> {
    let mut out = Vec::new();
    if saved.spec != now.spec {
        out.push("the spec was edited".to_string());
    } else if saved.plan_settings != now.plan_settings {
        out.push("the spec's verify level or window sizes were edited".to_string());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &str, interval: &str) -> Spec {
        let text = format!(
            "version: 1\nsource: postgresql://u:secret@h:5432/a\ntarget: postgresql://u@h:5433/b\n{extra}tables:\n  - name: public.t\n    hypertable: {{time_column: time, chunk_time_interval: {interval}}}\n"
        );
        crate::spec::parse(std::path::Path::new("t.yaml"), &text).expect("valid spec")
    }

    #[test]
    fn execution_settings_do_not_change_the_spec_fingerprint() {
        let base = spec_fingerprint(&spec("", "1 day"));
        for extra in [
            "workers: 7\n",
            "verify: count\n",
            "max_window_rows: 1000\n",
            "max_window_bytes: 1048576\n",
        ] {
            assert_eq!(base, spec_fingerprint(&spec(extra, "1 day")), "{extra}");
        }
    }

    #[test]
    fn what_the_move_is_changes_the_spec_fingerprint() {
        let base = spec_fingerprint(&spec("", "1 day"));
        assert_ne!(base, spec_fingerprint(&spec("", "2 days")));
        assert_ne!(base, spec_fingerprint(&spec("grants: true\n", "1 day")));
        assert_ne!(
            base,
            spec_fingerprint(&spec("on_unsupported: warn\n", "1 day"))
        );
        assert_ne!(
            base,
            spec_fingerprint(&spec("tablespace_map: {fast: ssd}\n", "1 day"))
        );
        assert_ne!(base, spec_fingerprint(&spec("jobs: paused\n", "1 day")));
        // The default, said or not, is the same move.
        assert_eq!(base, spec_fingerprint(&spec("jobs: enable\n", "1 day")));
    }

    #[test]
    fn the_spec_fingerprint_is_pinned() {
        // A change of this value is a change of format: bump SPEC_FINGERPRINT_VERSION,
        // since every interrupted run and applied record is keyed by it.
        assert_eq!(
            spec_fingerprint(&spec("", "1 day")),
            "acce71415bb3cd107be314aa894b7609b2d2006e0bcfe16af75055c10dbad19c"
        );
    }
}
