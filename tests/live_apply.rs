//! The change applier (src/live/apply.rs) end to end, on the full pair: a
//! hypertable of 1-day chunks on PG17/2.19.3 is copied in a slot's exported
//! snapshot to a hypertable of 7-day chunks and 2 hash partitions on PG18/2.29.2.
//! The changes that follow stream and are applied in two target transactions, the
//! second by a new applier resuming from the journal with the whole stream (as
//! after a crash): inserts into old and new chunks, text that needs COPY escaping,
//! NULLs, updates, an update that moves a row to another target partition,
//! unchanged TOAST in a plain and a moved update, deletes, a table that is not
//! moved, compression of a chunk and an update of a compressed row, and on a table
//! with REPLICA IDENTITY FULL the delete of one of two identical rows, an update
//! matching a NULL and a move. The target then equals the source row for row, the
//! journal holds the last commit's end, and the same stream replayed from the
//! slot's start changes nothing (exactly once). Last, a TRUNCATE and an ALTER
//! TABLE on the source stop the applier with errors naming the table, applying
//! nothing.

mod common;

use hypermove::live::mapping::{Mapping, MovedTable};
use hypermove::live::pgoutput::{self, PgOutput};
use hypermove::live::{Applier, ApplyError, ReplicationConn, STREAM_OPTIONS};
use hypermove::pg::{ConnInfo, QualifiedName, quote_literal};
use postgres::{Client, IsolationLevel};
use tokio::runtime::Runtime;

const SRC: u16 = common::FULL_SOURCE_PORT;
const DST: u16 = common::FULL_TARGET_PORT;
const DB: &str = "hm_live2_apply";
/// Slots are cluster-wide: the name carries the test file's prefix too.
const SLOT: &str = "hm_live2_apply_slot";
const PUBLICATION: &str = "hm_live2_apply_pub";
const FENCE: &str = "hm_live2_apply-fence";
const FINGERPRINT: &str = "hm_live2_apply-spec";

const TABLE: &str = "
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE metrics (id int NOT NULL, time timestamptz NOT NULL, v float8, note text,
                      PRIMARY KEY (id, time));
CREATE TABLE readings (time timestamptz NOT NULL, device int, v float8);
";

/// 72 hourly rows over three 1-day chunks; readings without a key (REPLICA
/// IDENTITY FULL) and with two identical rows; a table that is not moved; a
/// publication over the chunk schema and the tables' schema (chunks made later are
/// in it).
const SOURCE_SETUP: &str = "
SELECT create_hypertable('metrics', by_range('time', interval '1 day'));
ALTER TABLE metrics SET (timescaledb.compress);
SELECT create_hypertable('readings', by_range('time', interval '1 day'));
ALTER TABLE readings REPLICA IDENTITY FULL;
INSERT INTO readings VALUES ('2026-01-01 01:00+00', 1, 0.1), ('2026-01-01 01:00+00', 1, 0.1),
                            ('2026-01-01 02:00+00', NULL, 0.2), ('2026-01-02 03:00+00', 2, 0.3);
CREATE TABLE other (id int PRIMARY KEY, v text);
INSERT INTO metrics
SELECT i, '2026-01-01 00:00+00'::timestamptz + i * interval '1 hour', i, 'n' || i
  FROM generate_series(0, 71) i;
CREATE PUBLICATION hm_live2_apply_pub FOR TABLES IN SCHEMA _timescaledb_internal, public;
";

/// Re-chunked on the target: 7-day chunks, 2 hash partitions on id.
const TARGET_SETUP: &str = "
SELECT create_hypertable('metrics', by_range('time', interval '7 days'));
SELECT add_dimension('metrics', by_hash('id', 2));
SELECT create_hypertable('readings', by_range('time', interval '7 days'));
";

/// A text TimescaleDB stores out of line (TOAST): 32 kB of hex.
const BIG: &str = "(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 1000) i)";

