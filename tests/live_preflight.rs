//! The live move's source preflight (src/live/preflight.rs) against the real servers.
//!
//! On the full PG17 + TimescaleDB 2.19.3 server (wal_level logical): tables without a
//! key are refused by name and pass after `REPLICA IDENTITY FULL` (which TimescaleDB
//! puts on every chunk, old and new); a hypertable without a key that is not moved
//! is refused too (the chunk schema is published whole, so its UPDATEs would fail);
//! a clean hypertable with a key passes with only the expected warnings; a compressed
//! one is refused until the database turns direct batch deletes off (present on 2.19.3
//! and 2.29.2); taken names and existing publications are refused by name; a role
//! without REPLICATION or superuser is refused naming what it lacks. On Debian's
//! PG17 build (55417) the wal_level is checked as it is.

mod common;

use hypermove::live::preflight::{self, DIRECT_BATCH_DELETE, LiveNames, Preflight};
use hypermove::pg::QualifiedName;
use postgres::{Client, NoTls};
use tokio::runtime::Runtime;

const FULL: u16 = common::FULL_SOURCE_PORT;
const DB: &str = "hm_live4_preflight";
/// Slots and roles are cluster-wide: their names carry the test file's prefix.
const SLOT: &str = "hm_live4_preflight_slot";
const ROLE: &str = "hm_live4_plain";

const SETUP: &str = "
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE metrics (id int NOT NULL, time timestamptz NOT NULL, v float8,
                      PRIMARY KEY (id, time));
SELECT create_hypertable('metrics', by_range('time', interval '1 day'));
CREATE TABLE readings (time timestamptz NOT NULL, device int, v float8);
SELECT create_hypertable('readings', by_range('time', interval '1 day'));
CREATE TABLE notes (id int, body text);
INSERT INTO metrics SELECT i, '2026-01-01'::timestamptz + i * interval '6 hours', i
  FROM generate_series(0, 11) i;
INSERT INTO readings VALUES ('2026-01-01 01:00+00', 1, 0.1), ('2026-01-02 01:00+00', 2, 0.2);
";

/// Drops the slot and the role whatever happens; never panics (it may run while a
/// failed assertion unwinds).
struct Global;

impl Drop for Global {
    fn drop(&mut self) {
        let Ok(mut admin) = Client::connect(
            &format!("host=127.0.0.1 port={FULL} user=postgres dbname=postgres"),
            NoTls,
        ) else {
            eprintln!("cleanup: cannot reach 127.0.0.1:{FULL}");
            return;
        };
        let _ = admin.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
              WHERE slot_name = $1",
            &[&SLOT],
        );
        let _ = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
            &[&ROLE],
        );
        let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {ROLE}"));
    }
}

fn names(publication: &str) -> LiveNames {
    LiveNames {
        slot: SLOT.into(),
        publication: publication.into(),
    }
}

fn public(name: &str) -> QualifiedName {
    QualifiedName::new("public", name)
}

/// Run the preflight as `user` on `port`.
fn check(
    rt: &Runtime,
    port: u16,
    user: &str,
    tables: &[QualifiedName],
    names: &LiveNames,
) -> Preflight {
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(
            &format!("host=127.0.0.1 port={port} user={user} dbname={DB}"),
            tokio_postgres::NoTls,
        )
        .await
        .expect("connect");
        let task = tokio::spawn(conn);
        let out = preflight::check(&client, tables, names)
            .await
            .expect("preflight queries");
        drop(client);
        let _ = task.await;
        out
    })
}

/// The warning a bounded-or-not WAL keep size gives on this server.
fn keep_size_warnings(db: &mut Client) -> Vec<String> {
    let keep = common::scalar(db, "SHOW max_slot_wal_keep_size");
    if keep == "-1" {
        vec![
            "max_slot_wal_keep_size = -1 (unlimited): while the follower is down or behind, \
             the slot keeps every WAL segment on the source, until its disk fills; set a \
             bound (a slot past it is invalidated and the move restarts) or watch \
             `hypermove status`"
                .to_owned(),
        ]
    } else {
        vec![]
    }
}

