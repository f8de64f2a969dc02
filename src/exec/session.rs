//! Worker sessions: one target connection per worker, and a source connection that
//! reads inside the coordinator's exported snapshot.

use tokio_postgres::{Client, Transaction};

use super::copy::{StallWatch, progress};
use super::error::StepError;
use super::rowhash::{Digest, Format, RowHasher};
use super::{ExecConfig, JournalKey};
use crate::pg::session;
use crate::pg::{Role, connect, describe_error};
use crate::plan::{Probe, RowsRead};
use std::time::Duration;

const APP: &str = "hypermove";

/// Target settings for a bulk load. `synchronous_commit = off` is safe here: a
/// window's data and its journal row are lost or kept together, never apart. Index
/// builds after the data get more memory than the default 64 MB.
const TARGET_SETUP: &str = "SET synchronous_commit = off; SET maintenance_work_mem = '256MB'";

/// A worker's connections. The source side opens on first use, because DDL steps
/// never read the source.
pub struct Slot {
    pub(super) source: Option<Client>,
    pub(super) target: Client,
}

impl Slot {
    /// Open the target side.
    pub async fn open(cfg: &ExecConfig) -> Result<Self, StepError> {
        // The coordinator connected moments ago, so a failure here is the server
        // being busy or restarting: worth a retry.
        let target = connect(&cfg.target, Role::Target, APP)
            .await
            .map_err(|e| StepError::transient(e.to_string()))?;
        target
            .batch_execute(&format!("{}; {TARGET_SETUP}", session::SETUP))
            .await
            .map_err(|e| StepError::pg("setting up the target session", &e))?;
        Ok(Self {
            source: None,
            target,
        })
    }

    /// Make sure the source side is open, inside the shared snapshot when there is one.
    /// The transaction stays open for the slot's life: every window read on this
    /// connection sees the same instant.
    pub async fn source(&mut self, cfg: &ExecConfig) -> Result<(), StepError> {
        if self.source.is_some() {
            return Ok(());
        }
        let Some(info) = &cfg.source else {
            return Err(StepError::permanent("this run has no source database"));
        };
        let client = connect(info, Role::Source, APP)
            .await
            .map_err(|e| StepError::transient(e.to_string()))?;
        session::join_snapshot(&client, cfg.snapshot.as_deref())
            .await
            .map_err(|e| StepError::pg("joining the source snapshot", &e))?;
        self.source = Some(client);
        Ok(())
    }
}

/// Run DDL statements on the target in one transaction, with the step's journal row:
/// all of them or none.
pub async fn run_sql(
    slot: &mut Slot,
    statements: &[String],
    journal: Option<&JournalKey>,
    step_id: &str,
) -> Result<(), StepError> {
    let tx = slot
        .target
        .transaction()
        .await
        .map_err(|e| StepError::pg("target", &e))?;
    for s in statements {
        tx.batch_execute(s)
            .await
            .map_err(|e| StepError::pg("target", &e))?;
    }
    step_done(&tx, journal, step_id, 0, 0, None).await?;
    tx.commit().await.map_err(|e| StepError::pg("target", &e))
}

/// Record a finished step inside the transaction that did its work, with the digest
/// of the rows a copy streamed.
pub async fn step_done(
    tx: &Transaction<'_>,
    journal: Option<&JournalKey>,
    step_id: &str,
    rows: u64,
    bytes: u64,
    digest: Option<&Digest>,
) -> Result<(), StepError> {
    let Some(key) = journal else {
        return Ok(());
    };
    let hash = digest.map(Digest::hex);
    crate::journal::step_done(tx, key, step_id, rows, bytes, hash.as_deref())
        .await
        .map_err(|e| StepError::pg(e.what, &e.source))
}

/// Whether the journal holds the step: after a connection was lost during COMMIT,
/// the commit may or may not have happened, and the journal says which.
pub async fn already_done(
    slot: &Slot,
    journal: Option<&JournalKey>,
    step_id: &str,
) -> Result<bool, StepError> {
    let Some(key) = journal else {
        return Ok(false);
    };
    crate::journal::step_recorded(&slot.target, key, step_id)
        .await
        .map_err(|e| StepError::pg(e.what, &e.source))
}

