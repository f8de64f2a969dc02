//! Catalog fixtures for the planner's unit tests: a spec from YAML text, and the
//! tables and servers a gather would have read, built in Rust. No database.

use std::collections::BTreeSet;
use std::path::Path;

use super::{Action, Inputs, Plan, Probe, StepKind};
use crate::catalog::{
    Chunk, Column, Constraint, ConstraintKind, Dimension, DimensionKind, Hypertable, Privileges,
    ServerInfo, Table, TimeBounds,
};
use crate::pg::QualifiedName;
use crate::spec::Spec;

/// One day in microseconds.
pub const DAY: i64 = 86_400_000_000;
/// 2025-01-01T00:00:00Z in microseconds since the Unix epoch.
pub const JAN1: i64 = 1_735_689_600_000_000;

/// `schema.name`.
pub fn qn(s: &str) -> QualifiedName {
    let (schema, name) = s.split_once('.').expect("schema.name");
    QualifiedName::new(schema, name)
}

/// A spec with `extra` top-level keys and `tables` as the body of `tables:`.
pub fn spec(extra: &str, tables: &str) -> Spec {
    let text = format!(
        "version: 1\nsource: postgresql://u@src:5432/a\ntarget: postgresql://u@dst:5432/b\n{extra}tables:\n{tables}"
    );
    crate::spec::parse(Path::new("t.yaml"), &text).expect("valid spec")
}

/// A server with TimescaleDB installed in `public`.
pub fn server(instance: &str) -> ServerInfo {
    ServerInfo {
        version: "17.5".into(),
        version_num: 170005,
        database: "db".into(),
        timescaledb: Some("2.19.0".into()),
        timescaledb_schema: Some("public".into()),
        timescaledb_available: Some("2.19.0".into()),
        timescaledb_license: Some("apache".into()),
        lz4: true,
        tls: false,
        instance: instance.into(),
    }
}

/// A nullable column of a type given by OID and SQL name.
pub fn column(name: &str, type_oid: u32, type_sql: &str) -> Column {
    Column {
        name: name.into(),
        type_sql: type_sql.into(),
        type_oid,
        not_null: false,
        default: None,
        generated: None,
        generated_kind: None,
        identity: None,
        collation: None,
        binary_ok: true,
    }
}

/// A plain table `(time timestamptz, other timestamptz, device bigint, value float8)`.
pub fn plain(name: &str, oid: u32) -> Table {
    Table {
        name: qn(name),
        oid,
        columns: vec![
            column("time", 1184, "timestamp with time zone"),
            column("other", 1184, "timestamp with time zone"),
            column("device", 20, "bigint"),
            column("value", 701, "double precision"),
        ],
        constraints: Vec::new(),
        indexes: Vec::new(),
        triggers: Vec::new(),
        types: Vec::new(),
        sequences: Vec::new(),
        comments: Vec::new(),
        hypertable: None,
        inheritance_children: Vec::new(),
        row_security: None,
        settings: None,
        statistics: Vec::new(),
        functions: Vec::new(),
        default_sequences: Vec::new(),
        collations: Vec::new(),
        text_search: Vec::new(),
        tablespaces: Vec::new(),
        jobs: Vec::new(),
        est_rows: Some(3000),
        est_bytes: 300_000,
    }
}

/// A time range dimension of `width` microseconds.
pub fn time_dim(column: &str, width: i64) -> Dimension {
    Dimension {
        column: column.into(),
        kind: DimensionKind::Range {
            width,
            integer: false,
            integer_now_func: None,
        },
        partitioning_func: None,
    }
}

/// A chunk `[lo, hi)` of `rows` rows, 100 bytes each.
pub fn chunk(name: &str, lo: i64, hi: i64, rows: u64, compressed: bool) -> Chunk {
    Chunk {
        name: qn(&format!("_timescaledb_internal.{name}")),
        range_start: Some(lo),
        range_end: Some(hi),
        est_rows: Some(rows),
        est_bytes: rows * 100,
        compressed,
    }
}

/// `plain(name)` as a hypertable on `time` with daily chunks, one per day from
/// 2025-01-01, of 1000 rows each.
pub fn hyper(name: &str, oid: u32, days: i64) -> Table {
    let mut t = plain(name, oid);
    t.hypertable = Some(Hypertable {
        dimensions: vec![time_dim("time", DAY)],
        chunks: (0..days)
            .map(|d| {
                chunk(
                    &format!("_hyper_{oid}_{d}_chunk"),
                    JAN1 + d * DAY,
                    JAN1 + (d + 1) * DAY,
                    1000,
                    false,
                )
            })
            .collect(),
        unsupported: Vec::new(),
        compression: None,
        policies: Vec::new(),
        continuous_aggregates: Vec::new(),
    });
    t.est_rows = None;
    t.est_bytes = 0;
    t
}

/// A primary key over `columns`.
pub fn primary_key(name: &str, columns: &[&str]) -> Constraint {
    Constraint {
        name: name.into(),
        kind: ConstraintKind::PrimaryKey,
        columns: columns.iter().map(|c| c.to_string()).collect(),
        definition: format!("PRIMARY KEY ({})", columns.join(", ")),
    }
}

/// The time range of a plain table whose rows span `days` days from 2025-01-01.
pub fn bounds(days: i64) -> Option<TimeBounds> {
    Some(TimeBounds {
        range: Some((JAN1, JAN1 + days * DAY - 1)),
        nulls: 0,
    })
}

