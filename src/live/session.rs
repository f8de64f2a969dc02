//! The live session: how a running follower (`apply --follow`) and a `cutover` or
//! `status` in another process talk, through one row of `hypermove.live_session` on
//! the target, keyed by (spec fingerprint, slot name).
//!
//! Why the target: both processes reach it, it already holds the follower's journal
//! (`hypermove.live_position`), and it is the database that survives the move (the
//! slot and the publication on the source are dropped at cutover).
//!
//! Phases and who moves them (`Phase::can_become` is the table):
//! - `copying` (the follower process, at start): the snapshot copy runs.
//! - `copying → following` (the follower, once the copy is done and the stream
//!   starts).
//! - `following → cutting_over` (`cutover`, with the fence in the same statement:
//!   the follower never sees the phase without the fence). `cutting_over →
//!   cutting_over` lets a retried cutover move the fence forward.
//! - `cutting_over → following` (an abandoned cutover; the fence is cleared).
//! - `cutting_over → completed` (`cutover`, after the follower confirmed the fence
//!   and verification passed). The follower sees it and exits 0.
//! - `completed` is final: nothing moves it back (a late publisher cannot revive a
//!   finished move).
//!
//! A follower killed with -9 in any phase leaves a row a restart can read: every
//! write is one autocommitted statement, so the row is always some whole state. The
//! phase says where to resume (`copying`: start the copy over, since the exported
//! snapshot died with the process; `following`: stream from the journal;
//! `cutting_over`: stream from the journal and take the fence from the row again;
//! `completed`: nothing to do). The positions here are only reports: the journal
//! (`live_position`, written with the changes) is what a resume trusts. A dead
//! follower stops heartbeating, which is how `cutover` tells "slow" from "gone".

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::{Controller, Lsn, LsnParseError, Progress};

const LIVE_SESSION: &str = include_str!("sql/live_session.sql");
const START: &str = include_str!("sql/session_start.sql");
const PHASE: &str = include_str!("sql/session_phase.sql");
const COMPLETE: &str = include_str!("sql/session_complete.sql");
const CUTOVER: &str = include_str!("sql/session_cutover.sql");
const PUBLISH: &str = include_str!("sql/session_publish.sql");
const READ: &str = include_str!("sql/session_read.sql");
const SLOT_WAL: &str = include_str!("sql/slot_wal.sql");

/// How often the beacon publishes progress and the heartbeat and reads the fence:
/// cheap (one UPDATE, one SELECT), and a cutover learns of the fence within it.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(500);

/// How often the beacon reads the slot's retained WAL on the source.
pub const SLOT_EVERY: Duration = Duration::from_secs(5);

/// A heartbeat older than this means no follower is running (it publishes every
/// `PUBLISH_EVERY`, from its own task, even while a batch is being applied).
pub const HEARTBEAT_STALE: Duration = Duration::from_secs(10);

/// How often `wait_until_applied` reads the row.
const WAIT_POLL: Duration = Duration::from_millis(200);

/// Where a live move is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The snapshot copy runs.
    Copying,
    /// The follower applies the stream.
    Following,
    /// A cutover set a fence and waits for the follower to reach it.
    CuttingOver,
    /// The cutover succeeded; the follower exits.
    Completed,
}

impl Phase {
    const ALL: [Phase; 4] = [
        Phase::Copying,
        Phase::Following,
        Phase::CuttingOver,
        Phase::Completed,
    ];

    /// The name stored in the table and printed by `status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Copying => "copying",
            Phase::Following => "following",
            Phase::CuttingOver => "cutting_over",
            Phase::Completed => "completed",
        }
    }

    /// The phase of a stored name.
    pub fn parse(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Whether a move in `self` may go to `next`. Staying is allowed except where
    /// noted in the module doc (a restarted follower sets its phase again).
    pub fn can_become(self, next: Phase) -> bool {
        use Phase::*;
        matches!(
            (self, next),
            (Copying, Copying | Following)
                | (Following, Following | CuttingOver)
                | (CuttingOver, CuttingOver | Following | Completed)
                | (Completed, Completed)
        )
    }

    /// The phases from which `next` may be reached, as stored names (the SQL
    /// checks the current phase against them in the same statement).
    fn predecessors(next: Phase) -> Vec<String> {
        Phase::ALL
            .into_iter()
            .filter(|p| p.can_become(next))
            .map(|p| p.as_str().to_string())
            .collect()
    }
}

