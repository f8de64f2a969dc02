//! The follower loop (src/live/follow.rs) on the full pair, with the source writing
//! while it runs: a hypertable of 1-day chunks on PG17/2.19.3 is copied in a slot's
//! exported snapshot to a hypertable of 7-day chunks and 2 hash partitions on
//! PG18/2.29.2, then a writer thread runs hundreds of small transactions (inserts
//! into existing chunks and into a chunk created after the slot, updates, key
//! changes that move rows across target partitions, deletes) while the follower
//! applies them in batches.
//!
//! - `a_fence_ends_the_follow_with_the_target_equal_to_the_source`: the writer
//!   stops, the test takes `pg_current_wal_lsn()` as the fence and sends it; the
//!   follower returns `Fenced`, the target equals the source row for row, the slot
//!   has confirmed the fence, and the journal holds the follower's position.
//! - `a_stopped_follower_resumes_from_the_journal_exactly_once`: the stop signal
//!   ends a first follower after a few batches while the writer goes on; a new
//!   follower on a new replication connection resumes from the journal, then the
//!   fence ends it. The rows both applied add up to exactly the rows the writer
//!   changed, and the target equals the source.
//! - `an_applier_error_ends_the_follow_with_the_position_kept`: a TRUNCATE on the
//!   source ends the follow with the applier's error; the journal and the target
//!   keep what was applied before it, and the slot was not confirmed past it.

mod common;
#[path = "harness/follow.rs"]
mod harness;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use harness::*;
use hypermove::live::follow::{self, FollowError, Outcome, Progress};
use hypermove::live::pending::Limits;
use hypermove::live::{ApplyError, Lsn, ReplicationConn};
use hypermove::pg::quote_literal;

const FENCE_CASE: Case = Case {
    db: "hm_live3_fence",
    slot: "hm_live3_fence_slot",
    publication: "hm_live3_fence_pub",
    fingerprint: "hm_live3_fence-spec",
};

const ERROR_CASE: Case = Case {
    db: "hm_live3_error",
    slot: "hm_live3_error_slot",
    publication: "hm_live3_error_pub",
    fingerprint: "hm_live3_error-spec",
};

const RESUME_CASE: Case = Case {
    db: "hm_live3_resume",
    slot: "hm_live3_resume_slot",
    publication: "hm_live3_resume_pub",
    fingerprint: "hm_live3_resume-spec",
};

/// What the writer did: transactions that changed rows, and rows changed.
#[derive(Debug, Default, Clone, Copy)]
struct Written {
    transactions: u64,
    rows: u64,
}

struct Writer {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Written>,
}

impl Writer {
    /// Small transactions, one every few milliseconds, until stopped: inserts into
    /// existing chunks and (i % 6 == 4) into a chunk created after the slot, updates,
    /// deletes, key changes (moves across target chunks), and every tenth a
    /// transaction of several statements. The first moves row 5 to the other hash
    /// partition.
    fn spawn(db: &'static str, moved_id: i32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut c = common::connect(SRC, db);
            let mut w = Written::default();
            let mut count = |n: u64| {
                if n > 0 {
                    w.transactions += 1;
                    w.rows += n;
                }
            };
            count(
                c.execute(
                    "UPDATE metrics SET id = $1, time = '2026-01-01 01:50+00' WHERE id = 5",
                    &[&moved_id],
                )
                .expect("partition move"),
            );
            let mut i: i32 = 0;
            while !flag.load(Ordering::Relaxed) {
                i += 1;
                let id = 10_000 + i;
                let n = if i % 10 == 0 {
                    let mut tx = c.transaction().expect("begin");
                    let mut n = tx
                        .execute(
                            "INSERT INTO metrics VALUES ($1, '2026-01-02 00:00+00'::timestamptz
                               + $2 * interval '1 second', 1, 'tx')",
                            &[&id, &f64::from(i)],
                        )
                        .expect("insert");
                    n += tx
                        .execute("UPDATE metrics SET note = 'tx2' WHERE id = $1", &[&id])
                        .expect("update");
                    n += tx
                        .execute("DELETE FROM metrics WHERE id = $1", &[&((i * 13) % 200)])
                        .expect("delete");
                    tx.commit().expect("commit");
                    n
                } else {
                    let (sql, a): (&str, i32) = match i % 6 {
                        0 => (
                            "INSERT INTO metrics VALUES ($1::int, '2026-01-01 00:00+00'::timestamptz
                               + ($1::int % 4000) * interval '1 minute', $1::int, 'w' || $1::int)",
                            id,
                        ),
                        1 => (
                            "INSERT INTO metrics SELECT $1::int + k * 100000,
                               '2026-01-03 00:00+00'::timestamptz + $1::int * interval '1 second', k, NULL
                               FROM generate_series(0, 1) k",
                            id,
                        ),
                        2 => (
                            "UPDATE metrics SET v = v + 1, note = note || '+' WHERE id = $1",
                            (i * 7) % 200,
                        ),
                        3 => ("DELETE FROM metrics WHERE id = $1", id - 3),
                        4 => (
                            "INSERT INTO metrics VALUES ($1::int, '2026-02-01 00:00+00'::timestamptz
                               + $1::int * interval '1 second', 4, E'new\\tchunk')",
                            id,
                        ),
                        _ => (
                            "UPDATE metrics SET id = id + 50000, v = -v WHERE id = $1",
                            id - 4,
                        ),
                    };
                    c.execute(sql, &[&a]).expect(sql)
                };
                count(n);
                std::thread::sleep(Duration::from_millis(4));
            }
            w
        });
        Self { stop, handle }
    }

    fn finish(self) -> Written {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("writer thread")
    }
}

