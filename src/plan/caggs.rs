//! Continuous aggregates of the moved hypertables (see `catalog::ContinuousAggregate`):
//! which ones move, under which name, and the SQL of their steps. Pure.
//!
//! **How the buckets are carried.** A continuous aggregate is recreated on the target
//! `WITH NO DATA` (nothing is refreshed), its materialized rows are copied from the
//! source's materialization hypertable into the target's, and then its state is
//! written as the source has it, in the move's snapshot: the watermark (buckets before
//! it are read from the materialization, the rest computed from the raw rows when it
//! is real-time), the invalidation threshold of the hypertable it reads, and the
//! pending invalidations of both. The target then answers as the source does, bucket
//! for bucket, and behaves as the source would from there on: a refresh recomputes
//! exactly what the source's would (new rows above the threshold, and what the source
//! had invalidated), real-time aggregation reads the raw rows above the same watermark.
//!
//! The alternative, refreshing on the target where raw rows exist and copying only
//! where they do not, was rejected: (1) a refresh recomputes buckets the source holds
//! stale (raw rows changed since its last refresh, an invalidation pending), so the
//! target would answer differently from the source; (2) it cannot know which buckets
//! lost their raw rows to retention without comparing both, and a refresh over those
//! deletes them; (3) its watermark would be where the refresh ended, not the source's,
//! which moves the real-time boundary. Writing TimescaleDB's catalog is what its own
//! dump and restore do (those tables are the extension's configuration, dumped as
//! data); the statements are plain `UPDATE`/`INSERT`s on rows found by the
//! aggregate's name, shown in the plan, and need a superuser on the target. The
//! materialization's column layout is the aggregate's output columns, in both 2.19
//! and 2.29 (finalized form): an aggregate in the old, non-finalized form is refused.

use std::collections::{BTreeMap, BTreeSet};

use super::shape::Shape;
use super::views::Rename;
use super::window::{self, Window};
use super::{CopyWindow, Inputs, PlanError, Probe, WindowBounds};
use crate::catalog::{ContinuousAggregate, TimeType};
use crate::pg::{QualifiedName, quote_ident, quote_literal};
use crate::spec::{ChunkInterval, OnUnsupported, Spec, VerifyLevel};

/// An aggregate's name on the target: its own, in the schema `schema_map:` maps its
/// schema to.
pub(crate) fn target_name(spec: &Spec, c: &ContinuousAggregate) -> QualifiedName {
    let schema = spec
        .schema_map
        .get(&c.name.schema)
        .unwrap_or(&c.name.schema);
    QualifiedName::new(schema.clone(), c.name.name.clone())
}

/// An aggregate the plan moves, with what its steps need.
#[derive(Debug)]
pub(super) struct Placed<'a> {
    /// The source's aggregate.
    pub(super) cagg: &'a ContinuousAggregate,
    /// The selection index of the moved hypertable it is built on (through others).
    pub(super) base: usize,
    /// Its name on the target.
    pub(super) target: QualifiedName,
    /// The aggregate it reads, by its target name.
    pub(super) parent: Option<QualifiedName>,
    /// What its query names that is elsewhere on the target.
    pub(super) renames: Vec<Rename>,
    /// Moved tables its query joins, by selection index.
    pub(super) joins: Vec<usize>,
}

/// The aggregates that move, each after the one it reads, and what stays behind.
#[derive(Debug, Default)]
pub(super) struct Resolved<'a> {
    /// In creation order.
    pub(super) placed: Vec<Placed<'a>>,
    /// What stays behind (with `on_unsupported: warn`), and what is said about the rest.
    pub(super) warnings: Vec<String>,
}

impl Resolved<'_> {
    /// The aggregates that move, by source OID: (source name, target name).
    pub(super) fn by_oid(&self) -> super::views::Caggs {
        self.placed
            .iter()
            .map(|p| (p.cagg.oid, (p.cagg.name.clone(), p.target.clone())))
            .collect()
    }
}

