//! One copy window: the source's COPY output streamed into the target's COPY input.
//! Rows are never decoded; bytes pass through in buffers of about 1 MiB.

use std::future::Future;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};

use super::JournalKey;
use super::error::StepError;
use super::rowhash::{Digest, Format, RowHasher};
use super::session::{self, Slot};
use crate::plan::CopyWindow;

/// Batch size for the target. The server sends one CopyData message per row; sending
/// them on one by one costs a syscall-sized write each, so they are gathered here.
const BUFFER: usize = 1 << 20;

/// Turns on TimescaleDB's direct-to-columnstore COPY for one transaction, where the
/// target has it.
const DIRECT_COMPRESS: &str = include_str!("sql/direct_compress_copy.sql");

/// The environment variable that turns direct-to-columnstore loading on (`1`/`on`).
pub const DIRECT_COMPRESS_ENV: &str = "HYPERMOVE_DIRECT_COMPRESS_COPY";

/// Whether windows bound for compressed slices are loaded straight into the
/// columnstore, where the target has it. Opt-in (`HYPERMOVE_DIRECT_COMPRESS_COPY=1`):
/// with keys and indexes built after the data, the plain load measured as fast or
/// faster (bench/results-compression), and TimescaleDB calls the setting
/// experimental. The slice's `compress:` step runs after it either way.
fn direct_compress_asked() -> bool {
    std::env::var(DIRECT_COMPRESS_ENV).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("on"))
}

