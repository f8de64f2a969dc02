//! Live moves, groundwork (src/live) on the full PG17 + TimescaleDB 2.19.3 server:
//! a slot created with an exported snapshot splits history exactly (the snapshot
//! holds what came before, the stream what came after), the stream decodes into the
//! very changes that ran, a chunk created after the slot arrives through a
//! `FOR TABLES IN SCHEMA` publication and maps to its hypertable through
//! pg_inherits, TimescaleDB's own compression and decompression changes sit between
//! its logical markers, a direct batch delete shows as an empty decompression span
//! (the hazard the follower must stop on), confirmed positions reach the slot, and
//! a restarted stream resumes after the confirmed position without replaying.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hypermove::live::pgoutput::{self, Datum, OldTuple, PgOutput, Tuple};
use hypermove::live::shape::{Relations, ShapeChange};
use hypermove::live::timescale::{Maintenance, Marker, Markers, Span};
use hypermove::live::{Lsn, ReplicationConn, ReplicationData, ReplicationStream};
use hypermove::pg::{ConnInfo, quote_literal};
use postgres::{Client, IsolationLevel};
use tokio::runtime::Runtime;

const PORT: u16 = common::FULL_SOURCE_PORT;
const DB: &str = "hm_live_stream";
/// Slots are cluster-wide: the name carries the test file's prefix too.
const SLOT: &str = "hm_live_stream_slot";
const PUBLICATION: &str = "hm_live_stream_pub";
const FENCE: &str = "hm_live_stream-fence";

/// A table, and a hypertable of 1-day chunks compressed by device: 48 hourly rows
/// over two days (device = hour % 2, v = hour), so two chunks exist before the slot.
/// The publication covers the chunk schema and the tables' schema, so chunks made
/// later are in it without any ALTER PUBLICATION.
const SETUP: &str = "
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE plain (id int PRIMARY KEY, v text);
CREATE TABLE metrics (ts timestamptz NOT NULL, device int NOT NULL, v float8,
                      PRIMARY KEY (device, ts));
SELECT create_hypertable('metrics', by_range('ts', interval '1 day'));
ALTER TABLE metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');
INSERT INTO plain VALUES (1, 'a'), (2, 'b');
INSERT INTO metrics
SELECT '2026-01-01 00:00+00'::timestamptz + i * interval '1 hour', i % 2, i
  FROM generate_series(0, 47) i;
CREATE PUBLICATION hm_live_stream_pub FOR TABLES IN SCHEMA _timescaledb_internal, public;
";

/// Each statement runs in its own transaction, after the slot exists.
const WRITES: &[&str] = &[
    "UPDATE plain SET v = 'changed' WHERE id = 1",
    "DELETE FROM plain WHERE id = 2",
    "INSERT INTO metrics VALUES ('2026-01-01 00:30+00', 7, 0.5)",
    "UPDATE metrics SET v = -1 WHERE device = 1 AND ts = '2026-01-01 01:00+00'",
    "DELETE FROM metrics WHERE device = 0 AND ts = '2026-01-01 02:00+00'",
    // A new chunk, created after the slot and the publication.
    "INSERT INTO metrics VALUES ('2026-01-10 00:00+00', 1, 1.5)",
    // Compress the second day's chunk: TimescaleDB's own inserts into the compressed chunk.
    "SELECT compress_chunk(format('%I.%I', chunk_schema, chunk_name)::regclass)
       FROM timescaledb_information.chunks
      WHERE hypertable_name = 'metrics' AND range_start = '2026-01-02 00:00+00'",
    // DML on the compressed chunk: device 1's batch is decompressed first.
    "UPDATE metrics SET v = 42 WHERE device = 1 AND ts = '2026-01-02 03:00+00'",
    // Only a segmentby predicate: device 0's compressed batch is deleted whole, and
    // the day-1 rows of device 0 (uncompressed) one by one.
    "DELETE FROM metrics WHERE device = 0",
    "TRUNCATE plain",
];