/// The messages cut into whole transactions.
fn transactions(msgs: &[PgOutput]) -> Vec<&[PgOutput]> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, m) in msgs.iter().enumerate() {
        match m {
            PgOutput::Begin(_) => start = Some(i),
            PgOutput::Commit(_) => out.push(&msgs[start.take().expect("Begin first")..=i]),
            _ => {}
        }
    }
    out
}

/// The table's rows in a stable order, with timestamps in UTC and the note's digest
/// (the notes include a 32 kB one).
fn rows(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT format('%s|%s|%s|%s|%s', id, to_char(time AT TIME ZONE 'UTC',
                           'YYYY-MM-DD HH24:MI:SS'), v, length(note), md5(note))
               FROM metrics ORDER BY id, time",
            &[],
        )
        .expect("rows")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn readings(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT format('%s|%s|%s', to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
                           device, v)
               FROM readings ORDER BY time, device, v",
            &[],
        )
        .expect("readings")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn mapping() -> Mapping {
    Mapping::new([
        (
            QualifiedName::new("public", "metrics"),
            MovedTable {
                target: QualifiedName::new("public", "metrics"),
                columns: ["id", "time", "v", "note"].map(String::from).to_vec(),
                routing: ["time", "id"].map(String::from).to_vec(),
            },
        ),
        (
            QualifiedName::new("public", "readings"),
            MovedTable {
                target: QualifiedName::new("public", "readings"),
                columns: ["time", "device", "v"].map(String::from).to_vec(),
                routing: vec!["time".to_string()],
            },
        ),
    ])
}

