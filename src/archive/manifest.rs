//! `manifest.json`: what a backup directory holds, written last and atomically, so
//! a directory with one is complete. While a backup runs, its progress lives in
//! `backup.json` (the plan) and `files.jsonl` (one line per finished file).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalog::JobPolicy;
use crate::pg::QualifiedName;
use crate::plan::{SourceSide, WindowBounds};
use crate::spec::VerifyLevel;

/// The newest manifest format this hypermove writes and reads; bumped on any change
/// an older reader would misread.
///
/// - 1: the tables, their files and the source's catalog facts.
/// - 2: adds, per hypertable, its TimescaleDB compression ([`TableEntry::columnstore`]:
///   settings, policies, the source chunks that were compressed) and, per file,
///   whether its window was read from compressed chunks ([`FileEntry::source_compressed`]).
///
/// A backup is written with the oldest format that holds it (see
/// [`format_version_for`]): without any compression to record it stays format 1, which
/// older hypermoves restore correctly; with some it is format 2, which they refuse
/// rather than restore without compressing. Both are read: a format-1 manifest (or a
/// table without `columnstore`) restores uncompressed, as before.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest manifest format this hypermove reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
/// What `format` says in every manifest.
pub const FORMAT: &str = "hypermove-backup";
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The running backup's plan.
pub const STATE: &str = "backup.json";
/// The running backup's finished files, one JSON line each.
pub const FILES: &str = "files.jsonl";
/// The schema's file name.
pub const SCHEMA: &str = "schema.sql";

/// A backup directory's table of contents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format it is written in: [`format_version_for`] its tables.
    pub format_version: u32,
    /// The hypermove that wrote it.
    pub hypermove_version: String,
    /// The source server and database (never a user or password).
    pub source: SourceInfo,
    /// When the snapshot the data was read from was taken (UTC).
    pub snapshot_time: String,
    /// Snapshots of later runs that resumed an interrupted backup: the files they
    /// wrote were read at those instants, from the same source state.
    #[serde(default)]
    pub resumed_snapshots: Vec<String>,
    /// The source state's fingerprint (tables, columns, chunks).
    pub source_fingerprint: String,
    /// `zstd` or `none`.
    pub compression: Compression,
    /// `count` or `checksum`: what each file records for verification.
    pub verify: VerifyLevel,
    /// `schema.sql` and its SHA-256.
    pub schema: FileRef,
    /// The tables, each with its files.
    pub tables: Vec<TableEntry>,
    /// The source's catalog facts, for `restore`'s plan.
    pub catalog: SourceSide,
}

/// The source, as a manifest records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceInfo {
    /// `17.12 (Debian …)`.
    pub postgresql: String,
    /// `170012`.
    pub postgresql_num: i32,
    /// The installed TimescaleDB version, if any.
    pub timescaledb: Option<String>,
    /// The database name.
    pub database: String,
}

/// A file and its hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRef {
    /// Relative to the directory.
    pub path: String,
    /// Hex SHA-256.
    pub sha256: String,
}

/// Data file compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// zstd, level 3.
    Zstd,
    /// Plain CSV.
    None,
}

/// One table of a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableEntry {
    /// The table on the source.
    pub name: QualifiedName,
    /// `plain table`, or the hypertable's dimensions as the plan describes them.
    pub layout: String,
    /// Columns and their types, in table order.
    pub columns: Vec<ColumnEntry>,
    /// The CSV header: the columns the files hold (generated columns are not
    /// written), in file order.
    pub header: Vec<String>,
    /// Rows over all files.
    pub rows: u64,
    /// The data files, in window order.
    pub files: Vec<FileEntry>,
    /// The hypertable's TimescaleDB compression on the source at the backup's snapshot
    /// (format 2); absent for a plain table, a hypertable without compression or
    /// policies, and in format-1 manifests. A restore compresses as this says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columnstore: Option<Columnstore>,
}

/// A hypertable's TimescaleDB compression (columnstore) as a backup records it: what a
/// restore needs to compress the target the way a live move would.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Columnstore {
    /// `segment_by`, `order_by` and `chunk_interval`; absent when compression is off
    /// (a hypertable with a retention policy only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<crate::catalog::Compression>,
    /// The compression and retention policies: kind, threshold, schedule, paused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<JobPolicy>,
    /// The source chunks that were compressed, named as in `catalog`'s chunk list.
    /// The restore compresses each target chunk that lies wholly among them.
    #[serde(default)]
    pub compressed_chunks: Vec<QualifiedName>,
}

/// A column.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnEntry {
    /// Name.
    pub name: String,
    /// Type, as SQL.
    #[serde(rename = "type")]
    pub type_sql: String,
}

/// One data file: one window of one table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// The window's step ID in the backup's plan.
    pub window: String,
    /// Relative to the directory.
    pub path: String,
    /// The window's range.
    pub bounds: WindowBounds,
    /// CSV data rows.
    pub rows: u64,
    /// Bytes as stored.
    pub bytes: u64,
    /// Hex SHA-256 as stored.
    pub sha256: String,
    /// The verification checksum of the window's rows, taken on the source in the
    /// backup's snapshot (when `verify` is `checksum`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// Whether the window was read (decompressed) from compressed source chunks only
    /// (format 2; for the reader: a restore goes by `columnstore.compressed_chunks`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub source_compressed: bool,
}

/// The manifest format a backup of these tables needs: 2 when any records its
/// compression, else 1 (which every hypermove reads the same).
pub fn format_version_for(tables: &[TableEntry]) -> u32 {
    if tables.iter().any(|t| t.columnstore.is_some()) {
        FORMAT_VERSION
    } else {
        OLDEST_FORMAT_VERSION
    }
}

/// Why a manifest cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// No manifest: not a backup, or one still running or interrupted.
    #[error("{0} has no manifest.json: {1}")]
    Missing(PathBuf, &'static str),
    /// Unreadable.
    #[error("{path}: {message}")]
    Invalid {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Manifest {
    /// Read and check `DIR/manifest.json`.
    pub fn read(dir: &Path) -> Result<Self, ManifestError> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ManifestError::Missing(
                    dir.to_path_buf(),
                    if dir.join(STATE).exists() {
                        "the backup is incomplete; run `hypermove backup` again to finish it"
                    } else {
                        "it is not a hypermove backup"
                    },
                ));
            }
            Err(e) => {
                return Err(ManifestError::Invalid {
                    path,
                    message: e.to_string(),
                });
            }
        };
        let invalid = |message: String| ManifestError::Invalid {
            path: path.clone(),
            message,
        };
        let probe: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| invalid(format!("not JSON: {e}")))?;
        if probe.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(invalid("not a hypermove backup manifest".into()));
        }
        let version = probe.get("format_version").and_then(|v| v.as_u64());
        let readable = u64::from(OLDEST_FORMAT_VERSION)..=u64::from(FORMAT_VERSION);
        if !version.is_some_and(|v| readable.contains(&v)) {
            return Err(invalid(format!(
                "manifest format {} is not a format this hypermove reads ({OLDEST_FORMAT_VERSION} to {FORMAT_VERSION})",
                version.map_or("?".to_string(), |v| v.to_string())
            )));
        }
        serde_json::from_value(probe).map_err(|e| invalid(e.to_string()))
    }
}

/// Write a file so that a crash never leaves half of it under the real name: a
/// temporary name, fsync, rename, fsync of the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    // A bare file name's parent is "", which is the current directory.
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// fsync a directory, so that a rename in it survives a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}