#[test]
fn a_fence_ends_the_follow_with_the_target_equal_to_the_source() {
    let case = FENCE_CASE;
    let _cleanup = common::live::SlotGuard::fresh(case.db, case.slot, case.publication);
    let Setup {
        rt,
        mut src,
        mut dst,
        slot,
        repl,
        moved_id,
        ..
    } = setup(case);
    let start = follow::start_position(slot.consistent_point, journal(&rt, case));
    assert_eq!(
        start, slot.consistent_point,
        "a new move starts at the slot"
    );
    let stream = rt
        .block_on(repl.start_replication(case.slot, start, &[case.publication]))
        .expect("START_REPLICATION");
    let shared = Arc::new(Mutex::new(Progress::default()));
    let (controller, task) = spawn_follower(&rt, case, stream, shared.clone(), Limits::default());

    let writer = Writer::spawn(case.db, moved_id);
    std::thread::sleep(Duration::from_secs(2));
    let written = writer.finish();
    let fence = fence(&mut src);
    let sent = Instant::now();
    controller.fence(fence);
    let (outcome, _stream) = join(&rt, task);
    let took = sent.elapsed();
    let Outcome::Fenced {
        position: Some(position),
    } = outcome.expect("the follow succeeds")
    else {
        panic!("the follower did not stop at the fence");
    };
    let progress = shared.lock().unwrap().clone();
    eprintln!("writer: {written:?}; follower: {progress:?}; fenced {took:?} after the fence");

    assert_eq!(
        rows(&mut dst),
        rows(&mut src),
        "the target equals the source"
    );
    assert_eq!(journal(&rt, case), Some(position), "the journal holds it");
    assert_eq!(progress.position, Some(position));
    assert_slot_confirmed(&mut src, case, fence);
    assert!(written.transactions >= 100, "{written:?}");
    // Every row the writer changed is one row change applied: none lost, none twice.
    assert_eq!(progress.rows, written.rows, "{progress:?}");
    assert!(
        progress.transactions >= written.transactions,
        "{progress:?}"
    );
    assert!(
        progress.batches < progress.transactions,
        "source transactions were grouped: {progress:?}"
    );
    assert_ne!(
        common::scalar(
            &mut dst,
            &format!("SELECT tableoid::regclass::text FROM metrics WHERE id = {moved_id}")
        ),
        target_chunk(&mut dst, 5, "2026-01-01 01:50+00"),
        "row 5 moved to the other target partition"
    );
    assert!(
        common::scalar(
            &mut src,
            "SELECT count(*)::text FROM metrics WHERE time >= '2026-02-01'"
        )
        .parse::<u64>()
        .unwrap()
            > 0,
        "the writer filled a chunk created after the slot"
    );
}