/// One row change as the test compares it.
#[derive(Debug)]
struct Change {
    kind: &'static str,
    relation: u32,
    values: String,
}

/// One source transaction as the stream delivered it.
#[derive(Debug, Default)]
struct Txn {
    /// Changes outside TimescaleDB's markers: what the application did.
    user: Vec<Change>,
    /// Changes between markers: TimescaleDB moving rows.
    maintenance: Vec<Change>,
    /// The marker spans, in the order they closed.
    spans: Vec<Span>,
    /// Whether it carried the fence message.
    fence: bool,
}

fn render(t: &Tuple) -> String {
    let cols: Vec<String> =
        t.0.iter()
            .map(|d| match d {
                Datum::Null => "NULL".to_string(),
                Datum::UnchangedToast => "TOAST".to_string(),
                Datum::Text(_) => d.as_text().expect("UTF-8").to_string(),
                Datum::Binary(b) => hex::encode(b),
            })
            .collect();
    cols.join("|")
}

fn old(o: &OldTuple) -> String {
    match o {
        OldTuple::Key(t) => format!("key {}", render(t)),
        OldTuple::Full(t) => format!("row {}", render(t)),
    }
}

/// Read the stream until the transaction that carries the fence has committed,
/// confirming each commit's end as if the target had applied it.
fn collect(
    rt: &Runtime,
    stream: &mut ReplicationStream,
    relations: &mut Relations,
) -> (Vec<Txn>, Lsn) {
    let mut txns = Vec::new();
    let mut txn = Txn::default();
    let mut markers = Markers::new();
    let mut confirmed = Lsn::ZERO;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let data = rt
            .block_on(async { tokio::time::timeout(left, stream.recv()).await })
            .expect("the fence arrives within a minute")
            .expect("stream")
            .expect("the server keeps streaming");
        let payload = match data {
            ReplicationData::Keepalive {
                reply_requested, ..
            } => {
                if reply_requested {
                    rt.block_on(stream.send_status(confirmed, false))
                        .expect("status");
                }
                continue;
            }
            ReplicationData::XLogData { data, .. } => data,
        };
        let mut change = |kind, relation, values| {
            let c = Change {
                kind,
                relation,
                values,
            };
            if markers.change() {
                txn.maintenance.push(c);
            } else {
                txn.user.push(c);
            }
        };
        match pgoutput::decode(payload).expect("decodes") {
            PgOutput::Begin(_) => {}
            PgOutput::Relation(rel) => {
                let name = format!("{}.{}", rel.namespace, rel.name);
                let seen = relations.observe(rel);
                assert!(
                    !matches!(seen, ShapeChange::Changed { .. }),
                    "no DDL ran, yet {name} changed shape: {seen:?}"
                );
            }
            PgOutput::Type(_) | PgOutput::Origin(_) => {}
            PgOutput::Insert(i) => change("insert", i.relation, render(&i.new)),
            PgOutput::Update(u) => {
                let before = u.old.as_ref().map(|o| format!("{} -> ", old(o)));
                change(
                    "update",
                    u.relation,
                    format!("{}{}", before.unwrap_or_default(), render(&u.new)),
                )
            }
            PgOutput::Delete(d) => change("delete", d.relation, old(&d.old)),
            PgOutput::Truncate(t) => {
                for rel in t.relations {
                    change("truncate", rel, String::new());
                }
            }
            PgOutput::Message(m) => {
                if let Some(marker) = Marker::from_prefix(&m.prefix) {
                    if let Some(span) = markers.marker(marker).expect("markers pair up") {
                        txn.spans.push(span);
                    }
                } else if m.prefix == FENCE {
                    txn.fence = true;
                }
            }
            PgOutput::Commit(c) => {
                markers.commit().expect("no span left open");
                confirmed = c.end_lsn;
                rt.block_on(stream.send_status(confirmed, false))
                    .expect("status");
                let done = txn.fence;
                txns.push(std::mem::take(&mut txn));
                if done {
                    return (txns, confirmed);
                }
            }
        }
    }
}

