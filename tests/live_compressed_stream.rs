//! Changes on compressed chunks in the stream, without the binary (docs/live.md,
//! sections 6 and 7). On TimescaleDB 2.29.2 (55428), rows written straight into a
//! compressed chunk (`timescaledb.enable_direct_compress_insert`) come
//! without markers; the compressed chunk maps to its hypertable through
//! TimescaleDB's catalog (it has no pg_inherits parent) and the applier stops
//! naming the hypertable and the chunk. On 2.19.3 (55427), a DELETE on the
//! segmentby column with direct batch deletes on streams an empty decompression
//! span: the applier stops naming the hypertable.

mod common;

use bytes::Bytes;
use hypermove::live::mapping::{Mapped, Mapping, MovedTable};
use hypermove::live::pgoutput::{self, PgOutput};
use hypermove::live::{Applier, ApplyError};
use hypermove::pg::QualifiedName;
use postgres::Client;
use tokio::runtime::Runtime;

use common::{FULL_SOURCE_PORT as SRC, FULL_TARGET_PORT as DST};

const DIRECT_DB: &str = "hm_livecomp_direct";
const SPAN_DB: &str = "hm_livecomp_span";
const SETTING: &str = "timescaledb.enable_compressed_direct_batch_delete";

/// A pgoutput slot and publication made with SQL on one server, dropped however the
/// test ends (slots are cluster-wide: the name carries the file's prefix).
struct SqlSlot {
    port: u16,
    db: &'static str,
    slot: String,
}

impl SqlSlot {
    fn create(port: u16, db: &'static str, tables: &str) -> Self {
        let slot = format!("{db}_slot");
        let guard = Self { port, db, slot };
        guard.drop_now();
        let mut c = common::connect(port, db);
        c.batch_execute(&format!(
            "CREATE PUBLICATION {db}_pub FOR TABLE {tables}, TABLES IN SCHEMA _timescaledb_internal"
        ))
        .expect("publication");
        c.execute(
            "SELECT pg_create_logical_replication_slot($1, 'pgoutput')",
            &[&guard.slot],
        )
        .expect("slot");
        guard
    }

    /// Every message the slot holds, decoded (consumed).
    fn changes(&self, c: &mut Client) -> Vec<PgOutput> {
        c.query(
            "SELECT data FROM pg_logical_slot_get_binary_changes($1, NULL, NULL,
               'proto_version', '1', 'publication_names', $2, 'messages', 'true')",
            &[&self.slot, &format!("{}_pub", self.db)],
        )
        .expect("changes")
        .iter()
        .map(|r| pgoutput::decode(Bytes::from(r.get::<_, Vec<u8>>(0))).expect("decodes"))
        .collect()
    }

    fn drop_now(&self) {
        let mut admin = common::connect(self.port, "postgres");
        let _ = admin.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
              WHERE slot_name = $1",
            &[&self.slot],
        );
    }
}

impl Drop for SqlSlot {
    fn drop(&mut self) {
        self.drop_now();
    }
}

fn readings_mapping() -> Mapping {
    Mapping::new([(
        QualifiedName::new("public", "readings"),
        MovedTable {
            target: QualifiedName::new("public", "readings"),
            columns: ["time", "device", "v"].map(String::from).to_vec(),
            routing: vec!["time".to_string()],
        },
    )])
}

const READINGS: &str = "
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE readings (time timestamptz NOT NULL, device int NOT NULL, v float8);
SELECT create_hypertable('readings', by_range('time', interval '1 day'));
ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'device',
                          timescaledb.compress_orderby = 'time');
";

/// Apply the messages with a fresh applier whose target is the same database (the
/// error comes from the plan, before anything is written).
fn apply(rt: &Runtime, port: u16, db: &str, msgs: &[PgOutput]) -> Result<(), ApplyError> {
    let source = common::live::tokio_client(rt, port, db);
    let mut target = common::live::tokio_client(rt, port, db);
    rt.block_on(async {
        let mut applier = Applier::open(&target, "hm_livecomp", "hm_livecomp", readings_mapping())
            .await
            .expect("applier");
        applier.apply(&source, &mut target, msgs).await.map(|_| ())
    })
}