/// What a gather would read for `tables` (one per spec entry, in order): an empty
/// target on another server with TimescaleDB and `public`, a superuser on it.
pub fn inputs(spec: &Spec, tables: Vec<Table>) -> Inputs {
    assert_eq!(spec.tables.len(), tables.len(), "one table per spec entry");
    let n = tables.len();
    Inputs {
        source_server: server("source"),
        target_server: server("target"),
        selection: spec.tables.clone(),
        tables,
        time_bounds: vec![None; n],
        key_ranges: vec![None; n],
        target_existing: BTreeSet::new(),
        target_present: BTreeSet::new(),
        target_schemas: BTreeSet::from(["public".to_string()]),
        target_references: BTreeSet::new(),
        target_functions: BTreeSet::new(),
        target_types: BTreeSet::new(),
        target_function_defs: Default::default(),
        target_sequences: BTreeSet::new(),
        target_names_taken: BTreeSet::new(),
        views: Vec::new(),
        grants_left: Vec::new(),
        grants: vec![None; n],
        target_roles: BTreeSet::new(),
        target_objects: Default::default(),
        source_privileges: Privileges {
            role: "reader".into(),
            ..Default::default()
        },
        target_privileges: Privileges {
            role: "writer".into(),
            superuser: true,
            create_in_database: true,
            ..Default::default()
        },
        target_extensions: Default::default(),
        applied: Vec::new(),
        resume: None,
        stale_run: false,
        archive: None,
    }
}

/// The message of a refused plan.
pub fn refusal(spec: &Spec, inputs: &Inputs) -> String {
    match super::build(spec, inputs) {
        Ok(_) => panic!("the plan was not refused"),
        Err(e) => e.to_string(),
    }
}

/// A plan that must build.
pub fn plan(spec: &Spec, inputs: &Inputs) -> Plan {
    super::build(spec, inputs).unwrap_or_else(|e| panic!("refused: {e}"))
}

/// The IDs of a plan's steps of one kind, in execution order.
pub fn ids(plan: &Plan, kind: StepKind) -> Vec<String> {
    plan.order()
        .into_iter()
        .map(|n| &plan.graph[n])
        .filter(|s| s.kind == kind)
        .map(|s| s.id.clone())
        .collect()
}

/// The SQL of the step with this ID, joined by `;\n`.
pub fn sql(plan: &Plan, id: &str) -> String {
    match &step(plan, id).action {
        Action::Sql(s) => s.join(";\n"),
        other => panic!("{id} is not SQL: {other:?}"),
    }
}

/// The probe of the verify step with this ID.
pub fn probe<'a>(plan: &'a Plan, id: &str) -> &'a Probe {
    match &step(plan, id).action {
        Action::Probe(p) => p,
        other => panic!("{id} is not a probe: {other:?}"),
    }
}

/// The step with this ID.
pub fn step<'a>(plan: &'a Plan, id: &str) -> &'a super::Step {
    plan.graph
        .node_weights()
        .find(|s| s.id == id)
        .unwrap_or_else(|| {
            let all: Vec<&str> = plan.graph.node_weights().map(|s| s.id.as_str()).collect();
            panic!("no step {id}; the plan has {all:?}")
        })
}

/// Row-level security enabled and forced, with a permissive SELECT policy for
/// `reader` and a restrictive ALL policy for PUBLIC.
pub fn row_security() -> crate::catalog::RowSecurity {
    use crate::catalog::{Policy, RowSecurity};
    RowSecurity {
        enabled: true,
        forced: true,
        policies: vec![
            Policy {
                name: "only_device_1".into(),
                permissive: true,
                command: 'r',
                roles: vec![Some("reader".into())],
                using: Some("(device = 1)".into()),
                with_check: None,
                other_tables: Vec::new(),
            },
            Policy {
                name: "not_negative".into(),
                permissive: false,
                command: '*',
                roles: vec![None],
                using: Some("(value >= (0)::double precision)".into()),
                with_check: Some("(value >= (0)::double precision)".into()),
                other_tables: Vec::new(),
            },
        ],
    }
}

/// Whether step `to` waits (directly or not) for step `from`.
pub fn waits_for(plan: &Plan, to: &str, from: &str) -> bool {
    let index = |id: &str| {
        plan.graph
            .node_indices()
            .find(|n| plan.graph[*n].id == id)
            .unwrap_or_else(|| panic!("no step {id}"))
    };
    petgraph::algo::has_path_connecting(&plan.graph, index(from), index(to), None)
}

/// Fillfactor, an autovacuum and a TOAST setting, one column with EXTERNAL storage,
/// lz4 compression and a statistics target, and `identity` as the replica identity.
pub fn settings(
    identity: Option<crate::catalog::ReplicaIdentity>,
) -> crate::catalog::TableSettings {
    use crate::catalog::{ColumnSettings, TableSettings};
    TableSettings {
        reloptions: vec![
            "fillfactor=70".into(),
            "autovacuum_vacuum_scale_factor=0.05".into(),
            "toast.autovacuum_enabled=false".into(),
        ],
        columns: vec![ColumnSettings {
            name: "value".into(),
            storage: Some('e'),
            compression: Some('l'),
            statistics: Some(500),
        }],
        replica_identity: identity,
    }
}

/// A plain view `SELECT 1` (its text does not matter to the planner) reading these
/// relations by OID.
pub fn view(name: &str, oid: u32, reads: Vec<u32>) -> crate::catalog::View {
    crate::catalog::View {
        name: qn(name),
        definition: "SELECT 1".into(),
        read_labels: reads.iter().map(|o| format!("table public.t{o}")).collect(),
        reads,
        oid,
        materialized: false,
        populated: false,
        options: Vec::new(),
        functions: Vec::new(),
        types: Vec::new(),
        extensions: Vec::new(),
        indexes: Vec::new(),
        comments: Vec::new(),
        grants: None,
    }
}
