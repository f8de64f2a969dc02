//! The live session (src/live/session.rs) between two "processes" on the full pair:
//! a follower task (the real follower loop, with its beacon publishing progress to
//! `hypermove.live_session` on the target and reading the fence from it) and a
//! cutover that only talks to the target's table and the source.
//!
//! - `a_cutover_through_the_table_fences_and_completes_the_follower`: while a writer
//!   changes the source, `read()` shows `following` and a lag; the cutover stops the
//!   writer, requests the cutover at `pg_current_wal_lsn()`, waits until it is
//!   applied, finds the target equal to the source, completes; the follower returns
//!   `Fenced`, its beacon `Completed`, and `read()` shows `completed` with no lag. A
//!   completed move cannot go back to following.
//! - `a_killed_follower_restarts_from_the_row_and_takes_the_fence_from_it`: the
//!   follower and its beacon are killed (their tasks aborted, their connections
//!   dropped) mid-follow; a cutover requested meanwhile fails on the stale
//!   heartbeat but leaves the fence; a new follower finds `cutting_over` in the row,
//!   gets the fence through its beacon, reaches it, and the move completes with the
//!   target equal to the source.
//! - `a_cutover_without_a_running_follower_fails_on_its_heartbeat`: no follower runs;
//!   the wait fails within its timeout naming the stale heartbeat, and a move that
//!   never started is named as such.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hypermove::live::follow::{self, Controller, Ends, Outcome, Progress};
use hypermove::live::mapping::{Mapping, MovedTable};
use hypermove::live::pending::Limits;
use hypermove::live::session::{self, BeaconEnd, Phase, Session, SessionError};
use hypermove::live::{Applier, Lsn, ReplicationConn, ReplicationStream, STREAM_OPTIONS};
use hypermove::pg::{ConnInfo, QualifiedName, quote_ident, quote_literal};
use postgres::{Client, IsolationLevel};
use tokio::runtime::Runtime;

const SRC: u16 = common::FULL_SOURCE_PORT;
const DST: u16 = common::FULL_TARGET_PORT;

/// One live move's names: slots are cluster-wide, so each case has its own.
#[derive(Clone, Copy)]
struct Case {
    db: &'static str,
    slot: &'static str,
    publication: &'static str,
    fingerprint: &'static str,
}

const CUTOVER_CASE: Case = Case {
    db: "hm_live5_session",
    slot: "hm_live5_session_slot",
    publication: "hm_live5_session_pub",
    fingerprint: "hm_live5_session-spec",
};

const RESTART_CASE: Case = Case {
    db: "hm_live5_restart",
    slot: "hm_live5_restart_slot",
    publication: "hm_live5_restart_pub",
    fingerprint: "hm_live5_restart-spec",
};

const TABLE: &str = "
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE metrics (id int NOT NULL, time timestamptz NOT NULL, v float8, note text,
                      PRIMARY KEY (id, time));
";

/// 200 rows every 20 minutes in 1-day chunks on the source; 7-day chunks and 2 hash
/// partitions on the target.
const SOURCE_SETUP: &str = "
SELECT create_hypertable('metrics', by_range('time', interval '1 day'));
INSERT INTO metrics
SELECT i, '2026-01-01 00:00+00'::timestamptz + i * interval '20 minutes', i, 'n' || i
  FROM generate_series(0, 199) i;
";
const TARGET_SETUP: &str = "
SELECT create_hypertable('metrics', by_range('time', interval '7 days'));
SELECT add_dimension('metrics', by_hash('id', 2));
";

fn rows(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT format('%s|%s|%s|%s', id, to_char(time AT TIME ZONE 'UTC',
                           'YYYY-MM-DD HH24:MI:SS'), v, note)
               FROM metrics ORDER BY id, time",
            &[],
        )
        .expect("rows")
        .iter()
        .map(|r| r.get(0))
        .collect()
}
fn spawn_writer(db: &'static str, stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut c = common::connect(SRC, db);
        let mut i: i32 = 0;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            let (sql, a) = match i % 4 {
                0 => (
                    "INSERT INTO metrics VALUES ($1::int, '2026-01-01 00:00+00'::timestamptz
                       + ($1::int % 4000) * interval '1 minute', $1::int, 'w')",
                    10_000 + i,
                ),
                1 => (
                    "INSERT INTO metrics VALUES ($1::int, '2026-02-01 00:00+00'::timestamptz
                       + $1::int * interval '1 second', 4, 'new chunk')",
                    10_000 + i,
                ),
                2 => (
                    "UPDATE metrics SET v = v + 1, note = note || '+' WHERE id = $1",
                    (i * 7) % 200,
                ),
                _ => ("DELETE FROM metrics WHERE id = $1", 10_000 + i - 3),
            };
            c.execute(sql, &[&a]).expect(sql);
            std::thread::sleep(Duration::from_millis(4));
        }
        i as u64
    })
}

