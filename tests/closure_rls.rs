//! Row-level security moves with its tables: ENABLE/FORCE and every policy, on the
//! target name, after the data; a policy naming a role the target lacks is refused
//! by name before anything is written. Storage settings (reloptions, column storage,
//! compression and statistics, replica identity) and extended statistics move too.

mod common;

use common::*;
use predicates::prelude::*;

const READER: &str = "hm_closure_rls_reader";
const ABSENT: &str = "hm_closure_rls_absent";

/// The row-level security of a table as the catalog holds it, one line per fact.
fn row_security(client: &mut postgres::Client, table: &str) -> Vec<String> {
    let mut out: Vec<String> = client
        .query(
            "SELECT format('rls enabled=%s forced=%s', relrowsecurity, relforcerowsecurity)
               FROM pg_class WHERE oid = $1::text::regclass",
            &[&table],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    out.extend(
        client
            .query(
                "SELECT format('policy %s permissive=%s cmd=%s roles=%s using=%s check=%s',
                               p.polname, p.polpermissive, p.polcmd,
                               ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE r::regrole::text END
                                       FROM unnest(p.polroles) r ORDER BY 1),
                               pg_get_expr(p.polqual, p.polrelid),
                               pg_get_expr(p.polwithcheck, p.polrelid))
                   FROM pg_policy p WHERE p.polrelid = $1::text::regclass ORDER BY p.polname",
                &[&table],
            )
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0)),
    );
    out
}

/// A table's storage settings as the catalog holds them, one line per fact.
fn settings(client: &mut postgres::Client, table: &str) -> Vec<String> {
    let mut out: Vec<String> = client
        .query(
            "SELECT format('reloptions=%s toast=%s identity=%s index=%s',
                           c.reloptions, t.reloptions, c.relreplident,
                           (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                             WHERE i.indrelid = c.oid AND i.indisreplident))
               FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
              WHERE c.oid = $1::text::regclass",
            &[&table],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    out.extend(
        client
            .query(
                "SELECT format('column %s storage=%s compression=%s statistics=%s',
                               attname, attstorage, attcompression, coalesce(attstattarget::int4, -1))
                   FROM pg_attribute WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped
                  ORDER BY attnum",
                &[&table],
            )
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0)),
    );
    out
}

