//! Live moves (`apply --follow`, `cutover`, the live part of `status` and `clean`):
//! the snapshot copy of `apply` inside the snapshot a logical slot exported, then the
//! follower (`live::follow`) applying every later change until a cutover completes.
//! docs/live.md holds the design; this module only wires `live` to the commands.
//!
//! The slot and the publication are named from the spec fingerprint
//! (`hypermove_<first 12 hex>`), so the same command again finds them and resumes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::apply::RunEnd;
pub use super::cutover::{CutoverDone, cutover};
use super::{Observer, Settings, connect_both};
use crate::Error;
use crate::live::chunks::{ChunkError, ChunkWatch};
use crate::live::follow::{self, Controller, Ends, Outcome, Progress};
use crate::live::mapping::{Mapping, MovedTable};
use crate::live::pending::Limits;
use crate::live::session::{self, BeaconEnd, Phase, Session, SessionError};
use crate::live::{
    Applier, LiveNames, Lsn, Preflight, ReplicationConn, ReplicationStream, STREAM_OPTIONS,
};
use crate::pg::{ConnInfo, QualifiedName, Role, connect, quote_ident};
use crate::plan;
use crate::spec::Spec;

const CHUNK_SCHEMAS: &str = include_str!("sql/live_chunk_schemas.sql");
const COLUMNS: &str = include_str!("sql/live_columns.sql");
const ROUTING: &str = include_str!("sql/live_routing.sql");
const HAS_DIMENSIONS: &str = include_str!("sql/live_has_dimensions.sql");
const SLOT_EXISTS: &str = include_str!("sql/live_slot_exists.sql");
const DROP_SLOT: &str = include_str!("sql/live_drop_slot.sql");
const PUBLICATION_EXISTS: &str = include_str!("sql/live_publication_exists.sql");
const FORGET_SESSION: &str = include_str!("sql/live_forget_session.sql");
const FORGET_POSITION: &str = include_str!("sql/live_forget_position.sql");
const FORGET_CHUNKS: &str = include_str!("sql/live_forget_chunks.sql");
const TABLE_EXISTS: &str = include_str!("sql/live_table_exists.sql");

/// How long a restarted follower waits for a killed one's walsender to free the slot.
pub(super) const SLOT_BUSY_FOR: Duration = Duration::from_secs(30);

/// The slot and publication of a spec's live move: deterministic, so a rerun resumes.
pub fn live_names(spec: &Spec) -> LiveNames {
    let fp = plan::spec_fingerprint(spec);
    let hex: String = fp
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(12)
        .collect::<String>()
        .to_ascii_lowercase();
    let name = format!("hypermove_{hex}");
    LiveNames {
        slot: name.clone(),
        publication: name,
    }
}

/// The session row of a spec's live move.
pub(super) fn session_for(spec: &Spec, names: &LiveNames) -> Session {
    Session::new(&plan::spec_fingerprint(spec), &names.slot)
}

/// A runtime error saying what was being done.
pub(super) fn runtime<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> Error + '_ {
    move |e| Error::runtime(format!("{what}: {e}"))
}

