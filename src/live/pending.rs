//! Whole source transactions gathered for one target transaction, and when to
//! apply them: no database, no clock of its own (the caller passes `now`), so the
//! bounding decisions are unit-tested.
//!
//! A batch is bounded by rows, by raw tuple bytes and by the time since its first
//! transaction arrived: rows and bytes bound the target transaction's size and the
//! follower's memory, time bounds the lag a quiet stream adds. A single source
//! transaction is never split (the applier takes whole transactions only), so one
//! larger than the bounds makes a batch of its own (spilling it to disk is open
//! question 5 in docs/live.md).

use std::time::{Duration, Instant};

use super::Lsn;
use super::pgoutput::{Datum, PgOutput, Tuple};

/// The bounds of one batch and the follower's confirmation rhythm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Apply once the batch holds this many row changes.
    pub rows: usize,
    /// Apply once the batch's tuples hold this many bytes (raw values as streamed).
    pub bytes: usize,
    /// Apply at the latest this long after the batch's first transaction arrived.
    pub wait: Duration,
    /// While nothing is applied, confirm the position to the slot this often anyway
    /// (the server then knows the follower is alive and can release idle WAL).
    pub idle_confirm: Duration,
    /// A single source transaction whose tuples pass this many bytes is applied in
    /// parts, inside one target transaction that commits with it, instead of being
    /// held whole in memory (a backfill of millions of rows in one transaction).
    pub transaction_bytes: usize,
}

impl Default for Limits {
    /// 10,000 rows, 8 MiB, 200 ms, an idle confirmation every second, and large
    /// transactions applied in parts of 32 MiB.
    fn default() -> Self {
        Self {
            rows: 10_000,
            bytes: 8 << 20,
            wait: Duration::from_millis(200),
            idle_confirm: Duration::from_secs(1),
            transaction_bytes: 32 << 20,
        }
    }
}

/// Why a batch is to be applied now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// It reached the row bound.
    Rows,
    /// It reached the byte bound.
    Bytes,
    /// Its first transaction has waited long enough.
    Time,
}

/// Whole source transactions waiting to be applied together, in commit order.
#[derive(Debug, Default)]
pub struct Pending {
    msgs: Vec<PgOutput>,
    transactions: usize,
    rows: usize,
    bytes: usize,
    first_at: Option<Instant>,
    last_end: Option<Lsn>,
    last_commit_time: Option<i64>,
}

impl Pending {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one whole transaction (Begin … Commit) that arrived at `now`.
    pub fn push(&mut self, txn: Vec<PgOutput>, now: Instant) {
        for msg in &txn {
            let (rows, bytes) = weight(msg);
            self.rows += rows;
            self.bytes += bytes;
            if let PgOutput::Commit(c) = msg {
                self.last_end = Some(c.end_lsn);
                self.last_commit_time = Some(c.commit_time);
            }
        }
        self.transactions += 1;
        self.first_at.get_or_insert(now);
        self.msgs.extend(txn);
    }

    /// Whether the batch holds no transaction.
    pub fn is_empty(&self) -> bool {
        self.transactions == 0
    }

    /// Source transactions in the batch.
    pub fn transactions(&self) -> usize {
        self.transactions
    }

    /// Row changes in the batch.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Raw tuple bytes in the batch.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The commit time (µs since 2000-01-01 UTC) of the batch's last transaction.
    pub fn last_commit_time(&self) -> Option<i64> {
        self.last_commit_time
    }

    /// The end LSN of the batch's last commit.
    pub fn last_end(&self) -> Option<Lsn> {
        self.last_end
    }

    /// The messages, for `Applier::apply`.
    pub fn messages(&self) -> &[PgOutput] {
        &self.msgs
    }

    /// When the time bound falls due; `None` for an empty batch.
    pub fn deadline(&self, limits: &Limits) -> Option<Instant> {
        self.first_at.map(|t| t + limits.wait)
    }

    /// Whether to apply now, and why. Size first: a batch both full and old is
    /// reported as full, which is what a rate report wants to know.
    pub fn due(&self, limits: &Limits, now: Instant) -> Option<Due> {
        if self.is_empty() {
            return None;
        }
        if self.rows >= limits.rows {
            return Some(Due::Rows);
        }
        if self.bytes >= limits.bytes {
            return Some(Due::Bytes);
        }
        match self.deadline(limits) {
            Some(at) if now >= at => Some(Due::Time),
            _ => None,
        }
    }

