//! The follower loop: read the slot's stream, gather whole source transactions into
//! batches (`pending`), apply each batch in one target transaction (`Applier`), and
//! only then confirm the applied position to the slot.
//!
//! The order of those last two steps is the whole safety argument: the slot forgets
//! what it was told is flushed, so a confirmation must never run ahead of a target
//! commit. A crash between the commit and the confirmation only makes the server
//! send again what the journal already holds, which the applier skips.
//!
//! Not wired into a command yet; `tests/live_follow.rs` runs it against the full
//! pair. The caller opens the stream (from `start_position`), the applier and the
//! two sessions; the follower returns when a fence is reached, on a stop signal, or
//! with the first error.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio_postgres::Client;

use super::pending::{self, Limits, Pending};
use super::pgoutput::{self, DecodeError, PgOutput};
use super::{Applied, Applier, ApplyError, LiveError, Lsn, ReplicationData, ReplicationStream};

/// Seconds from the Unix epoch to PostgreSQL's, 2000-01-01 UTC.
const PG_EPOCH: Duration = Duration::from_secs(946_684_800);

/// How often to ask the server for its position while a fence is not reached yet:
/// its answer (a keepalive) is what proves the stream has passed the fence.
const FENCE_POLL: Duration = Duration::from_secs(1);

/// Where to START_REPLICATION: the later of the slot's first position and the
/// journal's applied position. The server never streams from before the slot's
/// confirmed position anyway; asking for the journal's keeps a follower whose last
/// confirmation was lost from being handed what it already applied (the applier
/// would skip it, but need not read it).
pub fn start_position(consistent_point: Lsn, journal: Option<Lsn>) -> Lsn {
    journal.map_or(consistent_point, |j| j.max(consistent_point))
}

/// Why the follower returned without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything committed on the source before the fence is applied on the target
    /// and confirmed to the slot. `position` is the journal's position (the end of
    /// the last applied commit; `None` if nothing was ever applied).
    Fenced {
        /// The applied position, as `hypermove.live_position` holds it.
        position: Option<Lsn>,
    },
    /// The stop signal came. Transactions gathered but not applied were dropped:
    /// they were not confirmed either, so a new follower receives them again.
    Stopped {
        /// The applied position, as `hypermove.live_position` holds it.
        position: Option<Lsn>,
    },
}

