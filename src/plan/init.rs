//! `hypermove init`: write a complete, commented spec from a live source, so that
//! applying it unchanged reproduces the source's layout, and re-chunking is an edit
//! of one `chunk_time_interval`.

use std::fmt::Write;

use tokio_postgres::GenericClient;

use super::PlanError;
use crate::catalog::{self, DimensionKind, Table};
use crate::pg::{ConnInfo, Role};
use crate::plan::render::rows;
use crate::spec::{ChunkInterval, Pattern};

/// Render a spec for every source table matching `include` (all tables when empty).
pub async fn init_spec(
    source: &impl GenericClient,
    source_info: &ConnInfo,
    target: &str,
    include: &[Pattern],
) -> Result<String, PlanError> {
    let err = |source| PlanError::Catalog {
        role: Role::Source,
        source,
    };
    let server = catalog::server_info(source).await.map_err(err)?;
    let mut tables: Vec<Table> = Vec::new();
    for name in catalog::list_tables(source).await.map_err(err)? {
        if include.is_empty() || include.iter().any(|p| p.matches(&name)) {
            tables.push(catalog::table(source, &server, &name).await.map_err(err)?);
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# yaml-language-server: $schema=../schemas/hypermove.schema.json"
    );
    let _ = writeln!(
        out,
        "# Written by `hypermove init` from {source_info} (PostgreSQL {}{}).",
        server.version.split_whitespace().next().unwrap_or("?"),
        server
            .timescaledb
            .as_ref()
            .map(|v| format!(", TimescaleDB {v}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "# Applied unchanged, it reproduces every table as it is. To re-chunk a hypertable,\n# edit its chunk_time_interval; to review: hypermove plan <this file>"
    );
    let _ = writeln!(out, "version: 1");
    let _ = writeln!(
        out,
        "source: {}   # the password comes from PGPASSWORD, ~/.pgpass or ${{VAR}}",
        yaml_str(&format!("postgresql://{source_info}"))
    );
    let _ = writeln!(out, "target: {}", yaml_str(target));
    let _ = writeln!(out, "workers: 4");
    let _ = writeln!(out, "verify: checksum");
    let _ = writeln!(
        out,
        "grants: true   # owners and grants move too (their roles must exist on the target); false leaves them behind"
    );
    if tables.is_empty() {
        let _ = writeln!(out, "tables: []   # no table matched");
        return Ok(out);
    }
    let _ = writeln!(out, "tables:");
    for t in &tables {
        let _ = write!(out, "{}", table_entry(t));
    }
    Ok(out)
}

/// A YAML string scalar, always double-quoted and escaped.
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

fn table_entry(t: &Table) -> String {
    let mut out = String::new();
    let name = yaml_str(&t.name.to_string());
    let Some(h) = &t.hypertable else {
        let _ = writeln!(out, "  # plain table, ≈ {} rows", rows(t.est_rows));
        let _ = writeln!(out, "  - name: {name}");
        return out;
    };
    let est = h
        .chunks
        .iter()
        .try_fold(0u64, |acc, c| c.est_rows.map(|r| acc + r));
    let _ = writeln!(
        out,
        "  # hypertable, {} chunk{}, ≈ {} rows",
        h.chunks.len(),
        if h.chunks.len() == 1 { "" } else { "s" },
        rows(est)
    );
    for feature in &h.unsupported {
        let _ = writeln!(
            out,
            "  # note: {feature}; a move refuses it until it is removed"
        );
    }
    let _ = writeln!(out, "  - name: {name}");
    let _ = writeln!(out, "    hypertable:");
    let mut dims = h.dimensions.iter();
    let interval = |width: i64, integer: bool| {
        if integer {
            ChunkInterval::Integer(width).to_string()
        } else {
            yaml_str(&ChunkInterval::Time { micros: width }.to_string())
        }
    };
    if let Some(first) = dims.next() {
        let _ = writeln!(out, "      time_column: {}", yaml_str(&first.column));
        if let DimensionKind::Range {
            width,
            integer,
            integer_now_func,
        } = &first.kind
        {
            let _ = writeln!(
                out,
                "      chunk_time_interval: {}   # edit to re-chunk",
                interval(*width, *integer)
            );
            if let Some(f) = integer_now_func {
                let _ = writeln!(out, "      integer_now_func: {}", yaml_str(f));
            }
        }
    }
    let rest: Vec<_> = dims.collect();
    let out = dimensions(out, &rest, interval);
    compression_entry(out, h)
}

/// The `compression:` block of a compressed hypertable: its settings and its
/// compression policy's threshold, written out so a reviewer sees them and can edit
/// them ("reorganise while moving").
fn compression_entry(mut out: String, h: &crate::catalog::Hypertable) -> String {
    let Some(c) = &h.compression else {
        return out;
    };
    let compressed = h.chunks.iter().filter(|c| c.compressed).count();
    let _ = writeln!(
        out,
        "    compression:   # {compressed} of {} chunks compressed; edit to re-compress on the way",
        h.chunks.len()
    );
    let columns: Vec<String> = c.segment_by.iter().map(|s| yaml_str(s)).collect();
    let _ = writeln!(out, "      segment_by: [{}]", columns.join(", "));
    if !c.order_by.is_empty() {
        let _ = writeln!(out, "      order_by: {}", yaml_str(&c.order_by));
    }
    let policy = h
        .policies
        .iter()
        .find(|p| p.kind == crate::catalog::JobPolicyKind::Compression);
    if let Some(p) = policy {
        let after = match &p.after {
            crate::catalog::JobPolicyAfter::Interval(i) => yaml_str(i),
            crate::catalog::JobPolicyAfter::Integer(n) => n.to_string(),
        };
        let _ = writeln!(out, "      compress_after: {after}");
    }
    out
}

/// The dimensions after the first, as `dimensions:` entries.
fn dimensions(
    mut out: String,
    rest: &[&crate::catalog::Dimension],
    interval: impl Fn(i64, bool) -> String,
) -> String {
    if !rest.is_empty() {
        let _ = writeln!(out, "      dimensions:");
        for d in rest {
            match &d.kind {
                DimensionKind::Hash { partitions } => {
                    let _ = writeln!(
                        out,
                        "        - {{column: {}, number_partitions: {partitions}}}",
                        yaml_str(&d.column)
                    );
                }
                DimensionKind::Range { width, integer, .. } => {
                    let _ = writeln!(
                        out,
                        "        - {{column: {}, chunk_time_interval: {}}}",
                        yaml_str(&d.column),
                        interval(*width, *integer)
                    );
                }
            }
        }
    }
    out
}
