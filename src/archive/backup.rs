//! `hypermove backup`: selected tables to a directory, as server-written CSV.
//!
//! The windows and the schema come from the same plan `apply` would make for an
//! empty database of the source's version, so `schema.sql` is exactly what a move
//! would create. Every window is read in one exported snapshot by parallel workers;
//! PostgreSQL writes the CSV (`COPY … TO STDOUT (FORMAT csv, HEADER true)`), and
//! the bytes go to disk without being decoded, through zstd when asked.
//! A file is written under a temporary name and counts only once its line is in
//! `files.jsonl`; an interrupted backup resumes where it stopped.
//!
//! `directory` keeps the directory's own records (starting or resuming), `writer`
//! the blocking side of one file (compress, hash, write, sync).

mod directory;
mod writer;

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use tokio_postgres::Client;

use super::manifest::{
    self, ColumnEntry, Compression, FILES, FileEntry, FileRef, MANIFEST, Manifest, SCHEMA, STATE,
    SourceInfo, TableEntry,
};
use crate::datafile::RowCounter;
use crate::pg::{ConnInfo, Role, connect, describe_error};
use crate::plan::{self, Action, Plan, PlanError, StepKind, WindowBounds};
use crate::spec::{Spec, VerifyLevel};
use directory::{Done, Opened, open_directory};

/// Why a backup stopped. Files already finished stay, and a new run resumes.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Bad input or a refusal; nothing was written.
    #[error("{0}")]
    Refused(String),
    /// The plan could not be made.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The source failed to connect or to open the snapshot.
    #[error("{0}")]
    Source(String),
    /// A query on the source failed.
    #[error("source: {}", describe_error(.0))]
    SourceQuery(#[source] tokio_postgres::Error),
    /// The directory failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// Some windows failed; the others are kept.
    #[error(
        "{failed} of {total} files failed, first: {first}; run `hypermove backup` again to resume"
    )]
    Windows {
        /// Failed windows.
        failed: usize,
        /// All windows.
        total: usize,
        /// The first failure.
        first: WindowError,
    },
    /// Stopped by Ctrl-C.
    #[error("interrupted: {done} of {total} files written; run `hypermove backup` again to resume")]
    Interrupted {
        /// Files finished, over all runs.
        done: usize,
        /// All files.
        total: usize,
    },
}

/// Why one window's file was not written.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    /// The worker's source session could not connect.
    #[error("{0}")]
    Connect(String),
    /// The worker's source session could not join the backup's snapshot.
    #[error("joining the source snapshot: {}", describe_error(.0))]
    JoinSnapshot(#[source] tokio_postgres::Error),
    /// Reading or counting the window on the source failed.
    #[error("{window}: source: {}", describe_error(.source))]
    Source {
        /// The window's step ID.
        window: String,
        /// What the source said.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The file's rows and the source's count in the same snapshot differ.
    #[error(
        "{window}: the file holds {rows} rows but the source counts {counted} in the same snapshot"
    )]
    RowCount {
        /// The window's step ID.
        window: String,
        /// Rows in the file.
        rows: u64,
        /// The source's count, as it answered.
        counted: String,
    },
    /// A file or directory failed.
    #[error("{}: {source}", .path.display())]
    File {
        /// The file or directory.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// A worker task panicked or was cancelled.
    #[error("a worker failed: {0}")]
    Worker(#[source] tokio::task::JoinError),
}

/// How a backup runs.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// Windows written at once.
    pub workers: usize,
    /// File compression.
    pub compression: Compression,
    /// `checksum` also records each window's verification checksum.
    pub verify: VerifyLevel,
    /// Set by Ctrl-C: no new window starts.
    pub stop: Arc<AtomicBool>,
}

/// What a finished backup wrote.
#[derive(Debug, Clone)]
pub struct BackupSummary {
    /// The manifest.
    pub manifest: Manifest,
    /// Files written by this run (the rest were finished by an earlier one).
    pub written: usize,
    /// Bytes written by this run.
    pub bytes: u64,
}