/// Why the follower stopped with an error. The journal's position is whatever the
/// last successful batch left: a failed batch is rolled back by the applier.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The applier refused or failed a batch (TRUNCATE, changed shape, target error…).
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The replication connection failed.
    #[error(transparent)]
    Stream(#[from] LiveError),
    /// A pgoutput message did not decode.
    #[error("decoding the replication stream: {0}")]
    Decode(#[from] DecodeError),
    /// The server ended the stream (the slot was dropped, or the walsender shut down).
    #[error("the source ended the replication stream")]
    Ended,
    /// The stream broke the Begin … Commit nesting.
    #[error("the replication stream is not made of whole transactions: {0}")]
    Unbalanced(&'static str),
}

/// The caller's side of a follower's controls: set a fence, or ask it to stop.
/// Cloneable, so a Ctrl-C task and a cutover can each hold one.
#[derive(Debug, Clone)]
pub struct Controller {
    fence: watch::Sender<Option<Lsn>>,
    stop: watch::Sender<bool>,
}

/// The follower's side of the controls (pass it to `follow`).
#[derive(Debug)]
pub struct Controls {
    fence: watch::Receiver<Option<Lsn>>,
    stop: watch::Receiver<bool>,
}

impl Controller {
    /// A pair of controls: the caller keeps the controller, `follow` takes the rest.
    pub fn new() -> (Self, Controls) {
        let (fence, fence_rx) = watch::channel(None);
        let (stop, stop_rx) = watch::channel(false);
        (
            Self { fence, stop },
            Controls {
                fence: fence_rx,
                stop: stop_rx,
            },
        )
    }

    /// Stop once everything committed on the source before `lsn` is applied and
    /// confirmed (`lsn` is e.g. `pg_current_wal_lsn()` read after writes stopped).
    pub fn fence(&self, lsn: Lsn) {
        self.fence.send_replace(Some(lsn));
    }

    /// Stop as soon as the batch being applied (if any) is committed.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}

/// What the follower has done so far, reported after every batch and at the end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Target transactions committed (batches).
    pub batches: u64,
    /// Source transactions applied.
    pub transactions: u64,
    /// Source transactions skipped because the journal already held them.
    pub skipped: u64,
    /// Row changes applied (rows copied plus update, move and delete statements).
    pub rows: u64,
    /// Parts sent to the target of source transactions too large to gather whole
    /// (`Limits::transaction_bytes`).
    pub parts: u64,
    /// The journal's position: the end of the last applied commit.
    pub position: Option<Lsn>,
    /// The last position confirmed to the slot. It may pass `position` while idle:
    /// see `follow`.
    pub confirmed: Lsn,
    /// The latest end of WAL the server reported: `lag_bytes` counts from it.
    pub server_end: Lsn,
    /// When the last applied transaction committed on the source.
    pub last_commit: Option<SystemTime>,
    /// When the follower committed that transaction on the target.
    pub applied_at: Option<SystemTime>,
    /// Relations that were gone from the source when first met (see
    /// `Applied::vanished`); a caller warns about them.
    pub vanished: Vec<String>,
}

impl Progress {
    /// WAL the follower has not confirmed yet, by the server's last report.
    pub fn lag_bytes(&self) -> u64 {
        self.server_end.0.saturating_sub(self.confirmed.0)
    }

    /// Seconds from the source commit of the last applied transaction to its commit
    /// on the target: the replication delay as of the last batch. A `status` reading
    /// it long after should also look at `lag_bytes` (a stalled follower keeps its
    /// last delay here).
    pub fn lag_seconds(&self) -> Option<f64> {
        let (source, target) = (self.last_commit?, self.applied_at?);
        Some(
            target
                .duration_since(source)
                .unwrap_or(Duration::ZERO)
                .as_secs_f64(),
        )
    }
}

/// The source commit time of pgoutput (µs since 2000-01-01 UTC) as a `SystemTime`.
pub fn commit_time(micros: i64) -> SystemTime {
    let epoch = UNIX_EPOCH + PG_EPOCH;
    match u64::try_from(micros) {
        Ok(us) => epoch + Duration::from_micros(us),
        Err(_) => epoch - Duration::from_micros(micros.unsigned_abs()),
    }
}

/// The connections a follower works with.
#[derive(Debug)]
pub struct Ends<'a> {
    /// The slot's stream (started at `start_position`).
    pub stream: &'a mut ReplicationStream,
    /// A normal session on the source: the applier maps new relations on it.
    pub source: &'a Client,
    /// The applier's session on the target.
    pub target: &'a mut Client,
}

/// Follow the stream until a fence is reached, a stop is asked for, or an error.
///
/// Confirmation rules (never confirm what is not committed on the target):
/// - after each applied batch, the applier's position (its commit is done);
/// - while nothing is gathered or pending, a keepalive's WAL end: the walsender
///   sends a keepalive only after every commit before that position, so every
///   transaction before it has been received, and all of them are applied. A
///   transaction still open on the source at that point commits later, so the
///   slot still sends it (the server skips only commits before the confirmed
///   position). This keeps unrelated WAL from being retained by an idle slot, and
///   is how PostgreSQL's own subscriber confirms while idle;
/// - at the fence, the fence itself once everything before it is applied.
///
/// `report` is called after each batch and once before returning.
pub async fn follow(
    ends: Ends<'_>,
    applier: &mut Applier,
    limits: Limits,
    mut controls: Controls,
    report: &mut (dyn FnMut(&Progress) + Send),
) -> Result<Outcome, FollowError> {
    let Ends {
        stream,
        source,
        target,
    } = ends;
    let mut f = Follower {
        stream,
        applier,
        source,
        target,
        limits,
        report,
        pending: Pending::new(),
        open: None,
        open_bytes: 0,
        part: None,
        seen: Lsn::ZERO,
        fence: *controls.fence.borrow_and_update(),
        past_fence: false,
        last_status: Instant::now(),
        progress: Progress::default(),
    };
    f.progress.position = f.applier.position();
    f.progress.confirmed = f.applier.position().unwrap_or(Lsn::ZERO);
    if f.fence.is_some() {
        f.status(true).await?;
    }
    let mut stop_open = true;
    let mut fence_open = true;
    let result = loop {
        if *controls.stop.borrow_and_update() {
            break f.stopped().await;
        }
        if f.fenced() {
            break f.at_fence().await;
        }
        let deadline = f.deadline();
        // The select only picks what happened; the handling comes after it, when
        // the stream's read future (which borrows the follower) is gone.
        let event = tokio::select! {
            // Controls first, then the timer, then the stream: a busy stream must
            // not starve a stop, a fence or a batch's time bound.
            biased;
            changed = controls.stop.changed(), if stop_open => Event::Stop(changed.is_ok()),
            changed = controls.fence.changed(), if fence_open => Event::Fence(changed.is_ok()),
            () = tokio::time::sleep_until(deadline.into()) => Event::Timer,
            data = f.stream.recv() => Event::Data(data),
        };
        let step = match event {
            // A dropped controller can no longer stop us; stop watching it. A stop
            // that was set is seen at the top of the loop.
            Event::Stop(open) => {
                stop_open = open;
                Ok(())
            }
            Event::Fence(open) => {
                fence_open = open;
                let fence = *controls.fence.borrow_and_update();
                if fence.is_some() && fence != f.fence {
                    f.fence = fence;
                    // Writes have stopped: waiting out the time bound only delays
                    // the cutover. Then ask the server where it is: its answer
                    // may prove the fence.
                    match f.flush().await {
                        Ok(()) => f.status(true).await,
                        Err(e) => Err(e),
                    }
                } else {
                    Ok(())
                }
            }
            Event::Timer => f.tick().await,
            Event::Data(Ok(Some(data))) => f.receive(data).await,
            Event::Data(Ok(None)) => Err(FollowError::Ended),
            Event::Data(Err(e)) => Err(e.into()),
        };
        if let Err(e) = step {
            break Err(e);
        }
    };
    (f.report)(&f.progress);
    result
}

/// A transaction being applied in parts.
struct PartState {
    /// Its commit position (known from its Begin).
    commit_lsn: Lsn,
    /// It commits after the fence: its parts are dropped, not applied.
    discard: bool,
}

/// What woke the loop up.
enum Event {
    /// The stop control changed (`false`: its controller is gone).
    Stop(bool),
    /// The fence control changed (`false`: its controller is gone).
    Fence(bool),
    /// A deadline passed.
    Timer,
    /// The stream delivered something.
    Data(Result<Option<ReplicationData>, LiveError>),
}

/// The loop's state.
struct Follower<'a, 'b> {
    stream: &'a mut ReplicationStream,
    applier: &'b mut Applier,
    source: &'a Client,
    target: &'a mut Client,
    limits: Limits,
    report: &'a mut (dyn FnMut(&Progress) + Send),
    /// Whole transactions not applied yet.
    pending: Pending,
    /// The transaction being received (after its Begin, before its Commit): its
    /// messages not yet applied.
    open: Option<Vec<PgOutput>>,
    /// Raw tuple bytes gathered in `open`.
    open_bytes: usize,
    /// The open transaction is too large to gather whole and goes to the target in
    /// parts (`Applier::apply_part`).
    part: Option<PartState>,
    /// The latest keepalive position received while nothing was open or pending:
    /// every commit before it is applied (see `follow`).
    seen: Lsn,
    /// The fence, once set.
    fence: Option<Lsn>,
    /// A transaction committed at or after the fence arrived: everything before the
    /// fence has been received.
    past_fence: bool,
    /// When the last status update went out.
    last_status: Instant,
    progress: Progress,
}

impl Follower<'_, '_> {
    /// The highest position that may be confirmed now.
    fn confirmable(&self) -> Lsn {
        let applied = self.applier.position().unwrap_or(Lsn::ZERO);
        let mut at = applied.max(self.seen);
        if let Some(fence) = self.fence.filter(|_| self.fenced()) {
            at = at.max(fence);
        }
        at
    }

    /// Nothing received is waiting: no open transaction, no pending batch.
    fn idle(&self) -> bool {
        self.open.is_none() && self.pending.is_empty()
    }

    /// Everything committed before the fence is applied (so confirmable).
    fn fenced(&self) -> bool {
        let Some(fence) = self.fence else {
            return false;
        };
        let applied = self.applier.position().unwrap_or(Lsn::ZERO);
        // Commits arrive in commit order: an applied commit ending at or past the
        // fence, a keepalive at or past it while idle, or a later commit received
        // each prove that nothing before the fence is still to come.
        self.pending.is_empty()
            && (applied >= fence || (self.open.is_none() && self.seen >= fence) || self.past_fence)
    }

    /// When the loop must wake up without a message: a batch's time bound, the
    /// idle confirmation, or the next fence poll.
    fn deadline(&self) -> Instant {
        let mut at = self.last_status + self.limits.idle_confirm;
        if let Some(due) = self.pending.deadline(&self.limits) {
            at = at.min(due);
        }
        if self.fence.is_some() {
            at = at.min(self.last_status + FENCE_POLL);
        }
        at
    }

    /// Timer work: apply a batch whose time is up, confirm while idle, poll for the
    /// fence.
    async fn tick(&mut self) -> Result<(), FollowError> {
        let now = Instant::now();
        if self.pending.due(&self.limits, now).is_some() {
            return self.flush().await;
        }
        let waiting_for_fence = self.fence.is_some() && now >= self.last_status + FENCE_POLL;
        if waiting_for_fence || now >= self.last_status + self.limits.idle_confirm {
            // The reply (a keepalive with the server's position) is what lets an
            // idle follower confirm up to the end of WAL, so a cutover's first wait
            // ends within a second of the follower catching up.
            self.status(true).await?;
            // An idle confirmation moves the confirmed position too: report it, or
            // the session row keeps the last batch's (a cutover waits on it).
            (self.report)(&self.progress);
        }
        Ok(())
    }

    /// One message from the server.
    async fn receive(&mut self, data: ReplicationData) -> Result<(), FollowError> {
        let payload = match data {
            ReplicationData::Keepalive {
                wal_end,
                reply_requested,
                ..
            } => {
                self.progress.server_end = self.progress.server_end.max(wal_end);
                if self.idle() {
                    self.seen = self.seen.max(wal_end);
                }
                if reply_requested {
                    // Unanswered, wal_sender_timeout ends the connection.
                    self.status(false).await?;
                }
                return Ok(());
            }
            ReplicationData::XLogData { wal_end, data, .. } => {
                self.progress.server_end = self.progress.server_end.max(wal_end);
                data
            }
        };
        let msg = pgoutput::decode(payload)?;
        match msg {
            PgOutput::Begin(_) => {
                if self.open.is_some() {
                    return Err(FollowError::Unbalanced("a Begin inside a transaction"));
                }
                self.open = Some(vec![msg]);
                self.open_bytes = 0;
            }
            PgOutput::Commit(_) if self.part.is_some() => return self.last_part(msg).await,
            PgOutput::Commit(ref commit) => {
                let Some(mut txn) = self.open.take() else {
                    return Err(FollowError::Unbalanced("a Commit outside a transaction"));
                };
                if self.fence.is_some_and(|fence| commit.commit_lsn >= fence) {
                    // Committed after the fence: not this follower's to apply, and
                    // not confirmed, so a later follower still gets it. It proves
                    // everything before the fence was received.
                    self.past_fence = true;
                    return self.flush().await;
                }
                txn.push(msg);
                self.pending.push(txn, Instant::now());
                // With a fence set, the batch is the tail before a cutover: apply it
                // at once rather than after the time bound.
                let now = Instant::now();
                if self.fence.is_some() || self.pending.due(&self.limits, now).is_some() {
                    self.flush().await?;
                }
            }
            // A non-transactional logical message arrives on its own, outside any
            // transaction; nothing here applies one.
            PgOutput::Message(ref m) if !m.transactional && self.open.is_none() => {}
            msg => match self.open.as_mut() {
                Some(txn) => {
                    self.open_bytes += pending::weight(&msg).1;
                    txn.push(msg);
                    if self.open_bytes >= self.limits.transaction_bytes {
                        self.next_part().await?;
                    }
                }
                None => {
                    return Err(FollowError::Unbalanced("a change outside a transaction"));
                }
            },
        }
        Ok(())
    }

    /// The open transaction outgrew `Limits::transaction_bytes`: send what is
    /// gathered to the target as a part, in a target transaction left open until
    /// its Commit arrives (memory stays bounded whatever the source's transaction
    /// size). One committing after the fence is not this follower's: dropped.
    async fn next_part(&mut self) -> Result<(), FollowError> {
        let msgs = std::mem::take(self.open.as_mut().expect("a transaction is open"));
        self.open_bytes = 0;
        let commit_lsn = match (&self.part, msgs.first()) {
            (Some(part), _) => part.commit_lsn,
            (None, Some(PgOutput::Begin(b))) => b.final_lsn,
            (None, _) => return Err(FollowError::Unbalanced("a transaction without its Begin")),
        };
        let discard = self.part.as_ref().is_some_and(|p| p.discard)
            || self.fence.is_some_and(|fence| commit_lsn >= fence);
        if discard {
            self.applier.abort_part(self.target).await;
        } else {
            if self.part.is_none() {
                // The complete transactions before it commit first, in order.
                self.flush().await?;
            }
            self.applier
                .apply_part(self.source, self.target, &msgs)
                .await?;
            self.progress.parts += 1;
        }
        self.part = Some(PartState {
            commit_lsn,
            discard,
        });
        Ok(())
    }

    /// The Commit of a transaction applied in parts: its last part commits the
    /// target transaction, or it is rolled back if it committed after the fence.
    async fn last_part(&mut self, commit: PgOutput) -> Result<(), FollowError> {
        let part = self.part.take().expect("a part is open");
        let mut msgs = self.open.take().unwrap_or_default();
        self.open_bytes = 0;
        if part.discard || self.fence.is_some_and(|fence| part.commit_lsn >= fence) {
            self.applier.abort_part(self.target).await;
            self.past_fence = true;
            return Ok(());
        }
        let commit_time = match &commit {
            PgOutput::Commit(c) => c.commit_time,
            _ => unreachable!("last_part is called with a Commit"),
        };
        msgs.push(commit);
        let applied = self
            .applier
            .apply_part(self.source, self.target, &msgs)
            .await?
            .ok_or(FollowError::Unbalanced(
                "a Commit that did not end its transaction",
            ))?;
        self.progress.parts += 1;
        self.record(&applied, Some(self::commit_time(commit_time)));
        self.status(false).await?;
        (self.report)(&self.progress);
        Ok(())
    }

    /// Count an applied target transaction in the progress.
    fn record(&mut self, applied: &Applied, last_commit: Option<SystemTime>) {
        let p = &mut self.progress;
        if applied.position.is_some() {
            p.batches += 1;
            p.applied_at = Some(SystemTime::now());
            p.last_commit = last_commit;
        }
        p.transactions += applied.transactions as u64;
        p.skipped += applied.skipped as u64;
        p.rows += (applied.copied + applied.statements) as u64;
        p.position = self.applier.position();
        p.vanished.extend(applied.vanished.iter().cloned());
    }

    /// Apply the pending batch in one target transaction, then confirm it.
    async fn flush(&mut self) -> Result<(), FollowError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // On error the applier has rolled back and kept its position; the batch is
        // left as it is and the error ends the loop.
        let applied = self
            .applier
            .apply(self.source, self.target, self.pending.messages())
            .await?;
        let last_commit = self.pending.last_commit_time().map(commit_time);
        self.record(&applied, last_commit);
        self.pending.clear();
        crate::fault::pause(crate::fault::PAUSE_BEFORE_CONFIRM).await;
        // Only now, with the target transaction committed.
        self.status(false).await?;
        (self.report)(&self.progress);
        Ok(())
    }

    /// Send a standby status update with the confirmable position; with `reply`, the
    /// server answers at once with a keepalive carrying its position.
    async fn status(&mut self, reply: bool) -> Result<(), FollowError> {
        let at = self.confirmable();
        self.stream.send_status(at, reply).await?;
        self.progress.confirmed = self.progress.confirmed.max(at);
        self.last_status = Instant::now();
        Ok(())
    }

    /// The fence is reached: confirm up to it and return.
    async fn at_fence(&mut self) -> Result<Outcome, FollowError> {
        self.status(false).await?;
        Ok(Outcome::Fenced {
            position: self.applier.position(),
        })
    }

    /// The stop signal: drop what is gathered (it was never confirmed), confirm
    /// what is applied, return.
    async fn stopped(&mut self) -> Result<Outcome, FollowError> {
        self.pending.clear();
        self.open = None;
        self.part = None;
        self.applier.abort_part(self.target).await;
        self.status(false).await?;
        Ok(Outcome::Stopped {
            position: self.applier.position(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_starts_at_the_later_of_slot_and_journal() {
        let slot = Lsn(0x100);
        assert_eq!(start_position(slot, None), slot);
        assert_eq!(start_position(slot, Some(Lsn(0x80))), slot);
        assert_eq!(start_position(slot, Some(Lsn(0x180))), Lsn(0x180));
    }

    #[test]
    fn commit_times_count_from_2000() {
        assert_eq!(commit_time(0), UNIX_EPOCH + PG_EPOCH);
        assert_eq!(
            commit_time(1_500_000),
            UNIX_EPOCH + PG_EPOCH + Duration::from_micros(1_500_000)
        );
        assert_eq!(
            commit_time(-1_000_000),
            UNIX_EPOCH + PG_EPOCH - Duration::from_secs(1)
        );
    }

    #[test]
    fn lag_is_measured_from_the_confirmed_position_and_the_source_commit() {
        let t = commit_time(10_000_000);
        let p = Progress {
            confirmed: Lsn(1000),
            server_end: Lsn(1500),
            last_commit: Some(t),
            applied_at: Some(t + Duration::from_millis(250)),
            ..Progress::default()
        };
        assert_eq!(p.lag_bytes(), 500);
        assert_eq!(p.lag_seconds(), Some(0.25));
        // A confirmation past the server's last report (idle keepalive) is no lag.
        let ahead = Progress {
            confirmed: Lsn(2000),
            ..p
        };
        assert_eq!(ahead.lag_bytes(), 0);
        assert_eq!(Progress::default().lag_seconds(), None);
    }
}