/// The chunk a row would land in on the target, tried in a rolled-back transaction.
fn target_chunk(dst: &mut Client, id: i32, time: &str) -> String {
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

#[test]
fn applied_stream_makes_the_rechunked_target_equal_the_source_exactly_once() {
    let _cleanup = common::live::SlotGuard::fresh(DB, SLOT, PUBLICATION);
    let mut src = common::fresh_db(SRC, DB);
    src.batch_execute(TABLE).expect("source table");
    src.batch_execute(SOURCE_SETUP).expect("source setup");
    let mut dst = common::fresh_db(DST, DB);
    dst.batch_execute(TABLE).expect("target table");
    dst.batch_execute(TARGET_SETUP).expect("target setup");

    let rt = Runtime::new().expect("tokio runtime");
    // The walsender's text settings must match the applier's target session.
    let options = STREAM_OPTIONS.replace(' ', "%20").replace('=', "%3D");
    let info =
        ConnInfo::parse(&format!("{}?options={options}", common::url(SRC, DB))).expect("conninfo");
    let mut repl = rt
        .block_on(ReplicationConn::connect(&info, None, "hm_live2_apply"))
        .expect("replication connection");
    let slot = rt.block_on(repl.create_slot(SLOT)).expect("create slot");

    // Written after the slot, before the snapshot is read: only the stream has it.
    src.batch_execute("INSERT INTO metrics VALUES (90, '2026-01-01 00:30+00', 9, 'after slot')")
        .expect("insert after the slot");

    // The snapshot copy (not the product's copy path): COPY out of a query (COPY of
    // a hypertable root alone holds no rows) in the exported
    // snapshot, COPY into the target root.
    let mut reader = common::connect(SRC, DB);
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
    for (table, cols, count) in [
        ("metrics", "id, time, v, note", 72),
        ("readings", "time, device, v", 4),
    ] {
        let mut data = Vec::new();
        std::io::Read::read_to_end(
            &mut snap
                .copy_out(&format!("COPY (SELECT {cols} FROM {table}) TO STDOUT"))
                .expect("copy out"),
            &mut data,
        )
        .expect("read copy");
        let mut w = dst
            .copy_in(&format!("COPY {table} ({cols}) FROM STDIN"))
            .expect("copy in");
        std::io::Write::write_all(&mut w, &data).expect("write copy");
        assert_eq!(
            w.finish().expect("finish copy"),
            count,
            "the snapshot's rows"
        );
    }
    snap.commit().expect("end snapshot transaction");

    // Row 5 (2026-01-01 05:00) gets a new id and time in the same source chunk; pick
    // an id that sends it to another target chunk (the other hash partition).
    let old_chunk = common::scalar(
        &mut dst,
        "SELECT tableoid::regclass::text FROM metrics WHERE id = 5",
    );
    let moved_id = (1000..1100)
        .find(|&id| target_chunk(&mut dst, id, "2026-01-01 05:30+00") != old_chunk)
        .expect("an id in the other partition");

    let writes = [
        // Existing chunks, one multi-row statement.
        "INSERT INTO metrics SELECT i, '2026-01-02 00:15+00'::timestamptz + (i - 100) * interval '1 minute', i, 'batch'
           FROM generate_series(100, 104) i"
            .to_string(),
        // A chunk created after the slot, with text COPY must escape, and NULLs.
        "INSERT INTO metrics VALUES (200, '2026-02-01 12:00+00', 1.5, E'tab\\there\\nnew\\\\line\\r end'),
                                    (201, '2026-02-01 13:00+00', NULL, NULL)"
            .to_string(),
        "UPDATE metrics SET v = -1 WHERE id = 10".to_string(),
        format!("UPDATE metrics SET id = {moved_id}, time = '2026-01-01 05:30+00' WHERE id = 5"),
        "DELETE FROM metrics WHERE id = 20".to_string(),
        "INSERT INTO other VALUES (1, 'not moved')".to_string(),
        // Mixed in one transaction: the runs split around the update and delete.
        "BEGIN;
         INSERT INTO metrics VALUES (300, '2026-01-03 01:00+00', 3, 'a');
         INSERT INTO metrics VALUES (301, '2026-01-03 02:00+00', 3, 'b');
         UPDATE metrics SET note = 'a2' WHERE id = 300;
         INSERT INTO metrics VALUES (302, '2026-01-03 03:00+00', 3, 'c');
         DELETE FROM metrics WHERE id = 301;
         COMMIT"
            .to_string(),
        // TOAST: an update that leaves the big note unchanged (not sent), then one
        // that changes the key, whose INSERT takes the note from the deleted row.
        format!("INSERT INTO metrics VALUES (400, '2026-01-02 01:00+00', 4, {BIG})"),
        "UPDATE metrics SET v = 44 WHERE id = 400".to_string(),
        "UPDATE metrics SET time = '2026-01-02 02:00+00' WHERE id = 400".to_string(),
        // TimescaleDB's own row movements, inside its markers, are skipped: compress
        // the third day, then update a compressed row (its batch is decompressed
        // first); only the user's update is applied.
        "SELECT compress_chunk(format('%I.%I', chunk_schema, chunk_name)::regclass)
           FROM timescaledb_information.chunks
          WHERE hypertable_name = 'metrics' AND range_start = '2026-01-03 00:00+00'"
            .to_string(),
        "UPDATE metrics SET v = 7 WHERE id = 50".to_string(),
        // REPLICA IDENTITY FULL: one of two identical rows deleted (the target must
        // keep the other), an update matching a NULL, and a time change (a move).
        "DELETE FROM readings WHERE (tableoid, ctid) =
           (SELECT tableoid, ctid FROM readings WHERE device = 1 LIMIT 1)"
            .to_string(),
        "UPDATE readings SET v = 0.25 WHERE device IS NULL".to_string(),
        "UPDATE readings SET time = '2026-01-02 04:00+00' WHERE device = 2".to_string(),
    ];
    for sql in &writes {
        src.batch_execute(sql).expect(sql);
    }
    src.execute("SELECT pg_logical_emit_message(true, $1, 'end')", &[&FENCE])
        .expect("fence");

    let mut stream = rt
        .block_on(repl.start_replication(SLOT, slot.consistent_point, &[PUBLICATION]))
        .expect("START_REPLICATION");
    let msgs = common::live::collect_to_fence(&rt, &mut stream, FENCE);
    let last_end = match msgs.last() {
        Some(PgOutput::Commit(c)) => c.end_lsn,
        other => panic!("the stream ends with a commit, not {other:?}"),
    };
    let has_unchanged_toast = msgs.iter().any(|m| {
        matches!(m, PgOutput::Update(u)
            if u.new.0.contains(&pgoutput::Datum::UnchangedToast))
    });
    for prefix in [
        hypermove::live::timescale::COMPRESSION_START,
        hypermove::live::timescale::DECOMPRESSION_START,
    ] {
        assert!(
            msgs.iter()
                .any(|m| matches!(m, PgOutput::Message(m) if m.prefix == prefix)),
            "the stream holds TimescaleDB's {prefix} marker"
        );
    }
    assert!(
        has_unchanged_toast,
        "the TOAST updates stream an unchanged value"
    );

    // Apply in two target transactions: up to the transaction that creates the new
    // chunk (the insert after the slot, the batch insert, the new chunk), then,
    // through a resumed applier, the rest. Background jobs' transactions may sit anywhere; they are skipped.
    let txns = transactions(&msgs);
    assert!(
        txns.len() >= writes.len() + 2,
        "{} transactions",
        txns.len()
    );
    let new_chunk = msgs
        .iter()
        .position(|m| matches!(m, PgOutput::Insert(i) if i.new.0[0].as_text() == Some("200")))
        .expect("the new chunk's insert");
    let split = new_chunk
        + msgs[new_chunk..]
            .iter()
            .position(|m| matches!(m, PgOutput::Commit(_)))
            .expect("its commit")
        + 1;
    let source = common::live::tokio_client(&rt, SRC, DB);
    let mut target = common::live::tokio_client(&rt, DST, DB);
    let mut applier = rt
        .block_on(Applier::open(&target, FINGERPRINT, SLOT, mapping()))
        .expect("open applier");
    assert_eq!(applier.position(), None, "a new move has no position");
    let first = rt
        .block_on(applier.apply(&source, &mut target, &msgs[..split]))
        .expect("apply the first batch");
    assert_eq!(
        (first.copied, first.statements),
        (1 + 5 + 2, 0),
        "{first:?}"
    );
    let first_txns = transactions(&msgs[..split]).len();
    // As after a crash right after that commit: a new applier resumes from the
    // journal and gets the whole stream again; what it holds is skipped (their
    // Relation messages still describe the chunks), the rest applied.
    drop(applier);
    let mut applier = rt
        .block_on(Applier::open(&target, FINGERPRINT, SLOT, mapping()))
        .expect("reopen applier");
    assert_eq!(applier.position(), first.position);
    let rest = rt
        .block_on(applier.apply(&source, &mut target, &msgs))
        .expect("apply the rest");
    assert_eq!(
        (rest.skipped, rest.transactions),
        (first_txns, txns.len() - first_txns)
    );
    // Inserts 300, 301, 302, 400 by COPY; updates of 10, 300, 400, deletes of 20,
    // 301, 50 (compressed), and the moves of 5 and 400 as statements; then the
    // readings' delete, update and move.
    assert_eq!(
        (rest.copied, rest.statements, rest.moves),
        (4, 11, 3),
        "{rest:?}"
    );
    assert_eq!(rest.position, Some(last_end));
    assert!(first.vanished.is_empty() && rest.vanished.is_empty());
    assert_eq!(applier.position(), Some(last_end));

    let source_rows = rows(&mut src);
    assert_eq!(rows(&mut dst), source_rows, "the target equals the source");
    let source_readings = readings(&mut src);
    assert_eq!(readings(&mut dst), source_readings, "readings too");
    assert_eq!(
        source_readings,
        [
            "2026-01-01 01:00:00|1|0.1",
            "2026-01-01 02:00:00||0.25",
            "2026-01-02 04:00:00|2|0.3"
        ],
        "one of the two identical rows is left"
    );
    assert_eq!(source_rows.len(), 72 + 1 + 5 + 2 - 1 + 2 + 1);
    assert_eq!(
        common::scalar(&mut dst, "SELECT note FROM metrics WHERE id = 200"),
        "tab\there\nnew\\line\r end",
        "COPY escaping kept tab, newline, backslash and CR"
    );
    assert_ne!(
        common::scalar(
            &mut dst,
            &format!("SELECT tableoid::regclass::text FROM metrics WHERE id = {moved_id}")
        ),
        old_chunk,
        "the moved row lives in another target chunk"
    );
    let journal = common::scalar(
        &mut dst,
        &format!(
            "SELECT applied_lsn::text FROM hypermove.live_position
              WHERE fingerprint = {} AND slot_name = {}",
            quote_literal(FINGERPRINT),
            quote_literal(SLOT)
        ),
    );
    assert_eq!(
        journal,
        last_end.to_string(),
        "the journal holds the last commit's end"
    );

    // Exactly once: a new applier (as after a crash) resumes from the journal, and
    // the whole stream, read again from the slot's start on a new connection
    // (nothing was confirmed), changes nothing.
    rt.block_on(stream.finish()).expect("end streaming");
    let repl = rt
        .block_on(ReplicationConn::connect(&info, None, "hm_live2_apply"))
        .expect("second replication connection");
    let mut stream = rt
        .block_on(repl.start_replication(SLOT, slot.consistent_point, &[PUBLICATION]))
        .expect("START_REPLICATION again");
    let again = common::live::collect_to_fence(&rt, &mut stream, FENCE);
    assert_eq!(
        transactions(&again).len(),
        txns.len(),
        "the same stream again"
    );
    let mut resumed = rt
        .block_on(Applier::open(&target, FINGERPRINT, SLOT, mapping()))
        .expect("reopen applier");
    assert_eq!(resumed.position(), Some(last_end));
    let replay = rt
        .block_on(resumed.apply(&source, &mut target, &again))
        .expect("replay");
    assert_eq!(
        (replay.transactions, replay.skipped, replay.position),
        (0, txns.len(), None),
        "every transaction skipped, no target transaction"
    );
    assert_eq!(rows(&mut dst), source_rows, "the replay changed nothing");
    assert_eq!(
        readings(&mut dst),
        source_readings,
        "the replay changed nothing"
    );

    // Only now would a follower confirm.
    rt.block_on(stream.send_status(last_end, true))
        .expect("confirm");

    // The stops, on the real stream: a TRUNCATE of a moved table, then DDL on one.
    // Each names the table, and leaves the target and the journal as they were.
    let mut stop = |sql: &str| {
        src.batch_execute(sql).expect(sql);
        src.execute(
            "SELECT pg_logical_emit_message(true, $1, 'stop')",
            &[&FENCE],
        )
        .expect("fence");
        let msgs = common::live::collect_to_fence(&rt, &mut stream, FENCE);
        let err = rt
            .block_on(resumed.apply(&source, &mut target, &msgs))
            .expect_err(sql);
        assert_eq!(resumed.position(), Some(last_end), "{sql}: position kept");
        err
    };
    let err = stop("TRUNCATE readings");
    assert!(
        matches!(&err, ApplyError::Truncate { table } if table == "public.readings"),
        "{err}"
    );
    let err = stop(
        "ALTER TABLE metrics ADD COLUMN extra int;
         INSERT INTO metrics VALUES (500, '2026-01-01 10:30+00', 5, 'ddl', 1)",
    );
    assert!(
        matches!(&err, ApplyError::ShapeChanged { table, .. } if table == "public.metrics"),
        "{err}"
    );
    assert!(err.to_string().contains("extra"), "{err}");
    assert_eq!(rows(&mut dst), source_rows, "nothing of either was applied");
    assert_eq!(readings(&mut dst).len(), 3);
    // The guard drops the slot and the publication.
}
