//! `cutover SPEC`: the end of a live move (`apply --follow` running elsewhere). It
//! talks to the follower only through the session row on the target (docs/live.md).

use std::time::Duration;

use tokio_postgres::Client;

use super::follow::{
    SLOT_BUSY_FOR, drop_live_objects, live_names, mapping, moved_tables, runtime, session_for,
};
use super::{Quiet, Settings, connect_both};
use crate::Error;
use crate::live::after_fence::{LateError, writes_after_fence};
use crate::live::chunks::{ChunkError, ChunkWatch};
use crate::live::mapping::Mapping;
use crate::live::session::{self, Phase};
use crate::live::{LiveNames, Lsn};
use crate::spec::{Spec, VerifyLevel};

const SEQUENCES: &str = include_str!("sql/live_sequences.sql");
const SETVAL: &str = include_str!("sql/live_setval.sql");
const WAL_LSN: &str = include_str!("sql/live_wal_lsn.sql");

/// What a completed cutover did.
#[derive(Debug)]
pub struct CutoverDone {
    /// The fence: the source's WAL end when the cutover began.
    pub fence: Lsn,
    /// How long the follower took to apply everything up to it.
    pub waited: Duration,
    /// Sequences set on the target, as `table.column = value`.
    pub sequences: Vec<String>,
    /// Target slices compressed because the source compressed them during the
    /// follow, by their plan step ID.
    pub compressed: Vec<String>,
    /// Windows verified by checksum.
    pub windows: usize,
    /// How long the checksum verification took.
    pub verified_in: Duration,
    /// How long the look for writes after the fence took.
    pub late_checked_in: Duration,
    /// The slot and publication dropped on the source.
    pub dropped: Vec<String>,
}

/// `cutover SPEC`: fence, wait for the follower, sequences, checksums of every
/// window, drop the slot and publication, complete. Any failure leaves the slot, so
/// the follower goes on and the cutover can be run again. Writes to the moved tables
/// committed after the fence are a failure too (exit 2): dropping the slot would
/// leave them on the source only.
pub async fn cutover(
    spec: &Spec,
    timeout: Duration,
    settings: &Settings,
) -> Result<CutoverDone, Error> {
    let names = live_names(spec);
    let session = session_for(spec, &names);
    let (mut source, target) = connect_both(spec, "hypermove cutover").await?;
    let fence = wal_lsn(&source).await?;
    session
        .request_cutover(&target, fence)
        .await
        .map_err(Error::runtime)?;
    // Until the checks pass, a failure hands the move back to the follower.
    let checked = cutover_checks(spec, &mut source, &target, fence, timeout, settings).await;
    let Checked {
        reached,
        sequences,
        compressed,
        verified,
        verified_in,
        late_checked_in,
    } = match checked {
        Ok(done) => done,
        Err(e) => {
            let _ = session.set_phase(&target, Phase::Following).await;
            return Err(e);
        }
    };
    let windows = verified.plan.graph.node_count();
    let source_info = spec.source_db().map_err(Error::refused)?;
    let dropped = drop_live_objects(source_info, &source, &names).await?;
    session.complete(&target).await.map_err(Error::runtime)?;
    Ok(CutoverDone {
        fence,
        waited: reached.waited,
        sequences,
        compressed,
        windows,
        verified_in,
        late_checked_in,
        dropped,
    })
}

/// What the checks of a cutover found.
struct Checked {
    reached: session::Reached,
    sequences: Vec<String>,
    compressed: Vec<String>,
    verified: super::verify::Verified,
    verified_in: Duration,
    late_checked_in: Duration,
}