/// Why a session call failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The target refused or the connection broke.
    #[error("live session on the target: {0}")]
    Target(#[from] tokio_postgres::Error),
    /// The source refused the slot query.
    #[error("reading the slot on the source: {0}")]
    Source(#[source] tokio_postgres::Error),
    /// A stored position did not parse.
    #[error(transparent)]
    Lsn(#[from] LsnParseError),
    /// The table holds a phase this build does not know (a newer hypermove?).
    #[error("unknown live phase `{0}` in hypermove.live_session")]
    UnknownPhase(String),
    /// No row for this move: no follower ever started it.
    #[error("no live session for slot {slot}: has `hypermove apply --follow` started?")]
    NoSession {
        /// The slot name asked for.
        slot: String,
    },
    /// The phase may not go from `from` to `to` (see `Phase::can_become`).
    #[error("the live move on slot {slot} is {from}, it cannot become {to}")]
    IllegalTransition {
        /// The slot name.
        slot: String,
        /// The phase found.
        from: &'static str,
        /// The phase asked for.
        to: &'static str,
    },
    /// The follower has not published for too long: it is not running.
    #[error(
        "the follower of slot {slot} has not reported for {age_seconds:.1} s (confirmed {confirmed}, fence {fence}): is `hypermove apply --follow` running?"
    )]
    StaleFollower {
        /// The slot name.
        slot: String,
        /// Seconds since its last heartbeat (`f64::INFINITY`: it never sent one).
        age_seconds: f64,
        /// The position it last confirmed (`0/0`: none).
        confirmed: Lsn,
        /// The fence waited for.
        fence: Lsn,
    },
    /// `complete` before the follower confirmed the fence.
    #[error(
        "the follower of slot {slot} has confirmed {confirmed}, short of the fence {fence}: the move cannot complete yet"
    )]
    FenceNotReached {
        /// The slot name.
        slot: String,
        /// The position it last confirmed.
        confirmed: Lsn,
        /// The fence.
        fence: Lsn,
    },
    /// The follower is alive but did not reach the fence in time.
    #[error(
        "the follower of slot {slot} did not reach the fence {fence} within {waited:?} (confirmed {confirmed})"
    )]
    Timeout {
        /// The slot name.
        slot: String,
        /// How long the wait lasted.
        waited: Duration,
        /// The position it last confirmed.
        confirmed: Lsn,
        /// The fence waited for.
        fence: Lsn,
    },
}

/// The fence is applied: what `wait_until_applied` returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reached {
    /// The follower's confirmed position (at or past the fence).
    pub confirmed: Lsn,
    /// How long the wait took.
    pub waited: Duration,
}

/// What `status` prints. `phase` and `lag_bytes` are fixed JSON field names (the
/// CLI's interface); the rest may grow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// The phase.
    pub phase: Phase,
    /// Source WAL the follower has not confirmed: the source end it last saw minus
    /// the later of applied and confirmed; 0 once completed.
    pub lag_bytes: u64,
    /// Source commit → target commit of the last applied transaction.
    pub lag_seconds: Option<f64>,
    /// Rows applied per second over the last 10–20 s window.
    pub apply_rate_rows_per_second: Option<f64>,
    /// WAL the slot retains on the source, as of the follower's last reading.
    pub retained_wal_bytes: Option<u64>,
    /// The slot's `wal_status` (`lost` means the move cannot resume).
    pub wal_status: Option<String>,
    /// Seconds since the follower's last heartbeat (`None`: never).
    pub heartbeat_age_seconds: Option<f64>,
    /// The fence a cutover asked for.
    pub fence_lsn: Option<String>,
    /// The journal's position as the follower last published it.
    pub applied_lsn: Option<String>,
    /// The position the follower last confirmed to the slot.
    pub confirmed_lsn: Option<String>,
    /// The source's WAL end as last seen.
    pub source_end_lsn: Option<String>,
}