/// Both databases, the slot (its snapshot copied to the target), and the session
/// row in `following`, as a follower process leaves them after its copy.
struct Setup {
    rt: Runtime,
    src: Client,
    dst: Client,
    info: ConnInfo,
    consistent_point: Lsn,
    /// The replication connection that created the slot: it streams first.
    repl: ReplicationConn,
    session: Session,
    /// The follower process's own session on the target.
    follower_db: tokio_postgres::Client,
    /// The cutover's session on the target.
    cutover_db: tokio_postgres::Client,
}

fn setup(case: Case) -> Setup {
    let mut src = common::fresh_db(SRC, case.db);
    src.batch_execute(TABLE).expect("source table");
    src.batch_execute(SOURCE_SETUP).expect("source setup");
    src.batch_execute(&format!(
        "CREATE PUBLICATION {} FOR TABLES IN SCHEMA _timescaledb_internal, public",
        quote_ident(case.publication)
    ))
    .expect("publication");
    let mut dst = common::fresh_db(DST, case.db);
    dst.batch_execute(TABLE).expect("target table");
    dst.batch_execute(TARGET_SETUP).expect("target setup");

    let rt = Runtime::new().expect("tokio runtime");
    let session = Session::new(case.fingerprint, case.slot);
    // The follower process: the row starts in `copying`.
    let follower_db = common::live::tokio_client(&rt, DST, case.db);
    assert_eq!(
        rt.block_on(session.open(&follower_db, Phase::Copying))
            .expect("open session"),
        Phase::Copying
    );

    let options = STREAM_OPTIONS.replace(' ', "%20").replace('=', "%3D");
    let info = ConnInfo::parse(&format!("{}?options={options}", common::url(SRC, case.db)))
        .expect("conninfo");
    let mut repl = rt
        .block_on(ReplicationConn::connect(&info, None, case.db))
        .expect("replication connection");
    let slot = rt
        .block_on(repl.create_slot(case.slot))
        .expect("create slot");

    // The snapshot copy, in the slot's exported snapshot.
    let mut reader = common::connect(SRC, case.db);
    let mut snap = reader
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .expect("begin");
    snap.batch_execute(&format!(
        "SET TRANSACTION SNAPSHOT {}",
        quote_literal(&slot.snapshot_name)
    ))
    .expect("import snapshot");
    let mut data = Vec::new();
    std::io::Read::read_to_end(
        &mut snap
            .copy_out("COPY (SELECT id, time, v, note FROM metrics) TO STDOUT")
            .expect("copy out"),
        &mut data,
    )
    .expect("read copy");
    let mut w = dst
        .copy_in("COPY metrics (id, time, v, note) FROM STDIN")
        .expect("copy in");
    std::io::Write::write_all(&mut w, &data).expect("write copy");
    assert_eq!(w.finish().expect("finish copy"), 200);
    snap.commit().expect("end snapshot");

    // A cutover before the copy is done is refused.
    let cutover_db = common::live::tokio_client(&rt, DST, case.db);
    match rt.block_on(session.request_cutover(&cutover_db, Lsn(1))) {
        Err(SessionError::IllegalTransition { from, .. }) => assert_eq!(from, "copying"),
        other => panic!("a cutover during the copy must be refused: {other:?}"),
    }

    rt.block_on(session.set_phase(&follower_db, Phase::Following))
        .expect("following");
    Setup {
        rt,
        src,
        dst,
        info,
        consistent_point: slot.consistent_point,
        repl,
        session,
        follower_db,
        cutover_db,
    }
}