    /// Empty the batch (after it was applied, or to drop it on a stop).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// Row changes and raw tuple bytes in one message. A TRUNCATE counts as one change
/// (the applier refuses it anyway); markers, relations and the like count nothing.
pub fn weight(msg: &PgOutput) -> (usize, usize) {
    match msg {
        PgOutput::Insert(i) => (1, tuple_bytes(&i.new)),
        PgOutput::Update(u) => (
            1,
            tuple_bytes(&u.new) + u.old.as_ref().map_or(0, |o| tuple_bytes(o.tuple())),
        ),
        PgOutput::Delete(d) => (1, tuple_bytes(d.old.tuple())),
        PgOutput::Truncate(_) => (1, 0),
        _ => (0, 0),
    }
}

fn tuple_bytes(t: &Tuple) -> usize {
    t.0.iter()
        .map(|d| match d {
            Datum::Text(b) | Datum::Binary(b) => b.len(),
            Datum::Null | Datum::UnchangedToast => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::live::pgoutput::{Begin, Commit, Delete, Insert, OldTuple, Update};

    fn text(s: &str) -> Datum {
        Datum::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// A transaction of `n` inserts of one 10-byte value each, committed at `end`.
    fn txn(n: usize, end: u64) -> Vec<PgOutput> {
        let mut msgs = vec![PgOutput::Begin(Begin {
            final_lsn: Lsn(end - 1),
            commit_time: end as i64,
            xid: 1,
        })];
        msgs.extend((0..n).map(|_| {
            PgOutput::Insert(Insert {
                relation: 1,
                new: Tuple(vec![text("0123456789"), Datum::Null]),
            })
        }));
        msgs.push(PgOutput::Commit(Commit {
            flags: 0,
            commit_lsn: Lsn(end - 1),
            end_lsn: Lsn(end),
            commit_time: end as i64,
        }));
        msgs
    }

    #[test]
    fn an_empty_batch_is_never_due() {
        let p = Pending::new();
        let now = Instant::now();
        assert_eq!(
            p.due(&Limits::default(), now + Duration::from_secs(60)),
            None
        );
        assert_eq!(p.deadline(&Limits::default()), None);
    }

    #[test]
    fn a_batch_is_due_at_the_row_bound_and_not_before() {
        let limits = Limits {
            rows: 10,
            ..Limits::default()
        };
        let now = Instant::now();
        let mut p = Pending::new();
        p.push(txn(4, 100), now);
        p.push(txn(5, 200), now);
        assert_eq!((p.rows(), p.transactions()), (9, 2));
        assert_eq!(p.due(&limits, now), None);
        p.push(txn(1, 300), now);
        assert_eq!(p.due(&limits, now), Some(Due::Rows));
        assert_eq!(p.last_end(), Some(Lsn(300)));
        assert_eq!(p.last_commit_time(), Some(300));
    }

    #[test]
    fn a_batch_is_due_at_the_byte_bound_counting_raw_values_only() {
        let limits = Limits {
            bytes: 100,
            ..Limits::default()
        };
        let now = Instant::now();
        let mut p = Pending::new();
        // Ten bytes per insert; the NULL and the Begin/Commit count nothing.
        p.push(txn(9, 100), now);
        assert_eq!(p.bytes(), 90);
        assert_eq!(p.due(&limits, now), None);
        p.push(txn(1, 200), now);
        assert_eq!(p.due(&limits, now), Some(Due::Bytes));
    }

    #[test]
    fn a_batch_is_due_when_its_first_transaction_has_waited_long_enough() {
        let limits = Limits::default();
        let t0 = Instant::now();
        let mut p = Pending::new();
        p.push(txn(1, 100), t0);
        // A later transaction does not restart the clock.
        p.push(txn(1, 200), t0 + Duration::from_millis(150));
        assert_eq!(p.deadline(&limits), Some(t0 + limits.wait));
        assert_eq!(p.due(&limits, t0 + Duration::from_millis(199)), None);
        assert_eq!(p.due(&limits, t0 + limits.wait), Some(Due::Time));
    }

    #[test]
    fn one_transaction_larger_than_the_bounds_is_a_batch_of_its_own() {
        let limits = Limits {
            rows: 10,
            ..Limits::default()
        };
        let now = Instant::now();
        let mut p = Pending::new();
        p.push(txn(25, 100), now);
        assert_eq!(p.due(&limits, now), Some(Due::Rows));
        assert_eq!(p.messages().len(), 27, "whole, never split");
        p.clear();
        assert!(p.is_empty());
        assert_eq!(p.due(&limits, now + Duration::from_secs(1)), None);
    }

    #[test]
    fn updates_and_deletes_weigh_their_old_and_new_tuples() {
        let up = PgOutput::Update(Update {
            relation: 1,
            old: Some(OldTuple::Key(Tuple(vec![text("abc")]))),
            new: Tuple(vec![text("abcd"), Datum::UnchangedToast]),
        });
        let del = PgOutput::Delete(Delete {
            relation: 1,
            old: OldTuple::Full(Tuple(vec![text("ab"), Datum::Null])),
        });
        assert_eq!(weight(&up), (1, 7));
        assert_eq!(weight(&del), (1, 2));
    }
}
