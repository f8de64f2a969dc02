//! The judgement of `preflight`, on facts made by hand (no database).

use super::*;

fn names() -> LiveNames {
    LiveNames {
        slot: "hypermove_run".into(),
        publication: "hypermove_run".into(),
    }
}

/// A source where everything is fine, with a bounded WAL keep size.
fn good_server() -> Server {
    Server {
        wal_level: "logical".into(),
        max_slots: 10,
        used_slots: 2,
        max_senders: 10,
        used_senders: 1,
        keep_size: "10240".into(),
        role: "mover".into(),
        superuser: true,
        replication: false,
        database: "app".into(),
        create_on_database: true,
        slot_taken: false,
        publication_taken: false,
        direct_batch_delete: Some("on".into()),
        wal_markers: Some("on".into()),
    }
}

fn table(name: &str, identity_ok: bool, hypertable: Option<Hypertable>) -> Table {
    Table {
        name: QualifiedName::new("public", name),
        found: true,
        owned: true,
        replident: "d".into(),
        has_pk: identity_ok,
        identity_ok,
        publications: vec![],
        hypertable,
    }
}

fn hyper(compressed: bool) -> Option<Hypertable> {
    Some(Hypertable {
        chunk_schemas: vec!["_timescaledb_internal".into()],
        compressed,
        retention: false,
    })
}

fn facts(server: Server, tables: Vec<Table>) -> Facts {
    Facts {
        names: names(),
        server,
        tables,
        unidentified: vec![],
    }
}

#[test]
fn a_clean_source_passes_without_warnings() {
    let out = judge(&facts(
        good_server(),
        vec![table("metrics", true, hyper(false))],
    ));
    assert!(out.passed(), "{out}");
    assert!(out.warnings.is_empty(), "{out}");
}

#[test]
fn every_server_problem_is_reported_not_only_the_first() {
    let server = Server {
        wal_level: "replica".into(),
        used_slots: 10,
        used_senders: 10,
        superuser: false,
        create_on_database: false,
        slot_taken: true,
        publication_taken: true,
        wal_markers: Some("off".into()),
        keep_size: "-1".into(),
        ..good_server()
    };
    let out = judge(&facts(server, vec![table("metrics", true, hyper(false))]));
    let starts: Vec<&str> = out
        .refusals
        .iter()
        .map(|r| r.split(':').next().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "wal_level is `replica`",
            "no free replication slot",
            "no free WAL sender",
            "role mover has neither REPLICATION nor superuser",
            "replication slot 'hypermove_run' already exists",
            "publication hypermove_run already exists in database app",
            "timescaledb.enable_compression_wal_markers is off",
            "role mover lacks CREATE on database app",
            "role mover is not superuser",
        ]
    );
    assert!(out.refusals[8].contains("_timescaledb_internal FOR TABLES IN SCHEMA"));
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].starts_with("max_slot_wal_keep_size = -1 (unlimited)"));
}

#[test]
fn a_replication_role_that_owns_plain_tables_needs_no_superuser() {
    let server = Server {
        superuser: false,
        replication: true,
        ..good_server()
    };
    let mut other = table("other", true, None);
    other.owned = false;
    let out = judge(&facts(server, vec![table("plain", true, None), other]));
    assert_eq!(
        out.refusals,
        [
            "role mover does not own table public.other: a publication FOR TABLE needs \
          its owner; run the move as the owner (or a member of the owning role)"
        ]
    );
}

#[test]
fn a_table_without_identity_is_refused_by_name_with_the_remedy() {
    let out = judge(&facts(
        good_server(),
        vec![
            table("Readings", false, hyper(false)),
            table("plain", false, None),
        ],
    ));
    assert_eq!(out.refusals.len(), 2);
    assert_eq!(
        out.refusals[0],
        "table public.\"Readings\" has no primary key and no replica identity: its \
         UPDATEs and DELETEs cannot be streamed; run `ALTER TABLE \"public\".\"Readings\" \
         REPLICA IDENTITY FULL` (TimescaleDB applies it to every chunk, existing and new)"
    );
    assert!(out.refusals[1].ends_with("REPLICA IDENTITY FULL`"));
}

#[test]
fn replica_identity_nothing_with_a_key_points_back_to_default() {
    let mut t = table("k", false, None);
    t.replident = "n".into();
    t.has_pk = true;
    let out = judge(&facts(good_server(), vec![t]));
    assert!(out.refusals[0].contains("REPLICA IDENTITY NOTHING"));
    assert!(out.refusals[0].contains("REPLICA IDENTITY DEFAULT`"));
}

#[test]
fn missing_tables_and_existing_publications_are_named() {
    let mut gone = table("gone", true, None);
    gone.found = false;
    let mut published = table("metrics", true, None);
    published.publications = vec!["old_pub".into(), "other".into()];
    let out = judge(&facts(good_server(), vec![gone, published]));
    assert_eq!(
        out.refusals[0],
        "table public.gone does not exist on the source"
    );
    assert!(
        out.refusals[1].starts_with(
            "table public.metrics (or one of its chunks) is already in publication(s) \
             old_pub, other:"
        ),
        "{out}"
    );
}

#[test]
fn compression_warns_with_the_setting_that_turns_direct_deletes_off() {
    let out = judge(&facts(
        good_server(),
        vec![table("metrics", true, hyper(true))],
    ));
    assert!(out.passed());
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].starts_with("hypertable public.metrics is compressed"));
    assert!(out.warnings[0].contains(
        "ALTER DATABASE \"app\" SET timescaledb.enable_compressed_direct_batch_delete = off"
    ));

    let off = Server {
        direct_batch_delete: Some("off".into()),
        ..good_server()
    };
    let out = judge(&facts(off, vec![table("metrics", true, hyper(true))]));
    assert!(out.warnings[0].contains("is off in this session"));
}

#[test]
fn a_retention_policy_warns() {
    let mut h = hyper(false);
    h.as_mut().unwrap().retention = true;
    let out = judge(&facts(good_server(), vec![table("metrics", true, h)]));
    assert!(out.warnings[0].starts_with("hypertable public.metrics has a retention policy"));
}

#[test]
fn unidentified_chunks_refuse_moved_and_unmoved_tables_once() {
    let mut f = facts(
        good_server(),
        vec![
            table("bad", false, hyper(false)),
            table("metrics", true, hyper(false)),
        ],
    );
    f.unidentified = vec![
        Unidentified {
            table: QualifiedName::new("public", "bad"),
            relations: 3,
            example: "_timescaledb_internal._hyper_1_1_chunk".into(),
        },
        Unidentified {
            table: QualifiedName::new("public", "metrics"),
            relations: 1,
            example: "_timescaledb_internal._hyper_2_9_chunk".into(),
        },
        Unidentified {
            table: QualifiedName::new("app", "events"),
            relations: 2,
            example: "_timescaledb_internal._hyper_3_4_chunk".into(),
        },
    ];
    let out = judge(&f);
    // bad: once, from its own check; metrics: its chunk; events: not moved but broken.
    assert_eq!(out.refusals.len(), 3, "{out}");
    assert!(out.refusals[0].starts_with("table public.bad has no primary key"));
    assert!(out.refusals[1].starts_with("1 chunk(s) of table public.metrics"));
    assert!(out.refusals[2].starts_with("table app.events is not moved"));
    assert!(out.refusals[2].contains("ALTER TABLE \"app\".\"events\" REPLICA IDENTITY FULL"));
}
