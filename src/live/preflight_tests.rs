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
        db_direct_batch_delete: None,
        role_direct_batch_delete: vec![],
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
        retention_job: None,
    })
}

fn facts(server: Server, tables: Vec<Table>) -> Facts {
    Facts {
        names: names(),
        server,
        tables,
        unidentified: vec![],
        unsupported: OnUnsupported::Refuse,
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
fn compression_refuses_unless_direct_batch_deletes_are_off_for_the_database() {
    let compressed = || vec![table("metrics", true, hyper(true))];
    // Not set for the database (on in this session, the default): refused, naming
    // the exact remedy and the reconnect.
    let out = judge(&facts(good_server(), compressed()));
    assert!(!out.passed());
    assert_eq!(out.refusals.len(), 1, "{out}");
    let r = &out.refusals[0];
    assert!(
        r.starts_with(
            "hypertable public.metrics is compressed and \
             timescaledb.enable_compressed_direct_batch_delete is not off for database app"
        ),
        "{r}"
    );
    assert!(
        r.contains(
            "`ALTER DATABASE \"app\" SET timescaledb.enable_compressed_direct_batch_delete = off`"
        ),
        "{r}"
    );
    assert!(r.contains("reconnect every session already open"), "{r}");
    assert!(out.warnings.is_empty(), "{out}");

    // Off in this session only (SET): still refused, the database's default counts.
    let session_off = Server {
        direct_batch_delete: Some("off".into()),
        db_direct_batch_delete: Some("on".into()),
        ..good_server()
    };
    assert!(!judge(&facts(session_off, compressed())).passed());

    // Off for the database, in any boolean spelling: passes, nothing said.
    for value in ["off", "false", "0", "OFF"] {
        let off = Server {
            db_direct_batch_delete: Some(value.into()),
            ..good_server()
        };
        let out = judge(&facts(off, compressed()));
        assert!(out.passed(), "{value}: {out}");
        assert!(out.warnings.is_empty(), "{value}: {out}");
    }

    // A role that turns it back on beats the database's off: named.
    let role_on = Server {
        db_direct_batch_delete: Some("off".into()),
        role_direct_batch_delete: vec!["app_writer=on".into(), "reporter=off".into()],
        ..good_server()
    };
    let out = judge(&facts(role_on, compressed()));
    assert_eq!(out.refusals.len(), 1, "{out}");
    assert!(out.refusals[0].contains("(app_writer=on)"), "{out}");
    assert!(!out.refusals[0].contains("reporter"), "{out}");
    assert!(!out.refusals[0].contains("ALTER DATABASE"), "{out}");

    // on_unsupported: warn lists it as a warning instead.
    let mut f = facts(good_server(), compressed());
    f.unsupported = OnUnsupported::Warn;
    let out = judge(&f);
    assert!(out.passed(), "{out}");
    assert_eq!(out.warnings.len(), 1, "{out}");
    assert!(out.warnings[0].contains("on_unsupported: warn"), "{out}");
    assert!(out.warnings[0].contains("ALTER DATABASE"), "{out}");

    // Not compressed, or a build that does not register the setting: nothing.
    assert!(
        judge(&facts(
            good_server(),
            vec![table("metrics", true, hyper(false))]
        ))
        .passed()
    );
    let apache = Server {
        direct_batch_delete: None,
        ..good_server()
    };
    assert!(judge(&facts(apache, compressed())).passed());
}

#[test]
fn a_scheduled_retention_policy_refuses_unless_the_risk_is_accepted() {
    let mut h = hyper(false);
    h.as_mut().unwrap().retention_job = Some(1007);
    let mut f = facts(good_server(), vec![table("metrics", true, h)]);
    let out = judge(&f);
    assert!(
        out.refusals[0]
            .starts_with("hypertable public.metrics has a scheduled retention policy (job 1007)")
            && out.refusals[0].contains("SELECT alter_job(1007, scheduled => false)"),
        "{out}"
    );
    f.unsupported = OnUnsupported::Warn;
    let out = judge(&f);
    assert!(out.passed(), "{out}");
    assert!(out.warnings[0].contains("on_unsupported: warn"), "{out}");
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
