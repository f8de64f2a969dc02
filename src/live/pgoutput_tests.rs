//! Byte fixtures captured from PostgreSQL 17 + TimescaleDB 2.19.3 with
//! `pg_logical_slot_get_binary_changes(…, 'proto_version','1', 'messages','true')`,
//! plus a few built by hand for the cases the server rarely sends.

use super::*;

fn hex(s: &str) -> Bytes {
    Bytes::from(hex::decode(s).expect("fixture is hex"))
}

fn text(s: &str) -> Datum {
    Datum::Text(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn begin_and_commit() {
    let begin = decode(hex("4200000005a4b59b0000030423ab6f2d120000728a")).unwrap();
    assert_eq!(
        begin,
        PgOutput::Begin(Begin {
            final_lsn: Lsn(0x5_a4b5_9b00),
            commit_time: 0x0003_0423_ab6f_2d12,
            xid: 0x728a,
        })
    );
    let commit = decode(hex("430000000005a4b59b0000000005a4b59fa800030423ab6f2d12")).unwrap();
    assert_eq!(
        commit,
        PgOutput::Commit(Commit {
            flags: 0,
            commit_lsn: Lsn(0x5_a4b5_9b00),
            end_lsn: Lsn(0x5_a4b5_9fa8),
            commit_time: 0x0003_0423_ab6f_2d12,
        })
    );
}

#[test]
fn relation_with_key_flags_and_types() {
    let rel = decode(hex(
        "520010458c7075626c696300706c61696e006400020169640000000017ffffffff00760000000019ffffffff",
    ))
    .unwrap();
    assert_eq!(
        rel,
        PgOutput::Relation(Relation {
            oid: 0x0010_458c,
            namespace: "public".into(),
            name: "plain".into(),
            replica_identity: b'd',
            columns: vec![
                RelationColumn {
                    key: true,
                    name: "id".into(),
                    type_oid: 23,
                    type_modifier: -1,
                },
                RelationColumn {
                    key: false,
                    name: "v".into(),
                    type_oid: 25,
                    type_modifier: -1,
                },
            ],
        })
    );
}

#[test]
fn type_message_for_timescaledb_compressed_data() {
    let ty = decode(hex(
        "59001042a45f74696d657363616c6564625f696e7465726e616c00636f6d707265737365645f6461746100",
    ))
    .unwrap();
    assert_eq!(
        ty,
        PgOutput::Type(TypeInfo {
            oid: 0x0010_42a4,
            namespace: "_timescaledb_internal".into(),
            name: "compressed_data".into(),
        })
    );
}

#[test]
fn insert_into_a_chunk_keeps_text_values_raw() {
    let ins = decode(hex(
        "49001045af4e00037400000016323032362d30312d31302030303a30303a30302b30307400000001317400000003312e35",
    ))
    .unwrap();
    assert_eq!(
        ins,
        PgOutput::Insert(Insert {
            relation: 0x0010_45af,
            new: Tuple(vec![text("2026-01-10 00:00:00+00"), text("1"), text("1.5")]),
        })
    );
}

#[test]
fn update_without_old_key_and_delete_with_key() {
    let upd = decode(hex(
        "550010459e4e00037400000016323032362d30312d30312030313a30303a30302b303074000000013174000000023939",
    ))
    .unwrap();
    assert_eq!(
        upd,
        PgOutput::Update(Update {
            relation: 0x0010_459e,
            old: None,
            new: Tuple(vec![text("2026-01-01 01:00:00+00"), text("1"), text("99")]),
        })
    );
    let del = decode(hex(
        "440010459e4b00037400000016323032362d30312d30312030303a30303a30302b30307400000001306e",
    ))
    .unwrap();
    assert_eq!(
        del,
        PgOutput::Delete(Delete {
            relation: 0x0010_459e,
            old: OldTuple::Key(Tuple(vec![
                text("2026-01-01 00:00:00+00"),
                text("0"),
                Datum::Null
            ])),
        })
    );
}

#[test]
fn update_with_old_key_full_row_toast_and_binary() {
    // U, relation 7, K (id=1), N (id=2, unchanged toast, binary 0x00ff).
    let mut raw = vec![b'U', 0, 0, 0, 7, b'K', 0, 2, b't', 0, 0, 0, 1, b'1', b'n'];
    raw.extend_from_slice(&[b'N', 0, 3, b't', 0, 0, 0, 1, b'2', b'u']);
    raw.extend_from_slice(&[b'b', 0, 0, 0, 2, 0x00, 0xff]);
    let upd = decode(Bytes::from(raw)).unwrap();
    assert_eq!(
        upd,
        PgOutput::Update(Update {
            relation: 7,
            old: Some(OldTuple::Key(Tuple(vec![text("1"), Datum::Null]))),
            new: Tuple(vec![
                text("2"),
                Datum::UnchangedToast,
                Datum::Binary(Bytes::from_static(&[0x00, 0xff]))
            ]),
        })
    );
    // D with a full old row (REPLICA IDENTITY FULL).
    let del = decode(Bytes::from(vec![
        b'D', 0, 0, 0, 7, b'O', 0, 1, b't', 0, 0, 0, 1, b'x',
    ]))
    .unwrap();
    let PgOutput::Delete(del) = del else {
        panic!("not a delete")
    };
    assert_eq!(del.old, OldTuple::Full(Tuple(vec![text("x")])));
    assert_eq!(del.old.tuple().0[0].as_text(), Some("x"));
}

#[test]
fn truncate_of_a_hypertable_and_its_chunk() {
    // Two relations announced, cut after the first OID.
    let t = decode(hex("54000000020000104593")).err();
    assert!(matches!(t, Some(DecodeError::Truncated { tag: 'T', .. })));
    let t = decode(hex("540000000200001045930010526803")).err();
    assert!(matches!(
        t,
        Some(DecodeError::Trailing { tag: 'T', extra: 1 })
    ));
    let t = decode(hex("5400000002030010459300105268")).unwrap();
    assert_eq!(
        t,
        PgOutput::Truncate(Truncate {
            cascade: true,
            restart_identity: true,
            relations: vec![0x0010_4593, 0x0010_5268],
        })
    );
}

#[test]
fn timescaledb_compression_marker_message() {
    let m = decode(hex(
        "4d0100000005a4b5a0503a3a74696d657363616c6564622d636f6d7072657373696f6e2d73746172740000000000",
    ))
    .unwrap();
    assert_eq!(
        m,
        PgOutput::Message(LogicalMessage {
            transactional: true,
            lsn: Lsn(0x5_a4b5_a050),
            prefix: "::timescaledb-compression-start".into(),
            content: Bytes::new(),
        })
    );
}

#[test]
fn origin_and_message_with_content() {
    let mut raw = vec![b'O'];
    raw.extend_from_slice(&5u64.to_be_bytes());
    raw.extend_from_slice(b"node1\0");
    assert_eq!(
        decode(Bytes::from(raw)).unwrap(),
        PgOutput::Origin(Origin {
            commit_lsn: Lsn(5),
            name: "node1".into()
        })
    );
    let mut raw = vec![b'M', 0];
    raw.extend_from_slice(&9u64.to_be_bytes());
    raw.extend_from_slice(b"hypermove-fence\0");
    raw.extend_from_slice(&3u32.to_be_bytes());
    raw.extend_from_slice(b"r42");
    let PgOutput::Message(m) = decode(Bytes::from(raw)).unwrap() else {
        panic!("not a message")
    };
    assert!(!m.transactional);
    assert_eq!(m.content, Bytes::from_static(b"r42"));
}

#[test]
fn malformed_payloads_are_errors_not_panics() {
    assert_eq!(decode(Bytes::new()), Err(DecodeError::Empty));
    assert_eq!(
        decode(Bytes::from_static(b"S\0\0\0\x01")),
        Err(DecodeError::UnknownTag('S'))
    );
    assert!(matches!(
        decode(Bytes::from_static(b"I\0\0\0\x07N\0\x01t\0\0\0\x09ab")),
        Err(DecodeError::Truncated { tag: 'I', .. })
    ));
    assert_eq!(
        decode(Bytes::from_static(b"I\0\0\0\x07N\0\x01x")),
        Err(DecodeError::ColumnKind('x'))
    );
    assert_eq!(
        decode(Bytes::from_static(b"I\0\0\0\x07K\0\0")),
        Err(DecodeError::TupleMarker {
            tag: 'I',
            marker: 'K'
        })
    );
    assert!(matches!(
        decode(Bytes::from_static(b"R\0\0\0\x07public")),
        Err(DecodeError::Truncated { tag: 'R', .. })
    ));
    // Every prefix of a real message fails cleanly.
    let full = hex(
        "49001045af4e00037400000016323032362d30312d31302030303a30303a30302b30307400000001317400000003312e35",
    );
    for cut in 1..full.len() {
        assert!(decode(full.slice(..cut)).is_err(), "cut at {cut}");
    }
}