/// `apply SPEC --follow`: copy in the slot's snapshot (or resume a follow the session
/// row says is past its copy), then follow until a cutover completes the move (Ok),
/// Ctrl-C (`Error::Interrupted`, resumable) or an error. `restarted`: the moved
/// tables and the journal were just dropped (`--restart`), so an earlier live move of
/// the spec (slot, publication, session, position) is forgotten and starts over.
pub async fn apply_follow(
    spec: &Spec,
    reviewed: Option<&plan::Fingerprints>,
    settings: &Settings,
    stop: Arc<AtomicBool>,
    observer: &dyn Observer,
    restarted: bool,
) -> Result<(), Error> {
    let names = live_names(spec);
    let source_info = spec.source_db().map_err(Error::refused)?.clone();
    let fingerprint = plan::spec_fingerprint(spec);
    let session = session_for(spec, &names);
    let (mut source, target) = connect_both(spec, "hypermove follower").await?;
    let tables = moved_tables(spec, &mut source, &target).await?;
    let mut phase = match session.signal(&target).await {
        Ok(signal) => Some(signal.phase),
        Err(SessionError::NoSession { .. }) => None,
        // No session table on the target yet: no session either.
        Err(SessionError::Target(e)) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => None,
        Err(e) => return Err(Error::runtime(e)),
    };
    if restarted && phase.is_some() {
        for d in drop_live_objects(&source_info, &source, &names).await? {
            observer.note(&format!("dropped the {d} of the earlier live move"));
        }
        forget(&target, &fingerprint, &names.slot).await?;
        phase = None;
    }
    if phase == Some(Phase::Copying) {
        restart_copy(spec, &source_info, &source, &target, &names, observer).await?;
        phase = None;
    }
    let start = match phase {
        Some(Phase::Completed) => {
            observer.note(&format!(
                "the live move on slot {} is already completed",
                names.slot
            ));
            return Ok(());
        }
        Some(Phase::Following | Phase::CuttingOver) => {
            observer.note(&format!(
                "resuming the follow on slot {} from the target's journal",
                names.slot
            ));
            None
        }
        // Copying was started over just above.
        Some(Phase::Copying) | None => {
            // A slot or publication of this spec without a session row: a run killed
            // before it wrote the row, so before anything was copied in the slot's
            // snapshot. Dropped, so that it neither leaks nor fails the preflight.
            for d in drop_live_objects(&source_info, &source, &names).await? {
                observer.note(&format!("dropped the {d} of a run killed before its copy"));
            }
            let source_tables: Vec<QualifiedName> = tables.iter().map(|(s, _)| s.clone()).collect();
            let preflight = preflight(&source, &source_tables, &names, spec.on_unsupported).await?;
            for w in &preflight.warnings {
                observer.note(&format!("warning: {w}"));
            }
            if !preflight.passed() {
                return Err(Error::refused(
                    preflight
                        .refusals
                        .iter()
                        .map(|r| format!("refused: {r}"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                ));
            }
            create_publication(&source, &source_tables, &names.publication).await?;
            // The chunks as the copy starts (a chunk dropped from here on diverges the
            // target: `live::chunks`); the follow watches them from then on.
            ChunkWatch::open(&target, &fingerprint, &names.slot, &source_tables)
                .await
                .map_err(Error::runtime)?
                .check(&source, &target)
                .await
                .map_err(Error::runtime)?;
            let mut repl = replication_conn(&source_info).await?;
            let slot = repl
                .create_slot(&names.slot)
                .await
                .map_err(runtime("creating the replication slot"))?;
            session
                .open(&target, Phase::Copying)
                .await
                .map_err(Error::runtime)?;
            // The copy reads in the slot's snapshot; `repl` runs nothing until it ends.
            let end = super::apply::apply_in(
                spec,
                reviewed,
                settings,
                stop.clone(),
                observer,
                Some(&slot.snapshot_name),
            )
            .await?;
            match end {
                RunEnd::Mismatch(_) => {
                    return Err(Error::Mismatch(
                        "the copy does not match the source: not following".into(),
                    ));
                }
                // The tables came from an earlier snapshot: what changed between it
                // and the slot's would never arrive.
                RunEnd::NothingToDo => {
                    drop(repl);
                    drop_live_objects(&source_info, &source, &names).await?;
                    forget(&target, &fingerprint, &names.slot).await?;
                    return Err(Error::refused(
                        "the target already holds this move from an earlier apply: a live move must copy in its slot's snapshot; run `hypermove apply --follow --restart`",
                    ));
                }
                RunEnd::Applied(_) => {}
            }
            session
                .set_phase(&target, Phase::Following)
                .await
                .map_err(Error::runtime)?;
            Some((repl, slot.consistent_point))
        }
    };
    let mut first = start;
    drop(target);
    // Follow until a cutover completes the move; a cutover that failed after the
    // follower reached its fence puts the session back to following: follow again.
    loop {
        let (source, target) = connect_both(spec, "hypermove follower").await?;
        let stream = match first.take() {
            Some((repl, point)) => repl
                .start_replication(&names.slot, point, &[names.publication.as_str()])
                .await
                .map_err(runtime("starting replication"))?,
            None => {
                let journal = crate::live::apply::read_position(&target, &fingerprint, &names.slot)
                    .await
                    .map_err(Error::runtime)?;
                let start = journal.unwrap_or(Lsn::ZERO);
                crate::fault::pause(crate::fault::PAUSE_BEFORE_STREAM).await;
                match restart_stream(&source_info, &names, start, &target, &session).await? {
                    Some(stream) => stream,
                    None => {
                        observer.note(&format!(
                            "the live move on slot {} was completed by its cutover meanwhile",
                            names.slot
                        ));
                        return Ok(());
                    }
                }
            }
        };
        let mapping = mapping(&target, &tables).await?;
        drop(target);
        let completed =
            follow_until_completed(spec, &names, stream, source, mapping, &tables, stop.clone())
                .await?;
        if completed {
            return Ok(());
        }
        observer.note("the cutover did not complete: following again");
    }
}

/// A copy killed before its end (the session still says `copying`) cannot resume: its
/// exported snapshot died with the slot's connection, and windows copied in another
/// snapshot would disagree with the windows already copied, or with the slot's
/// stream (changes between the two snapshots lost or applied twice). So start it
/// over, as `--restart` would: drop the partly copied tables and forget the spec's
/// journal, then drop the slot and publication and forget the session. In that
/// order: a rerun killed in between still finds `copying` and starts over again.
async fn restart_copy(
    spec: &Spec,
    source_info: &ConnInfo,
    source: &Client,
    target: &Client,
    names: &LiveNames,
    observer: &dyn Observer,
) -> Result<(), Error> {
    observer.note(&format!(
        "the copy of the live move on slot {} was interrupted and its snapshot is gone: copying again in a new slot's snapshot",
        names.slot
    ));
    let (lock, partial) = super::apply::restart_candidates(spec).await?;
    for t in &partial {
        observer.note(&format!("dropping the partly copied table {t}"));
    }
    super::apply::restart(spec, &lock, &partial).await?;
    for d in drop_live_objects(source_info, source, names).await? {
        observer.note(&format!("dropped the {d} of the interrupted copy"));
    }
    forget(target, &plan::spec_fingerprint(spec), &names.slot).await
}

/// The follower and its beacon, until the session is completed (true) or a failed
/// cutover put it back to following after the follower had reached its fence (false).
async fn follow_until_completed(
    spec: &Spec,
    names: &LiveNames,
    mut stream: ReplicationStream,
    source: Client,
    mapping: Mapping,
    tables: &[(QualifiedName, QualifiedName)],
    stop: Arc<AtomicBool>,
) -> Result<bool, Error> {
    let fingerprint = &plan::spec_fingerprint(spec);
    let source_info = spec.source_db().map_err(Error::refused)?;
    let target_info = spec.target_db().map_err(Error::refused)?;
    let mut target = connect(target_info, Role::Target, "hypermove follower")
        .await
        .map_err(Error::runtime)?;
    let beacon_target = connect(target_info, Role::Target, "hypermove follower beacon")
        .await
        .map_err(Error::runtime)?;
    let beacon_source = connect(source_info, Role::Source, "hypermove follower beacon")
        .await
        .map_err(Error::runtime)?;
    let (controller, controls) = Controller::new();
    let (progress_tx, progress_rx) = session::progress_channel();
    let mut beacon = tokio::spawn(session::beacon(
        Session::new(fingerprint, &names.slot),
        beacon_target,
        Some(beacon_source),
        progress_rx,
        controller.clone(),
    ));
    // Ctrl-C sets `stop`; the follower checks its controller between batches.
    let watcher = {
        let controller = controller.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            controller.stop();
        })
    };
    let chunks = watch_chunks(spec, fingerprint, names, tables, controller.clone()).await?;
    let mut applier = Applier::open(&target, fingerprint, &names.slot, mapping)
        .await
        .map_err(runtime("opening the applier"))?;
    let mut report = move |p: &Progress| {
        progress_tx.send_replace(p.clone());
    };
    let ends = Ends {
        stream: &mut stream,
        source: &source,
        target: &mut target,
    };
    let outcome = tokio::select! {
        outcome = follow::follow(ends, &mut applier, Limits::default(), controls, &mut report) => outcome,
        // The beacon ends first only on an error (its Completed comes after the fence).
        ended = &mut beacon => {
            watcher.abort();
            chunks.abort();
            return match ended {
                Ok(Ok(BeaconEnd::Completed)) => Ok(true),
                Ok(Err(e)) => Err(Error::runtime(format!("live session: {e}"))),
                Err(e) => Err(Error::runtime(format!("live session task: {e}"))),
            };
        }
    };
    watcher.abort();
    // The slot is free once this connection goes: the cutover drops it.
    drop(stream);
    // A stop without a Ctrl-C is the chunk watch's: its error is the outcome.
    let by_watch = !stop.load(Ordering::Relaxed) && matches!(outcome, Ok(Outcome::Stopped { .. }));
    let dropped = if by_watch {
        chunks.await.ok()
    } else {
        chunks.abort();
        None
    };
    match outcome.map_err(runtime("following the source"))? {
        Outcome::Stopped { .. } => {
            beacon.abort();
            Err(dropped.map_or_else(interrupted, Error::runtime))
        }
        Outcome::Fenced { .. } => {
            // The cutover goes on (sequences, checksums): wait for its verdict.
            let session = Session::new(fingerprint, &names.slot);
            let reached = session.signal(&target).await.map_err(Error::runtime)?.fence;
            let mut poll = tokio::time::interval(Duration::from_millis(200));
            loop {
                tokio::select! {
                    ended = &mut beacon => return match ended {
                        Ok(Ok(BeaconEnd::Completed)) => Ok(true),
                        Ok(Err(e)) => Err(Error::runtime(format!("live session: {e}"))),
                        Err(e) => Err(Error::runtime(format!("live session task: {e}"))),
                    },
                    _ = poll.tick() => {
                        if stop.load(Ordering::Relaxed) {
                            beacon.abort();
                            return Err(interrupted());
                        }
                        let signal = session.signal(&target).await.map_err(Error::runtime)?;
                        // Back to following, or a retried cutover with a later
                        // fence (the flip to following may have come and gone
                        // between two polls): follow again, from the journal.
                        if signal.phase == Phase::Following || signal.fence != reached {
                            beacon.abort();
                            return Ok(false);
                        }
                    }
                }
            }
        }
    }
}