/// Decide which aggregates move. Independent of the tables' own checks, so that a
/// refused plan names the aggregates too.
pub(super) fn resolve<'a>(spec: &Spec, inputs: &'a Inputs) -> Result<Resolved<'a>, PlanError> {
    let shapes: Vec<Option<Shape>> = inputs
        .selection
        .iter()
        .zip(&inputs.tables)
        .map(|(t, table)| super::shape::shape_of(t, table, inputs).ok())
        .collect();
    let moved: BTreeMap<&QualifiedName, usize> = inputs
        .selection
        .iter()
        .enumerate()
        .map(|(i, t)| (&t.source, i))
        .collect();
    let mut planned: BTreeSet<QualifiedName> =
        inputs.selection.iter().map(|t| t.target.clone()).collect();
    planned.extend(
        inputs
            .views
            .iter()
            .map(|v| super::views::target_name(spec, v)),
    );
    let mut out = Resolved::default();
    let mut refused = Vec::new();
    // Target names of the aggregates that move, by source name.
    let mut placed_names: BTreeMap<QualifiedName, QualifiedName> = BTreeMap::new();
    for (base, (t, table)) in inputs.selection.iter().zip(&inputs.tables).enumerate() {
        let Some(h) = &table.hypertable else { continue };
        for c in &h.continuous_aggregates {
            let target = target_name(spec, c);
            let mut missing: Vec<String> = Vec::new();
            let mut blocked: Vec<String> = Vec::new();
            if inputs.archive.is_some() {
                missing.push("a backup does not carry continuous aggregates yet".into());
            }
            let license = inputs.target_server.timescaledb_license.as_deref();
            if license != Some("timescale") {
                missing.push(format!(
                    "continuous aggregates need TimescaleDB's community edition on the target, and the target's is licensed `{}`",
                    license.unwrap_or("unknown")
                ));
            }
            if !c.finalized {
                missing.push("it is in the old, non-finalized form, which TimescaleDB 2.2x cannot hold (migrate it on the source with cagg_migrate first)".into());
            }
            if !inputs.target_privileges.superuser {
                missing.push(format!(
                    "its watermark and invalidation threshold are written into TimescaleDB's catalog, which needs a superuser on the target, and {} is not one",
                    inputs.target_privileges.role
                ));
            }
            match &shapes[base] {
                Some(Shape::Hypertable { time_column, .. })
                    if Some(time_column.as_str()) == source_time_column(table) => {}
                Some(Shape::Hypertable { time_column, .. }) => missing.push(format!(
                    "the spec partitions {} by `{time_column}` on the target, and the aggregate buckets its own time column",
                    t.source
                )),
                Some(Shape::Plain) => {
                    missing.push(format!("the spec makes {} a plain table", t.source))
                }
                // The table itself is refused, with its reason.
                None => {}
            }
            if t.from.is_some() || t.until.is_some() {
                missing.push(format!(
                    "the spec moves only part of {}'s rows (from:/until:), and its real-time buckets would differ",
                    t.source
                ));
            }
            let parent = match &c.parent {
                None => None,
                Some(p) => match placed_names.get(p) {
                    Some(target) => Some(target.clone()),
                    None => {
                        missing.push(format!(
                            "it reads continuous aggregate {p}, which is not carried over"
                        ));
                        None
                    }
                },
            };
            let mut joins = Vec::new();
            for r in &c.other_reads {
                match moved.get(r) {
                    Some(&i) => joins.push(i),
                    None => missing.push(format!("it reads {r}, which is not moved")),
                }
            }
            if inputs.target_names_taken.contains(&target) {
                blocked.push(format!(
                    "{target} already exists on the target, and hypermove never replaces what it did not create (drop it there first)"
                ));
            } else if planned.contains(&target) || placed_names.values().any(|n| *n == target) {
                blocked.push(format!(
                    "the plan gives its name {target} to another relation"
                ));
            }
            // The roles its owner and grants name are checked with the tables'
            // (preflight's one list of missing roles).
            // What its query names by source names that is elsewhere on the target.
            let mut renames = Vec::new();
            let mut read = |source: &QualifiedName, target: &QualifiedName, keyword| {
                if source == target {
                    return;
                }
                let r = Rename {
                    target: target.clone(),
                    source: source.clone(),
                    keyword,
                };
                for name in std::iter::once(r.source.clone()).chain(r.between()) {
                    if inputs.target_names_taken.contains(&name) || planned.contains(&name) {
                        blocked.push(format!(
                            "its query names {}, which is {} on the target, and the name {name} it needs there for a moment is taken",
                            r.source, r.target
                        ));
                    }
                }
                renames.push(r);
            };
            match (&c.parent, &parent) {
                (Some(p), Some(pt)) => read(p, pt, "MATERIALIZED VIEW"),
                _ => read(&t.source, &t.target, "TABLE"),
            }
            for &j in &joins {
                let s = &inputs.selection[j];
                read(&s.source, &s.target, "TABLE");
            }
            renames.sort_by(|a, b| a.target.cmp(&b.target));
            if !spec.grants {
                if let Some(g) = c.grants.as_ref().filter(|g| !g.grants.is_empty()) {
                    out.warnings.push(format!(
                        "continuous aggregate {}: its owner {} and grants stay behind (grants: true carries them)",
                        c.name, g.owner
                    ));
                }
            }
            let label = format!("continuous aggregate {}", c.name);
            for b in &blocked {
                refused.push(PlanError::table(
                    spec,
                    t,
                    format!("{label} cannot be carried over: {b}"),
                ));
            }
            if !missing.is_empty() {
                let why = missing.join("; ");
                if spec.on_unsupported == OnUnsupported::Warn {
                    out.warnings.push(format!(
                        "{}: {label} depends on it on the source; not carried over (on_unsupported: warn): {why}",
                        t.source
                    ));
                } else {
                    refused.push(PlanError::table(
                        spec,
                        t,
                        format!(
                            "{label} depends on it and cannot be carried over: {why} (`on_unsupported: warn` moves the table without it, and lists it)"
                        ),
                    ));
                }
                continue;
            }
            if !blocked.is_empty() {
                continue;
            }
            placed_names.insert(c.name.clone(), target.clone());
            out.placed.push(Placed {
                cagg: c,
                base,
                target,
                parent,
                renames,
                joins,
            });
        }
    }
    match PlanError::collected(refused) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The source hypertable's time (first) dimension column.