/// What a relation of the stream is, through pg_inherits and TimescaleDB's catalog
/// (never its name): `chunk of public.metrics`, `compressed chunk of public.metrics`,
/// or `table public.plain`.
fn mapped(src: &mut Client, oid: u32) -> String {
    let sql = "
WITH rel AS (SELECT $1::int8::oid AS oid),
qualified AS (
  SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace),
parent AS (
  SELECT q.oid, q.name FROM pg_inherits i JOIN rel ON i.inhrelid = rel.oid
    JOIN qualified q ON q.oid = i.inhparent)
SELECT coalesce(
  (SELECT 'compressed chunk of ' || format('%I.%I', u.schema_name, u.table_name)
     FROM _timescaledb_catalog.hypertable u
     JOIN _timescaledb_catalog.hypertable z ON z.id = u.compressed_hypertable_id
     JOIN parent ON parent.name = format('%I.%I', z.schema_name, z.table_name)),
  (SELECT 'chunk of ' || name FROM parent),
  (SELECT 'table ' || q.name FROM qualified q JOIN rel ON rel.oid = q.oid))";
    src.query_one(sql, &[&i64::from(oid)])
        .expect("map relation")
        .get::<_, Option<String>>(0)
        .unwrap_or_else(|| format!("unknown relation {oid}"))
}

/// The relations of the moved tables, as `mapped` names them.
const MOVED: &[&str] = &[
    "table public.plain",
    "chunk of public.metrics",
    "compressed chunk of public.metrics",
];

/// The client-side filter a follower applies to a `FOR TABLES IN SCHEMA`
/// publication: keep the changes of moved tables (TimescaleDB's background jobs
/// also write to `_timescaledb_internal`), then the transactions left with
/// something in them; each kept one with its user changes as `kind owner values`,
/// sorted (the order inside one statement follows the scan, which the test does
/// not pin).
fn moved_only(src: &mut Client, txns: Vec<Txn>) -> (Vec<Txn>, Vec<Vec<String>>) {
    let mut kept = Vec::new();
    let mut described = Vec::new();
    for mut txn in txns {
        let mut lines = Vec::new();
        let mut user = Vec::new();
        for c in txn.user {
            let owner = mapped(src, c.relation);
            if !MOVED.contains(&owner.as_str()) {
                continue;
            }
            let short = owner
                .strip_prefix("chunk of ")
                .or_else(|| owner.strip_prefix("table "))
                .unwrap_or(&owner);
            lines.push(
                format!("{} {short} {}", c.kind, c.values)
                    .trim_end()
                    .to_string(),
            );
            user.push(c);
        }
        txn.user = user;
        let mut maintenance = std::mem::take(&mut txn.maintenance);
        maintenance.retain(|c| MOVED.contains(&mapped(src, c.relation).as_str()));
        txn.maintenance = maintenance;
        if txn.user.is_empty() && txn.maintenance.is_empty() && txn.spans.is_empty() && !txn.fence {
            continue;
        }
        lines.sort();
        described.push(lines);
        kept.push(txn);
    }
    (kept, described)
}

fn confirmed_flush(admin: &mut Client) -> Lsn {
    let text: String = admin
        .query_one(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
            &[&SLOT],
        )
        .expect("slot exists")
        .get(0);
    text.parse().expect("pg_lsn")
}

