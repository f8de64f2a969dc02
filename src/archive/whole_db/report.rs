//! What a restore found, and what `dump-db` and `restore-db` print when done.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::manifest::{MANIFEST, Manifest};
use super::{count_of, short_version};
use crate::pg::{QualifiedName, display_ident};

/// One table after a restore, next to the manifest's figures.
#[derive(Debug, Clone)]
pub struct TableCheck {
    /// The table.
    pub table: QualifiedName,
    /// Rows the manifest recorded.
    pub dump_rows: i64,
    /// Chunks the manifest recorded.
    pub dump_chunks: i64,
    /// Rows and chunks on the restored database; `None` when the table is missing.
    pub restored: Option<(i64, i64)>,
}

impl TableCheck {
    /// Whether the restored table has the dump's rows and chunks.
    pub fn ok(&self) -> bool {
        self.restored == Some((self.dump_rows, self.dump_chunks))
    }
}

/// What a restore did and found.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The dump's manifest.
    pub manifest: Manifest,
    /// The restored database (no password).
    pub target: String,
    /// Each phase and how long it took.
    pub phases: Vec<(String, Duration)>,
    /// Every manifest table, checked.
    pub tables: Vec<TableCheck>,
    /// `timescaledb.restoring` as a new session on the restored database sees it.
    pub restoring: String,
}

impl RestoreReport {
    /// Whether every count matches the manifest and restore mode is off.
    pub fn ok(&self) -> bool {
        self.restoring == "off" && self.tables.iter().all(TableCheck::ok)
    }
}

/// What `dump-db` prints when it is done.
pub fn render_dump(manifest: &Manifest, dir: &Path) -> String {
    let rows: i64 = manifest.tables.iter().map(|t| t.rows).sum();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Dumped {} from {} (PostgreSQL {}, {}) with pg_dump {}",
        display_ident(&manifest.database),
        manifest.source.server,
        short_version(&manifest.source.postgresql),
        manifest
            .source
            .timescaledb
            .as_deref()
            .map_or("no TimescaleDB".to_string(), |v| format!("TimescaleDB {v}")),
        manifest.pg_dump.version
    );
    let _ = writeln!(
        out,
        "  {}: {} bytes, sha256 {}",
        dir.join(&manifest.dump.file).display(),
        manifest.dump.bytes,
        manifest.dump.sha256
    );
    let _ = writeln!(
        out,
        "  {}: {}, {rows} rows counted in the dump's snapshot",
        dir.join(MANIFEST).display(),
        count_of(manifest.tables.len(), "table")
    );
    let _ = writeln!(
        out,
        "To restore into a new database: hypermove restore-db {} --target URL",
        dir.display()
    );
    out
}

/// What `restore-db` prints when it is done: the phases, then a table of counts.
pub fn render_restore(report: &RestoreReport, dir: &Path) -> String {
    let m = &report.manifest;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Restored {} into {} (dumped {} from PostgreSQL {}, {})",
        dir.display(),
        report.target,
        m.dumped_at,
        short_version(&m.source.postgresql),
        m.source
            .timescaledb
            .as_deref()
            .map_or("no TimescaleDB".to_string(), |v| format!("TimescaleDB {v}")),
    );
    let phases: Vec<String> = report
        .phases
        .iter()
        .map(|(name, took)| format!("{name} {:.2}s", took.as_secs_f64()))
        .collect();
    let _ = writeln!(out, "  {}", phases.join("; "));
    let header = ["table", "chunks", "rows in dump", "rows restored", ""];
    let mut rows: Vec<[String; 5]> = Vec::new();
    for t in &report.tables {
        let (restored_rows, restored_chunks) = match t.restored {
            Some((r, c)) => (r.to_string(), c.to_string()),
            None => ("missing".to_string(), "-".to_string()),
        };
        let chunks = if t.dump_chunks == 0 && restored_chunks == "0" {
            String::new()
        } else {
            format!("{restored_chunks}/{}", t.dump_chunks)
        };
        rows.push([
            t.table.to_string(),
            chunks,
            t.dump_rows.to_string(),
            restored_rows,
            if t.ok() { "ok" } else { "MISMATCH" }.to_string(),
        ]);
    }
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 5]| {
        format!(
            "  {:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        )
        .trim_end()
        .to_string()
    };
    let _ = writeln!(out, "\n{}", line(header));
    for r in &rows {
        let _ = writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    let total: i64 = report.tables.iter().map(|t| t.dump_rows).sum();
    let bad = report.tables.iter().filter(|t| !t.ok()).count();
    if report.restoring != "off" {
        let _ = writeln!(
            out,
            "\ntimescaledb.restoring is {} on the restored database: run SELECT timescaledb_post_restore() there",
            report.restoring
        );
    }
    if bad == 0 {
        let _ = writeln!(
            out,
            "\nVerification: {}, {total} rows: every count matches the dump.",
            count_of(report.tables.len(), "table")
        );
    } else {
        let _ = writeln!(
            out,
            "\nVerification: {bad} of {} differ from the dump.",
            count_of(report.tables.len(), "table")
        );
    }
    out
}