/// Await one COPY operation, giving up after `stall` without progress. tokio-postgres
/// has no COPY timeout of its own; a stalled window is cancelled (dropping it rolls
/// the target back and closes the connections) and retried.
pub(super) async fn progress<T>(
    stall: Duration,
    what: &str,
    op: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, StepError> {
    match tokio::time::timeout(stall, op).await {
        Ok(result) => result.map_err(|e| StepError::pg(what, &e)),
        Err(_) => Err(StepError::transient(format!(
            "{what}: no progress for {}s; cancelled",
            stall.as_secs()
        ))),
    }
}

/// Watches a COPY stream for stalls without a timer per piece: the server sends one
/// message per row, and arming a timeout for each (a clock read and a timer
/// registration) cost about a third of the client's CPU on a 2 M-row read. One timer
/// fires every `stall`; it is an error only if no piece arrived since it last fired,
/// so a stall is caught after between one and two `stall` periods.
pub(super) struct StallWatch {
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    stall: Duration,
    moved: bool,
}

impl StallWatch {
    /// A watch over a stream that must move at least once per `stall`.
    pub(super) fn new(stall: Duration) -> Self {
        Self {
            timer: Box::pin(tokio::time::sleep(stall)),
            stall,
            moved: false,
        }
    }

    /// The stream's next piece, or an error once it has stalled.
    pub(super) async fn next<S: futures_util::Stream + Unpin>(
        &mut self,
        stream: &mut S,
        side: &str,
    ) -> Result<Option<S::Item>, StepError> {
        loop {
            tokio::select! {
                biased;
                piece = stream.next() => {
                    self.moved = true;
                    return Ok(piece);
                }
                () = self.timer.as_mut() => {
                    if !self.moved {
                        return Err(StepError::transient(format!(
                            "{side}: no data for {}s; cancelled",
                            self.stall.as_secs()
                        )));
                    }
                    self.moved = false;
                    let next = tokio::time::Instant::now() + self.stall;
                    self.timer.as_mut().reset(next);
                }
            }
        }
    }
}

/// Copy one window in one target transaction. Returns rows written, bytes moved
/// and the digest of the rows as they streamed past (kept in the window's journal
/// row, for its check). On any error the target transaction rolls back, so a window
/// is all or nothing.
pub async fn copy_window(
    slot: &mut Slot,
    w: &CopyWindow,
    journal: Option<&JournalKey>,
    step_id: &str,
    stall: Duration,
) -> Result<(u64, u64, Digest), StepError> {
    let source = slot.source.as_ref().expect("source opened before copying");
    let tx = progress(stall, "target", slot.target.transaction()).await?;
    // The slice's compress step still follows: it finds the chunk compressed (and,
    // as TimescaleDB marks such chunks, unordered) and puts its batches in order.
    if w.direct_compress && direct_compress_asked() {
        progress(stall, "target", tx.batch_execute(DIRECT_COMPRESS)).await?;
    }
    // A relation the target names only at run time (a continuous aggregate's
    // materialization): the server answers its name, quoted, in this transaction.
    let target_sql = match &w.target_lookup {
        Some((placeholder, lookup)) => {
            let row = progress(stall, "target", tx.query_one(lookup.as_str(), &[])).await?;
            w.target_sql
                .replacen(placeholder, &row.get::<_, String>(0), 1)
        }
        None => w.target_sql.clone(),
    };
    let sink = progress(stall, "target", tx.copy_in::<_, bytes::Bytes>(&target_sql)).await?;
    let stream = progress(stall, "source", source.copy_out(&w.source_sql)).await?;
    futures_util::pin_mut!(sink);
    futures_util::pin_mut!(stream);

    let mut buf = BytesMut::with_capacity(BUFFER);
    let mut moved: u64 = 0;
    // The rows' hash is taken here, from the bytes in hand: no second read of
    // either side. It is the copy's own account, so the check that uses it also
    // counts the source's rows another way (see plan/probe.rs).
    let mut hasher = RowHasher::new(Format::of(&w.source_sql));
    let mut watch = StallWatch::new(stall);
    loop {
        let Some(piece) = watch.next(&mut stream, "source").await? else {
            break;
        };
        let piece = piece.map_err(|e| StepError::pg("source", &e))?;
        moved += piece.len() as u64;
        hasher
            .feed(&piece)
            .map_err(|e| StepError::permanent(format!("source: {e}")))?;
        buf.extend_from_slice(&piece);
        if buf.len() >= BUFFER {
            progress(stall, "target", sink.send(buf.split().freeze())).await?;
        }
    }
    if !buf.is_empty() {
        progress(stall, "target", sink.send(buf.split().freeze())).await?;
    }
    let rows = progress(stall, "target", sink.finish()).await?;
    let digest = hasher
        .finish()
        .map_err(|e| StepError::permanent(format!("source: {e}")))?;
    // Rows the target took fewer of than were sent (a trigger that drops rows) are
    // not an error here: the window's check finds them missing and says so (exit 3).
    // The window's "done" row commits with its data and its digest, or none does.
    session::step_done(&tx, journal, step_id, rows, moved, Some(&digest)).await?;
    progress(stall, "target", tx.commit()).await?;
    Ok((rows, moved, digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that yields a piece every `every`, `n` times, then ends.
    fn trickle(every: Duration, n: usize) -> impl futures_util::Stream<Item = u32> + Unpin {
        Box::pin(futures_util::stream::unfold(0u32, move |i| async move {
            if i as usize == n {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((i, i + 1))
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_stream_that_moves_is_not_a_stall() {
        let mut watch = StallWatch::new(Duration::from_secs(10));
        // Each piece takes 6 s: more than half the stall time, never all of it.
        let mut stream = trickle(Duration::from_secs(6), 5);
        let mut got = Vec::new();
        while let Some(piece) = watch.next(&mut stream, "source").await.unwrap() {
            got.push(piece);
        }
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_stops_moving_is_cancelled_within_two_periods() {
        let started = tokio::time::Instant::now();
        let mut watch = StallWatch::new(Duration::from_secs(10));
        let mut stream = trickle(Duration::from_secs(1), 2).chain(futures_util::stream::pending());
        assert_eq!(watch.next(&mut stream, "source").await.unwrap(), Some(0));
        assert_eq!(watch.next(&mut stream, "source").await.unwrap(), Some(1));
        let err = watch.next(&mut stream, "source").await.unwrap_err();
        assert!(err.transient);
        assert_eq!(err.message, "source: no data for 10s; cancelled");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(10) && waited <= Duration::from_secs(20),
            "{waited:?}"
        );
    }
}