#[test]
fn slot_snapshot_and_stream_split_history_exactly() {
    let _cleanup = common::live::SlotGuard::fresh(DB, SLOT, PUBLICATION);
    let mut src = common::fresh_db(PORT, DB);
    src.batch_execute(SETUP).expect("setup");
    let chunks_before: BTreeSet<u32> = src
        .query("SELECT c::oid FROM show_chunks('metrics') c", &[])
        .expect("chunks")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(chunks_before.len(), 2);

    let rt = Runtime::new().expect("tokio runtime");
    // Timestamps stream in the walsender's TimeZone: pin it so the texts compare.
    let url = format!("{}?options=-c%20TimeZone%3DUTC", common::url(PORT, DB));
    let info = ConnInfo::parse(&url).expect("conninfo");
    let mut repl = rt
        .block_on(ReplicationConn::connect(&info, None, "hm_live_stream"))
        .expect("replication connection");
    assert!(repl.server_version().expect("reported").starts_with("17"));
    let system = rt
        .block_on(repl.identify_system())
        .expect("IDENTIFY_SYSTEM");
    assert_eq!(system.dbname.as_deref(), Some(DB));
    let slot = rt.block_on(repl.create_slot(SLOT)).expect("create slot");
    assert_eq!(
        (slot.slot_name.as_str(), slot.output_plugin.as_str()),
        (SLOT, "pgoutput")
    );
    assert!(slot.consistent_point >= system.xlogpos);

    // Written after the slot, before anyone reads the snapshot: only the stream has it.
    src.batch_execute("INSERT INTO plain VALUES (100, 'after-slot')")
        .expect("insert after the slot");
    let mut reader = common::connect(PORT, DB);
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
    let plain: String = snap
        .query_one(
            "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM plain",
            &[],
        )
        .expect("read plain")
        .get(0);
    assert_eq!(
        plain, "1=a,2=b",
        "the snapshot holds what came before the slot only"
    );
    let metrics: i64 = snap
        .query_one("SELECT count(*) FROM metrics", &[])
        .expect("read metrics")
        .get(0);
    assert_eq!(metrics, 48);
    snap.commit().expect("end snapshot transaction");

    for sql in WRITES {
        src.batch_execute(sql).expect(sql);
    }
    src.execute("SELECT pg_logical_emit_message(true, $1, 'end')", &[&FENCE])
        .expect("fence");

    let mut stream = rt
        .block_on(repl.start_replication(SLOT, slot.consistent_point, &[PUBLICATION]))
        .expect("START_REPLICATION");
    let mut relations = Relations::new();
    let (txns, last_end) = collect(&rt, &mut stream, &mut relations);
    let (txns, user) = moved_only(&mut src, txns);
    let day1_device0_deletes: Vec<String> = {
        let mut v: Vec<String> = (0..24)
            .filter(|h| h % 2 == 0 && *h != 2)
            .map(|h| format!("delete public.metrics key 2026-01-01 {h:02}:00:00+00|0|NULL"))
            .collect();
        v.sort();
        v
    };
    let expected: Vec<Vec<String>> = vec![
        vec!["insert public.plain 100|after-slot".into()],
        vec!["update public.plain 1|changed".into()],
        vec!["delete public.plain key 2|NULL".into()],
        vec!["insert public.metrics 2026-01-01 00:30:00+00|7|0.5".into()],
        vec!["update public.metrics 2026-01-01 01:00:00+00|1|-1".into()],
        vec!["delete public.metrics key 2026-01-01 02:00:00+00|0|NULL".into()],
        vec!["insert public.metrics 2026-01-10 00:00:00+00|1|1.5".into()],
        vec![],
        vec!["update public.metrics 2026-01-02 03:00:00+00|1|42".into()],
        day1_device0_deletes,
        vec!["truncate public.plain".into()],
        vec![],
    ];
    assert_eq!(
        user, expected,
        "the user's changes, transaction by transaction"
    );
    assert!(txns.last().expect("fence transaction").fence);

    // The new chunk: created after the slot, reached through the schema publication,
    // mapped to its hypertable by pg_inherits.
    let new_chunk = txns[6].user[0].relation;
    assert!(
        !chunks_before.contains(&new_chunk),
        "a chunk made after the slot"
    );
    assert_eq!(mapped(&mut src, new_chunk), "chunk of public.metrics");
    let rel = relations
        .get(new_chunk)
        .expect("described before its change");
    assert_eq!(rel.namespace, "_timescaledb_internal");

    // compress_chunk: one compression span, its inserts all into the compressed chunk
    // (one batch per device); nothing outside the span.
    let compress = &txns[7];
    assert_eq!(
        compress.spans,
        vec![Span {
            kind: Maintenance::Compression,
            changes: 2,
            nested: false
        }]
    );
    for c in &compress.maintenance {
        assert_eq!(c.kind, "insert");
        assert_eq!(
            mapped(&mut src, c.relation),
            "compressed chunk of public.metrics"
        );
    }

    // UPDATE on compressed data: device 1's batch of the day (12 rows) comes back as
    // inserts into the chunk inside a decompression span; the update itself is outside.
    let update = &txns[8];
    assert_eq!(
        update.spans,
        vec![Span {
            kind: Maintenance::Decompression,
            changes: 12,
            nested: false
        }]
    );
    assert_eq!(update.maintenance.len(), 12);
    for c in &update.maintenance {
        assert_eq!(c.kind, "insert");
        assert_eq!(mapped(&mut src, c.relation), "chunk of public.metrics");
    }

    // DELETE by segmentby only: the compressed batch of device 0 is deleted whole. The
    // stream shows an empty decompression span and no row deletes for its 12 rows:
    // a follower must stop here, or the target keeps rows the source no longer has.
    let delete = &txns[9];
    assert_eq!(delete.spans.len(), 1);
    assert!(delete.spans[0].empty_decompression());
    assert!(delete.maintenance.is_empty());
    let gone: i64 = src
        .query_one("SELECT count(*) FROM metrics WHERE device = 0", &[])
        .expect("count")
        .get(0);
    assert_eq!(gone, 0, "the source lost all of device 0, day 2 included");

    // The confirmed position reached the slot: ask for a reply and wait for it.
    rt.block_on(stream.send_status(last_end, true))
        .expect("status");
    let deadline = Instant::now() + Duration::from_secs(10);
    while confirmed_flush(&mut src) < last_end {
        assert!(
            Instant::now() < deadline,
            "the slot never took the confirmation"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(confirmed_flush(&mut src), last_end);

    // A walsender streams a logical slot once: the same connection refuses to start
    // again (PostgreSQL would end the second stream at once, with no data).
    let repl = rt.block_on(stream.finish()).expect("end streaming");
    let refused = rt
        .block_on(repl.start_replication(SLOT, last_end, &[PUBLICATION]))
        .expect_err("a second stream on one connection");
    assert!(
        refused.to_string().contains("already streamed once"),
        "{refused}"
    );

    // Restart on a new connection from the slot's *first* position, as a follower
    // that lost its place would: the server resumes after the confirmed position,
    // so nothing replays.
    src.batch_execute("INSERT INTO plain VALUES (200, 'after-restart')")
        .expect("insert after the restart");
    src.execute(
        "SELECT pg_logical_emit_message(true, $1, 'again')",
        &[&FENCE],
    )
    .expect("second fence");
    let repl = rt
        .block_on(ReplicationConn::connect(&info, None, "hm_live_stream"))
        .expect("second replication connection");
    let mut stream = rt
        .block_on(repl.start_replication(SLOT, slot.consistent_point, &[PUBLICATION]))
        .expect("START_REPLICATION again");
    let (again, _) = collect(&rt, &mut stream, &mut relations);
    let (_, user) = moved_only(&mut src, again);
    assert_eq!(
        user,
        vec![
            vec!["insert public.plain 200|after-restart".to_string()],
            vec![]
        ],
        "only what came after the confirmed position"
    );

    // The connection takes commands again after the stream: drop the slot with it.
    let mut repl = rt.block_on(stream.finish()).expect("end streaming");
    rt.block_on(repl.drop_slot(SLOT))
        .expect("DROP_REPLICATION_SLOT");
    let left: i64 = src
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1",
            &[&SLOT],
        )
        .expect("slots")
        .get(0);
    assert_eq!(left, 0, "the slot is gone");
    rt.block_on(repl.close());
}
