//! The pure parts of the applier: COPY text escaping, COPY runs, skip rules,
//! exactly-once by position, and the stop conditions.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::*;
use crate::live::pgoutput::{
    Begin, Commit, Delete, Insert, LogicalMessage, RelationColumn, Truncate, Update,
};
use crate::pg::QualifiedName;

const METRICS: u32 = 100;
const METRICS_CHUNK: u32 = 101;
const OTHER: u32 = 200;
const COMPRESSED: u32 = 300;
const EVENTS: u32 = 400;
const GONE: u32 = 500;

fn table(name: &str, columns: &[&str], routing: &[&str]) -> Arc<MovedTable> {
    Arc::new(MovedTable {
        target: QualifiedName::new("public", name),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        routing: routing.iter().map(|c| c.to_string()).collect(),
    })
}

struct Fixture {
    metrics: Arc<MovedTable>,
    mapping: Mapping,
}

fn fixture() -> Fixture {
    let metrics = table("metrics", &["id", "time", "v"], &["time", "id"]);
    let events = table("events", &["id", "note"], &["id"]);
    let mapping = Mapping::with_oids([
        (METRICS, Mapped::Moved(metrics.clone())),
        (METRICS_CHUNK, Mapped::Moved(metrics.clone())),
        (OTHER, Mapped::NotMoved),
        (COMPRESSED, Mapped::Compressed(metrics.clone())),
        (EVENTS, Mapped::Moved(events)),
        (GONE, Mapped::Gone),
    ]);
    Fixture { metrics, mapping }
}

fn relation(oid: u32, columns: &[(&str, bool)]) -> PgOutput {
    PgOutput::Relation(Relation {
        oid,
        namespace: "_timescaledb_internal".into(),
        name: format!("rel_{oid}"),
        replica_identity: b'd',
        columns: columns
            .iter()
            .map(|&(name, key)| RelationColumn {
                key,
                name: name.into(),
                type_oid: 25,
                type_modifier: -1,
            })
            .collect(),
    })
}

fn metrics_rel(oid: u32) -> PgOutput {
    relation(oid, &[("id", true), ("time", true), ("v", false)])
}