/// One window to write.
#[derive(Debug, Clone)]
struct Job {
    id: String,
    table: usize,
    path: String,
    copy_sql: String,
    /// The window's verification query on the source: rows, and the checksum at
    /// checksum level.
    probe_sql: Option<String>,
    bounds: WindowBounds,
}

/// Plan and write a backup of `spec`'s tables into its target directory.
pub async fn backup(
    spec: &Spec,
    opts: &BackupOptions,
    on_file: &(dyn Fn(&FileEntry, usize, usize) + Sync),
) -> Result<BackupSummary, BackupError> {
    let dir = spec
        .target
        .directory()
        .ok_or_else(|| {
            BackupError::Refused(format!(
                "{}: the target is a database; `hypermove backup` writes to `target: {{directory: PATH}}`",
                spec.path.display()
            ))
        })?
        .to_path_buf();
    let info = spec
        .source_db()
        .map_err(|e| BackupError::Refused(e.to_string()))?
        .clone();
    if dir.join(MANIFEST).exists() {
        return Err(BackupError::Refused(format!(
            "{} already holds a complete backup; choose another directory",
            dir.display()
        )));
    }

    let mut client = connect(&info, Role::Source, "hypermove backup")
        .await
        .map_err(|e| BackupError::Source(e.to_string()))?;
    let (tx, snapshot) = crate::pg::session::begin_snapshot(&mut client, true)
        .await
        .map_err(|e| BackupError::Source(e.to_string()))?;
    let snapshot = snapshot.expect("exported");
    let snapshot_time: String = tx
        .query_one(include_str!("sql/snapshot_time.sql"), &[])
        .await
        .map_err(BackupError::SourceQuery)?
        .get(0);
    let (side, inputs, plan) = plan_backup(spec, &tx, opts.verify).await?;
    let fingerprint = plan::combined_fingerprint(&plan.fingerprints.source);
    let jobs = jobs(&plan, &inputs, opts.compression);

    // Start, or resume the same backup. File work runs on the blocking pool, never on
    // the runtime's own threads.
    let opened = {
        let (dir, fingerprint, snapshot_time) = (dir.clone(), fingerprint.clone(), snapshot_time);
        let windows: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
        let (compression, verify) = (opts.compression, opts.verify);
        blocking(move || {
            open_directory(
                &dir,
                &fingerprint,
                windows,
                compression,
                verify,
                snapshot_time,
            )
        })
        .await?
    };
    let Opened {
        state,
        mut done,
        journal,
    } = opened;
    let (state_path, files_path) = (dir.join(STATE), dir.join(FILES));
    let todo: VecDeque<Job> = jobs
        .iter()
        .filter(|j| !done.contains_key(&j.id))
        .cloned()
        .collect();
    let total = jobs.len();
    let finished_before = done.len();

    let journal = Arc::new(Mutex::new(journal));
    let queue = Arc::new(Mutex::new(todo));
    let results = Arc::new(Mutex::new(Vec::<Result<Done, WindowError>>::new()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..opts.workers.max(1) {
        let (queue, results, journal) = (queue.clone(), results.clone(), journal.clone());
        let (info, snapshot, dir, stop) = (
            info.clone(),
            snapshot.clone(),
            dir.clone(),
            opts.stop.clone(),
        );
        let compression = opts.compression;
        workers.spawn(async move {
            let mut client: Option<Client> = None;
            loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Some(job) = queue.lock().expect("queue").pop_front() else {
                    break;
                };
                let outcome = async {
                    if client.as_ref().is_none_or(|c| c.is_closed()) {
                        client = Some(join_snapshot(&info, &snapshot).await?);
                    }
                    let c = client.as_ref().expect("connected");
                    let file = write_window(c, &dir, &job, compression).await?;
                    let done = Done {
                        table: job.table,
                        file,
                    };
                    let line = serde_json::to_string(&done).expect("entry serializes");
                    let journal = journal.clone();
                    blocking(move || {
                        let mut j = journal.lock().expect("journal");
                        writeln!(j, "{line}").and_then(|_| j.sync_data())
                    })
                    .await
                    .map_err(|source| WindowError::File {
                        path: FILES.into(),
                        source,
                    })?;
                    Ok::<Done, WindowError>(done)
                }
                .await;
                if outcome.is_err() {
                    // The session may be in a failed transaction: start a new one.
                    client = None;
                }
                results.lock().expect("results").push(outcome);
            }
        });
    }
    let mut written = 0usize;
    let mut bytes = 0u64;
    let mut failures = Vec::new();
    while let Some(joined) = workers.join_next().await {
        if let Err(e) = joined {
            failures.push(WindowError::Worker(e));
        }
        for r in results.lock().expect("results").drain(..) {
            match r {
                Ok(d) => {
                    written += 1;
                    bytes += d.file.bytes;
                    on_file(&d.file, finished_before + written, total);
                    done.insert(d.file.window.clone(), d);
                }
                Err(e) => failures.push(e),
            }
        }
    }
    let _ = tx.rollback().await;
    if !failures.is_empty() {
        return Err(BackupError::Windows {
            failed: failures.len(),
            total,
            first: failures.swap_remove(0),
        });
    }
    if done.len() < total {
        return Err(BackupError::Interrupted {
            done: done.len(),
            total,
        });
    }

    // Every file is there: write the schema, then the manifest, which makes the
    // backup complete.
    let schema = schema_sql(&plan, &state.snapshot_time);
    let schema_path = dir.join(SCHEMA);
    {
        let (path, text) = (schema_path.clone(), schema.clone());
        blocking(move || manifest::write_atomically(&path, text.as_bytes()))
            .await
            .map_err(|e| io(&schema_path, e))?;
    }
    let mut tables: Vec<TableEntry> = inputs
        .tables
        .iter()
        .zip(&plan.tables)
        .map(|(table, tp)| TableEntry {
            name: table.name.clone(),
            layout: tp.before.description.clone(),
            columns: table
                .columns
                .iter()
                .map(|c| ColumnEntry {
                    name: c.name.clone(),
                    type_sql: c.type_sql.clone(),
                })
                .collect(),
            header: table
                .columns
                .iter()
                .filter(|c| c.generated.is_none())
                .map(|c| c.name.clone())
                .collect(),
            rows: 0,
            files: Vec::new(),
            columnstore: super::columnstore::record(table),
        })
        .collect();
    for job in &jobs {
        let d = &done[&job.id];
        tables[d.table].rows += d.file.rows;
        tables[d.table].files.push(d.file.clone());
    }
    // Which windows came from compressed chunks, as of this run's snapshot.
    for (entry, table) in tables.iter_mut().zip(&inputs.tables) {
        super::columnstore::mark_files(table, &mut entry.files);
    }
    let manifest = Manifest {
        format: manifest::FORMAT.into(),
        format_version: manifest::format_version_for(&tables),
        hypermove_version: env!("CARGO_PKG_VERSION").into(),
        source: SourceInfo {
            postgresql: side.source_server.version.clone(),
            postgresql_num: side.source_server.version_num,
            timescaledb: side.source_server.timescaledb.clone(),
            database: side.source_server.database.clone(),
        },
        snapshot_time: state.snapshot_time.clone(),
        resumed_snapshots: state.resumed_snapshots.clone(),
        source_fingerprint: fingerprint,
        compression: opts.compression,
        verify: opts.verify,
        schema: FileRef {
            path: SCHEMA.into(),
            sha256: crate::datafile::sha256_hex(schema.as_bytes()),
        },
        tables,
        catalog: side,
    };
    let path = dir.join(MANIFEST);
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
    {
        let to = path.clone();
        blocking(move || {
            manifest::write_atomically(&to, text.as_bytes())?;
            // The manifest makes the backup complete; the run's own records go.
            let _ = std::fs::remove_file(&files_path);
            let _ = std::fs::remove_file(&state_path);
            Ok(())
        })
        .await
        .map_err(|e| io(&path, e))?;
    }
    Ok(BackupSummary {
        manifest,
        written,
        bytes,
    })
}

/// Run blocking work (files, fsync, compression) on tokio's blocking pool: the
/// runtime's own threads keep serving the database connections, on any runtime.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// A failure of the backup directory at `path`.
fn io(path: &Path, source: std::io::Error) -> BackupError {
    BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The backup's plan: a move of the selected tables into an empty database of the
/// source's version. Its SQL steps are `schema.sql`, its copy windows the files.
/// `source` should be inside the backup's snapshot. `hypermove plan` shows it.
pub async fn plan_backup(
    spec: &Spec,
    source: &impl tokio_postgres::GenericClient,
    verify: VerifyLevel,
) -> Result<(plan::SourceSide, plan::Inputs, Plan), BackupError> {
    let selection = plan::select(spec, source)
        .await
        .map_err(|source| PlanError::Catalog {
            role: Role::Source,
            source,
        })?;
    if selection.is_empty() {
        return Err(BackupError::Refused(format!(
            "{}: no table matches; nothing to back up",
            spec.path.display()
        )));
    }
    let side = plan::gather_source(spec, &selection, source, true).await?;
    let inputs = plan::for_empty_target(selection, side.clone());
    let mut spec = spec.clone();
    // A manifest records the servers' checksum (`checksum-sql`): the backup's rows
    // become CSV files, so no binary COPY stream is there to hash, and a restore
    // checks the rows it loaded with the same query on its target.
    spec.verify = match verify {
        VerifyLevel::Checksum => VerifyLevel::ChecksumSql,
        other => other,
    };
    let plan = plan::build(&spec, &inputs)?;
    Ok((side, inputs, plan))
}

/// The plan's copy windows as files to write, in plan order.
fn jobs(plan: &Plan, inputs: &plan::Inputs, compression: Compression) -> Vec<Job> {
    let index: BTreeMap<_, usize> = inputs
        .selection
        .iter()
        .enumerate()
        .map(|(i, t)| (t.target.clone(), i))
        .collect();
    let probes: BTreeMap<String, String> = plan
        .graph
        .node_weights()
        .filter_map(|s| match &s.action {
            // Every window is counted through the table, whatever the level: the
            // file's rows come from the chunk, and that read must not be its own proof.
            Action::Probe(p) if !p.table_total => {
                Some((s.id.replacen("verify:", "copy:", 1), p.source_sql.clone()))
            }
            _ => None,
        })
        .collect();
    let mut per_table: BTreeMap<usize, usize> = BTreeMap::new();
    let ext = match compression {
        Compression::Zstd => "csv.zst",
        Compression::None => "csv",
    };
    let mut out = Vec::new();
    for n in plan.order() {
        let step = &plan.graph[n];
        let (StepKind::Copy, Action::Copy(c)) = (step.kind, &step.action) else {
            continue;
        };
        let table = index[step.table.as_ref().expect("copy steps name their table")];
        let seq = per_table.entry(table).or_insert(0);
        *seq += 1;
        let name = &inputs.tables[table].name;
        out.push(Job {
            id: step.id.clone(),
            table,
            path: format!(
                "data/{:03}-{}/{:05}.{ext}",
                table + 1,
                file_safe(&format!("{}.{}", name.schema, name.name)),
                seq
            ),
            copy_sql: format!(
                "COPY ({}) TO STDOUT (FORMAT csv, HEADER true)",
                c.select_sql
            ),
            probe_sql: probes.get(&step.id).cloned(),
            bounds: c.bounds.clone(),
        });
    }
    out
}

/// A name that is safe as one path component on any file system.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A worker's source session, inside the backup's snapshot.
async fn join_snapshot(info: &ConnInfo, snapshot: &str) -> Result<Client, WindowError> {
    let client = connect(info, Role::Source, "hypermove backup")
        .await
        .map_err(|e| WindowError::Connect(e.to_string()))?;
    crate::pg::session::join_snapshot(&client, Some(snapshot))
        .await
        .map_err(WindowError::JoinSnapshot)?;
    Ok(client)
}

/// Write one window to its file: temporary name, then fsync and rename. The rows
/// stream from the source here; a thread of the blocking pool compresses, hashes and
/// writes them, 1 MiB at a time, with at most two buffers in flight between the two.
async fn write_window(
    client: &Client,
    dir: &Path,
    job: &Job,
    compression: Compression,
) -> Result<FileEntry, WindowError> {
    let path = dir.join(&job.path);
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
    let writer = {
        let (path, partial) = (path.clone(), partial.clone());
        tokio::task::spawn_blocking(move || writer::write_partial(&path, partial, compression, rx))
    };
    let streamed = async {
        let stream =
            client
                .copy_out(&job.copy_sql)
                .await
                .map_err(|source| WindowError::Source {
                    window: job.id.clone(),
                    source,
                })?;
        futures_util::pin_mut!(stream);
        let mut counter = RowCounter::default();
        // The server sends one message per row; they are gathered into 1 MiB before
        // they go to the writer.
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        while let Some(piece) = stream.next().await {
            let piece = piece.map_err(|source| WindowError::Source {
                window: job.id.clone(),
                source,
            })?;
            counter.feed(&piece);
            buf.extend_from_slice(&piece);
            if buf.len() >= 1 << 20 {
                let full = std::mem::replace(&mut buf, Vec::with_capacity(1 << 20));
                if tx.send(full).await.is_err() {
                    // The writer stopped: its own error says why.
                    break;
                }
            }
        }
        let _ = tx.send(buf).await;
        Ok::<u64, WindowError>(counter.rows())
    }
    .await;
    // Dropping the sender ends the writer's input; it finishes and syncs the file.
    drop(tx);
    let written = match writer.await {
        Ok(result) => result,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    let rows = streamed?;
    let (bytes, sha256) = written?;
    let checksum = match &job.probe_sql {
        Some(sql) => {
            let row = client
                .query_one(sql.as_str(), &[])
                .await
                .map_err(|source| WindowError::Source {
                    window: job.id.clone(),
                    source,
                })?;
            let counted: Option<String> = row.get(0);
            if counted.as_deref() != Some(rows.to_string().as_str()) {
                return Err(WindowError::RowCount {
                    window: job.id.clone(),
                    rows,
                    counted: counted.unwrap_or_default(),
                });
            }
            // A count-level probe answers rows only.
            (row.len() > 1)
                .then(|| row.get::<_, Option<String>>(1))
                .flatten()
        }
        None => None,
    };
    {
        let (dir, path, from) = (dir.to_path_buf(), path.clone(), partial.clone());
        blocking(move || {
            std::fs::rename(&from, &path)?;
            manifest::sync_dir(path.parent().unwrap_or(&dir))
        })
        .await
        .map_err(|source| WindowError::File {
            path: partial.clone(),
            source,
        })?;
    }
    Ok(FileEntry {
        window: job.id.clone(),
        path: job.path.clone(),
        bounds: job.bounds.clone(),
        rows,
        bytes,
        sha256,
        checksum,
        source_compressed: false,
    })
}

/// `schema.sql`: the statements the plan would run on an empty database, in order,
/// each under its step ID. TimescaleDB internals never appear: tables are created
/// plain and made hypertables with `create_hypertable`.
fn schema_sql(plan: &Plan, snapshot_time: &str) -> String {
    let mut out = format!(
        "-- hypermove backup schema: the selected tables and what they depend on.\n-- Source: {}; snapshot {snapshot_time}.\n-- Data follows in data/; indexes and constraints are built after it.\n",
        plan.source
    );
    if plan.count(StepKind::Hypertable) > 0 {
        out.push_str("\nCREATE EXTENSION IF NOT EXISTS timescaledb;\n");
    }
    for n in plan.order() {
        let step = &plan.graph[n];
        // Compressing a slice acts on its rows: a restore does it as they land, from
        // the manifest's record of the compressed chunks.
        if step.kind == StepKind::Compress {
            continue;
        }
        if let Action::Sql(statements) = &step.action {
            out.push_str(&format!("\n-- {}\n", step.id));
            for s in statements {
                out.push_str(s.trim_end_matches(';'));
                out.push_str(";\n");
            }
        }
    }
    out
}