/// What a follower process runs: the follow loop and its beacon, each a task.
struct Running {
    follower: tokio::task::JoinHandle<Result<Outcome, follow::FollowError>>,
    beacon: tokio::task::JoinHandle<Result<BeaconEnd, SessionError>>,
}

/// Start a follower process's tasks on `stream`.
fn spawn_follower(rt: &Runtime, case: Case, stream: ReplicationStream) -> Running {
    let (controller, controls) = Controller::new();
    let (progress_tx, progress_rx) = session::progress_channel();
    let beacon = rt.spawn(session::beacon(
        Session::new(case.fingerprint, case.slot),
        common::live::tokio_client(rt, DST, case.db),
        Some(common::live::tokio_client(rt, SRC, case.db)),
        progress_rx,
        controller,
    ));
    let source = common::live::tokio_client(rt, SRC, case.db);
    let mut target = common::live::tokio_client(rt, DST, case.db);
    let follower = rt.spawn(async move {
        let mut stream = stream;
        let mapping = Mapping::new([(
            QualifiedName::new("public", "metrics"),
            MovedTable {
                target: QualifiedName::new("public", "metrics"),
                columns: ["id", "time", "v", "note"].map(String::from).to_vec(),
                routing: ["time", "id"].map(String::from).to_vec(),
            },
        )]);
        let mut applier = Applier::open(&target, case.fingerprint, case.slot, mapping)
            .await
            .expect("open applier");
        let mut report = move |p: &Progress| {
            progress_tx.send_replace(p.clone());
        };
        let ends = Ends {
            stream: &mut stream,
            source: &source,
            target: &mut target,
        };
        follow::follow(ends, &mut applier, Limits::default(), controls, &mut report).await
    });
    Running { follower, beacon }
}

/// A stream from `start` on a new replication connection. A killed follower's
/// walsender holds the slot until it notices its client is gone: retry a while.
fn restart_stream(rt: &Runtime, case: Case, info: &ConnInfo, start: Lsn) -> ReplicationStream {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let repl = rt
            .block_on(ReplicationConn::connect(info, None, case.db))
            .expect("replication connection");
        match rt.block_on(repl.start_replication(case.slot, start, &[case.publication])) {
            Ok(stream) => return stream,
            Err(e) if Instant::now() < deadline => {
                eprintln!("slot still busy: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("the slot never freed: {e}"),
        }
    }
}

/// Wait for both tasks: the follower must return `Fenced`, the beacon `Completed`.
fn finish(rt: &Runtime, running: Running) {
    let outcome = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), running.follower).await })
        .expect("the follower returns")
        .expect("follower task")
        .expect("the follow succeeds");
    assert!(
        matches!(outcome, Outcome::Fenced { position: Some(_) }),
        "{outcome:?}"
    );
    let end = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), running.beacon).await })
        .expect("the beacon returns")
        .expect("beacon task")
        .expect("the beacon succeeds");
    assert_eq!(end, BeaconEnd::Completed);
}

