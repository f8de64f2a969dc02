//! `hypermove restore`: a backup directory into a database, through the same plan,
//! executor, journal and verification as `apply`. The plan's windows are the
//! backup's files; every file is hashed, counted and its header checked before
//! anything is written, and again while it loads.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use tokio_postgres::GenericClient;

use super::manifest::{Compression, Manifest, ManifestError};
use crate::datafile;
use crate::plan::{self, ArchiveFile, ArchiveTable, Inputs, PlanError, SourceSide};
use crate::spec::{Spec, TableSpec};

/// Why a restore cannot start. Nothing has been written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The manifest is missing or unreadable.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Files do not match the manifest.
    #[error("the backup is damaged, nothing was written: {}", .0.join("; "))]
    Damaged(Vec<String>),
    /// The spec asks for something the backup cannot give.
    #[error("{0}")]
    Refused(String),
    /// The plan could not be made.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// The spec's selection among the backup's tables, each with its index in the
/// manifest.
pub fn selection(
    spec: &Spec,
    manifest: &Manifest,
) -> Result<Vec<(TableSpec, usize)>, RestoreError> {
    let names = manifest.tables.iter().map(|t| t.name.clone()).collect();
    let mut out = Vec::new();
    for t in plan::select_from(spec, names) {
        let Some(i) = manifest.tables.iter().position(|m| m.name == t.source) else {
            return Err(RestoreError::Refused(format!(
                "{}: {} is not in the backup (it holds {})",
                spec.path.display(),
                t.source,
                manifest
                    .tables
                    .iter()
                    .map(|m| m.name.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if t.from.is_some() || t.until.is_some() {
            return Err(RestoreError::Refused(format!(
                "{}: {} sets from/until; a restore loads whole backup files, so restore it whole",
                spec.path.display(),
                t.source
            )));
        }
        out.push((t, i));
    }
    if out.is_empty() {
        return Err(RestoreError::Refused(format!(
            "{}: no table of the backup is selected",
            spec.path.display()
        )));
    }
    Ok(out)
}

/// Check every file of the selected tables against the manifest, in parallel:
/// size, SHA-256, CSV header and row count. Every damaged file is named.
pub fn check_files(dir: &Path, manifest: &Manifest, tables: &[usize]) -> Result<(), RestoreError> {
    let zstd = manifest.compression == Compression::Zstd;
    let files: Vec<(usize, &super::manifest::FileEntry)> = tables
        .iter()
        .flat_map(|&t| manifest.tables[t].files.iter().map(move |f| (t, f)))
        .collect();
    let mut problems: Vec<String> = files
        .par_iter()
        .filter_map(|(t, f)| {
            let path = dir.join(&f.path);
            // The size first: a truncated file is named as such, whatever its
            // content looks like where it was cut.
            match std::fs::metadata(&path) {
                Ok(m) if m.len() != f.bytes => {
                    return Some(format!(
                        "{} is truncated or extended: {} bytes, the manifest says {}",
                        path.display(),
                        m.len(),
                        f.bytes
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    return Some(format!("{} is missing or unreadable ({e})", path.display()));
                }
            }
            let facts = match datafile::inspect(&path, zstd) {
                Ok(facts) => facts,
                Err(e) => {
                    // A flipped byte in a compressed file breaks decompression
                    // first; the hash says whether the file is what was written.
                    let corrupted = datafile::sha256_of_file(&path).is_ok_and(|h| h != f.sha256);
                    return Some(if corrupted {
                        format!(
                            "{} is corrupted: its SHA-256 is not the manifest's",
                            path.display()
                        )
                    } else {
                        format!("{} is unreadable ({e})", path.display())
                    });
                }
            };
            if facts.bytes != f.bytes {
                return Some(format!(
                    "{} is truncated or extended: {} bytes, the manifest says {}",
                    path.display(),
                    facts.bytes,
                    f.bytes
                ));
            }
            if facts.sha256 != f.sha256 {
                return Some(format!(
                    "{} is corrupted: its SHA-256 is not the manifest's",
                    path.display()
                ));
            }
            if facts.header != manifest.tables[*t].header {
                return Some(format!(
                    "{} has header {:?}, the manifest says {:?}",
                    path.display(),
                    facts.header,
                    manifest.tables[*t].header
                ));
            }
            if facts.rows != f.rows {
                return Some(format!(
                    "{} holds {} rows, the manifest says {}",
                    path.display(),
                    facts.rows,
                    f.rows
                ));
            }
            None
        })
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort();
    Err(RestoreError::Damaged(problems))
}

/// A restore's inputs, and what the manifest makes its plan say besides.
#[derive(Debug)]
pub struct Prepared {
    /// The plan's inputs.
    pub inputs: Inputs,
    /// Warnings for the plan: compression a format-1 manifest does not record.
    pub warnings: Vec<String>,
}

impl Prepared {
    /// The restore's plan, with the manifest's warnings.
    pub fn plan(&self, spec: &Spec) -> Result<crate::plan::Plan, PlanError> {
        let mut plan = plan::build(spec, &self.inputs)?;
        plan.warnings.extend(self.warnings.iter().cloned());
        Ok(plan)
    }
}

/// Gather the restore's inputs: the source facts from the manifest (each hypertable's
/// compression as the manifest records it), the target's from the database, and the
/// files as the copy windows.
pub async fn inputs(
    spec: &Spec,
    dir: &Path,
    manifest: &Manifest,
    chosen: Vec<(TableSpec, usize)>,
    target: &impl GenericClient,
) -> Result<Prepared, RestoreError> {
    let m = &manifest.catalog;
    let mut tables = Vec::new();
    let mut warnings = Vec::new();
    for (_, i) in &chosen {
        let mut table = m.tables[*i].clone();
        let record = manifest.tables[*i].columnstore.as_ref();
        if let Some(w) =
            super::columnstore::restore_table(&mut table, record).map_err(RestoreError::Refused)?
        {
            warnings.push(w);
        }
        tables.push(table);
    }
    let side = SourceSide {
        source_server: m.source_server.clone(),
        tables,
        time_bounds: chosen.iter().map(|(_, i)| m.time_bounds[*i]).collect(),
        // A restore checks each file against its manifest: no key ranges.
        key_ranges: vec![None; chosen.len()],
        views: m.views.clone(),
        grants: chosen.iter().map(|(_, i)| m.grants[*i].clone()).collect(),
        grants_left: Vec::new(),
        source_privileges: m.source_privileges.clone(),
    };
    let archive = chosen
        .iter()
        .map(|(_, i)| {
            let t = &manifest.tables[*i];
            ArchiveTable {
                header: t.header.clone(),
                files: t
                    .files
                    .iter()
                    .map(|f| ArchiveFile {
                        bounds: f.bounds.clone(),
                        path: absolute(&dir.join(&f.path)),
                        zstd: manifest.compression == Compression::Zstd,
                        rows: f.rows,
                        bytes: f.bytes,
                        sha256: f.sha256.clone(),
                        checksum: f.checksum.clone(),
                    })
                    .collect(),
            }
        })
        .collect();
    let selection = chosen.into_iter().map(|(t, _)| t).collect();
    let mut inputs = plan::gather_target(spec, selection, side, target).await?;
    inputs.archive = Some(archive);
    Ok(Prepared { inputs, warnings })
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The restore's plan, from the manifest and the target, without checking the
/// files (`hypermove plan` shows it; `restore` checks every file first).
pub async fn plan_restore(
    spec: &Spec,
    target: &impl GenericClient,
) -> Result<crate::plan::Plan, RestoreError> {
    let dir = spec.source.directory().ok_or_else(|| {
        RestoreError::Refused(format!(
            "{}: the source is a database, not a backup directory",
            spec.path.display()
        ))
    })?;
    let manifest = Manifest::read(dir)?;
    let chosen = selection(spec, &manifest)?;
    let prepared = inputs(spec, dir, &manifest, chosen, target).await?;
    Ok(prepared.plan(spec)?)
}