fn source_time_column(table: &crate::catalog::Table) -> Option<&str> {
    table
        .hypertable
        .as_ref()
        .and_then(|h| h.dimensions.first())
        .map(|d| d.column.as_str())
}

/// The names gather asks the target about for the aggregates of these tables: each
/// one's target name and the source names its renamed reads take for a moment; and
/// the schemas of both.
pub(crate) fn names_to_probe(
    spec: &Spec,
    selection: &[crate::spec::TableSpec],
    tables: &[crate::catalog::Table],
) -> (BTreeSet<QualifiedName>, BTreeSet<String>) {
    let mut names = BTreeSet::new();
    let mut schemas = BTreeSet::new();
    for (t, table) in selection.iter().zip(tables) {
        let Some(h) = &table.hypertable else { continue };
        for c in &h.continuous_aggregates {
            let target = target_name(spec, c);
            schemas.insert(target.schema.clone());
            names.insert(target);
            let (source, target) = match &c.parent {
                Some(p) => (
                    p.clone(),
                    QualifiedName::new(
                        spec.schema_map.get(&p.schema).unwrap_or(&p.schema).clone(),
                        p.name.clone(),
                    ),
                ),
                None => (t.source.clone(), t.target.clone()),
            };
            if source != target {
                let r = Rename {
                    target,
                    source: source.clone(),
                    keyword: "TABLE",
                };
                schemas.insert(source.schema.clone());
                names.extend(r.between());
                names.insert(source);
            }
        }
    }
    (names, schemas)
}

/// The roles an aggregate's owner and grants name.
pub(crate) fn roles(tables: &[crate::catalog::Table]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for table in tables {
        let Some(h) = &table.hypertable else { continue };
        for g in h
            .continuous_aggregates
            .iter()
            .filter_map(|c| c.grants.as_ref())
        {
            out.insert(g.owner.clone());
            out.extend(g.grants.iter().filter_map(|(r, _, _)| r.clone()));
        }
    }
    out
}

/// `public."m_hourly"` as a SQL string literal's content pair: (schema, name) literals.
fn view_literals(name: &QualifiedName) -> (String, String) {
    (quote_literal(&name.schema), quote_literal(&name.name))
}