/// The live preflight of a spec, as `plan --follow` shows it.
#[derive(Debug)]
pub struct LivePreflight {
    /// The slot and publication the move would create.
    pub names: LiveNames,
    /// What would refuse it, and the risks it would run with.
    pub preflight: Preflight,
}

/// `plan --follow`: what `apply --follow` would check on the source before it
/// writes anything, read-only.
pub async fn live_preflight(spec: &Spec) -> Result<LivePreflight, Error> {
    let names = live_names(spec);
    let (mut source, target) = connect_both(spec, "hypermove plan").await?;
    let tables = moved_tables(spec, &mut source, &target).await?;
    let source_tables: Vec<QualifiedName> = tables.into_iter().map(|(s, _)| s).collect();
    let preflight = preflight(&source, &source_tables, &names, spec.on_unsupported).await?;
    Ok(LivePreflight { names, preflight })
}

async fn preflight(
    source: &Client,
    tables: &[QualifiedName],
    names: &LiveNames,
    unsupported: crate::spec::OnUnsupported,
) -> Result<Preflight, Error> {
    // `on_unsupported: warn` turns the direct-batch-delete refusal into a warning.
    crate::live::preflight::check_with(source, tables, names, unsupported)
        .await
        .map_err(runtime("live preflight on the source"))
}