/// WAL not yet confirmed: `source_end − max(applied, confirmed)`, never negative
/// (an idle confirmation may pass the last report). A completed move has none: its
/// writes stopped and the fence was confirmed; WAL written after (checkpoints, other
/// databases) is not the move's.
pub fn lag_bytes(
    phase: Phase,
    source_end: Option<Lsn>,
    applied: Option<Lsn>,
    confirmed: Option<Lsn>,
) -> u64 {
    if phase == Phase::Completed {
        return 0;
    }
    let done = applied.max(confirmed).unwrap_or(Lsn::ZERO);
    source_end.unwrap_or(Lsn::ZERO).0.saturating_sub(done.0)
}

/// Rows per second from the window's row count and length; `None` for an empty or
/// backwards window (a restarted follower counts from zero again).
pub fn apply_rate(rows: i64, seconds: Option<f64>) -> Option<f64> {
    let seconds = seconds.filter(|s| *s > 0.0)?;
    (rows >= 0).then(|| rows as f64 / seconds)
}

/// One live move's row: the key and the calls each side makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    fingerprint: String,
    slot: String,
}

/// A phase and fence as the follower polls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    /// The phase now.
    pub phase: Phase,
    /// The fence, when a cutover set one.
    pub fence: Option<Lsn>,
}

fn lsn(text: Option<String>) -> Result<Option<Lsn>, LsnParseError> {
    text.map(|t| t.parse()).transpose()
}