#[test]
fn a_cutover_through_the_table_fences_and_completes_the_follower() {
    let case = CUTOVER_CASE;
    let _cleanup = common::live::SlotGuard::fresh(case.db, case.slot, case.publication);
    let Setup {
        rt,
        mut src,
        mut dst,
        consistent_point,
        repl,
        session,
        follower_db,
        cutover_db,
        ..
    } = setup(case);
    let stream = rt
        .block_on(repl.start_replication(case.slot, consistent_point, &[case.publication]))
        .expect("START_REPLICATION");
    let running = spawn_follower(&rt, case, stream);

    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(case.db, stop.clone());

    // `status` from a third session while the follow runs.
    let status_db = common::live::tokio_client(&rt, DST, case.db);
    std::thread::sleep(Duration::from_millis(1500));
    let during = rt.block_on(session.read(&status_db)).expect("status");
    eprintln!("during the follow: {during:?}");
    assert_eq!(during.phase, Phase::Following);
    let json = serde_json::to_value(&during).expect("json");
    assert_eq!(json["phase"], "following");
    assert!(json["lag_bytes"].is_u64(), "lag_bytes is a number: {json}");
    let age = during.heartbeat_age_seconds.expect("a heartbeat");
    assert!(age < 2.0, "the beacon publishes every 500 ms: {age}");
    assert!(during.applied_lsn.is_some(), "batches were applied");
    assert!(
        during.retained_wal_bytes.is_some(),
        "the beacon read the slot"
    );
    assert_eq!(during.wal_status.as_deref(), Some("reserved"));
    std::thread::sleep(Duration::from_millis(1000));

    // The cutover: writes stop, the fence is the source's WAL end.
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().expect("writer");
    let fence: Lsn = common::scalar(&mut src, "SELECT pg_current_wal_lsn()::text")
        .parse()
        .expect("lsn");
    let stored = rt
        .block_on(session.request_cutover(&cutover_db, fence))
        .expect("request cutover");
    assert_eq!(stored, fence);
    let reached = rt
        .block_on(session.wait_until_applied(
            &cutover_db,
            fence,
            Duration::from_secs(30),
            session::HEARTBEAT_STALE,
        ))
        .expect("the follower reaches the fence");
    eprintln!("writer: {written} transactions; fence reached: {reached:?}");
    assert!(reached.confirmed >= fence);
    assert_eq!(
        rows(&mut dst),
        rows(&mut src),
        "the target equals the source"
    );
    let cutting = rt.block_on(session.read(&status_db)).expect("status");
    assert_eq!(cutting.phase, Phase::CuttingOver);
    assert_eq!(cutting.fence_lsn, Some(fence.to_string()));
    rt.block_on(session.complete(&cutover_db))
        .expect("complete");

    finish(&rt, running);

    let after = rt.block_on(session.read(&status_db)).expect("status");
    eprintln!("after: {after:?}");
    assert_eq!(after.phase, Phase::Completed);
    assert_eq!(after.lag_bytes, 0);
    let json = serde_json::to_value(&after).expect("json");
    assert_eq!(json["phase"], "completed");
    assert_eq!(json["lag_bytes"], 0);
    match rt.block_on(session.set_phase(&follower_db, Phase::Following)) {
        Err(SessionError::IllegalTransition { from, to, .. }) => {
            assert_eq!((from, to), ("completed", "following"))
        }
        other => panic!("completed → following must be refused: {other:?}"),
    }
    // A restarted follower finds the move completed.
    assert_eq!(
        rt.block_on(session.open(&follower_db, Phase::Copying))
            .expect("reopen"),
        Phase::Completed
    );
}

#[test]
fn a_killed_follower_restarts_from_the_row_and_takes_the_fence_from_it() {
    let case = RESTART_CASE;
    let _cleanup = common::live::SlotGuard::fresh(case.db, case.slot, case.publication);
    let Setup {
        rt,
        mut src,
        mut dst,
        info,
        consistent_point,
        repl,
        session,
        follower_db,
        cutover_db,
    } = setup(case);
    let stream = rt
        .block_on(repl.start_replication(case.slot, consistent_point, &[case.publication]))
        .expect("START_REPLICATION");
    let first = spawn_follower(&rt, case, stream);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(case.db, stop.clone());
    std::thread::sleep(Duration::from_millis(1000));

    // kill -9: both tasks end at their next await and their connections drop (the
    // server rolls back a batch in flight; nothing more is confirmed).
    first.follower.abort();
    first.beacon.abort();
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");

    // A cutover meanwhile: the fence is stored, the wait names the dead follower.
    let fence: Lsn = common::scalar(&mut src, "SELECT pg_current_wal_lsn()::text")
        .parse()
        .expect("lsn");
    rt.block_on(session.request_cutover(&cutover_db, fence))
        .expect("request cutover");
    std::thread::sleep(Duration::from_millis(1200));
    match rt.block_on(session.wait_until_applied(
        &cutover_db,
        fence,
        Duration::from_secs(20),
        Duration::from_secs(1),
    )) {
        Err(SessionError::StaleFollower { confirmed, .. }) => assert!(confirmed < fence),
        other => panic!("no follower runs: {other:?}"),
    }

    // The restart reads the row: the move is cutting over, at this fence.
    assert_eq!(
        rt.block_on(session.open(&follower_db, Phase::Copying))
            .expect("reopen"),
        Phase::CuttingOver
    );
    assert_eq!(
        rt.block_on(session.poll_fence(&follower_db))
            .expect("fence"),
        Some(fence)
    );
    let journal = rt
        .block_on(hypermove::live::apply::read_position(
            &follower_db,
            case.fingerprint,
            case.slot,
        ))
        .expect("journal");
    let start = follow::start_position(consistent_point, journal);
    let running = spawn_follower(&rt, case, restart_stream(&rt, case, &info, start));
    let reached = rt
        .block_on(session.wait_until_applied(
            &cutover_db,
            fence,
            Duration::from_secs(30),
            session::HEARTBEAT_STALE,
        ))
        .expect("the restarted follower reaches the fence");
    eprintln!("restarted from {start}; fence reached: {reached:?}");
    assert_eq!(
        rows(&mut dst),
        rows(&mut src),
        "the target equals the source"
    );
    rt.block_on(session.complete(&cutover_db))
        .expect("complete");
    finish(&rt, running);
    let after = rt.block_on(session.read(&cutover_db)).expect("status");
    assert_eq!((after.phase, after.lag_bytes), (Phase::Completed, 0));
}

