//! The follower harness shared by the library-level live tests (`live_follow`,
//! `live_large`): a source hypertable copied in a slot's exported snapshot to a
//! re-chunked, hash-partitioned target, and a follower run in a task.

// Each test file uses part of it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hypermove::live::apply::{ensure_journal, read_position};
use hypermove::live::follow::{self, Controller, Ends, FollowError, Outcome, Progress};
use hypermove::live::mapping::{Mapping, MovedTable};
use hypermove::live::pending::Limits;
use hypermove::live::{
    Applier, Lsn, ReplicationConn, ReplicationStream, STREAM_OPTIONS, SlotCreated,
};
use hypermove::pg::{ConnInfo, QualifiedName, quote_literal};
use postgres::{Client, IsolationLevel};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle as TaskHandle;

use crate::common;

pub const SRC: u16 = common::FULL_SOURCE_PORT;
pub const DST: u16 = common::FULL_TARGET_PORT;

const TABLE: &str = "
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE metrics (id int NOT NULL, time timestamptz NOT NULL, v float8, note text,
                      PRIMARY KEY (id, time));
";

/// 200 rows every 20 minutes: three 1-day chunks.
const SOURCE_SETUP: &str = "
SELECT create_hypertable('metrics', by_range('time', interval '1 day'));
INSERT INTO metrics
SELECT i, '2026-01-01 00:00+00'::timestamptz + i * interval '20 minutes', i, 'n' || i
  FROM generate_series(0, 199) i;
";

/// Re-chunked on the target: 7-day chunks, 2 hash partitions on id.
const TARGET_SETUP: &str = "
SELECT create_hypertable('metrics', by_range('time', interval '7 days'));
SELECT add_dimension('metrics', by_hash('id', 2));
";

/// One live move's names: slots are cluster-wide, so each case has its own.
#[derive(Clone, Copy)]
pub struct Case {
    pub db: &'static str,
    pub slot: &'static str,
    pub publication: &'static str,
    pub fingerprint: &'static str,
}

/// Both databases, the slot with its snapshot copied to the target, and what the
/// follower needs.
pub struct Setup {
    pub rt: Runtime,
    pub src: Client,
    pub dst: Client,
    pub info: ConnInfo,
    pub slot: SlotCreated,
    /// The replication connection that created the slot: it streams first.
    pub repl: ReplicationConn,
    /// An id that sends row 5 to the other target partition.
    pub moved_id: i32,
}

pub fn setup(case: Case) -> Setup {
    let mut src = common::fresh_db(SRC, case.db);
    src.batch_execute(TABLE).expect("source table");
    src.batch_execute(SOURCE_SETUP).expect("source setup");
    src.batch_execute(&format!(
        "CREATE PUBLICATION {} FOR TABLES IN SCHEMA _timescaledb_internal, public",
        hypermove::pg::quote_ident(case.publication)
    ))
    .expect("publication");
    let mut dst = common::fresh_db(DST, case.db);
    dst.batch_execute(TABLE).expect("target table");
    dst.batch_execute(TARGET_SETUP).expect("target setup");

    let rt = Runtime::new().expect("tokio runtime");
    // The walsender's text settings must match the applier's target session.
    let options = STREAM_OPTIONS.replace(' ', "%20").replace('=', "%3D");
    let info = ConnInfo::parse(&format!("{}?options={options}", common::url(SRC, case.db)))
        .expect("conninfo");
    let mut repl = rt
        .block_on(ReplicationConn::connect(&info, None, case.db))
        .expect("replication connection");
    let slot = rt
        .block_on(repl.create_slot(case.slot))
        .expect("create slot");

    // The snapshot copy (not the product's copy path): COPY out of a query in the
    // exported snapshot, COPY into the target root.
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
    .expect("import the exported snapshot");
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
    assert_eq!(w.finish().expect("finish copy"), 200, "the snapshot's rows");
    snap.commit().expect("end snapshot transaction");

    let old_chunk = common::scalar(
        &mut dst,
        "SELECT tableoid::regclass::text FROM metrics WHERE id = 5",
    );
    let moved_id = (1000..1100)
        .find(|&id| target_chunk(&mut dst, id, "2026-01-01 01:40+00") != old_chunk)
        .expect("an id in the other partition");
    Setup {
        rt,
        src,
        dst,
        info,
        slot,
        repl,
        moved_id,
    }
}

