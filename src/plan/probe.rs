//! Verification probes: the queries that compare one window, or one table's row
//! total, between source and target.

use super::shape::{Shape, time_of};
use super::window::{self, Relation, Window};
use super::{Probe, RowsRead};
use crate::catalog::{ConstraintKind, Table, TimeType};
use crate::pg::quote_ident;
use crate::spec::{TableSpec, TimeValue, VerifyLevel};

/// Where one window's rows are read. The copy reads the chunk (or table) the window
/// came from; verification never reads that way. It reads the source through the
/// table itself over the window's range, as a user's query would, so a copy that
/// reads too few rows cannot also be the measure of how many there were. The target
/// is read through its table over the same range, so a re-chunked or re-partitioned
/// target is compared correctly.
pub(super) struct WindowRange {
    /// `:lo..hi` for a ranged window, empty for a whole table; shared by the copy
    /// and verify step IDs.
    pub(super) suffix: String,
    /// `chunk WHERE …` (or `ONLY table WHERE …`) on the source: what the copy reads.
    pub(super) source_from: String,
    /// `table WHERE …` on the source: what verification reads.
    pub(super) verify_from: String,
    /// `target WHERE …` on the target.
    pub(super) target_from: String,
}

/// The ranges of a table's windows, over the column its windows are cut on.
pub(super) fn window_ranges(
    t: &TableSpec,
    table: &Table,
    shape: &Shape,
    windows: &[Window],
) -> Vec<WindowRange> {
    ranges_on(t, time_of(table, shape).as_ref(), windows)
}

/// Window ranges over a given time column.
pub(super) fn ranges_on(
    t: &TableSpec,
    time: Option<&(String, TimeType)>,
    windows: &[Window],
) -> Vec<WindowRange> {
    windows
        .iter()
        .map(|w| {
            let suffix = match (&time, w.ranged) {
                (Some((_, tt)), true) => format!(
                    ":{}..{}",
                    window::label(w.lo, *tt, "-inf"),
                    window::label(w.hi, *tt, "+inf")
                ),
                _ => String::new(),
            };
            let predicate = range_predicate(w, time);
            WindowRange {
                suffix,
                source_from: format!("{}{predicate}", w.relation.sql()),
                verify_from: format!("{}{predicate}", t.source.sql()),
                target_from: format!("{}{predicate}", t.target.sql()),
            }
        })
        .collect()
}

/// Rows per key range a plain table's verification is cut into, estimated.
const ROWS_PER_KEY_RANGE: u64 = 250_000;

/// At most this many key ranges per table.
const MAX_KEY_RANGES: u64 = 256;

/// The one-column integer primary key of a table, if it has one: the column over
/// which a plain table's checks are cut.
pub(crate) fn integer_key(table: &Table) -> Option<&str> {
    let pk = table
        .constraints
        .iter()
        .find(|c| c.kind == ConstraintKind::PrimaryKey)?;
    let [column] = pk.columns.as_slice() else {
        return None;
    };
    let c = table.column(column)?;
    (TimeType::from_oid(c.type_oid) == Some(TimeType::Integer)).then_some(column.as_str())
}

/// The key a plain table's checks may be cut on, when it is worth reading its range:
/// an integer key, more rows than one range holds, and no row-level security (a
/// policy would make the read fail, and the plan says why elsewhere).
pub(crate) fn key_to_cut(table: &Table) -> Option<&str> {
    let big = table.est_rows.is_some_and(|r| r > ROWS_PER_KEY_RANGE);
    let rls = table.row_security.as_ref().is_some_and(|r| r.enabled);
    if big && !rls {
        integer_key(table)
    } else {
        None
    }
}

