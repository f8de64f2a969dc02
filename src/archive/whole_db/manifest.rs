//! The dump's manifest, `DIR/manifest.json`: what a dump holds and what a restore
//! must reproduce. Its types, the counts it records, and reading, checking and
//! writing it.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

pub use crate::pg::tools::ToolVersion;

use super::error::WholeDbError;
pub use super::jobs::JobStart;
use super::{Result, fill};
use crate::pg::QualifiedName;

/// The manifest's name inside a dump directory. It is written last, so a directory
/// holds a complete dump exactly when it holds this file.
pub const MANIFEST: &str = "manifest.json";
/// The dump file's name inside a dump directory.
pub const DUMP_FILE: &str = "database.dump";
/// The manifest's `kind`, telling it apart from other hypermove archives.
pub const KIND: &str = "whole-database";
/// The manifest format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// `DIR/manifest.json`: what a dump holds, and what a restore must reproduce.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`KIND`].
    pub kind: String,
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The hypermove that wrote it.
    pub hypermove_version: String,
    /// The source database's name.
    pub database: String,
    /// When the dump's snapshot was taken (UTC, RFC 3339).
    pub dumped_at: String,
    /// The source server.
    pub source: SourceFacts,
    /// The pg_dump that wrote the dump.
    pub pg_dump: ToolVersion,
    /// The dump file.
    pub dump: DumpFile,
    /// Every user table, sorted, with its exact row count in the dump's snapshot.
    pub tables: Vec<TableCount>,
    /// Each TimescaleDB job's next start in the dump's snapshot (the dump cannot carry
    /// it; see `jobs`). Absent in manifests written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_starts: Vec<JobStart>,
}

/// The source server, as the dump's snapshot saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceFacts {
    /// `user@host:port` (never a password).
    pub server: String,
    /// `server_version`, e.g. `17.12 (Debian 17.12-0+deb13u1)`.
    pub postgresql: String,
    /// `server_version_num`, e.g. 170012.
    pub postgresql_version_num: i32,
    /// The installed TimescaleDB version (`extversion`), if installed.
    pub timescaledb: Option<String>,
    /// The schema TimescaleDB was installed in, if installed.
    pub timescaledb_schema: Option<String>,
    /// The database's encoding.
    pub encoding: String,
}

/// The dump file's name, size and checksum.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DumpFile {
    /// The file name inside the directory.
    pub file: String,
    /// pg_dump's format (`custom`).
    pub format: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// One table's exact rows (a hypertable's through its parent) and its chunks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableCount {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// `count(*)` in the dump's snapshot.
    pub rows: i64,
    /// TimescaleDB chunks (0 for a plain table).
    pub chunks: i64,
}

impl TableCount {
    pub(super) fn qualified(&self) -> QualifiedName {
        QualifiedName::new(&self.schema, &self.name)
    }
}

/// Why a directory's manifest does not describe a complete whole-database dump.
#[derive(Debug, thiserror::Error)]
pub enum ManifestProblem {
    /// There is no manifest.
    #[error("no {MANIFEST} (dump-db writes it last, so the dump is missing or was interrupted)")]
    Missing,
    /// The manifest cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The manifest file.
        path: std::path::PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The manifest is not JSON.
    #[error("{MANIFEST} is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The manifest is another kind of archive's.
    #[error("{MANIFEST} is not a `{KIND}` manifest")]
    WrongKind,
    /// The manifest's format is not the one this build reads.
    #[error(
        "{MANIFEST} has format_version {}, this hypermove reads {FORMAT_VERSION}",
        .0.map_or("(none)".to_string(), |v| v.to_string())
    )]
    FormatVersion(Option<u64>),
    /// A field is missing or has the wrong type.
    #[error("{MANIFEST} is incomplete: {0}")]
    Incomplete(#[source] serde_json::Error),
    /// The dump file's name would lead out of the directory.
    #[error("{MANIFEST} names the dump file `{0}`")]
    BadFileName(String),
}

/// How the dump file differs from what the manifest recorded.
#[derive(Debug, thiserror::Error)]
pub enum DumpMismatch {
    /// The file cannot be read.
    #[error("cannot read it: {0}")]
    Unreadable(#[source] std::io::Error),
    /// Another size.
    #[error("{found} bytes, the manifest recorded {recorded}")]
    Size {
        /// The file's size.
        found: u64,
        /// The manifest's.
        recorded: u64,
    },
    /// Another checksum.
    #[error("SHA-256 {found}, the manifest recorded {recorded}")]
    Sha256 {
        /// The file's SHA-256.
        found: String,
        /// The manifest's.
        recorded: String,
    },
}

/// Read and check `DIR/manifest.json`.
pub(super) fn read(dir: &Path) -> Result<Manifest> {
    let not = |reason: ManifestProblem| WholeDbError::NotADump {
        dir: dir.display().to_string(),
        reason,
    };
    let path = dir.join(MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(not(ManifestProblem::Missing));
        }
        Err(source) => return Err(not(ManifestProblem::Unreadable { path, source })),
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| not(ManifestProblem::NotJson(e)))?;
    if value.get("kind").and_then(|k| k.as_str()) != Some(KIND) {
        return Err(not(ManifestProblem::WrongKind));
    }
    let version = value.get("format_version").and_then(|v| v.as_u64());
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(not(ManifestProblem::FormatVersion(version)));
    }
    let manifest: Manifest =
        serde_json::from_value(value).map_err(|e| not(ManifestProblem::Incomplete(e)))?;
    // The file name is joined to DIR: it must not lead out of it.
    let file = &manifest.dump.file;
    if file.is_empty() || file.contains(['/', '\\']) || file == "." || file == ".." {
        return Err(not(ManifestProblem::BadFileName(file.clone())));
    }
    Ok(manifest)
}