#[test]
fn compressed_chunks_map_to_their_hypertable_and_unmarked_changes_stop_the_applier() {
    let rt = Runtime::new().expect("runtime");

    // 2.29.2: direct compress of INSERT writes compressed batches with no marker.
    let mut c = common::fresh_db(DST, DIRECT_DB);
    c.batch_execute(READINGS).expect("setup");
    let slot = SqlSlot::create(DST, DIRECT_DB, "readings");
    c.batch_execute(
        "SET timescaledb.enable_direct_compress_insert = on;
         INSERT INTO readings SELECT t, d, 1 FROM generate_series('2026-03-01'::timestamptz,
           '2026-03-02', '1 minute') t, generate_series(1, 3) d;",
    )
    .expect("direct compress insert");
    let compressed_chunk = common::scalar(
        &mut c,
        "SELECT compress_relid::regclass::text FROM _timescaledb_catalog.compression_settings
          WHERE compress_relid IS NOT NULL ORDER BY 1 LIMIT 1",
    );
    let msgs = slot.changes(&mut c);
    assert!(
        !msgs.iter().any(|m| matches!(m, PgOutput::Message(_))),
        "direct compress writes no marker"
    );
    assert!(
        msgs.iter().any(
            |m| matches!(m, PgOutput::Insert(i) if relation_name(&msgs, i.relation).ends_with("_compressed"))
        ),
        "rows go straight into a compressed chunk"
    );
    // The compressed chunk has no pg_inherits parent; the catalog maps it.
    let oid: u32 = c
        .query_one(&format!("SELECT '{compressed_chunk}'::regclass::oid"), &[])
        .expect("oid")
        .get(0);
    let parents: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_inherits WHERE inhrelid = $1",
            &[&oid],
        )
        .expect("parents")
        .get(0);
    assert_eq!(parents, 0, "{compressed_chunk} has no pg_inherits parent");
    let source = common::live::tokio_client(&rt, DST, DIRECT_DB);
    let mut mapping = readings_mapping();
    let mapped = rt
        .block_on(mapping.resolve(&source, oid))
        .expect("resolve")
        .clone();
    assert!(
        matches!(&mapped, Mapped::Compressed(t) if t.target.to_string() == "public.readings"),
        "{mapped:?}"
    );
    let err = apply(&rt, DST, DIRECT_DB, &msgs).unwrap_err();
    assert!(
        matches!(&err, ApplyError::CompressedChunkChange { table, relation }
            if table == "public.readings" && relation.ends_with("_compressed")),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("enable_direct_compress_insert") && text.contains("the follower stops"),
        "{text}"
    );
    drop(slot);

    // 2.19.3: a DELETE on the segmentby column with direct batch deletes on: an empty
    // decompression span, which names no table; the moved compressed one is named.
    let mut c = common::fresh_db(SRC, SPAN_DB);
    c.batch_execute(READINGS).expect("setup");
    c.batch_execute(
        "ALTER TABLE readings REPLICA IDENTITY FULL;
         INSERT INTO readings SELECT t, d, 1 FROM generate_series('2026-03-01'::timestamptz,
           '2026-03-02 23:00', '1 hour') t, generate_series(1, 3) d;
         SELECT count(compress_chunk(ch)) FROM show_chunks('readings') ch;",
    )
    .expect("rows, compressed");
    let compressed_chunk = common::scalar(
        &mut c,
        "SELECT compress_relid::regclass::text FROM _timescaledb_catalog.compression_settings
          WHERE compress_relid IS NOT NULL ORDER BY 1 LIMIT 1",
    );
    let oid: u32 = c
        .query_one(&format!("SELECT '{compressed_chunk}'::regclass::oid"), &[])
        .expect("oid")
        .get(0);
    let source = common::live::tokio_client(&rt, SRC, SPAN_DB);
    let mut mapping = readings_mapping();
    let mapped = rt
        .block_on(mapping.resolve(&source, oid))
        .expect("resolve")
        .clone();
    assert!(
        matches!(&mapped, Mapped::Compressed(t) if t.target.to_string() == "public.readings"),
        "2.19: {mapped:?}"
    );
    let slot = SqlSlot::create(SRC, SPAN_DB, "readings");
    c.batch_execute(&format!(
        "SET {SETTING} = on; DELETE FROM readings WHERE device = 1"
    ))
    .expect("direct batch delete");
    let msgs = slot.changes(&mut c);
    let err = apply(&rt, SRC, SPAN_DB, &msgs).unwrap_err();
    assert!(
        matches!(&err, ApplyError::DirectBatchDelete { tables, .. } if tables == &["public.readings"]),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("public.readings: compressed batches were deleted whole"),
        "{err}"
    );
    let left: i64 = c
        .query_one("SELECT count(*) FROM readings WHERE device = 1", &[])
        .expect("count")
        .get(0);
    assert_eq!(left, 0, "the source did delete the rows");
}

/// The name of a relation as its `Relation` message gave it.
fn relation_name(msgs: &[PgOutput], oid: u32) -> String {
    msgs.iter()
        .find_map(|m| match m {
            PgOutput::Relation(r) if r.oid == oid => Some(format!("{}.{}", r.namespace, r.name)),
            _ => None,
        })
        .unwrap_or_default()
}