#[test]
fn a_cutover_without_a_running_follower_fails_on_its_heartbeat() {
    let db = "hm_live5_stale";
    drop(common::fresh_db(DST, db));
    let rt = Runtime::new().expect("tokio runtime");
    let target = common::live::tokio_client(&rt, DST, db);

    let never = Session::new("hm_live5_stale-spec", "hm_live5_never_started");
    match rt.block_on(never.read(&target)) {
        Err(e @ SessionError::NoSession { .. }) => {
            assert!(e.to_string().contains("hm_live5_never_started"), "{e}")
        }
        other => panic!("no table, no session: {other:?}"),
    }

    // A follower that published once and then died (kill -9 leaves its row).
    let session = Session::new("hm_live5_stale-spec", "hm_live5_stale_slot");
    rt.block_on(session.open(&target, Phase::Following))
        .expect("open");
    let last = Progress {
        position: Some(Lsn(0x100)),
        confirmed: Lsn(0x100),
        server_end: Lsn(0x180),
        ..Progress::default()
    };
    rt.block_on(session.publish(&target, &last, None))
        .expect("publish");
    let status = rt.block_on(session.read(&target)).expect("status");
    assert_eq!(status.lag_bytes, 0x80);
    assert_eq!(status.phase, Phase::Following);

    let fence = Lsn(0x200);
    rt.block_on(session.request_cutover(&target, fence))
        .expect("request cutover");
    let started = Instant::now();
    let err = rt
        .block_on(session.wait_until_applied(
            &target,
            fence,
            Duration::from_secs(20),
            Duration::from_secs(1),
        ))
        .expect_err("nobody applies the fence");
    let took = started.elapsed();
    eprintln!("{err} (after {took:?})");
    match &err {
        SessionError::StaleFollower {
            age_seconds,
            confirmed,
            ..
        } => {
            assert!(*age_seconds > 1.0);
            assert_eq!(*confirmed, Lsn(0x100));
        }
        other => panic!("expected a stale follower: {other:?}"),
    }
    assert!(
        err.to_string().contains("has not reported"),
        "the error names the reason: {err}"
    );
    assert!(
        took < Duration::from_secs(5),
        "well within the timeout: {took:?}"
    );
    // The fence stays for a follower that restarts; it never moves back.
    assert_eq!(
        rt.block_on(session.request_cutover(&target, Lsn(0x150)))
            .expect("retry"),
        fence
    );
    // Completing needs the fence confirmed.
    match rt.block_on(session.complete(&target)) {
        Err(SessionError::FenceNotReached { confirmed, .. }) => assert_eq!(confirmed, Lsn(0x100)),
        other => panic!("completing short of the fence must be refused: {other:?}"),
    }
    // A restarted follower reaches it; then completing is allowed, and is final.
    let resumed = Progress {
        confirmed: fence,
        ..last
    };
    rt.block_on(session.publish(&target, &resumed, None))
        .expect("publish");
    rt.block_on(session.complete(&target)).expect("complete");
    rt.block_on(session.complete(&target))
        .expect("completing again is a no-op");
    assert!(matches!(
        rt.block_on(session.request_cutover(&target, fence)),
        Err(SessionError::IllegalTransition { .. })
    ));
}
