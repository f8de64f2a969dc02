//! The applier's pipelined statements (src/live/apply.rs), on the full pair (PG17 +
//! 2.19.3 → PG18 + 2.29.2): updates, moves and deletes between COPY runs are sent
//! without waiting for each answer, in waves of 512. One source transaction updates
//! each of 300 rows three times (900 updates: two waves and a part), changes the key
//! of some rows after updating them (moves), and deletes others: the
//! target must end equal to the source, so every statement ran in stream order.
//! Then the same stream applied to a target that lacks one row stops with
//! `RowMissing` naming the table and commits nothing: neither the statements sent
//! after the failing one nor the journal.

mod common;

use hypermove::live::mapping::{Mapping, MovedTable};
use hypermove::live::{Applier, ApplyError, ReplicationConn, STREAM_OPTIONS};
use hypermove::pg::{ConnInfo, QualifiedName};
use postgres::Client;
use tokio::runtime::Runtime;

const SRC: u16 = common::FULL_SOURCE_PORT;
const DST: u16 = common::FULL_TARGET_PORT;
const DB: &str = "hm_live_pipeline";
const SLOT: &str = "hm_live_pipeline_slot";
const PUBLICATION: &str = "hm_live_pipeline_pub";
const FENCE: &str = "hm_live_pipeline-fence";
const FINGERPRINT: &str = "hm_live_pipeline-spec";

/// The same table and rows on both sides (written before the slot: not streamed).
const TABLE: &str = "
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE metrics (id int NOT NULL, time timestamptz NOT NULL, v float8, note text,
                      PRIMARY KEY (id, time));
SELECT create_hypertable('metrics', by_range('time', interval '1 day'));
INSERT INTO metrics
SELECT i, '2026-01-01 00:00+00'::timestamptz + i * interval '10 minutes', i, 'n' || i
  FROM generate_series(1, 300) i;
";

/// One transaction: three updates of every row (the last value wins only in
/// order), a key change of every tenth row after its updates (a DELETE + INSERT
/// on the target), a delete
/// of every seventh row, an insert between (a COPY run that ends a statement run).
const CHANGES: &str = "
BEGIN;
UPDATE metrics SET v = 1000 + id;
UPDATE metrics SET v = 2000 + id, note = 'second';
INSERT INTO metrics VALUES (1000, '2026-01-03 00:00+00', 1, 'inserted');
UPDATE metrics SET v = 3000 + id WHERE id <= 300;
UPDATE metrics SET time = time + interval '1 minute' WHERE id % 10 = 0 AND id <= 300;
DELETE FROM metrics WHERE id % 7 = 0;
COMMIT;
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

fn mapping() -> Mapping {
    Mapping::new([(
        QualifiedName::new("public", "metrics"),
        MovedTable {
            target: QualifiedName::new("public", "metrics"),
            columns: ["id", "time", "v", "note"].map(String::from).to_vec(),
            routing: vec!["time".to_string()],
        },
    )])
}

#[test]
fn pipelined_statements_apply_in_stream_order_and_fail_whole() {
    let _cleanup = common::live::SlotGuard::fresh(DB, SLOT, PUBLICATION);
    let mut src = common::fresh_db(SRC, DB);
    src.batch_execute(TABLE).expect("source table");
    src.batch_execute(&format!(
        "CREATE PUBLICATION {PUBLICATION} FOR TABLES IN SCHEMA _timescaledb_internal, public"
    ))
    .expect("publication");
    let mut dst = common::fresh_db(DST, DB);
    dst.batch_execute(TABLE).expect("target table");

    let rt = Runtime::new().expect("tokio runtime");
    let options = STREAM_OPTIONS.replace(' ', "%20").replace('=', "%3D");
    let info =
        ConnInfo::parse(&format!("{}?options={options}", common::url(SRC, DB))).expect("conninfo");
    let mut repl = rt
        .block_on(ReplicationConn::connect(&info, None, "hm_live_pipeline"))
        .expect("replication connection");
    let slot = rt.block_on(repl.create_slot(SLOT)).expect("create slot");
    src.batch_execute(CHANGES).expect("changes");
    src.execute("SELECT pg_logical_emit_message(true, $1, 'end')", &[&FENCE])
        .expect("fence");
    let mut stream = rt
        .block_on(repl.start_replication(SLOT, slot.consistent_point, &[PUBLICATION]))
        .expect("START_REPLICATION");
    let msgs = common::live::collect_to_fence(&rt, &mut stream, FENCE);

    let source = common::live::tokio_client(&rt, SRC, DB);
    let mut target = common::live::tokio_client(&rt, DST, DB);

    // A target without row 150: the statements that reach it fail; nothing commits.
    let before = {
        dst.batch_execute("DELETE FROM metrics WHERE id = 150")
            .expect("diverge");
        rows(&mut dst)
    };
    let mut applier = rt
        .block_on(Applier::open(&target, FINGERPRINT, SLOT, mapping()))
        .expect("open applier");
    let err = rt
        .block_on(applier.apply(&source, &mut target, &msgs))
        .expect_err("a missing row stops the applier");
    assert!(
        matches!(&err, ApplyError::RowMissing { table, op } if table == "public.metrics" && *op == "update"),
        "{err}"
    );
    assert_eq!(rows(&mut dst), before, "nothing of the batch is committed");
    assert_eq!(applier.position(), None, "no position recorded");

    // The row back: the same applier applies the whole stream, in order.
    dst.batch_execute(
        "INSERT INTO metrics VALUES (150, '2026-01-01 00:00+00'::timestamptz + 150 * interval '10 minutes', 150, 'n150')",
    )
    .expect("restore the row");
    let applied = rt
        .block_on(applier.apply(&source, &mut target, &msgs))
        .expect("apply");
    // 900 updates, 30 moves, 43 deletes (every seventh of 1..300, and not 1000).
    assert_eq!(
        (applied.copied, applied.statements, applied.moves),
        (1, 900 + 30 + 42, 30),
        "{applied:?}"
    );
    let source_rows = rows(&mut src);
    assert_eq!(rows(&mut dst), source_rows, "the target equals the source");
    assert!(
        source_rows
            .iter()
            .any(|r| r.starts_with("10|2026-01-01 01:41:00|3010|"))
    );
}