/// The bucket column's type family.
fn time_type(c: &ContinuousAggregate) -> TimeType {
    c.time_type
}

/// The statements of an aggregate's `cagg:` step: its source names for what it reads
/// (in `temporary_schemas` made for the moment), `CREATE MATERIALIZED VIEW … WITH
/// (timescaledb.continuous, …) AS <query> WITH NO DATA` (which refreshes nothing), the
/// target names back, its materialization's chunk interval and compression, its
/// indexes and comments. The first lines say what happens to its buckets.
pub(super) fn create_sql(
    p: &Placed<'_>,
    temporary_schemas: &BTreeSet<String>,
    ts_schema: &str,
) -> Vec<String> {
    let c = p.cagg;
    let target = p.target.sql();
    let mut sql: Vec<String> = temporary_schemas
        .iter()
        .map(|s| format!("CREATE SCHEMA {}", quote_ident(s)))
        .collect();
    sql.extend(p.renames.iter().flat_map(Rename::to_source));
    let definition = c.definition.trim().trim_end_matches(';');
    sql.push(format!(
        "{}CREATE MATERIALIZED VIEW {target} WITH (timescaledb.continuous, timescaledb.materialized_only = {}) AS\n{definition}\nWITH NO DATA",
        describe(p),
        c.materialized_only
    ));
    sql.extend(p.renames.iter().rev().flat_map(Rename::to_target));
    sql.extend(
        temporary_schemas
            .iter()
            .map(|s| format!("DROP SCHEMA {}", quote_ident(s))),
    );
    let interval = if c.time_type == TimeType::Integer {
        ChunkInterval::Integer(c.chunk_interval)
    } else {
        ChunkInterval::Time {
            micros: c.chunk_interval,
        }
    };
    sql.push(format!(
        "SELECT {}.set_chunk_time_interval({}, {})",
        quote_ident(ts_schema),
        quote_literal(&target),
        interval.sql()
    ));
    if let Some(z) = &c.compression {
        let mut options = vec!["timescaledb.compress = true".to_string()];
        options.push(format!(
            "timescaledb.compress_segmentby = {}",
            quote_literal(
                &z.segment_by
                    .iter()
                    .map(|s| quote_ident(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        ));
        if !z.order_by.is_empty() {
            options.push(format!(
                "timescaledb.compress_orderby = {}",
                quote_literal(&z.order_by)
            ));
        }
        sql.push(format!(
            "ALTER MATERIALIZED VIEW {target} SET ({})",
            options.join(", ")
        ));
    }
    for i in &c.indexes {
        sql.push(format!(
            "CREATE {}INDEX {} ON {target} USING {} {}",
            if i.unique { "UNIQUE " } else { "" },
            quote_ident(&i.name),
            i.method,
            i.body
        ));
    }
    for (column, comment) in &c.comments {
        sql.push(match column {
            // The aggregate is a view to PostgreSQL: COMMENT ON MATERIALIZED VIEW
            // refuses it.
            None => format!("COMMENT ON VIEW {target} IS {}", quote_literal(comment)),
            Some(col) => format!(
                "COMMENT ON COLUMN {target}.{} IS {}",
                quote_ident(col),
                quote_literal(comment)
            ),
        });
    }
    sql
}

/// The plan's words on an aggregate's buckets, as SQL comment lines.
fn describe(p: &Placed<'_>) -> String {
    let c = p.cagg;
    let tt = time_type(c);
    let windows = windows(c);
    let copied = match (windows.first(), windows.last()) {
        (Some(first), Some(last)) => format!(
            "copied: its materialized buckets, {} window{} over the source's materialization chunks {}..{} (≈ {} rows)",
            windows.len(),
            if windows.len() == 1 { "" } else { "s" },
            window::label(first.lo, tt, "-inf"),
            window::label(last.hi, tt, "+inf"),
            windows.iter().map(|w| w.est_rows.unwrap_or(0)).sum::<u64>()
        ),
        _ => "copied: nothing, the source has no materialized bucket".to_string(),
    };
    let compressed = compressed_ranges(c).len();
    let copied = if compressed > 0 {
        format!(
            "{copied}, compressed where the source's are ({} range{})",
            compressed,
            if compressed == 1 { "" } else { "s" }
        )
    } else {
        copied
    };
    let after = if c.materialized_only {
        "materialized only"
    } else {
        "real-time above it"
    };
    format!(
        "-- continuous aggregate {} ({after})\n-- {copied}; refreshed: none\n-- then its watermark {} and invalidation threshold {} are set as the source's\n",
        c.name,
        window::label(Some(c.watermark), tt, "-inf"),
        window::label(c.threshold, tt, "unset"),
    )
}

/// One window per time range of the materialization's chunks on the source.
pub(super) fn windows(c: &ContinuousAggregate) -> Vec<Window> {
    window::from_chunks(&c.materialization, &c.chunks)
}

/// The suffix of a window's step IDs: `:lo..hi`.
pub(super) fn suffix(c: &ContinuousAggregate, lo: Option<i64>, hi: Option<i64>) -> String {
    let tt = time_type(c);
    format!(
        ":{}..{}",
        window::label(lo, tt, "-inf"),
        window::label(hi, tt, "+inf")
    )
}

/// ` WHERE bucket >= lo AND bucket < hi` (open sides left out).
fn predicate(c: &ContinuousAggregate, lo: Option<i64>, hi: Option<i64>) -> String {
    let col = quote_ident(&c.time_column);
    let tt = time_type(c);
    let mut parts = Vec::new();
    if let Some(lo) = lo {
        parts.push(format!("{col} >= {}", window::literal(lo, tt)));
    }
    if let Some(hi) = hi {
        parts.push(format!("{col} < {}", window::literal(hi, tt)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    }
}

/// How a copy's target names the materialization it writes, which the target names
/// only once the aggregate exists: replaced at run time by what `lookup_sql` answers.
pub(super) fn placeholder(target: &QualifiedName) -> String {
    format!("{{materialization of {target}}}")
}

/// The target's materialization hypertable of an aggregate, as `regclass` text.
fn lookup_sql(target: &QualifiedName) -> String {
    let (schema, name) = view_literals(target);
    format!(
        "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name)::regclass::text FROM timescaledb_information.continuous_aggregates WHERE view_schema = {schema} AND view_name = {name}"
    )
}

/// The copy of one window of materialized rows: from the source's materialization
/// chunk into the target's materialization hypertable, binary when every column allows.
pub(super) fn copy_window(p: &Placed<'_>, w: &Window) -> CopyWindow {
    let c = p.cagg;
    let cols = c
        .columns
        .iter()
        .map(|col| quote_ident(&col.name))
        .collect::<Vec<_>>()
        .join(", ");
    let format = if c.columns.iter().all(|col| col.binary_ok) {
        "binary"
    } else {
        "text"
    };
    let from = format!("{}{}", w.relation.sql(), predicate(c, w.lo, w.hi));
    CopyWindow {
        source_table: c.materialization.clone(),
        source_sql: format!("COPY (SELECT {cols} FROM {from}) TO STDOUT (FORMAT {format})"),
        target_sql: format!(
            "COPY {} ({cols}) FROM STDIN (FORMAT {format})",
            placeholder(&p.target)
        ),
        target_lookup: Some((placeholder(&p.target), lookup_sql(&p.target))),
        est_rows: w.est_rows,
        est_bytes: w.est_bytes,
        select_sql: format!("SELECT {cols} FROM {from}"),
        bounds: WindowBounds {
            time: Some((c.time_column.clone(), time_type(c))),
            lo: w.lo,
            hi: w.hi,
        },
    }
}

/// The ranges verification compares, read through the aggregate itself on both
/// sides (real-time or not: what a user's query answers). The materialization's
/// chunk ranges, the first open below and the last open above, so real-time buckets
/// past the last chunk are compared too; one open range when there is no chunk.
pub(super) fn verify_ranges(c: &ContinuousAggregate) -> Vec<(Option<i64>, Option<i64>)> {
    let windows = windows(c);
    if windows.is_empty() {
        return vec![(None, None)];
    }
    let last = windows.len() - 1;
    windows
        .iter()
        .enumerate()
        .map(|(i, w)| {
            (
                if i == 0 { None } else { w.lo },
                if i == last { None } else { w.hi },
            )
        })
        .collect()
}

/// The check of one bucket range: rows and checksum of the aggregate's rows, read
/// through the aggregate on each side.
pub(super) fn probe(
    level: VerifyLevel,
    p: &Placed<'_>,
    lo: Option<i64>,
    hi: Option<i64>,
) -> Option<Probe> {
    let c = p.cagg;
    let row = format!(
        "ROW({})::text",
        c.columns
            .iter()
            .map(|col| quote_ident(&col.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (columns, select) = match level {
        VerifyLevel::None => return None,
        VerifyLevel::Count => (vec!["rows".to_string()], "count(*)::text".to_string()),
        VerifyLevel::Checksum => (
            vec!["rows".to_string(), "checksum".to_string()],
            format!(
                "count(*)::text, coalesce(sum(('x' || left(md5({row}), 16))::bit(64)::int8::numeric), 0)::text"
            ),
        ),
    };
    let predicate = predicate(c, lo, hi);
    let source = format!("{}{predicate}", c.name.sql());
    let target = format!("{}{predicate}", p.target.sql());
    Some(Probe {
        level,
        table_total: false,
        table_check: None,
        columns,
        source_sql: format!("SELECT {select} FROM {source}"),
        target_sql: format!("SELECT {select} FROM {target}"),
        source_rows_sql: Some(format!("SELECT {row}, {row} FROM {source}")),
        target_rows_sql: Some(format!("SELECT {row}, {row} FROM {target}")),
        recorded: None,
    })
}

/// The checks `hypermove verify` runs for the aggregates of a moved table that the
/// target holds: the same bucket ranges, IDs and queries as `apply`'s.
pub(super) fn verification(
    spec: &Spec,
    inputs: &Inputs,
    base: usize,
    level: VerifyLevel,
) -> Vec<(String, QualifiedName, Probe)> {
    let Some(h) = &inputs.tables[base].hypertable else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in &h.continuous_aggregates {
        let target = target_name(spec, c);
        if !inputs.target_names_taken.contains(&target) {
            continue;
        }
        let p = Placed {
            cagg: c,
            base,
            target,
            parent: None,
            renames: Vec::new(),
            joins: Vec::new(),
        };
        for (lo, hi) in verify_ranges(c) {
            if let Some(probe) = probe(level, &p, lo, hi) {
                let id = format!("verify:{}{}", p.target, suffix(c, lo, hi));
                out.push((id, p.target.clone(), probe));
            }
        }
    }
    out
}

/// The statements of an aggregate's `cagg:<view>:watermark` step, once its rows (and
/// those of what it reads) are on the target: its watermark, the invalidation
/// threshold of the hypertable it reads, and the pending invalidations of both, as
/// the source has them; then, with `grants: true`, its owner and grants. Rows are
/// found through the aggregate's target name, so the text is the same on any target.
pub(super) fn state_sql(p: &Placed<'_>, grants: bool, ts_schema: &str) -> Vec<String> {
    let c = p.cagg;
    let (schema, name) = view_literals(&p.target);
    let agg = format!(
        "FROM _timescaledb_catalog.continuous_agg a WHERE a.user_view_schema = {schema} AND a.user_view_name = {name}"
    );
    let mut sql = vec![
        format!(
            "INSERT INTO _timescaledb_catalog.continuous_aggs_watermark (mat_hypertable_id, watermark) SELECT a.mat_hypertable_id, ({})::int8 {agg} ON CONFLICT (mat_hypertable_id) DO UPDATE SET watermark = excluded.watermark",
            c.watermark
        ),
        format!(
            "DELETE FROM _timescaledb_catalog.continuous_aggs_materialization_invalidation_log l USING _timescaledb_catalog.continuous_agg a WHERE a.user_view_schema = {schema} AND a.user_view_name = {name} AND l.materialization_id = a.mat_hypertable_id"
        ),
    ];
    if !c.materialization_invalidations.is_empty() {
        sql.push(format!(
            "INSERT INTO _timescaledb_catalog.continuous_aggs_materialization_invalidation_log (materialization_id, lowest_modified_value, greatest_modified_value) SELECT a.mat_hypertable_id, v.lo, v.hi FROM _timescaledb_catalog.continuous_agg a, (VALUES {}) AS v(lo, hi) WHERE a.user_view_schema = {schema} AND a.user_view_name = {name}",
            values(&c.materialization_invalidations)
        ));
    }
    match c.threshold {
        Some(threshold) => sql.push(format!(
            "INSERT INTO _timescaledb_catalog.continuous_aggs_invalidation_threshold (hypertable_id, watermark) SELECT a.raw_hypertable_id, ({threshold})::int8 {agg} ON CONFLICT (hypertable_id) DO UPDATE SET watermark = excluded.watermark"
        )),
        None => sql.push(format!(
            "DELETE FROM _timescaledb_catalog.continuous_aggs_invalidation_threshold t USING _timescaledb_catalog.continuous_agg a WHERE a.user_view_schema = {schema} AND a.user_view_name = {name} AND t.hypertable_id = a.raw_hypertable_id"
        )),
    }
    sql.push(format!(
        "DELETE FROM _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log l USING _timescaledb_catalog.continuous_agg a WHERE a.user_view_schema = {schema} AND a.user_view_name = {name} AND l.hypertable_id = a.raw_hypertable_id"
    ));
    if !c.hypertable_invalidations.is_empty() {
        sql.push(format!(
            "INSERT INTO _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log (hypertable_id, lowest_modified_value, greatest_modified_value) SELECT a.raw_hypertable_id, v.lo, v.hi FROM _timescaledb_catalog.continuous_agg a, (VALUES {}) AS v(lo, hi) WHERE a.user_view_schema = {schema} AND a.user_view_name = {name}",
            values(&c.hypertable_invalidations)
        ));
    }
    sql.extend(compress_sql(p, ts_schema));
    if grants {
        if let Some(g) = &c.grants {
            let target = p.target.sql();
            sql.push(format!(
                "ALTER MATERIALIZED VIEW {target} OWNER TO {}",
                quote_ident(&g.owner)
            ));
            for (grantee, privilege, grantable) in &g.grants {
                sql.push(format!(
                    "GRANT {privilege} ON {target} TO {}{}",
                    grantee.as_deref().map_or("PUBLIC".to_string(), quote_ident),
                    if *grantable { " WITH GRANT OPTION" } else { "" }
                ));
            }
        }
    }
    sql
}

/// The source's compressed materialization chunks, as ranges: the target compresses
/// its chunks wholly inside them once the rows are in (its materialization has the
/// source's chunk interval, so they are the same chunks). Only for a compressed
/// aggregate bucketed on `timestamptz` or an integer (show_chunks' own argument
/// types); other chunks are left to the aggregate's compression policy.
fn compressed_ranges(c: &ContinuousAggregate) -> Vec<(i64, i64)> {
    if c.compression.is_none() || !matches!(c.time_type, TimeType::TimestampTz | TimeType::Integer)
    {
        return Vec::new();
    }
    let mut out: Vec<(i64, i64)> = Vec::new();
    for ch in c.chunks.iter().filter(|ch| ch.compressed) {
        let (Some(lo), Some(hi)) = (ch.range_start, ch.range_end) else {
            continue;
        };
        match out.last_mut() {
            Some(last) if last.1 == lo => last.1 = hi,
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// `compress_chunk` for the target's chunks inside the source's compressed ranges.
fn compress_sql(p: &Placed<'_>, ts_schema: &str) -> Vec<String> {
    let ts = quote_ident(ts_schema);
    let tt = time_type(p.cagg);
    compressed_ranges(p.cagg)
        .into_iter()
        .map(|(lo, hi)| {
            format!(
                "SELECT count({ts}.compress_chunk(c, true)) FROM {ts}.show_chunks({}, older_than => {}, newer_than => {}) c",
                quote_literal(&p.target.sql()),
                window::literal(hi, tt),
                window::literal(lo, tt)
            )
        })
        .collect()
}

/// `(lo, hi), …` for a VALUES list of int8 pairs.
fn values(pairs: &[(i64, i64)]) -> String {
    pairs
        .iter()
        // Parenthesized: `-9223372036854775808::int8` casts before it negates.
        .map(|(lo, hi)| format!("(({lo})::int8, ({hi})::int8)"))
        .collect::<Vec<_>>()
        .join(", ")
}