/// Ask both sides the same one-row question; every column comes back as text.
/// A probe with rows to read (checksum) reads them with COPY and hashes them here.
pub async fn probe(
    slot: &mut Slot,
    probe: &Probe,
    journal: Option<&JournalKey>,
    stall: Duration,
) -> Result<(Vec<String>, Vec<String>), StepError> {
    if let (Some(read), None) = (&probe.rows_read, &probe.recorded) {
        return hashed(slot, probe, read, journal, stall).await;
    }
    let text = |row: &tokio_postgres::Row| {
        (0..row.len())
            .map(|i| {
                row.get::<_, Option<String>>(i)
                    .unwrap_or_else(|| "NULL".into())
            })
            .collect::<Vec<String>>()
    };
    // Both sides are asked at once: each answer is a scan on its own server.
    let target = async {
        slot.target
            .query_one(&probe.target_sql, &[])
            .await
            .map_err(|e| StepError::pg("target", &e))
    };
    let source = async {
        match &probe.recorded {
            Some(answers) => Ok(answers.clone()),
            None => {
                let source = slot.source.as_ref().expect("source opened before probing");
                source
                    .query_one(&probe.source_sql, &[])
                    .await
                    .map(|row| text(&row))
                    .map_err(|e| StepError::pg("source", &e))
            }
        }
    };
    let (s, t) = tokio::try_join!(source, target)?;
    Ok((s, text(&t)))
}

/// A window's rows and their hash on both sides, read with COPY. The source's
/// hash is the one its copy kept when the journal has it; the source is then only
/// counted, through its table. Both sides are read at once.
async fn hashed(
    slot: &mut Slot,
    probe: &Probe,
    read: &RowsRead,
    journal: Option<&JournalKey>,
    stall: Duration,
) -> Result<(Vec<String>, Vec<String>), StepError> {
    let copied = match (journal, &read.copied_by) {
        (Some(key), Some(step)) => crate::journal::copied(&slot.target, key, step)
            .await
            .map_err(|e| StepError::pg(e.what, &e.source))?
            .and_then(|(_, hash)| hash),
        _ => None,
    };
    let source = slot.source.as_ref().expect("source opened before probing");
    let target = digest_of(&slot.target, &read.target_copy, "target", stall);
    let answers = |d: Digest| vec![d.rows.to_string(), d.hex()];
    match copied {
        Some(hash) => {
            let count = async {
                let row = source
                    .query_one(&probe.source_sql, &[])
                    .await
                    .map_err(|e| StepError::pg("source", &e))?;
                Ok::<_, StepError>(row.get::<_, String>(0))
            };
            let (counted, t) = tokio::try_join!(count, target)?;
            Ok((vec![counted, hash], answers(t)))
        }
        None => {
            let s = digest_of(source, &read.source_copy, "source", stall);
            let (s, t) = tokio::try_join!(s, target)?;
            Ok((answers(s), answers(t)))
        }
    }
}

/// The digest of one side's rows: `copy_sql` streamed and hashed, never kept.
async fn digest_of(
    client: &Client,
    copy_sql: &str,
    side: &str,
    stall: Duration,
) -> Result<Digest, StepError> {
    let stream = progress(stall, side, client.copy_out(copy_sql)).await?;
    futures_util::pin_mut!(stream);
    let mut hasher = RowHasher::new(Format::of(copy_sql));
    let mut watch = StallWatch::new(stall);
    loop {
        let Some(piece) = watch.next(&mut stream, side).await? else {
            break;
        };
        let piece = piece.map_err(|e| StepError::pg(side, &e))?;
        hasher
            .feed(&piece)
            .map_err(|e| StepError::permanent(format!("{side}: {e}")))?;
    }
    hasher
        .finish()
        .map_err(|e| StepError::permanent(format!("{side}: {e}")))
}

/// Drop tables (for `apply --restart`), in one transaction and without CASCADE:
/// anything else that depends on them stops the drop with the server's message.
pub async fn drop_tables(
    target: &Client,
    tables: &[crate::pg::QualifiedName],
) -> Result<(), DropError> {
    if tables.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = tables.iter().map(|t| t.sql()).collect();
    target
        .batch_execute(&format!("DROP TABLE {}", list.join(", ")))
        .await
        .map_err(DropError)
}

/// The moved tables could not be dropped (something else depends on them, say).
#[derive(Debug, thiserror::Error)]
#[error("dropping the moved tables: {}", describe_error(.0))]
pub struct DropError(#[source] pub tokio_postgres::Error);
