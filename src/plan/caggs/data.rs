//! The data of a continuous aggregate: its copy windows (one per source
//! materialization chunk) and the checks of its bucket ranges. Pure.

use super::sql::view_literals;
use super::{Placed, target_name, time_type};
use crate::catalog::ContinuousAggregate;
use crate::pg::{QualifiedName, quote_ident};
use crate::plan::window::{self, Window};
use crate::plan::{CopyWindow, Inputs, Probe, WindowBounds};
use crate::spec::{Spec, VerifyLevel};

/// One window per time range of the materialization's chunks on the source.
pub(in crate::plan) fn windows(c: &ContinuousAggregate) -> Vec<Window> {
    window::from_chunks(&c.materialization, &c.chunks)
}

/// The suffix of a window's step IDs: `:lo..hi`.
pub(in crate::plan) fn suffix(c: &ContinuousAggregate, lo: Option<i64>, hi: Option<i64>) -> String {
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
pub(in crate::plan) fn placeholder(target: &QualifiedName) -> String {
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
pub(in crate::plan) fn copy_window(p: &Placed<'_>, w: &Window) -> CopyWindow {
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
        // The aggregate's own compression is applied by its watermark step.
        direct_compress: false,
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
pub(in crate::plan) fn verify_ranges(c: &ContinuousAggregate) -> Vec<(Option<i64>, Option<i64>)> {
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
pub(in crate::plan) fn probe(
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
        // Aggregates are small and read through their views: both checksum levels are
        // computed by the servers.
        VerifyLevel::Checksum | VerifyLevel::ChecksumSql => (
            vec!["rows".to_string(), "checksum".to_string()],
            crate::plan::probe::sql_checksum_select(&row),
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
        rows_read: None,
        source_rows_sql: Some(format!("SELECT {row}, {row} FROM {source}")),
        target_rows_sql: Some(format!("SELECT {row}, {row} FROM {target}")),
        recorded: None,
    })
}

/// The checks `hypermove verify` runs for the aggregates of a moved table that the
/// target holds: the same bucket ranges, IDs and queries as `apply`'s.
pub(in crate::plan) fn verification(
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
