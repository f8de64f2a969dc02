//! Least privilege: a non-superuser role with only the rights a move needs can plan
//! and apply it; a missing right is named in a preflight before anything is written.

mod common;

use common::*;
use predicates::prelude::*;

fn mover_url(port: u16, db: &str) -> String {
    format!("postgresql://hm_mover@127.0.0.1:{port}/{db}")
}

#[test]
fn a_role_with_just_the_needed_rights_moves_and_missing_rights_are_named() {
    for port in [SOURCE_PORT, TARGET_PORT] {
        connect(port, "postgres")
            .batch_execute(
                "DO $$ BEGIN CREATE ROLE hm_mover LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
            )
            .unwrap();
    }
    let db = "hm_priv";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "SET client_min_messages = warning;
         CREATE EXTENSION IF NOT EXISTS timescaledb;
         CREATE TABLE public.metrics (time timestamptz NOT NULL, v int);
         SELECT create_hypertable('public.metrics', by_range('time', INTERVAL '1 day'));
         INSERT INTO public.metrics SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '1 hour', i FROM generate_series(0, 95) i;
         CREATE TABLE public.secret (id int);
         -- the mover may read metrics (TimescaleDB passes the grant on to the chunks), not secret
         GRANT SELECT ON public.metrics TO hm_mover;",
    )
    .unwrap();
    // The target: an administrator installed TimescaleDB and let the mover create schemas.
    let mut dst = fresh_db(TARGET_PORT, db);
    dst.batch_execute(&format!(
        "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS timescaledb; GRANT CREATE ON DATABASE {db} TO hm_mover; GRANT CREATE ON SCHEMA public TO hm_mover;"
    ))
    .unwrap();
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = |name: &str, target_db: &str, tables: &str| {
        write_spec(
            dir.path(),
            name,
            &format!(
                // The loading role owns what it creates: the source's owner and the
                // grant that lets hm_mover read stay behind, on purpose.
                "version: 1\nsource: {}\ntarget: {}\ngrants: false\ntables:\n{tables}",
                mover_url(SOURCE_PORT, db),
                mover_url(TARGET_PORT, target_db)
            ),
        )
    };
    let metrics = "  - name: public.metrics\n    hypertable: {time_column: time, chunk_time_interval: 2 days}\n";

    let too_much = spec(
        "too-much.yaml",
        db,
        &format!("{metrics}  - name: public.secret\n"),
    );
    hypermove()
        .args(["apply", "--yes", too_much.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "the move needs privileges it does not have (nothing was written): source: SELECT on public.secret",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));

    let just_right = spec("ok.yaml", db, metrics);
    hypermove()
        .args(["plan", just_right.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "public.metrics: its owner postgres and its grants to hm_mover stay behind (grants: false); on the target it belongs to hm_mover",
        ));
    hypermove()
        .args(["apply", "--yes", just_right.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   public.metrics: 4 windows, 96 source rows, checksum matches",
        ));
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = 'public.metrics'::regclass"
        ),
        "hm_mover"
    );

    // A bare target database: no TimescaleDB, no CREATE. Both are named, nothing written.
    let bare = "hm_priv_bare";
    let mut bare_db = fresh_db(TARGET_PORT, bare);
    bare_db
        .batch_execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        .unwrap();
    let bare_before = catalog_snapshot(&mut bare_db);
    let spec_bare = spec("bare.yaml", bare, metrics);
    hypermove()
        .args(["apply", "--yes", spec_bare.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "target: CREATE on database {bare}"
        )))
        .stderr(predicate::str::contains("target: CREATE on schema public"))
        .stderr(predicate::str::contains(
            "the timescaledb extension is not installed and hm_mover may not create it",
        ));
    assert_eq!(bare_before, catalog_snapshot(&mut bare_db));
}