/// The checks of a plain table that is copied whole, cut by ranges of its integer
/// primary key, so that a large one is verified in parallel and a mismatch (and
/// `verify --diff`) points to a range. `None` keeps one check of the whole table:
/// no such key, or too few rows to be worth cutting. The first range is open below
/// and the last above, so every row of either side falls in one (a key is never
/// NULL). Only the checks are cut: the copy stays one window, whose record does not
/// depend on a range that moves with every insert.
pub(super) fn key_ranges(
    t: &TableSpec,
    table: &Table,
    windows: &[Window],
    range: Option<(i64, i64)>,
) -> Option<Vec<WindowRange>> {
    let [w] = windows else { return None };
    if w.ranged {
        return None;
    }
    let column = integer_key(table)?;
    let (min, max) = range?;
    let parts = w.est_rows?.div_ceil(ROWS_PER_KEY_RANGE).min(MAX_KEY_RANGES);
    let span = (max as i128) - (min as i128) + 1;
    if parts < 2 || span < 2 {
        return None;
    }
    let parts = (parts as i128).min(span);
    let step = (span + parts - 1) / parts;
    let cuts: Vec<i64> = (1..parts)
        .map(|i| (min as i128 + i * step) as i64)
        .filter(|&c| c <= max)
        .collect();
    let key = (column.to_string(), TimeType::Integer);
    let mut bounds = Vec::with_capacity(cuts.len() + 1);
    let mut lo = None;
    for &c in &cuts {
        bounds.push((lo, Some(c)));
        lo = Some(c);
    }
    bounds.push((lo, None));
    let windows: Vec<Window> = bounds
        .into_iter()
        .map(|(lo, hi)| Window {
            lo,
            hi,
            relation: Relation::Table(t.source.clone()),
            ranged: true,
            est_rows: None,
            est_bytes: 0,
        })
        .collect();
    let mut ranges = ranges_on(t, Some(&key), &windows);
    for r in &mut ranges {
        // `:id=-inf..2501`: the key column names the range, so it never reads as time.
        r.suffix = format!(":{}={}", column, &r.suffix[1..]);
    }
    Some(ranges)
}

/// Whether a table gets a row-total check besides its windows: whenever its windows
/// are ranges, since rows outside every range (a chunk the catalog did not list, rows
/// where no window looked) would escape the per-window checks.
pub(super) fn needs_total(windows: &[Window]) -> bool {
    windows.len() > 1 || windows.iter().any(|w| w.ranged)
}

/// The row-total check of one table: every row of the source table (within
/// `from:`/`until:`), counted through the table as a user's query would, against
/// every row of the target table.
pub(super) fn total_probe(t: &TableSpec, time: Option<&(String, TimeType)>) -> Probe {
    let value = |v: TimeValue| match v {
        TimeValue::Micros(m) | TimeValue::Int(m) => m,
    };
    let bounds = Window {
        lo: t.from.map(value),
        hi: t.until.map(value),
        relation: Relation::Table(t.source.clone()),
        ranged: true,
        est_rows: None,
        est_bytes: 0,
    };
    let predicate = range_predicate(&bounds, time);
    Probe {
        level: VerifyLevel::Count,
        table_total: true,
        table_check: None,
        columns: vec!["rows".to_string()],
        source_sql: format!("SELECT count(*)::text FROM {}{predicate}", t.source.sql()),
        target_sql: format!("SELECT count(*)::text FROM {}{predicate}", t.target.sql()),
        rows_read: None,
        source_rows_sql: None,
        target_rows_sql: None,
        recorded: None,
    }
}

/// The ID of a table's row-total check.
pub(super) fn total_id(t: &TableSpec) -> String {
    format!("verify:{}{TOTAL_SUFFIX}", t.target)
}

/// How a row-total check's ID ends; no window's range label ends this way.
const TOTAL_SUFFIX: &str = ":total";

/// Whether a verify step ID is a table's row total rather than a window.
pub fn is_table_total(step_id: &str) -> bool {
    step_id.ends_with(TOTAL_SUFFIX)
}

/// Whether a verify step ID checks a table as a whole (its row total, its
/// compression) rather than one window.
pub fn is_table_check(step_id: &str) -> bool {
    is_table_total(step_id) || step_id.ends_with(":compression")
}

/// The columns a window's rows travel in, and the COPY format they travel as:
/// binary, unless a column's send format embeds type OIDs that differ between
/// databases (arrays and composites of user-defined types). Generated columns are
/// computed again on the target, so they neither travel nor are hashed.
pub(super) fn copy_columns(table: &Table) -> (String, &'static str) {
    columns_read(table, false)
}