/// Write the manifest as `DIR/manifest.json`, last: from then on the directory holds
/// a complete dump.
pub(super) fn write(dir: &Path, manifest: &Manifest) -> Result<()> {
    let text = serde_json::to_string_pretty(manifest).expect("the manifest serializes") + "\n";
    write_atomically(&dir.join(MANIFEST), text.as_bytes())
}

/// The dump file must have the size and SHA-256 the manifest recorded.
pub(super) async fn check_dump_file(path: &Path, recorded: &DumpFile) -> Result<()> {
    let damaged = |what: DumpMismatch| WholeDbError::Damaged {
        file: path.display().to_string(),
        what,
    };
    let meta = std::fs::metadata(path).map_err(|e| damaged(DumpMismatch::Unreadable(e)))?;
    if meta.len() != recorded.bytes {
        return Err(damaged(DumpMismatch::Size {
            found: meta.len(),
            recorded: recorded.bytes,
        }));
    }
    let (_, sha256) = hash_file(path).await?;
    if sha256 != recorded.sha256 {
        return Err(damaged(DumpMismatch::Sha256 {
            found: sha256,
            recorded: recorded.sha256.clone(),
        }));
    }
    Ok(())
}

/// Size and SHA-256 of a file, read off the async threads.
pub(super) async fn hash_file(path: &Path) -> Result<(u64, String)> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> std::io::Result<(u64, String)> {
        let size = std::fs::metadata(&owned)?.len();
        Ok((size, crate::datafile::sha256_of_file(&owned)?))
    })
    .await
    .map_err(|source| WholeDbError::Hashing {
        path: path.to_path_buf(),
        source,
    })?
    .map_err(WholeDbError::io("read", path))
}

/// Flush a finished file to disk before it gets its real name.
pub(super) fn sync_file(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(WholeDbError::io("sync", path))
}

/// Write a file under a temporary name, flush it to disk, then rename it: a crash
/// leaves either the old state or the whole file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::archive::manifest::write_atomically(path, bytes).map_err(WholeDbError::io("write", path))
}

/// Every table the manifest counts, with its exact rows, in the caller's transaction.
pub(super) async fn count_tables(client: &impl GenericClient) -> Result<Vec<TableCount>> {
    let mut tables = Vec::new();
    for (name, chunks) in list_tables(client).await? {
        let rows = count_rows(client, &name).await?;
        tables.push(TableCount {
            schema: name.schema,
            name: name.name,
            rows,
            chunks,
        });
    }
    Ok(tables)
}

/// Every user table, sorted, with its chunk count.
pub(super) async fn list_tables(client: &impl GenericClient) -> Result<Vec<(QualifiedName, i64)>> {
    Ok(client
        .query(include_str!("sql/tables.sql"), &[])
        .await
        .map_err(WholeDbError::query("listing tables"))?
        .iter()
        .map(|r| {
            (
                QualifiedName::new(r.get::<_, String>("schema"), r.get::<_, String>("name")),
                r.get("chunks"),
            )
        })
        .collect())
}

/// A table's exact rows, its partitions or chunks included.
pub(super) async fn count_rows(client: &impl GenericClient, table: &QualifiedName) -> Result<i64> {
    let sql = fill(include_str!("sql/count.sql"), &[("table", &table.sql())]);
    Ok(client
        .query_one(&sql, &[])
        .await
        .map_err(WholeDbError::query(format!("counting rows of {table}")))?
        .get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_read_as_before() {
        assert_eq!(
            ManifestProblem::FormatVersion(None).to_string(),
            "manifest.json has format_version (none), this hypermove reads 1"
        );
        assert_eq!(
            ManifestProblem::FormatVersion(Some(7)).to_string(),
            "manifest.json has format_version 7, this hypermove reads 1"
        );
        let err = WholeDbError::Damaged {
            file: "d/database.dump".into(),
            what: DumpMismatch::Size {
                found: 3,
                recorded: 4,
            },
        };
        assert_eq!(
            err.to_string(),
            "the dump file d/database.dump does not match its manifest (3 bytes, the manifest recorded 4): it is damaged or was changed; nothing was written"
        );
    }
}