/// The extended statistics objects on a table, one line each.
fn statistics(client: &mut postgres::Client, table: &str) -> Vec<String> {
    client
        .query(
            "SELECT format('%s kinds=%s on=%s target=%s', stxname, stxkind,
                           pg_get_statisticsobjdef_columns(oid), coalesce(stxstattarget::int4, -1))
               FROM pg_statistic_ext WHERE stxrelid = $1::text::regclass ORDER BY stxname",
            &[&table],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn row_level_security_and_policies_move_and_missing_roles_are_refused() {
    for port in [SOURCE_PORT, TARGET_PORT] {
        connect(port, "postgres")
            .batch_execute(&format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER}') THEN CREATE ROLE {READER}; END IF; END $$;"
            ))
            .unwrap();
    }
    // Only the source has this role: a policy naming it cannot move.
    connect(SOURCE_PORT, "postgres")
        .batch_execute(&format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ABSENT}') THEN CREATE ROLE {ABSENT}; END IF; END $$;"
        ))
        .unwrap();
    let mut admin = connect(TARGET_PORT, "postgres");
    admin
        .batch_execute("DROP DATABASE IF EXISTS hm_closure_rls_refused WITH (FORCE)")
        .unwrap();
    admin
        .batch_execute(&format!("DROP ROLE IF EXISTS {ABSENT}"))
        .unwrap();

    let db = "hm_closure_rls";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(&format!(
        "SET client_min_messages = warning;
         CREATE EXTENSION IF NOT EXISTS timescaledb;
         CREATE TABLE public.readings (time timestamptz NOT NULL, device int NOT NULL, value float8, note text);
         SELECT create_hypertable('public.readings', by_range('time', INTERVAL '1 day'));
         ALTER TABLE public.readings SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05, toast.autovacuum_enabled = false);
         ALTER TABLE public.readings ALTER COLUMN note SET STORAGE EXTERNAL;
         ALTER TABLE public.readings ALTER COLUMN note SET COMPRESSION lz4;
         ALTER TABLE public.readings ALTER COLUMN note SET STATISTICS 500;
         ALTER TABLE public.readings REPLICA IDENTITY FULL;
         CREATE STATISTICS public.readings_device_value (ndistinct, dependencies) ON device, value FROM public.readings;
         ALTER STATISTICS public.readings_device_value SET STATISTICS 300;
         INSERT INTO public.readings
              SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '1 hour', i % 3, (i % 7) - 2, repeat('n', i * 50)
                FROM generate_series(0, 95) i;
         ALTER TABLE public.readings ENABLE ROW LEVEL SECURITY;
         ALTER TABLE public.readings FORCE ROW LEVEL SECURITY;
         CREATE POLICY device_one ON public.readings AS PERMISSIVE FOR SELECT TO {READER} USING (device = 1);
         CREATE POLICY not_negative ON public.readings AS RESTRICTIVE FOR ALL TO PUBLIC
                USING (value >= 0) WITH CHECK (value >= 0);
         CREATE TABLE public.notes (id int PRIMARY KEY, owner text NOT NULL, body text);
         INSERT INTO public.notes SELECT i, CASE WHEN i % 2 = 0 THEN '{READER}' ELSE 'someone' END, 'note ' || i
                FROM generate_series(1, 20) i;
         CREATE UNIQUE INDEX notes_id_owner ON public.notes (id, owner);
         ALTER TABLE public.notes REPLICA IDENTITY USING INDEX notes_id_owner;
         ALTER TABLE public.notes SET (autovacuum_enabled = false);
         -- A statistics expression and a policy that call user functions: those move too.
         CREATE FUNCTION public.body_len(b text) RETURNS int LANGUAGE sql IMMUTABLE RETURN length(b);
         CREATE FUNCTION public.is_owner(o text) RETURNS boolean LANGUAGE sql STABLE RETURN o = current_user;
         CREATE STATISTICS public.notes_all ON id, owner, (public.body_len(body)) FROM public.notes;
         ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
         CREATE POLICY own_notes ON public.notes FOR ALL TO {READER}, PUBLIC
                USING (public.is_owner(owner)) WITH CHECK (owner = current_user);
         CREATE TABLE public.hidden (id int);
         INSERT INTO public.hidden VALUES (1);
         ALTER TABLE public.hidden ENABLE ROW LEVEL SECURITY;
         CREATE POLICY for_absent ON public.hidden FOR SELECT TO {ABSENT}, {READER} USING (true);"
    ))
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = |name: &str, target_db: &str, tables: &str| {
        write_spec(
            dir.path(),
            name,
            &format!(
                "version: 1\nsource: {}\ntarget: {}\nverify: checksum\ntables:\n{tables}",
                url(SOURCE_PORT, db),
                url(TARGET_PORT, target_db)
            ),
        )
    };

    // A policy naming a role the target lacks: refused by name, nothing written.
    let mut refused_db = fresh_db(TARGET_PORT, "hm_closure_rls_refused");
    let before = catalog_snapshot(&mut refused_db);
    let refused = spec(
        "refused.yaml",
        "hm_closure_rls_refused",
        "  - name: public.hidden\n  - name: public.notes\n",
    );
    hypermove()
        .args(["apply", "--yes", refused.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "row-level security policies need these roles on the target, and they do not exist there: {ABSENT}; create them first"
        )));
    assert_eq!(before, catalog_snapshot(&mut refused_db));

    // The move: the plain table is renamed on the way.
    let moved = spec(
        "moved.yaml",
        db,
        "  - name: public.readings\n    hypertable: {time_column: time, chunk_time_interval: 2 days}\n  - name: public.notes\n    target: public.notes2\n",
    );
    hypermove()
        .args(["plan", moved.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("rls:public.readings"))
        .stdout(predicate::str::contains("rls:public.notes2"));
    hypermove()
        .args(["apply", "--yes", moved.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   public.readings: 4 windows, 96 source rows, checksum matches",
        ))
        .stdout(predicate::str::contains(
            "ok   public.notes2: 1 window, 20 source rows, checksum matches",
        ));
    hypermove()
        .args(["verify", moved.to_str().unwrap()])
        .assert()
        .success();

    assert_eq!(
        row_security(&mut src, "public.readings"),
        row_security(&mut dst, "public.readings")
    );
    assert_eq!(
        row_security(&mut src, "public.notes"),
        row_security(&mut dst, "public.notes2")
    );
    assert_eq!(row_security(&mut dst, "public.readings").len(), 3);
    assert_eq!(
        settings(&mut src, "public.readings"),
        settings(&mut dst, "public.readings")
    );
    assert_eq!(
        settings(&mut src, "public.notes"),
        settings(&mut dst, "public.notes2")
    );
    for (s, d) in [
        ("public.readings", "public.readings"),
        ("public.notes", "public.notes2"),
    ] {
        let source = statistics(&mut src, s);
        assert_eq!(source.len(), 1);
        assert_eq!(source, statistics(&mut dst, d));
    }
    let readings = settings(&mut dst, "public.readings");
    assert!(
        readings[0].starts_with("reloptions={fillfactor=70,autovacuum_vacuum_scale_factor=0.05} toast={autovacuum_enabled=false} identity=f"),
        "{readings:?}"
    );
    assert!(
        readings.contains(&"column note storage=e compression=l statistics=500".to_string()),
        "{readings:?}"
    );
    // TimescaleDB passed the hypertable's settings on to every chunk it made.
    let chunks: Vec<String> = dst
        .query(
            "SELECT format('%s %s %s', c.reloptions, c.relreplident,
                           (SELECT format('%s/%s/%s', attstorage, attcompression, attstattarget)
                              FROM pg_attribute WHERE attrelid = c.oid AND attname = 'note'))
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'public.readings'::regclass",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!chunks.is_empty());
    for c in &chunks {
        assert_eq!(
            c, "{fillfactor=70,autovacuum_vacuum_scale_factor=0.05} f e/l/500",
            "{chunks:?}"
        );
    }
    assert!(
        settings(&mut dst, "public.notes2")[0].ends_with("identity=i index=notes_id_owner"),
        "{:?}",
        settings(&mut dst, "public.notes2")
    );

    // A role that does not own the tables sees only what its policies allow.
    dst.batch_execute(&format!(
        "GRANT SELECT ON public.readings, public.notes2 TO {READER}"
    ))
    .unwrap();
    let seen = |dst: &mut postgres::Client, sql: &str| -> i64 {
        let mut tx = dst.transaction().unwrap();
        tx.batch_execute(&format!("SET LOCAL ROLE {READER}"))
            .unwrap();
        let n = tx.query_one(sql, &[]).unwrap().get(0);
        tx.rollback().unwrap();
        n
    };
    let allowed: i64 = src
        .query_one(
            "SELECT count(*) FROM public.readings WHERE device = 1 AND value >= 0",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(allowed > 0 && allowed < 96);
    assert_eq!(
        seen(&mut dst, "SELECT count(*) FROM public.readings"),
        allowed
    );
    assert_eq!(seen(&mut dst, "SELECT count(*) FROM public.notes2"), 10);
    // The owner (a superuser here) still reads every row.
    assert_eq!(
        scalar(&mut dst, "SELECT count(*)::text FROM public.readings"),
        "96"
    );
}