/// The chunk a row would land in on the target, tried in a rolled-back transaction.
pub fn target_chunk(dst: &mut Client, id: i32, time: &str) -> String {
    let mut tx = dst.transaction().expect("begin");
    let chunk: String = tx
        .query_one(
            "INSERT INTO metrics (id, time) VALUES ($1, $2::text::timestamptz)
             RETURNING tableoid::regclass::text",
            &[&id, &time],
        )
        .expect("trial insert")
        .get(0);
    tx.rollback().expect("rollback");
    chunk
}

/// The table's rows in a stable order, timestamps in UTC.
pub fn rows(client: &mut Client) -> Vec<String> {
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

pub fn mapping() -> Mapping {
    Mapping::new([(
        QualifiedName::new("public", "metrics"),
        MovedTable {
            target: QualifiedName::new("public", "metrics"),
            columns: ["id", "time", "v", "note"].map(String::from).to_vec(),
            routing: ["time", "id"].map(String::from).to_vec(),
        },
    )])
}

pub type Followed = (Result<Outcome, FollowError>, ReplicationStream);

/// Run a follower in a task on `stream` with a new applier (which resumes from the
/// journal), publishing its progress in `shared`.
pub fn spawn_follower(
    rt: &Runtime,
    case: Case,
    mut stream: ReplicationStream,
    shared: Arc<Mutex<Progress>>,
    limits: Limits,
) -> (Controller, TaskHandle<Followed>) {
    let source = crate::common::live::tokio_client(rt, SRC, case.db);
    let mut target = crate::common::live::tokio_client(rt, DST, case.db);
    let (controller, controls) = Controller::new();
    let task = rt.spawn(async move {
        let mut applier = Applier::open(&target, case.fingerprint, case.slot, mapping())
            .await
            .expect("open applier");
        let mut report = move |p: &Progress| *shared.lock().unwrap() = p.clone();
        let ends = Ends {
            stream: &mut stream,
            source: &source,
            target: &mut target,
        };
        let out = follow::follow(ends, &mut applier, limits, controls, &mut report).await;
        (out, stream)
    });
    (controller, task)
}

/// Wait for a follower's task to return.
pub fn join(rt: &Runtime, task: TaskHandle<Followed>) -> Followed {
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(60), task).await })
        .expect("the follower returns within a minute")
        .expect("the follower's task")
}

/// The source's current WAL position: the fence, once writes stopped.
pub fn fence(src: &mut Client) -> Lsn {
    common::scalar(src, "SELECT pg_current_wal_lsn()::text")
        .parse()
        .expect("an LSN")
}

pub fn journal(rt: &Runtime, case: Case) -> Option<Lsn> {
    let target = crate::common::live::tokio_client(rt, DST, case.db);
    rt.block_on(ensure_journal(&target)).expect("journal table");
    rt.block_on(read_position(&target, case.fingerprint, case.slot))
        .expect("journal")
}

/// The slot's confirmed position reaches `fence` (the server takes the last status
/// update a moment after the follower sent it).
pub fn assert_slot_confirmed(src: &mut Client, case: Case, fence: Lsn) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let confirmed: Lsn = common::scalar(
            src,
            &format!(
                "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = {}",
                quote_literal(case.slot)
            ),
        )
        .parse()
        .expect("an LSN");
        if confirmed >= fence {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the slot confirmed {confirmed}, short of the fence {fence}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