#[test]
fn a_stopped_follower_resumes_from_the_journal_exactly_once() {
    let case = RESUME_CASE;
    let _cleanup = common::live::SlotGuard::fresh(case.db, case.slot, case.publication);
    let Setup {
        rt,
        mut src,
        mut dst,
        info,
        slot,
        repl,
        moved_id,
    } = setup(case);
    let stream = rt
        .block_on(repl.start_replication(case.slot, slot.consistent_point, &[case.publication]))
        .expect("START_REPLICATION");
    let first_progress = Arc::new(Mutex::new(Progress::default()));
    let (controller, task) =
        spawn_follower(&rt, case, stream, first_progress.clone(), Limits::default());
    let writer = Writer::spawn(case.db, moved_id);

    // Stop the first follower mid-stream, after a few batches, while the writer goes on.
    let deadline = Instant::now() + Duration::from_secs(30);
    while first_progress.lock().unwrap().batches < 3 {
        assert!(Instant::now() < deadline, "three batches within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    controller.stop();
    let (outcome, stream) = join(&rt, task);
    let Outcome::Stopped {
        position: Some(stopped_at),
    } = outcome.expect("the first follow succeeds")
    else {
        panic!("the first follower did not stop on the signal");
    };
    let first = first_progress.lock().unwrap().clone();
    assert_eq!(first.position, Some(stopped_at));
    assert_eq!(journal(&rt, case), Some(stopped_at), "the journal holds it");
    rt.block_on(async {
        let conn = stream.finish().await.expect("end streaming");
        conn.close().await;
    });

    // Writes go on with no follower; then a new one, on a new connection, from the
    // journal. The old walsender may hold the slot a moment longer.
    std::thread::sleep(Duration::from_millis(300));
    let start = follow::start_position(slot.consistent_point, journal(&rt, case));
    assert_eq!(start, stopped_at);
    let deadline = Instant::now() + Duration::from_secs(10);
    let stream = loop {
        let repl = rt
            .block_on(ReplicationConn::connect(&info, None, case.db))
            .expect("second replication connection");
        match rt.block_on(repl.start_replication(case.slot, start, &[case.publication])) {
            Ok(stream) => break stream,
            Err(e) if e.sqlstate() == Some("55006") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("START_REPLICATION again: {e}"),
        }
    };
    let second_progress = Arc::new(Mutex::new(Progress::default()));
    let (controller, task) = spawn_follower(
        &rt,
        case,
        stream,
        second_progress.clone(),
        Limits::default(),
    );
    std::thread::sleep(Duration::from_secs(1));
    let written = writer.finish();
    let fence = fence(&mut src);
    controller.fence(fence);
    let (outcome, _stream) = join(&rt, task);
    let Outcome::Fenced {
        position: Some(position),
    } = outcome.expect("the second follow succeeds")
    else {
        panic!("the second follower did not stop at the fence");
    };
    let second = second_progress.lock().unwrap().clone();
    eprintln!("writer: {written:?}; first follower: {first:?}; second: {second:?}");

    assert_eq!(
        rows(&mut dst),
        rows(&mut src),
        "the target equals the source"
    );
    assert_eq!(journal(&rt, case), Some(position));
    assert_eq!(second.position, Some(position));
    assert!(position > stopped_at);
    assert_slot_confirmed(&mut src, case, fence);
    assert!(second.transactions > 0 && first.transactions > 0);
    // Exactly once: the two followers' row changes add up to the writer's.
    assert_eq!(
        first.rows + second.rows,
        written.rows,
        "{first:?} {second:?}"
    );
}

#[test]
fn an_applier_error_ends_the_follow_with_the_position_kept() {
    let case = ERROR_CASE;
    let _cleanup = common::live::SlotGuard::fresh(case.db, case.slot, case.publication);
    let Setup {
        rt,
        mut src,
        mut dst,
        slot,
        repl,
        ..
    } = setup(case);
    let stream = rt
        .block_on(repl.start_replication(case.slot, slot.consistent_point, &[case.publication]))
        .expect("START_REPLICATION");
    let shared = Arc::new(Mutex::new(Progress::default()));
    let (_controller, task) = spawn_follower(&rt, case, stream, shared.clone(), Limits::default());
    src.batch_execute("INSERT INTO metrics VALUES (900, '2026-01-01 00:05+00', 9, 'before')")
        .expect("insert");
    let deadline = Instant::now() + Duration::from_secs(30);
    while shared.lock().unwrap().rows < 1 {
        assert!(
            Instant::now() < deadline,
            "the insert is applied within 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = shared.lock().unwrap().position.expect("a position");
    src.batch_execute("TRUNCATE metrics").expect("truncate");
    let (outcome, _stream) = join(&rt, task);
    let err = outcome.expect_err("a TRUNCATE stops the follower");
    assert!(
        matches!(&err, FollowError::Apply(ApplyError::Truncate { table }) if table == "public.metrics"),
        "{err}"
    );
    assert_eq!(journal(&rt, case), Some(before), "the position is kept");
    assert_eq!(
        common::scalar(&mut dst, "SELECT count(*)::text FROM metrics"),
        "201",
        "the target keeps its rows"
    );
    // The TRUNCATE was not confirmed: the slot still has it to send.
    let truncate_end: Lsn = common::scalar(&mut src, "SELECT pg_current_wal_lsn()::text")
        .parse()
        .expect("an LSN");
    let confirmed: Lsn = common::scalar(
        &mut src,
        &format!(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = {}",
            quote_literal(case.slot)
        ),
    )
    .parse()
    .expect("an LSN");
    assert!(confirmed < truncate_end, "{confirmed} < {truncate_end}");
}