/// The part of a cutover that may fail and leave the move following: the wait, a
/// dropped chunk, the sequences, compression the source gained, the checksums of
/// every window, and writes after the fence, just before the slot goes.
async fn cutover_checks(
    spec: &Spec,
    source: &mut Client,
    target: &Client,
    fence: Lsn,
    timeout: Duration,
    settings: &Settings,
) -> Result<Checked, Error> {
    let names = &live_names(spec);
    let reached = session_for(spec, names)
        .wait_until_applied(target, fence, timeout, session::HEARTBEAT_STALE)
        .await
        .map_err(Error::runtime)?;
    let tables = moved_tables(spec, source, target).await?;
    let mut late = mapping(target, &tables).await?;
    // A chunk dropped since the follower last looked: the target keeps its rows.
    let roots: Vec<_> = tables.iter().map(|(s, _)| s.clone()).collect();
    ChunkWatch::open(
        target,
        &crate::plan::spec_fingerprint(spec),
        &names.slot,
        &roots,
    )
    .await
    .map_err(Error::runtime)?
    .check(source, target)
    .await
    .map_err(|e| match e {
        ChunkError::Dropped { .. } => Error::Refused(e.to_string()),
        e => Error::runtime(e),
    })?;
    let mut sequences = Vec::new();
    for (from, to) in &tables {
        for row in source
            .query(SEQUENCES, &[&from.sql()])
            .await
            .map_err(runtime("reading the source sequences"))?
        {
            let column: String = row.get(0);
            let Some(last) = row.get::<_, Option<i64>>(1) else {
                continue;
            };
            target
                .query_one(SETVAL, &[&to.sql(), &column, &last])
                .await
                .map_err(runtime("setting a target sequence"))?;
            sequences.push(format!("{to}.{column} = {last}"));
        }
    }
    // The source went on compressing during the follow (a policy, or by hand): the
    // rows arrived, the compression did not. Compress the target's slices the move
    // would compress now, as its own `compress:` steps (idempotent), so the
    // verification, planned from the source as it is, finds compression as planned.
    let inputs = crate::plan::gather(spec, &*source, target).await?;
    let mut compressed = Vec::new();
    for (step, sql) in crate::plan::compression_catch_up(spec, &inputs) {
        target
            .batch_execute(&sql)
            .await
            .map_err(runtime("compressing a target slice the source compressed"))?;
        compressed.push(step);
    }
    let verifying = std::time::Instant::now();
    let verified =
        super::verify::verify(spec, VerifyLevel::Checksum, None, settings, &Quiet).await?;
    let verified_in = verifying.elapsed();
    if !verified.verdict.ok() || verified.incomplete {
        // Writes after the fence make the checksums differ: say so, by table, rather
        // than only that they differ.
        refuse_late_writes(source, names, &mut late, fence).await?;
        return Err(Error::Mismatch(
            "the checksum verification found differences: the slot is kept, the follower goes on"
                .into(),
        ));
    }
    // Writes after the fence, also those made during the verification, would be lost
    // with the slot. Looked for once, last: the peek decodes the slot's WAL from its
    // restart point, seconds of work after a busy follow.
    let peeking = std::time::Instant::now();
    refuse_late_writes(source, names, &mut late, fence).await?;
    Ok(Checked {
        reached,
        sequences,
        compressed,
        verified,
        verified_in,
        late_checked_in: peeking.elapsed(),
    })
}

/// The source's WAL position.
async fn wal_lsn(source: &Client) -> Result<Lsn, Error> {
    source
        .query_one(WAL_LSN, &[])
        .await
        .map_err(runtime("reading the source's WAL position"))?
        .get::<_, String>(0)
        .parse()
        .map_err(Error::runtime)
}

/// Fail when the slot holds changes to moved tables committed after the fence. The
/// follower frees the slot once it reaches the fence; until its connection is gone
/// the slot is busy, so a busy slot is asked again for a while.
async fn refuse_late_writes(
    source: &Client,
    names: &LiveNames,
    mapping: &mut Mapping,
    fence: Lsn,
) -> Result<(), Error> {
    let deadline = std::time::Instant::now() + SLOT_BUSY_FOR;
    loop {
        match writes_after_fence(source, &names.slot, &names.publication, mapping).await {
            Ok(late) if late.is_empty() => return Ok(()),
            Ok(late) => {
                return Err(Error::Refused(format!(
                    "writes after the fence: {}. Stop the application's writes to the moved tables, then run `hypermove cutover` again; the move goes on following",
                    late.describe(fence)
                )));
            }
            Err(LateError::Source(e))
                if e.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE)
                    && std::time::Instant::now() < deadline =>
            {
                tracing::debug!("slot {} still in use: waiting to peek at it", names.slot);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(Error::runtime(e)),
        }
    }
}