#[test]
fn preflight_on_the_full_server() {
    let _global = Global;
    let rt = Runtime::new().expect("runtime");
    let mut db = common::fresh_db(FULL, DB);
    db.batch_execute(SETUP).expect("setup");
    assert_eq!(common::scalar(&mut db, "SHOW wal_level"), "logical");
    let none = names("hm_live4_pub");

    // 1. Tables without a key, moved: refused by name with the remedy.
    let out = check(
        &rt,
        FULL,
        "postgres",
        &[public("notes"), public("metrics"), public("readings")],
        &none,
    );
    assert_eq!(
        out.refusals,
        [
            "table public.notes has no primary key and no replica identity: its UPDATEs and \
             DELETEs cannot be streamed; run `ALTER TABLE \"public\".\"notes\" REPLICA \
             IDENTITY FULL`",
            "table public.readings has no primary key and no replica identity: its UPDATEs \
             and DELETEs cannot be streamed; run `ALTER TABLE \"public\".\"readings\" REPLICA \
             IDENTITY FULL` (TimescaleDB applies it to every chunk, existing and new)",
        ],
        "{out}"
    );

    // 2. Not moved, but its chunks are in the published chunk schema: its UPDATEs
    // would start failing on the source, so it is refused too.
    let out = check(&rt, FULL, "postgres", &[public("metrics")], &none);
    assert_eq!(out.refusals.len(), 1, "{out}");
    assert!(
        out.refusals[0].starts_with(
            "table public.readings is not moved, but 2 of its relations (e.g. \
             _timescaledb_internal._hyper_2_"
        ),
        "{out}"
    );

    // 3. The remedy: TimescaleDB sets the hypertable's identity on its existing
    // chunks and on chunks created later (2.19.3).
    db.batch_execute(
        "ALTER TABLE readings REPLICA IDENTITY FULL;
         ALTER TABLE notes REPLICA IDENTITY FULL;
         INSERT INTO readings VALUES ('2026-01-09 01:00+00', 3, 0.3);",
    )
    .expect("replica identity full");
    assert_eq!(
        common::scalar(
            &mut db,
            "SELECT string_agg(DISTINCT c.relreplident::text, ',') || ' ' || count(*) \
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
              WHERE i.inhparent = 'readings'::regclass"
        ),
        "f 3"
    );
    let all = [public("metrics"), public("notes"), public("readings")];
    let out = check(&rt, FULL, "postgres", &all, &none);
    assert!(out.passed(), "{out}");
    assert_eq!(out.warnings, keep_size_warnings(&mut db), "{out}");

    // 4. Compression: refused until the database turns direct batch deletes off
    // (docs/live.md, section 7), naming the setting, which both full servers have.
    for port in [common::FULL_SOURCE_PORT, common::FULL_TARGET_PORT] {
        let mut c = common::connect(port, "postgres");
        assert_eq!(
            common::scalar(&mut c, &format!("SHOW {DIRECT_BATCH_DELETE}")),
            "on"
        );
    }
    db.batch_execute("ALTER TABLE metrics SET (timescaledb.compress)")
        .expect("compress");
    let out = check(&rt, FULL, "postgres", &all, &none);
    let compressed: Vec<&String> = out
        .refusals
        .iter()
        .filter(|w| w.starts_with("hypertable public.metrics is compressed"))
        .collect();
    assert_eq!(compressed.len(), 1, "{out}");
    assert_eq!(out.refusals.len(), 1, "{out}");
    assert!(compressed[0].contains(&format!(
        "ALTER DATABASE \"{DB}\" SET {DIRECT_BATCH_DELETE} = off"
    )));
    db.batch_execute(&format!(
        "ALTER DATABASE \"{DB}\" SET {DIRECT_BATCH_DELETE} = off"
    ))
    .expect("direct batch deletes off");
    let out = check(&rt, FULL, "postgres", &all, &none);
    assert!(out.passed(), "{out}");
    assert_eq!(out.warnings, keep_size_warnings(&mut db), "{out}");

    // 5. Names already taken, a table already published: each named.
    db.batch_execute("CREATE PUBLICATION hm_live4_old FOR TABLE notes")
        .expect("publication");
    db.execute("SELECT pg_create_physical_replication_slot($1)", &[&SLOT])
        .expect("slot");
    let out = check(&rt, FULL, "postgres", &all, &names("hm_live4_old"));
    assert_eq!(
        out.refusals,
        [
            format!(
                "replication slot '{SLOT}' already exists: another or an abandoned live move \
                 holds it; `hypermove clean` it or pick another run name"
            ),
            format!(
                "publication hm_live4_old already exists in database {DB}: drop it or pick \
                 another run name"
            ),
            "table public.notes (or one of its chunks) is already in publication(s) \
             hm_live4_old: another replication of it is running or was left behind; drop \
             it from there (ALTER PUBLICATION … DROP TABLE) or drop the publication"
                .to_owned(),
        ],
        "{out}"
    );
    db.batch_execute("DROP PUBLICATION hm_live4_old")
        .expect("drop publication");
    db.execute("SELECT pg_drop_replication_slot($1)", &[&SLOT])
        .expect("drop slot");

    // 6. A plain role: no REPLICATION, not superuser, owns nothing.
    db.batch_execute(&format!(
        "DROP ROLE IF EXISTS {ROLE}; CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOREPLICATION"
    ))
    .expect("role");
    let out = check(&rt, FULL, ROLE, &[public("metrics")], &none);
    assert_eq!(
        out.refusals,
        [
            format!(
                "role {ROLE} has neither REPLICATION nor superuser: a replication connection \
                 needs one; run `ALTER ROLE \"{ROLE}\" REPLICATION`"
            ),
            format!(
                "role {ROLE} lacks CREATE on database {DB}: CREATE PUBLICATION needs it; run \
                 `GRANT CREATE ON DATABASE \"{DB}\" TO \"{ROLE}\"`"
            ),
            format!(
                "role {ROLE} does not own table public.metrics: a publication FOR TABLE needs \
                 its owner; run the move as the owner (or a member of the owning role)"
            ),
            format!(
                "role {ROLE} is not superuser: publishing the chunk schema(s) \
                 _timescaledb_internal FOR TABLES IN SCHEMA needs superuser (chunks created \
                 after the slot join no FOR TABLE list before TimescaleDB 2.25); run the move \
                 as a superuser"
            ),
        ],
        "{out}"
    );
}

#[test]
fn preflight_on_the_debian_server_checks_its_wal_level() {
    let rt = Runtime::new().expect("runtime");
    let port = common::SOURCE_PORT;
    let mut db = common::fresh_db(port, DB);
    db.batch_execute(
        "CREATE EXTENSION IF NOT EXISTS timescaledb;
         CREATE TABLE metrics (id int NOT NULL, time timestamptz NOT NULL,
                               PRIMARY KEY (id, time));
         SELECT create_hypertable('metrics', by_range('time', interval '1 day'));",
    )
    .expect("setup");
    let wal_level = common::scalar(&mut db, "SHOW wal_level");
    let out = check(
        &rt,
        port,
        "postgres",
        &[public("metrics")],
        &names("hm_live4_pub"),
    );
    if wal_level == "logical" {
        assert!(out.passed(), "{out}");
    } else {
        assert_eq!(
            out.refusals,
            [format!(
                "wal_level is `{wal_level}`: logical decoding needs `logical`; run `ALTER \
                 SYSTEM SET wal_level = logical` and restart the source server"
            )],
            "{out}"
        );
    }
    // The Apache build registers no compression settings: no compression warning.
    assert_eq!(out.warnings, keep_size_warnings(&mut db), "{out}");
}