/// How often the follower looks for chunks dropped on the source.
const CHUNKS_EVERY: Duration = Duration::from_secs(2);

/// The chunk watch of a follow, on its own sessions: it checks at once (a chunk
/// dropped while no follower ran) and then every `CHUNKS_EVERY`; on a dropped chunk
/// (or a failed check) it stops the follower and returns the error.
async fn watch_chunks(
    spec: &Spec,
    fingerprint: &str,
    names: &LiveNames,
    tables: &[(QualifiedName, QualifiedName)],
    controller: Controller,
) -> Result<tokio::task::JoinHandle<ChunkError>, Error> {
    let (source, target) = connect_both(spec, "hypermove follower chunk watch").await?;
    let roots: Vec<QualifiedName> = tables.iter().map(|(s, _)| s.clone()).collect();
    let mut watch = ChunkWatch::open(&target, fingerprint, &names.slot, &roots)
        .await
        .map_err(Error::runtime)?;
    Ok(tokio::spawn(async move {
        let mut every = tokio::time::interval(CHUNKS_EVERY);
        loop {
            every.tick().await;
            if let Err(e) = watch.check(&source, &target).await {
                controller.stop();
                return e;
            }
        }
    }))
}

/// Ctrl-C during the follow.
fn interrupted() -> Error {
    Error::Interrupted(
        "interrupted: every applied change is recorded on the target; run the same `hypermove apply --follow` again to resume".into(),
    )
}