fn bigint(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Session {
    /// The row of the move with this spec fingerprint and slot.
    pub fn new(fingerprint: &str, slot: &str) -> Self {
        Self {
            fingerprint: fingerprint.to_string(),
            slot: slot.to_string(),
        }
    }

    /// Create the table if needed and the row in `phase` if missing; an existing
    /// row (a restart) keeps its phase. Returns the phase found or created.
    pub async fn open(&self, target: &Client, phase: Phase) -> Result<Phase, SessionError> {
        target.batch_execute(LIVE_SESSION).await?;
        target
            .execute(START, &[&self.fingerprint, &self.slot, &phase.as_str()])
            .await?;
        Ok(self.signal(target).await?.phase)
    }

    /// Move to `to` if the current phase allows it (one statement: the check and
    /// the write cannot be split by another process).
    /// `completed` goes through `complete` (it also needs the fence confirmed).
    pub async fn set_phase(&self, target: &Client, to: Phase) -> Result<(), SessionError> {
        if to == Phase::Completed {
            return self.complete(target).await;
        }
        let from = Phase::predecessors(to);
        let done = target
            .query_opt(PHASE, &[&self.fingerprint, &self.slot, &to.as_str(), &from])
            .await?;
        match done {
            Some(_) => Ok(()),
            None => Err(self.refused(target, to).await),
        }
    }

    /// The error for a refused transition: no row, or the phase it is in.
    async fn refused(&self, target: &Client, to: Phase) -> SessionError {
        match self.signal(target).await {
            Ok(signal) => SessionError::IllegalTransition {
                slot: self.slot.clone(),
                from: signal.phase.as_str(),
                to: to.as_str(),
            },
            Err(e) => e,
        }
    }

    /// Follower: publish its progress and heartbeat. `slot` is the slot's retained
    /// WAL and `wal_status` when read on the source. One UPDATE; call it at most
    /// every `PUBLISH_EVERY` (the beacon does).
    pub async fn publish(
        &self,
        target: &Client,
        progress: &Progress,
        slot: Option<&SlotWal>,
    ) -> Result<(), SessionError> {
        let text = |l: Lsn| (l != Lsn::ZERO).then(|| l.to_string());
        let applied = progress.position.map(|l| l.to_string());
        let source_end = slot
            .map(|s| s.current)
            .max(Some(progress.server_end))
            .and_then(text);
        let retained = slot.and_then(|s| s.retained.map(bigint));
        let status = slot.and_then(|s| s.wal_status.clone());
        target
            .execute(
                PUBLISH,
                &[
                    &self.fingerprint,
                    &self.slot,
                    &applied,
                    &text(progress.confirmed),
                    &source_end,
                    &progress.last_commit,
                    &progress.applied_at,
                    &bigint(progress.rows),
                    &retained,
                    &status,
                ],
            )
            .await?;
        Ok(())
    }

    /// Follower: the phase and the fence, in one read.
    pub async fn signal(&self, target: &Client) -> Result<Signal, SessionError> {
        let row = self.row(target).await?;
        let phase: String = row.get(0);
        Ok(Signal {
            phase: Phase::parse(&phase).ok_or(SessionError::UnknownPhase(phase))?,
            fence: lsn(row.get(1))?,
        })
    }

    /// Follower: the fence a cutover set, if any (the follower's task passes it to
    /// `Controller::fence`).
    pub async fn poll_fence(&self, target: &Client) -> Result<Option<Lsn>, SessionError> {
        Ok(self.signal(target).await?.fence)
    }

    /// Cutover: phase `cutting_over` and the fence, in one statement. Returns the
    /// fence stored (a retried cutover never moves it back).
    pub async fn request_cutover(&self, target: &Client, fence: Lsn) -> Result<Lsn, SessionError> {
        let row = target
            .query_opt(
                CUTOVER,
                &[&self.fingerprint, &self.slot, &fence.to_string()],
            )
            .await?;
        match row {
            Some(row) => Ok(row.get::<_, String>(0).parse()?),
            None => Err(self.refused(target, Phase::CuttingOver).await),
        }
    }

    /// Cutover: wait until the follower confirmed `fence` (its confirmed position is
    /// at or past it). Fails early when its heartbeat is older than `stale` (no
    /// follower runs: waiting longer cannot help), else after `timeout`.
    pub async fn wait_until_applied(
        &self,
        target: &Client,
        fence: Lsn,
        timeout: Duration,
        stale: Duration,
    ) -> Result<Reached, SessionError> {
        let start = Instant::now();
        loop {
            let row = self.row(target).await?;
            let confirmed = lsn(row.get(3))?.unwrap_or(Lsn::ZERO);
            if confirmed >= fence {
                return Ok(Reached {
                    confirmed,
                    waited: start.elapsed(),
                });
            }
            let age: Option<f64> = row.get(10);
            let age_seconds = age.unwrap_or(f64::INFINITY);
            if age_seconds > stale.as_secs_f64() {
                return Err(SessionError::StaleFollower {
                    slot: self.slot.clone(),
                    age_seconds,
                    confirmed,
                    fence,
                });
            }
            if start.elapsed() >= timeout {
                return Err(SessionError::Timeout {
                    slot: self.slot.clone(),
                    waited: start.elapsed(),
                    confirmed,
                    fence,
                });
            }
            tokio::time::sleep(WAIT_POLL.min(timeout.saturating_sub(start.elapsed()))).await;
        }
    }

    /// Cutover: the move is done; the follower sees it and exits 0. Refused unless
    /// the phase is `cutting_over` and the follower confirmed the fence (checked in
    /// the same statement).
    pub async fn complete(&self, target: &Client) -> Result<(), SessionError> {
        let done = target
            .query_opt(COMPLETE, &[&self.fingerprint, &self.slot])
            .await?;
        if done.is_some() {
            return Ok(());
        }
        let row = self.row(target).await?;
        let (phase, fence, confirmed) =
            (row.get::<_, String>(0), lsn(row.get(1))?, lsn(row.get(3))?);
        match (Phase::parse(&phase), fence) {
            (Some(Phase::CuttingOver), Some(fence)) => Err(SessionError::FenceNotReached {
                slot: self.slot.clone(),
                confirmed: confirmed.unwrap_or(Lsn::ZERO),
                fence,
            }),
            _ => Err(self.refused(target, Phase::Completed).await),
        }
    }

    /// Status: everything `hypermove status` prints.
    pub async fn read(&self, target: &Client) -> Result<Status, SessionError> {
        let row = self.row(target).await?;
        let name: String = row.get(0);
        let phase = Phase::parse(&name).ok_or(SessionError::UnknownPhase(name))?;
        let (fence, applied, confirmed, end) = (
            row.get::<_, Option<String>>(1),
            row.get::<_, Option<String>>(2),
            row.get::<_, Option<String>>(3),
            row.get::<_, Option<String>>(4),
        );
        let lag = lag_bytes(
            phase,
            lsn(end.clone())?,
            lsn(applied.clone())?,
            lsn(confirmed.clone())?,
        );
        let lag_seconds: Option<f64> = row.get(5);
        let retained: Option<i64> = row.get(8);
        Ok(Status {
            phase,
            lag_bytes: lag,
            lag_seconds: lag_seconds.map(|s| s.max(0.0)),
            apply_rate_rows_per_second: apply_rate(row.get(6), row.get(7)),
            retained_wal_bytes: retained.and_then(|r| u64::try_from(r).ok()),
            wal_status: row.get(9),
            heartbeat_age_seconds: row.get(10),
            fence_lsn: fence,
            applied_lsn: applied,
            confirmed_lsn: confirmed,
            source_end_lsn: end,
        })
    }

    /// The row, or `NoSession`.
    async fn row(&self, target: &Client) -> Result<tokio_postgres::Row, SessionError> {
        let none = || SessionError::NoSession {
            slot: self.slot.clone(),
        };
        match target
            .query_opt(READ, &[&self.fingerprint, &self.slot])
            .await
        {
            Ok(row) => row.ok_or_else(none),
            // No table yet: no follower ever opened a session on this target.
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Err(none()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The slot as read on the source (`sql/slot_wal.sql`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotWal {
    /// Bytes from the slot's restart_lsn to the current WAL end (`None`: the slot
    /// has no restart position yet).
    pub retained: Option<u64>,
    /// `pg_replication_slots.wal_status`.
    pub wal_status: Option<String>,
    /// The source's current WAL end.
    pub current: Lsn,
}

/// Read the slot's retained WAL on the source; `None` when the slot is gone.
pub async fn slot_wal(source: &Client, slot: &str) -> Result<Option<SlotWal>, SessionError> {
    let Some(row) = source
        .query_opt(SLOT_WAL, &[&slot])
        .await
        .map_err(SessionError::Source)?
    else {
        return Ok(None);
    };
    let retained: Option<i64> = row.get(0);
    Ok(Some(SlotWal {
        retained: retained.and_then(|r| u64::try_from(r).ok()),
        wal_status: row.get(1),
        current: row.get::<_, String>(2).parse()?,
    }))
}

/// How a beacon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeaconEnd {
    /// A cutover completed the move: the follower process exits 0.
    Completed,
}

/// The follower process's link to the row, as a task beside `follow`: every
/// `PUBLISH_EVERY` it publishes the latest `Progress` (the follow's report callback
/// sends it into `progress`) with a heartbeat, reads the phase and fence, and hands
/// a new fence to `controller`. It returns when the phase is `completed`.
///
/// It needs its own target session: the applier's holds open transactions, and a
/// heartbeat written inside one would not be seen until its commit (nor survive
/// its rollback). It runs on its own task so the heartbeat goes on while a batch is
/// being applied: a slow batch is not a dead follower. `source`, when given, is a
/// session on the source to read the slot's retained WAL every `SLOT_EVERY`.
pub async fn beacon(
    session: Session,
    target: Client,
    source: Option<Client>,
    mut progress: watch::Receiver<Progress>,
    controller: Controller,
) -> Result<BeaconEnd, SessionError> {
    let mut fence_sent: Option<Lsn> = None;
    let mut slot: Option<SlotWal> = None;
    let mut slot_read: Option<Instant> = None;
    let mut ticks = tokio::time::interval(PUBLISH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Some(src) = &source {
            if slot_read.is_none_or(|at| at.elapsed() >= SLOT_EVERY) {
                // The slot reading is a nicety for `status`: a source hiccup must
                // not take the heartbeat down with it.
                slot = slot_wal(src, &session.slot).await.unwrap_or(None);
                slot_read = Some(Instant::now());
            }
        }
        let latest = progress.borrow_and_update().clone();
        session.publish(&target, &latest, slot.as_ref()).await?;
        let signal = session.signal(&target).await?;
        if signal.phase == Phase::Completed {
            return Ok(BeaconEnd::Completed);
        }
        if let Some(fence) = signal.fence.filter(|f| Some(*f) != fence_sent) {
            controller.fence(fence);
            fence_sent = Some(fence);
        }
    }
}

/// A progress channel for `beacon`: the sender goes into the follow's report
/// callback (`move |p| { tx.send_replace(p.clone()); }`), the receiver to the beacon.
pub fn progress_channel() -> (watch::Sender<Progress>, watch::Receiver<Progress>) {
    watch::channel(Progress::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_round_trip_through_their_names() {
        for p in Phase::ALL {
            assert_eq!(Phase::parse(p.as_str()), Some(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
        assert_eq!(Phase::parse("done"), None);
    }

    #[test]
    fn illegal_transitions_are_refused() {
        use Phase::*;
        assert!(Copying.can_become(Following));
        assert!(Following.can_become(CuttingOver));
        assert!(CuttingOver.can_become(Completed));
        assert!(CuttingOver.can_become(Following), "an abandoned cutover");
        assert!(Following.can_become(Following), "a restarted follower");
        assert!(!Completed.can_become(Following));
        assert!(!Completed.can_become(CuttingOver));
        assert!(!Completed.can_become(Copying));
        assert!(
            !Copying.can_become(CuttingOver),
            "no cutover before the copy"
        );
        assert!(
            !Following.can_become(Completed),
            "completed only after a fence"
        );
        assert!(!Following.can_become(Copying));
        assert_eq!(
            Phase::predecessors(Completed),
            ["cutting_over", "completed"]
        );
        assert_eq!(Phase::predecessors(Copying), ["copying"]);
    }

    #[test]
    fn lag_counts_from_the_later_of_applied_and_confirmed() {
        use Phase::*;
        let (end, applied, confirmed) = (Some(Lsn(1500)), Some(Lsn(1000)), Some(Lsn(1200)));
        assert_eq!(lag_bytes(Following, end, applied, confirmed), 300);
        assert_eq!(lag_bytes(Following, end, applied, None), 500);
        assert_eq!(lag_bytes(Following, end, None, None), 1500);
        assert_eq!(
            lag_bytes(Following, end, Some(Lsn(2000)), None),
            0,
            "idle confirmation ahead"
        );
        assert_eq!(lag_bytes(Copying, None, None, None), 0);
        assert_eq!(lag_bytes(Completed, end, applied, confirmed), 0);
    }

    #[test]
    fn apply_rate_needs_a_forward_window() {
        assert_eq!(apply_rate(500, Some(10.0)), Some(50.0));
        assert_eq!(apply_rate(0, Some(10.0)), Some(0.0));
        assert_eq!(apply_rate(500, Some(0.0)), None);
        assert_eq!(apply_rate(500, None), None);
        assert_eq!(apply_rate(-5, Some(10.0)), None);
    }

    #[test]
    fn status_json_has_the_fixed_field_names() {
        let s = Status {
            phase: Phase::CuttingOver,
            lag_bytes: 42,
            lag_seconds: None,
            apply_rate_rows_per_second: None,
            retained_wal_bytes: None,
            wal_status: None,
            heartbeat_age_seconds: None,
            fence_lsn: None,
            applied_lsn: None,
            confirmed_lsn: None,
            source_end_lsn: None,
        };
        let v: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(v["phase"], "cutting_over");
        assert_eq!(v["lag_bytes"], 42);
    }
}