/// The columns a check reads and their COPY format: the copy's columns, or with
/// `generated` every column, so that a check that reads both sides also compares
/// what the target computed (a generation expression that differs shows).
fn columns_read(table: &Table, generated: bool) -> (String, &'static str) {
    let read = |c: &&crate::catalog::Column| generated || c.generated.is_none();
    let list = table
        .columns
        .iter()
        .filter(read)
        .map(|c| quote_ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let binary = table.columns.iter().filter(read).all(|c| c.binary_ok);
    (list, if binary { "binary" } else { "text" })
}

/// What a check reads when its source side is the hash its copy kept: the copy's
/// columns in the copy's format on both sides, so equal rows hash equally (and the
/// source read whole, when the hash is missing, matches the target read).
pub(super) fn rows_copied(table: &Table, r: &WindowRange, copy_step: String) -> RowsRead {
    let (cols, format) = copy_columns(table);
    let copy = |from: &str| format!("COPY (SELECT {cols} FROM {from}) TO STDOUT (FORMAT {format})");
    RowsRead {
        source_copy: copy(&r.verify_from),
        target_copy: copy(&r.target_from),
        copied_by: Some(copy_step),
    }
}

/// The server-side checksum of `checksum-sql`: a sum, over rows, of the first 64
/// bits of the MD5 of each row's text form. `row` is a `ROW(…)::text` expression.
pub(super) fn sql_checksum_select(row: &str) -> String {
    format!(
        "count(*)::text, coalesce(sum(('x' || left(md5({row}), 16))::bit(64)::int8::numeric), 0)::text"
    )
}

/// The verification queries for one window.
///
/// At `checksum`, both sides' rows are read with COPY in the format the copy uses
/// and hashed by the client (exec/rowhash.rs): no value is formatted or hashed on
/// a server. In `apply`, the source side of that hash comes from the copy itself,
/// as its rows streamed past ([`Probe::rows_read`]'s `copied_by`); since that is
/// the copy's own account, the source is also counted through its table over the
/// window's range, as a user's query would read it, and the count must match
/// what the target holds. `hypermove verify` reads the source through its table.
///
/// At `checksum-sql`, each server sums the MD5 of each row's text form, made equal
/// across servers by the session settings in `pg::session::SETUP`: no row crosses
/// the network, at the cost of formatting every value on the servers.
pub(super) fn probe(level: VerifyLevel, table: &Table, r: &WindowRange) -> Option<Probe> {
    let row = format!(
        "ROW({})::text",
        table
            .columns
            .iter()
            .map(|c| quote_ident(&c.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let count = "count(*)::text".to_string();
    let (columns, select, rows_read) = match level {
        VerifyLevel::None => return None,
        VerifyLevel::Count => (vec!["rows".to_string()], count, None),
        VerifyLevel::Checksum => {
            let (cols, format) = columns_read(table, true);
            let copy = |from: &str| {
                format!("COPY (SELECT {cols} FROM {from}) TO STDOUT (FORMAT {format})")
            };
            (
                vec!["rows".to_string(), "checksum".to_string()],
                count,
                Some(RowsRead {
                    source_copy: copy(&r.verify_from),
                    target_copy: copy(&r.target_from),
                    copied_by: None,
                }),
            )
        }
        VerifyLevel::ChecksumSql => (
            vec!["rows".to_string(), "checksum".to_string()],
            sql_checksum_select(&row),
            None,
        ),
    };
    // Rows are paired by primary key for --diff; without one, the row is its own key.
    let key = table
        .constraints
        .iter()
        .find(|c| c.kind == ConstraintKind::PrimaryKey)
        .map(|pk| {
            format!(
                "ROW({})::text",
                pk.columns
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .unwrap_or_else(|| row.clone());
    Some(Probe {
        level,
        table_total: false,
        table_check: None,
        columns,
        source_sql: format!("SELECT {select} FROM {}", r.verify_from),
        target_sql: format!("SELECT {select} FROM {}", r.target_from),
        rows_read,
        source_rows_sql: Some(format!("SELECT {key}, {row} FROM {}", r.verify_from)),
        target_rows_sql: Some(format!("SELECT {key}, {row} FROM {}", r.target_from)),
        recorded: None,
    })
}

/// ` WHERE column >= lo AND column < hi` for a ranged window; empty otherwise.
fn range_predicate(w: &Window, time: Option<&(String, TimeType)>) -> String {
    let Some((column, tt)) = time else {
        return String::new();
    };
    if !w.ranged {
        return String::new();
    }
    let col = quote_ident(column);
    let mut parts = Vec::new();
    if let Some(lo) = w.lo {
        parts.push(format!("{col} >= {}", window::literal(lo, *tt)));
    }
    if let Some(hi) = w.hi {
        parts.push(format!("{col} < {}", window::literal(hi, *tt)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    }
}