/// The spec's tables (source, target), as the planner selects them: also when the
/// move is already copied (a resumed follow, a cutover), where the plan has no steps.
pub(super) async fn moved_tables(
    spec: &Spec,
    source: &mut Client,
    target: &Client,
) -> Result<Vec<(QualifiedName, QualifiedName)>, Error> {
    let (tx, _) = crate::pg::session::begin_snapshot(source, false)
        .await
        .map_err(Error::runtime)?;
    let inputs = plan::gather(spec, &tx, target).await?;
    let _ = tx.rollback().await;
    Ok(inputs
        .selection
        .iter()
        .map(|t| (t.source.clone(), t.target.clone()))
        .collect())
}

/// A replication connection to the source, in the text formats the applier expects.
async fn replication_conn(source_info: &ConnInfo) -> Result<ReplicationConn, Error> {
    let info = source_info.with_options(STREAM_OPTIONS);
    let tls = crate::pg::client_config(info.sslmode, info.sslrootcert.as_deref())
        .map_err(Error::runtime)?
        .map(Arc::new);
    ReplicationConn::connect(&info, tls, "hypermove follower")
        .await
        .map_err(runtime("replication connection to the source"))
}

/// A stream from `start` on a new connection. A killed follower's walsender holds the
/// slot until it notices its client is gone: retry a while. `None`: a cutover
/// completed the move meanwhile and dropped the slot (a follower restarted while the
/// cutover was verifying), so there is nothing left to follow.
async fn restart_stream(
    source_info: &ConnInfo,
    names: &LiveNames,
    start: Lsn,
    target: &Client,
    session: &Session,
) -> Result<Option<ReplicationStream>, Error> {
    let deadline = std::time::Instant::now() + SLOT_BUSY_FOR;
    loop {
        let repl = replication_conn(source_info).await?;
        match repl
            .start_replication(&names.slot, start, &[names.publication.as_str()])
            .await
        {
            Ok(stream) => return Ok(Some(stream)),
            Err(e) => {
                let signal = session.signal(target).await;
                if signal.is_ok_and(|s| s.phase == Phase::Completed) {
                    return Ok(None);
                }
                if std::time::Instant::now() >= deadline {
                    return Err(Error::runtime(format!("restarting the follow: {e}")));
                }
                tracing::info!("slot {} still busy: {e}", names.slot);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// `CREATE PUBLICATION`: the moved tables `FOR TABLE`, their chunk schemas `FOR
/// TABLES IN SCHEMA` (new chunks join no table list before TimescaleDB 2.25).
async fn create_publication(
    source: &Client,
    tables: &[QualifiedName],
    publication: &str,
) -> Result<(), Error> {
    let schemas: Vec<String> = tables.iter().map(|t| t.schema.clone()).collect();
    let relnames: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
    let has_ts = source
        .query_one(TABLE_EXISTS, &[&"_timescaledb_catalog.hypertable"])
        .await
        .map_err(runtime("reading the source"))?
        .get::<_, bool>(0);
    let chunk_schemas: Vec<String> = if has_ts {
        source
            .query(CHUNK_SCHEMAS, &[&schemas, &relnames])
            .await
            .map_err(runtime("reading the chunk schemas"))?
            .iter()
            .map(|r| r.get(0))
            .collect()
    } else {
        Vec::new()
    };
    let mut parts = vec![format!(
        "TABLE {}",
        tables
            .iter()
            .map(|t| t.sql())
            .collect::<Vec<_>>()
            .join(", ")
    )];
    if !chunk_schemas.is_empty() {
        parts.push(format!(
            "TABLES IN SCHEMA {}",
            chunk_schemas
                .iter()
                .map(|s| quote_ident(s))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let ddl = format!(
        "CREATE PUBLICATION {} FOR {}",
        quote_ident(publication),
        parts.join(", ")
    );
    source
        .batch_execute(&ddl)
        .await
        .map_err(runtime("creating the publication"))
}

/// What the applier needs of each moved table: the target root, its columns as the
/// move created them, the target's partitioning columns. The columns are read from
/// the TARGET: a resumed follow must compare the stream with the shape the move
/// planned, and the source's may have changed since (DDL during the follow).
pub(super) async fn mapping(
    target: &Client,
    tables: &[(QualifiedName, QualifiedName)],
) -> Result<Mapping, Error> {
    let has_dims: bool = target
        .query_one(HAS_DIMENSIONS, &[])
        .await
        .map_err(runtime("reading the target"))?
        .get(0);
    let mut moved = Vec::new();
    for (src, dst) in tables {
        let columns: Vec<String> = target
            .query(COLUMNS, &[&dst.sql()])
            .await
            .map_err(runtime("reading the target's columns"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let routing: Vec<String> = if has_dims {
            target
                .query(ROUTING, &[&dst.schema, &dst.name])
                .await
                .map_err(runtime("reading the target dimensions"))?
                .iter()
                .map(|r| r.get(0))
                .collect()
        } else {
            Vec::new()
        };
        moved.push((
            src.clone(),
            MovedTable {
                target: dst.clone(),
                columns,
                routing,
            },
        ));
    }
    Ok(Mapping::new(moved))
}

/// The live session of a spec, if one was started.
pub async fn live_status(spec: &Spec) -> Result<Option<session::Status>, Error> {
    let names = live_names(spec);
    // A spec without a database target (a backup) has no live move.
    if spec.target_db().is_err() {
        return Ok(None);
    }
    let target = super::connect_target(spec, "hypermove status").await?;
    match session_for(spec, &names).read(&target).await {
        Ok(status) => Ok(Some(status)),
        Err(SessionError::NoSession { .. }) => Ok(None),
        // No session table on the target: no live move was ever started there.
        Err(SessionError::Target(e)) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(None),
        Err(e) => Err(Error::runtime(e)),
    }
}

/// `clean`: drop the slot and the publication of the spec's live move on the source,
/// if they exist. Returns what was dropped, named.
pub async fn clean(spec: &Spec) -> Result<Vec<String>, Error> {
    let names = live_names(spec);
    // Only a database-to-database spec can have a live move.
    let (Ok(source_info), Ok(_)) = (spec.source_db(), spec.target_db()) else {
        return Ok(Vec::new());
    };
    let source = connect(source_info, Role::Source, "hypermove clean")
        .await
        .map_err(Error::runtime)?;
    let dropped = drop_live_objects(source_info, &source, &names).await?;
    let target = super::connect_target(spec, "hypermove clean").await?;
    forget(&target, &plan::spec_fingerprint(spec), &names.slot).await?;
    Ok(dropped)
}

/// Forget a live move's session row and applied position on the target, where the
/// tables exist.
async fn forget(target: &Client, fingerprint: &str, slot: &str) -> Result<(), Error> {
    for (table, sql) in [
        ("hypermove.live_session", FORGET_SESSION),
        ("hypermove.live_position", FORGET_POSITION),
        ("hypermove.live_chunk", FORGET_CHUNKS),
    ] {
        let exists: bool = target
            .query_one(TABLE_EXISTS, &[&table])
            .await
            .map_err(runtime("reading the target"))?
            .get(0);
        if exists {
            target
                .execute(sql, &[&fingerprint, &slot])
                .await
                .map_err(runtime("forgetting the live session"))?;
        }
    }
    Ok(())
}

/// Drop the slot (waiting a while for a walsender that still holds it) and the
/// publication, when they exist; returns them, named.
pub(super) async fn drop_live_objects(
    _source_info: &ConnInfo,
    source: &Client,
    names: &LiveNames,
) -> Result<Vec<String>, Error> {
    let mut dropped = Vec::new();
    let deadline = std::time::Instant::now() + SLOT_BUSY_FOR;
    loop {
        let row = source
            .query_opt(SLOT_EXISTS, &[&names.slot])
            .await
            .map_err(runtime("reading the source's slots"))?;
        let Some(row) = row else { break };
        let active: Option<i32> = row.get(0);
        if active.is_none() {
            source
                .query(DROP_SLOT, &[&names.slot])
                .await
                .map_err(runtime("dropping the replication slot"))?;
            dropped.push(format!("replication slot {}", names.slot));
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err(Error::runtime(format!(
                "replication slot {} is still in use by backend {}: stop its follower first",
                names.slot,
                active.unwrap_or_default()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let exists: i64 = source
        .query_one(PUBLICATION_EXISTS, &[&names.publication])
        .await
        .map_err(runtime("reading the source's publications"))?
        .get(0);
    if exists > 0 {
        source
            .batch_execute(&format!(
                "DROP PUBLICATION IF EXISTS {}",
                quote_ident(&names.publication)
            ))
            .await
            .map_err(runtime("dropping the publication"))?;
        dropped.push(format!("publication {}", names.publication));
    }
    Ok(dropped)
}
