//! Worker sessions: one target connection per worker, and a source connection that
//! reads inside the coordinator's exported snapshot.

use tokio_postgres::{Client, IsolationLevel, Transaction};

use super::error::StepError;
use super::{ExecConfig, JournalKey};
use crate::catalog::SESSION_SETUP;
use crate::pg::{Role, connect, describe_error, quote_literal};
use crate::plan::Probe;

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
            .map_err(StepError::transient)?;
        target
            .batch_execute(&format!("{SESSION_SETUP}; {TARGET_SETUP}"))
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
            .map_err(StepError::transient)?;
        // The settings go in their own round trip: they end in a query, and a
        // snapshot can be imported only before a transaction's first query.
        client
            .batch_execute(SESSION_SETUP)
            .await
            .map_err(|e| StepError::pg("setting up the source session", &e))?;
        let mut setup = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".to_string();
        if let Some(snapshot) = &cfg.snapshot {
            setup.push_str(&format!(
                "; SET TRANSACTION SNAPSHOT {}",
                quote_literal(snapshot)
            ));
        }
        client
            .batch_execute(&setup)
            .await
            .map_err(|e| StepError::pg("joining the source snapshot", &e))?;
        self.source = Some(client);
        Ok(())
    }
}

/// Open the coordinator's transaction on the source and, when `export` is set,
/// export its snapshot. Keep the transaction open until every window has been read:
/// the snapshot lives only as long as it does.
pub async fn begin_snapshot(
    client: &mut Client,
    export: bool,
) -> Result<(Transaction<'_>, Option<String>), String> {
    client
        .batch_execute(SESSION_SETUP)
        .await
        .map_err(|e| format!("setting up the source session: {}", describe_error(&e)))?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| format!("starting the source snapshot: {}", describe_error(&e)))?;
    if !export {
        return Ok((tx, None));
    }
    let row = tx
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .map_err(|e| {
            format!(
                "exporting the source snapshot: {} (--no-snapshot does without one)",
                describe_error(&e)
            )
        })?;
    Ok((tx, Some(row.get(0))))
}

/// Take the spec's run lock on the target, held for as long as this session lives, so
/// that two runs of one spec (two `apply`s, or an `apply` and a `clean`) never work on
/// the same target at once. When another session holds it, the error names that run:
/// its id and when it began, and the server process holding the lock.
pub async fn lock_run(target: &Client, spec_fingerprint: &str) -> Result<(), String> {
    let err = |e: tokio_postgres::Error| {
        format!("taking the run lock on the target: {}", describe_error(&e))
    };
    let locked: bool = target
        .query_one(include_str!("sql/run_lock.sql"), &[&spec_fingerprint])
        .await
        .map_err(err)?
        .get("locked");
    if locked {
        return Ok(());
    }
    let holder = target
        .query_opt(
            include_str!("sql/run_lock_holder.sql"),
            &[&spec_fingerprint],
        )
        .await
        .map_err(err)?;
    let journal: bool = target
        .query_one("SELECT to_regclass('hypermove.run') IS NOT NULL", &[])
        .await
        .map_err(err)?
        .get(0);
    let run = if journal {
        target
            .query_opt(include_str!("sql/run_latest.sql"), &[&spec_fingerprint])
            .await
            .map_err(err)?
    } else {
        None
    };
    let mut who = Vec::new();
    if let Some(r) = &run {
        who.push(format!(
            "run {}, started {}",
            r.get::<_, String>("run_id"),
            r.get::<_, String>("started")
        ));
    }
    if let Some(h) = &holder {
        who.push(format!(
            "server process {} from {}, connected since {}",
            h.get::<_, i32>("pid"),
            h.get::<_, String>("client"),
            h.get::<_, String>("session_start")
        ));
    }
    Err(format!(
        "another hypermove run of this spec is in progress on the target{}; nothing was written: wait for it to finish, or stop it first",
        if who.is_empty() {
            String::new()
        } else {
            format!(" ({})", who.join("; "))
        }
    ))
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
    step_done(&tx, journal, step_id, 0, 0).await?;
    tx.commit().await.map_err(|e| StepError::pg("target", &e))
}

/// Record a finished step inside the transaction that did its work.
pub async fn step_done(
    tx: &Transaction<'_>,
    journal: Option<&JournalKey>,
    step_id: &str,
    rows: u64,
    bytes: u64,
) -> Result<(), StepError> {
    let Some(key) = journal else {
        return Ok(());
    };
    tx.execute(
        include_str!("sql/step_done.sql"),
        &[
            &key.spec,
            &key.source,
            &step_id,
            &(rows as i64),
            &(bytes as i64),
        ],
    )
    .await
    .map(|_| ())
    .map_err(|e| StepError::pg("target: recording the step", &e))
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
    slot.target
        .query_opt(
            include_str!("sql/step_exists.sql"),
            &[&key.spec, &key.source, &step_id],
        )
        .await
        .map(|row| row.is_some())
        .map_err(|e| StepError::pg("target: reading the journal", &e))
}

