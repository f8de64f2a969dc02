//! The data steps of one table: where its windows come from, what each copy
//! step does, and the verification that follows it.

use super::probe::{self, WindowRange};
use super::shape::{Shape, time_of};
use super::window::{self, Relation, Window};
use super::{Action, ArchiveTable, CopyWindow, LoadFile, Probe, WindowBounds};
use crate::catalog::{Table, TimeBounds, TimeType};
use crate::pg::quote_ident;
use crate::spec::{Spec, TableSpec, VerifyLevel};

/// Where a table's rows, and so its windows, come from.
#[derive(Debug, Clone, Copy)]
pub(super) enum WindowSource<'a> {
    /// The source database: windows are cut on its chunks (or, for a plain source,
    /// on the target's chunk width) and copied with `COPY`.
    Database,
    /// A backup: the windows are the backup's files, cut on the backup's time column
    /// whatever the new shape is, and loaded.
    Archive(&'a ArchiveTable),
}

impl<'a> WindowSource<'a> {
    /// Where the table at `index` of the selection is read from.
    pub(super) fn of(archive: Option<&'a [ArchiveTable]>, index: usize) -> Self {
        match archive {
            Some(a) => WindowSource::Archive(&a[index]),
            None => WindowSource::Database,
        }
    }

    /// The column the windows' ranges are on, and its type family.
    pub(super) fn time(&self, table: &Table, shape: &Shape) -> Option<(String, TimeType)> {
        match self {
            WindowSource::Archive(a) => a.files.first().and_then(|f| f.bounds.time.clone()),
            WindowSource::Database => time_of(table, shape),
        }
    }

    /// The table's windows, in copy order (spread over the target's chunks unless
    /// `spread` is false: then in time order), and the range each reads.
    pub(super) fn windows(
        &self,
        spec: &Spec,
        t: &TableSpec,
        table: &Table,
        shape: &Shape,
        bounds: Option<TimeBounds>,
        spread: bool,
    ) -> (Vec<Window>, Vec<WindowRange>) {
        let windows = match self {
            WindowSource::Archive(a) => a
                .files
                .iter()
                .map(|f| Window {
                    lo: f.bounds.lo,
                    hi: f.bounds.hi,
                    relation: Relation::Table(t.source.clone()),
                    ranged: f.bounds.time.is_some(),
                    est_rows: Some(f.rows),
                    est_bytes: f.bytes,
                })
                .collect(),
            WindowSource::Database => {
                let windows =
                    window::for_table(spec, t, table, shape, bounds.and_then(|b| b.range));
                // A target compressed as it fills takes its windows in time order,
                // so its slices fill (and are compressed) one after another.
                if spread {
                    window::spread_over_target_chunks(windows, shape)
                } else {
                    windows
                }
            }
        };
        let ranges = probe::ranges_on(t, self.time(table, shape).as_ref(), &windows);
        (windows, ranges)
    }

    /// What the copy step of each window does: a `COPY` pipe from the source, or the
    /// load of one backup file.
    pub(super) fn copy_actions(
        &self,
        t: &TableSpec,
        table: &Table,
        shape: &Shape,
        windows: &[Window],
        ranges: &[WindowRange],
    ) -> Vec<Action> {
        match self {
            WindowSource::Archive(a) => {
                // The files' header decides the column order: columns are matched by
                // name, whatever order the target table has.
                let header = a
                    .header
                    .iter()
                    .map(|c| quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", ");
                a.files
                    .iter()
                    .map(|f| {
                        Action::Load(LoadFile {
                            path: f.path.clone(),
                            zstd: f.zstd,
                            target_sql: format!(
                                "COPY {} ({header}) FROM STDIN (FORMAT csv, HEADER true)",
                                t.target.sql()
                            ),
                            rows: f.rows,
                            bytes: f.bytes,
                            sha256: f.sha256.clone(),
                        })
                    })
                    .collect()
            }
            WindowSource::Database => {
                // Generated columns are computed again on the target.
                let (col_list, format) = probe::copy_columns(table);
                let time = time_of(table, shape);
                windows
                    .iter()
                    .zip(ranges)
                    .map(|(w, r)| {
                        Action::Copy(CopyWindow {
                            source_table: t.source.clone(),
                            source_sql: format!(
                                "COPY (SELECT {col_list} FROM {}) TO STDOUT (FORMAT {format})",
                                r.source_from
                            ),
                            target_sql: format!(
                                "COPY {} ({col_list}) FROM STDIN (FORMAT {format})",
                                t.target.sql()
                            ),
                            target_lookup: None,
                            est_rows: w.est_rows,
                            est_bytes: w.est_bytes,
                            select_sql: format!("SELECT {col_list} FROM {}", r.source_from),
                            bounds: WindowBounds {
                                time: time.clone().filter(|_| w.ranged),
                                lo: w.lo,
                                hi: w.hi,
                            },
                            // Set by the compression steps, which know the slices.
                            direct_compress: false,
                        })
                    })
                    .collect()
            }
        }
    }

    /// The check of window `i`, at the spec's level; a backup's answers for the
    /// source are the ones its manifest recorded.
    pub(super) fn window_probe(
        &self,
        i: usize,
        level: VerifyLevel,
        table: &Table,
        r: &WindowRange,
    ) -> Option<Probe> {
        let level = match self {
            // A backup made without checksums can still be counted.
            WindowSource::Archive(a) if a.files[i].checksum.is_none() => {
                level.min(VerifyLevel::Count)
            }
            // A backup's manifest records the servers' checksum (`checksum-sql`): the
            // restored rows are checked the same way.
            WindowSource::Archive(_) if level == VerifyLevel::Checksum => VerifyLevel::ChecksumSql,
            _ => level,
        };
        let mut probe = probe::probe(level, table, r)?;
        if let WindowSource::Archive(a) = self {
            let f = &a.files[i];
            probe.recorded = Some(match level {
                VerifyLevel::Checksum | VerifyLevel::ChecksumSql => {
                    vec![f.rows.to_string(), f.checksum.clone().unwrap_or_default()]
                }
                _ => vec![f.rows.to_string()],
            });
        }
        Some(probe)
    }

    /// The table's row-total check; a backup's total is the sum of its files' rows.
    pub(super) fn total_probe(&self, t: &TableSpec, table: &Table, shape: &Shape) -> Probe {
        let mut p = probe::total_probe(t, self.time(table, shape).as_ref());
        if let WindowSource::Archive(a) = self {
            p.recorded = Some(vec![
                a.files.iter().map(|f| f.rows).sum::<u64>().to_string(),
            ]);
        }
        p
    }
}