fn t(s: &str) -> Datum {
    Datum::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn tuple(vals: &[&str]) -> Tuple {
    Tuple(vals.iter().map(|v| t(v)).collect())
}

fn begin(lsn: u64) -> PgOutput {
    PgOutput::Begin(Begin {
        final_lsn: Lsn(lsn),
        commit_time: 0,
        xid: 1,
    })
}

fn commit(lsn: u64) -> PgOutput {
    PgOutput::Commit(Commit {
        flags: 0,
        commit_lsn: Lsn(lsn),
        end_lsn: Lsn(lsn + 8),
        commit_time: 0,
    })
}

fn insert(oid: u32, vals: &[&str]) -> PgOutput {
    PgOutput::Insert(Insert {
        relation: oid,
        new: tuple(vals),
    })
}

fn marker(prefix: &str) -> PgOutput {
    PgOutput::Message(LogicalMessage {
        transactional: true,
        lsn: Lsn(1),
        prefix: prefix.into(),
        content: Bytes::new(),
    })
}

fn run(f: &Fixture, msgs: &[PgOutput], applied: Option<Lsn>) -> Result<Planned, ApplyError> {
    plan(msgs, applied, &mut Relations::new(), &f.mapping)
}

fn copy_of(op: &Op) -> (&str, usize, &[u8]) {
    match op {
        Op::Copy(r) => (r.table.target.name.as_str(), r.rows, &r.data[..]),
        other => panic!("not a COPY: {other:?}"),
    }
}

#[test]
fn copy_text_escapes_backslash_tab_newline_cr_and_writes_null() {
    let mut out = BytesMut::new();
    copy_text_row(
        &mut out,
        &[
            t("a\\b"),
            t("tab\there"),
            Datum::Null,
            t("line\nnext\r"),
            t("\\."),
        ],
    )
    .unwrap();
    assert_eq!(
        &out[..],
        b"a\\\\b\ttab\\there\t\\N\tline\\nnext\\r\t\\\\.\n".as_slice()
    );
    // UTF-8 and other bytes pass unchanged.
    let mut out = BytesMut::new();
    copy_text_row(&mut out, &[t("é,\"x'")]).unwrap();
    assert_eq!(&out[..], "é,\"x'\n".as_bytes());
    assert_eq!(
        copy_text_row(&mut out, &[Datum::UnchangedToast]),
        Err(BadDatum::Toast)
    );
    assert_eq!(
        copy_text_row(&mut out, &[Datum::Binary(Bytes::new())]),
        Err(BadDatum::Binary)
    );
}

#[test]
fn consecutive_inserts_of_one_table_form_one_copy_run_across_chunks_and_transactions() {
    let f = fixture();
    let msgs = [
        metrics_rel(METRICS_CHUNK),
        metrics_rel(METRICS),
        relation(EVENTS, &[("id", true), ("note", false)]),
        begin(10),
        insert(METRICS_CHUNK, &["1", "t1", "a"]),
        insert(METRICS, &["2", "t2", "b"]),
        commit(10),
        begin(20),
        insert(METRICS_CHUNK, &["3", "t3", "c"]),
        insert(EVENTS, &["1", "x"]),
        insert(METRICS_CHUNK, &["4", "t4", "d"]),
        commit(20),
    ];
    let p = run(&f, &msgs, None).unwrap();
    assert_eq!(p.ops.len(), 3, "{:?}", p.ops);
    assert_eq!(
        copy_of(&p.ops[0]),
        ("metrics", 3, b"1\tt1\ta\n2\tt2\tb\n3\tt3\tc\n".as_slice())
    );
    assert_eq!(copy_of(&p.ops[1]), ("events", 1, b"1\tx\n".as_slice()));
    assert_eq!(copy_of(&p.ops[2]), ("metrics", 1, b"4\tt4\td\n".as_slice()));
    assert_eq!((p.taken, p.skipped, p.last_end), (2, 0, Some(Lsn(28))));
}

#[test]
fn an_update_or_delete_between_inserts_splits_the_run() {
    let f = fixture();
    let msgs = [
        metrics_rel(METRICS_CHUNK),
        begin(10),
        insert(METRICS_CHUNK, &["1", "t1", "a"]),
        PgOutput::Delete(Delete {
            relation: METRICS_CHUNK,
            old: OldTuple::Key(Tuple(vec![t("1"), t("t1"), Datum::Null])),
        }),
        insert(METRICS_CHUNK, &["1", "t1", "b"]),
        commit(10),
    ];
    let p = run(&f, &msgs, None).unwrap();
    assert_eq!(p.ops.len(), 3);
    assert_eq!(
        p.ops[1],
        Op::Delete {
            table: f.metrics.clone(),
            key: Key {
                columns: vec![
                    ("id".into(), Some(Bytes::from("1"))),
                    ("time".into(), Some(Bytes::from("t1")))
                ],
                whole_row: false
            }
        }
    );
}

#[test]
fn updates_stay_updates_unless_the_key_or_a_routing_column_changes() {
    let f = fixture();
    // The key did not change: no old tuple; key columns leave the SET list, and an
    // unchanged TOAST column too.
    let same_key = PgOutput::Update(Update {
        relation: METRICS_CHUNK,
        old: None,
        new: Tuple(vec![t("1"), t("t1"), Datum::UnchangedToast]),
    });
    let changed_value = PgOutput::Update(Update {
        relation: METRICS_CHUNK,
        old: None,
        new: tuple(&["1", "t1", "z"]),
    });
    // The key (time) changed: DELETE + INSERT, the TOAST column from the old row.
    let moved = PgOutput::Update(Update {
        relation: METRICS_CHUNK,
        old: Some(OldTuple::Key(Tuple(vec![t("1"), t("t1"), Datum::Null]))),
        new: Tuple(vec![t("1"), t("t9"), Datum::UnchangedToast]),
    });
    let msgs = [
        metrics_rel(METRICS_CHUNK),
        begin(10),
        same_key,
        changed_value,
        moved,
        commit(10),
    ];
    let p = run(&f, &msgs, None).unwrap();
    assert_eq!(p.ops.len(), 2, "an update that sets nothing is dropped");
    assert_eq!(
        p.ops[0],
        Op::Update {
            table: f.metrics.clone(),
            set: vec![("v".into(), Some(Bytes::from("z")))],
            key: Key {
                columns: vec![
                    ("id".into(), Some(Bytes::from("1"))),
                    ("time".into(), Some(Bytes::from("t1")))
                ],
                whole_row: false
            },
        }
    );
    let Op::Move { key, new, .. } = &p.ops[1] else {
        panic!("a move: {:?}", p.ops[1]);
    };
    assert_eq!(key.columns[1], ("time".into(), Some(Bytes::from("t1"))));
    assert_eq!(
        new[1],
        ("time".into(), NewValue::Set(Some(Bytes::from("t9"))))
    );
    assert_eq!(new[2], ("v".into(), NewValue::KeepOld));
}

#[test]
fn with_replica_identity_full_only_a_changed_routing_column_moves_the_row() {
    let f = fixture();
    let full = relation(METRICS_CHUNK, &[("id", true), ("time", true), ("v", true)]);
    let upd = |new: &[&str]| {
        PgOutput::Update(Update {
            relation: METRICS_CHUNK,
            old: Some(OldTuple::Full(Tuple(vec![t("1"), t("t1"), Datum::Null]))),
            new: tuple(new),
        })
    };
    let msgs = [
        full,
        begin(10),
        upd(&["1", "t1", "v"]),
        upd(&["1", "t2", "v"]),
        commit(10),
    ];
    let p = run(&f, &msgs, None).unwrap();
    let Op::Update { key, .. } = &p.ops[0] else {
        panic!("an update: {:?}", p.ops[0]);
    };
    // The whole old row identifies it, NULL included, and only one row may change.
    assert!(key.whole_row);
    assert_eq!(key.columns.len(), 3);
    assert_eq!(key.columns[2], ("v".into(), None));
    assert!(matches!(p.ops[1], Op::Move { .. }), "{:?}", p.ops[1]);
}

#[test]
fn unmapped_relations_and_compression_spans_are_skipped() {
    let f = fixture();
    let msgs = [
        relation(OTHER, &[("a", true)]),
        relation(GONE, &[("a", true)]),
        metrics_rel(METRICS_CHUNK),
        relation(COMPRESSED, &[("blob", false)]),
        begin(10),
        insert(OTHER, &["1"]),
        insert(GONE, &["1"]),
        marker(crate::live::timescale::DECOMPRESSION_START),
        insert(METRICS_CHUNK, &["1", "t1", "from the batch"]),
        marker(crate::live::timescale::DECOMPRESSION_END),
        marker(crate::live::timescale::COMPRESSION_START),
        insert(COMPRESSED, &["batch"]),
        marker(crate::live::timescale::COMPRESSION_END),
        insert(METRICS_CHUNK, &["2", "t2", "user"]),
        commit(10),
    ];
    let p = run(&f, &msgs, None).unwrap();
    assert_eq!(p.ops.len(), 1);
    assert_eq!(
        copy_of(&p.ops[0]),
        ("metrics", 1, b"2\tt2\tuser\n".as_slice())
    );
    assert_eq!(p.last_end, Some(Lsn(18)));
}

#[test]
fn transactions_the_journal_holds_are_skipped() {
    let f = fixture();
    let msgs = [
        metrics_rel(METRICS_CHUNK),
        begin(10),
        insert(METRICS_CHUNK, &["1", "t1", "a"]),
        commit(10),
        begin(20),
        insert(METRICS_CHUNK, &["2", "t2", "b"]),
        commit(20),
    ];
    // The journal holds the first transaction's end (18).
    let p = run(&f, &msgs, Some(Lsn(18))).unwrap();
    assert_eq!((p.taken, p.skipped, p.last_end), (1, 1, Some(Lsn(28))));
    assert_eq!(copy_of(&p.ops[0]), ("metrics", 1, b"2\tt2\tb\n".as_slice()));
    // Both held: nothing at all, not even a position to write.
    let p = run(&f, &msgs, Some(Lsn(28))).unwrap();
    assert_eq!((p.taken, p.skipped, p.last_end), (0, 2, None));
    assert!(p.ops.is_empty());
    // A truncate already applied (before the journal's position) is not an error.
    let truncate = [
        metrics_rel(METRICS),
        begin(10),
        PgOutput::Truncate(Truncate {
            cascade: false,
            restart_identity: false,
            relations: vec![METRICS],
        }),
        commit(10),
    ];
    assert_eq!(run(&f, &truncate, Some(Lsn(18))).unwrap().skipped, 1);
}

#[test]
fn truncate_ddl_and_compressed_changes_stop_the_applier_by_table() {
    let f = fixture();
    let truncate = [
        metrics_rel(METRICS),
        relation(OTHER, &[("a", true)]),
        begin(10),
        PgOutput::Truncate(Truncate {
            cascade: false,
            restart_identity: false,
            relations: vec![OTHER, METRICS],
        }),
        commit(10),
    ];
    let err = run(&f, &truncate, None).unwrap_err();
    assert!(matches!(&err, ApplyError::Truncate { table } if table == "public.metrics"));

    // The same relation again with a new column: DDL.
    let ddl = [
        metrics_rel(METRICS_CHUNK),
        relation(
            METRICS_CHUNK,
            &[("id", true), ("time", true), ("v", false), ("extra", false)],
        ),
    ];
    let err = run(&f, &ddl, None).unwrap_err();
    assert!(
        matches!(&err, ApplyError::ShapeChanged { table, .. } if table == "public.metrics"),
        "{err}"
    );
    // A first description that does not match the planned columns.
    let err = run(&f, &[relation(METRICS, &[("id", true)])], None).unwrap_err();
    assert!(matches!(err, ApplyError::ColumnsDiffer { .. }), "{err}");

    // A change on a compressed chunk outside the markers.
    let direct = [
        relation(COMPRESSED, &[("blob", false)]),
        begin(10),
        insert(COMPRESSED, &["batch"]),
        commit(10),
    ];
    let err = run(&f, &direct, None).unwrap_err();
    assert!(
        matches!(&err, ApplyError::CompressedChunkChange { table, relation }
            if table == "public.metrics" && relation.ends_with(&COMPRESSED.to_string())),
        "{err}"
    );

    // An empty decompression span: a direct batch delete.
    let batch_delete = [
        begin(10),
        marker(crate::live::timescale::DECOMPRESSION_START),
        marker(crate::live::timescale::DECOMPRESSION_END),
        commit(10),
    ];
    let err = run(&f, &batch_delete, None).unwrap_err();
    // The span names no table: every moved table is a candidate.
    assert!(
        matches!(&err, ApplyError::DirectBatchDelete { tables, .. } if tables.contains(&"public.metrics".to_string())),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("enable_compressed_direct_batch_delete = off"),
        "{err}"
    );
}

#[test]
fn only_whole_transactions_are_planned() {
    let f = fixture();
    let cut = [
        metrics_rel(METRICS_CHUNK),
        begin(10),
        insert(METRICS_CHUNK, &["1", "t", "v"]),
    ];
    assert!(matches!(
        run(&f, &cut, None),
        Err(ApplyError::Unbalanced(_))
    ));
    let outside = [
        metrics_rel(METRICS_CHUNK),
        insert(METRICS_CHUNK, &["1", "t", "v"]),
    ];
    assert!(matches!(
        run(&f, &outside, None),
        Err(ApplyError::Unbalanced(_))
    ));
    // A change before its relation was described or mapped.
    let unknown = [begin(10), insert(999, &["1"]), commit(10)];
    assert!(matches!(
        run(&f, &unknown, None),
        Err(ApplyError::UnknownRelation { oid: 999 })
    ));
}