/// Create the journal if needed and record that a run began (a resumed run keeps
/// its original record).
pub async fn journal_begin(
    target: &Client,
    key: &JournalKey,
    target_inputs: &str,
    steps: usize,
) -> Result<(), String> {
    let err = |e: tokio_postgres::Error| {
        format!("starting the journal on the target: {}", describe_error(&e))
    };
    target
        .batch_execute(include_str!("sql/journal.sql"))
        .await
        .map_err(err)?;
    target
        .execute(
            include_str!("sql/run_begin.sql"),
            &[&key.spec, &key.source, &target_inputs, &(steps as i32)],
        )
        .await
        .map_err(err)?;
    Ok(())
}

/// Mark a run finished: every step done and verified.
pub async fn journal_finish(target: &Client, key: &JournalKey) -> Result<(), String> {
    target
        .execute(
            include_str!("sql/run_finish.sql"),
            &[&key.spec, &key.source],
        )
        .await
        .map(|_| ())
        .map_err(|e| format!("finishing the journal: {}", describe_error(&e)))
}

/// Create the journal's schema and tables if they are missing.
pub async fn ensure_journal(target: &Client) -> Result<(), String> {
    target
        .batch_execute(include_str!("sql/journal.sql"))
        .await
        .map_err(|e| format!("creating the journal on the target: {}", describe_error(&e)))
}

/// Forget a spec on the target: runs, steps, completion and verdicts. Returns the
/// number of journal rows removed; the moved tables are not touched.
pub async fn clean(target: &Client, spec_fingerprint: &str) -> Result<i64, String> {
    let exists: bool = target
        .query_one("SELECT to_regclass('hypermove.run') IS NOT NULL", &[])
        .await
        .map_err(|e| describe_error(&e))?
        .get(0);
    if !exists {
        return Ok(0);
    }
    target
        .batch_execute(include_str!("sql/journal.sql"))
        .await
        .map_err(|e| describe_error(&e))?;
    Ok(target
        .query_one(include_str!("sql/clean.sql"), &[&spec_fingerprint])
        .await
        .map_err(|e| describe_error(&e))?
        .get(0))
}

/// Ask both sides the same one-row question; every column comes back as text.
pub async fn probe(
    slot: &mut Slot,
    probe: &Probe,
) -> Result<(Vec<String>, Vec<String>), StepError> {
    let t = slot
        .target
        .query_one(&probe.target_sql, &[])
        .await
        .map_err(|e| StepError::pg("target", &e))?;
    let text = |row: &tokio_postgres::Row| {
        (0..row.len())
            .map(|i| {
                row.get::<_, Option<String>>(i)
                    .unwrap_or_else(|| "NULL".into())
            })
            .collect()
    };
    let s = match &probe.recorded {
        Some(answers) => answers.clone(),
        None => {
            let source = slot.source.as_ref().expect("source opened before probing");
            let row = source
                .query_one(&probe.source_sql, &[])
                .await
                .map_err(|e| StepError::pg("source", &e))?;
            text(&row)
        }
    };
    Ok((s, text(&t)))
}

/// Record on the target that this plan's move completed and verified, so the same
/// spec planned against the same source again has nothing to do.
pub async fn record_applied(target: &Client, plan: &crate::plan::Plan) -> Result<(), String> {
    let tables: Vec<String> = plan.tables.iter().map(|t| t.target.to_string()).collect();
    let source = crate::plan::combined_fingerprint(&plan.fingerprints.source);
    target
        .batch_execute(include_str!("sql/journal.sql"))
        .await
        .map_err(|e| format!("recording the move on the target: {}", describe_error(&e)))?;
    target
        .execute(
            include_str!("sql/applied_insert.sql"),
            &[&plan.fingerprints.spec, &source, &tables],
        )
        .await
        .map_err(|e| format!("recording the move on the target: {}", describe_error(&e)))?;
    Ok(())
}

/// Keep the root causes of a run's failures in the journal, for `status`.
pub async fn record_failures(
    target: &Client,
    key: &JournalKey,
    failures: &[(&str, &str)],
) -> Result<(), String> {
    for (step, error) in failures {
        target
            .execute(
                include_str!("sql/failure.sql"),
                &[&key.spec, &key.source, step, error],
            )
            .await
            .map_err(|e| format!("recording a failure in the journal: {}", describe_error(&e)))?;
    }
    Ok(())
}

/// Drop tables (for `apply --restart`), in one transaction and without CASCADE:
/// anything else that depends on them stops the drop with the server's message.
pub async fn drop_tables(
    target: &Client,
    tables: &[crate::pg::QualifiedName],
) -> Result<(), String> {
    if tables.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = tables.iter().map(|t| t.sql()).collect();
    target
        .batch_execute(&format!("DROP TABLE {}", list.join(", ")))
        .await
        .map_err(|e| format!("dropping the moved tables: {}", describe_error(&e)))
}
