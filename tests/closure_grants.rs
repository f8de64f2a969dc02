//! Nothing silently dropped, part three, from PostgreSQL 17 / TimescaleDB 2.19 to
//! PostgreSQL 18 / TimescaleDB 2.31: with `grants: true` the column-level grants and
//! the default privileges of the moved schemas move too (a role the target lacks is
//! refused by name, all of them at once; a database-wide default privilege is checked
//! against the target's, never written); the collations and text search
//! configurations the tables use are created before them; tables and indexes keep
//! their tablespaces, through `tablespace_map:`, and one the target lacks is refused.

mod common;

use std::process::Command;

use common::*;
use predicates::prelude::*;

const OWNER: &str = "hm_cgrant_owner";
const READER: &str = "hm_cgrant_reader";
/// Roles only the source has.
const ABSENT_COLUMN: &str = "hm_cgrant_absent_col";
const ABSENT_DEFAULT: &str = "hm_cgrant_absent_def";

/// Create each role on the servers of these ports, unless it is there.
fn roles(ports: &[u16], names: &[&str]) {
    for port in ports {
        let mut admin = connect(*port, "postgres");
        for name in names {
            admin
                .batch_execute(&format!(
                    "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN CREATE ROLE {name}; END IF; END $$;"
                ))
                .unwrap();
        }
    }
}

fn rows(client: &mut postgres::Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

/// Column privileges of a table as information_schema shows them, schema left out.
fn column_privileges(client: &mut postgres::Client, schema: &str, table: &str) -> Vec<String> {
    rows(
        client,
        &format!(
            "SELECT format('%s %s %s %s %s', grantor, grantee, column_name, privilege_type, is_grantable)
               FROM information_schema.column_privileges
              WHERE table_schema = '{schema}' AND table_name = '{table}'
                AND grantee IN ('{OWNER}', '{READER}', 'PUBLIC')
              ORDER BY 1"
        ),
    )
}

/// A schema's default privileges (pg_default_acl), schema left out.
fn default_acl(client: &mut postgres::Client, schema: &str) -> Vec<String> {
    rows(
        client,
        &format!(
            "SELECT format('%s %s %s', defaclrole::regrole, defaclobjtype, defaclacl)
               FROM pg_default_acl WHERE defaclnamespace = '{schema}'::regnamespace ORDER BY 1"
        ),
    )
}

const GRANTS_FIXTURE: &str = r#"
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE SCHEMA app;
CREATE TABLE app.accounts (id int PRIMARY KEY, name text, secret text);
INSERT INTO app.accounts SELECT i, 'name ' || i, 'secret ' || i FROM generate_series(1, 50) i;
ALTER TABLE app.accounts OWNER TO hm_cgrant_owner;
GRANT INSERT ON app.accounts TO hm_cgrant_reader;
GRANT SELECT (id, name), UPDATE (name) ON app.accounts TO hm_cgrant_reader;
GRANT REFERENCES (id) ON app.accounts TO hm_cgrant_reader WITH GRANT OPTION;
GRANT SELECT (id) ON app.accounts TO PUBLIC;
CREATE TABLE app.readings (time timestamptz NOT NULL, account int, value float8);
SELECT create_hypertable('app.readings', by_range('time', INTERVAL '1 day'));
INSERT INTO app.readings SELECT TIMESTAMPTZ '2025-01-01' + i * INTERVAL '1 hour', i % 5, i FROM generate_series(0, 71) i;
ALTER TABLE app.readings OWNER TO hm_cgrant_owner;
GRANT SELECT (time, value) ON app.readings TO hm_cgrant_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE hm_cgrant_owner IN SCHEMA app GRANT SELECT, INSERT ON TABLES TO hm_cgrant_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE hm_cgrant_owner IN SCHEMA app GRANT USAGE ON SEQUENCES TO hm_cgrant_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE hm_cgrant_owner GRANT SELECT ON SEQUENCES TO hm_cgrant_reader;
-- Roles the target lacks: a column grant, and a schema's default privileges.
CREATE SCHEMA audit;
CREATE TABLE audit.log (id int, note text);
GRANT SELECT (note) ON audit.log TO hm_cgrant_absent_col;
ALTER DEFAULT PRIVILEGES FOR ROLE hm_cgrant_owner IN SCHEMA audit GRANT SELECT ON TABLES TO hm_cgrant_absent_def;
"#;

#[test]
fn column_grants_and_default_privileges_move_and_missing_roles_are_refused() {
    roles(&[SOURCE_PORT, TARGET_PORT], &[OWNER, READER]);
    roles(&[SOURCE_PORT], &[ABSENT_COLUMN, ABSENT_DEFAULT]);
    let mut admin = connect(TARGET_PORT, "postgres");
    admin
        .batch_execute("DROP DATABASE IF EXISTS hm_cgrant_roles WITH (FORCE)")
        .unwrap();
    for role in [ABSENT_COLUMN, ABSENT_DEFAULT] {
        admin
            .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
            .unwrap();
    }
    let db = "hm_cgrant_grants";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(GRANTS_FIXTURE).unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = |name: &str, target_db: &str, tables: &str| {
        write_spec(
            dir.path(),
            name,
            &format!(
                "version: 1\nsource: {}\ntarget: {}\ngrants: true\nschema_map: {{app: shop}}\ntables:\n{tables}",
                url(SOURCE_PORT, db),
                url(TARGET_PORT, target_db)
            ),
        )
    };

    // Roles the target lacks, from a column grant and a schema's default privileges:
    // all named at once, nothing written.
    let mut refused_db = fresh_db(TARGET_PORT, "hm_cgrant_roles");
    let before = catalog_snapshot(&mut refused_db);
    let refused = spec(
        "roles.yaml",
        "hm_cgrant_roles",
        "  - name: audit.log\n  - name: app.accounts\n",
    );
    hypermove()
        .args(["apply", "--yes", refused.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "grants: true needs these roles on the target, and they do not exist there: {ABSENT_COLUMN}, {ABSENT_DEFAULT}; create them first"
        )));
    assert_eq!(before, catalog_snapshot(&mut refused_db));

    // The owner's database-wide default privileges differ on the target: refused by
    // name with the statement that would make them equal, never run by hypermove.
    let moved = spec(
        "moved.yaml",
        db,
        "  - name: app.accounts\n  - name: app.readings\n",
    );
    let before = catalog_snapshot(&mut dst);
    hypermove()
        .args(["plan", moved.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "the database-wide default privileges of role \"{OWNER}\" on sequences differ on the target (ALTER DEFAULT PRIVILEGES FOR ROLE \"{OWNER}\" GRANT SELECT ON SEQUENCES TO \"{READER}\" on the source)"
        )));
    assert_eq!(before, catalog_snapshot(&mut dst));
    dst.batch_execute(&format!(
        "ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER} GRANT SELECT ON SEQUENCES TO {READER}"
    ))
    .unwrap();

    hypermove()
        .args(["plan", moved.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "the database-wide default privileges of role \"{OWNER}\" on sequences are already on the target, equal, and are used as they are"
        )))
        .stdout(predicate::str::contains("default_privileges:shop"));
    hypermove()
        .args(["apply", "--yes", moved.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   shop.accounts: 1 window, 50 source rows, checksum matches",
        ));

    // Column grants, table grants and the owner, as on the source.
    for table in ["accounts", "readings"] {
        let source = column_privileges(&mut src, "app", table);
        assert!(
            source.iter().any(|r| r.contains(READER)),
            "{table}: {source:?}"
        );
        assert_eq!(
            source,
            column_privileges(&mut dst, "shop", table),
            "{table}"
        );
    }
    assert!(
        column_privileges(&mut dst, "shop", "accounts")
            .contains(&format!("{OWNER} {READER} id REFERENCES YES")),
        "{:?}",
        column_privileges(&mut dst, "shop", "accounts")
    );
    // The schema's default privileges, on the schema the tables moved to.
    let source_acl = default_acl(&mut src, "app");
    assert_eq!(source_acl.len(), 2, "{source_acl:?}");
    assert_eq!(source_acl, default_acl(&mut dst, "shop"));
    // And they work: a table the owner creates there is readable by the reader.
    dst.batch_execute(&format!(
        "GRANT CREATE ON SCHEMA shop TO {OWNER};
         SET ROLE {OWNER}; CREATE TABLE shop.fresh (x int); RESET ROLE;"
    ))
    .unwrap();
    assert_eq!(
        scalar(
            &mut dst,
            &format!("SELECT has_table_privilege('{READER}', 'shop.fresh', 'SELECT')::text")
        ),
        "true"
    );
    // The reader reads its columns, and no other (once it may use the schema: schema
    // privileges are the schema's, not the tables').
    dst.batch_execute(&format!("GRANT USAGE ON SCHEMA shop TO {READER}"))
        .unwrap();
    let mut tx = dst.transaction().unwrap();
    tx.batch_execute(&format!("SET LOCAL ROLE {READER}"))
        .unwrap();
    let n: i64 = tx
        .query_one("SELECT count(name) FROM shop.accounts", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 50);
    let denied = tx
        .query_one("SELECT count(secret) FROM shop.accounts", &[])
        .unwrap_err();
    assert_eq!(
        denied.code(),
        Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
}

const TEXT_FIXTURE: &str = r#"
SET client_min_messages = warning;
CREATE SCHEMA app;
CREATE COLLATION app.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE COLLATION app.bytes (provider = libc, locale = 'C');
CREATE TEXT SEARCH CONFIGURATION app.english_copy (COPY = english);
-- No longer english: no e-mail or URL tokens, and plain words unstemmed.
ALTER TEXT SEARCH CONFIGURATION app.english_copy DROP MAPPING FOR email, url, url_path;
ALTER TEXT SEARCH CONFIGURATION app.english_copy ALTER MAPPING FOR word WITH simple;
CREATE TABLE app.docs (
    id    int PRIMARY KEY,
    title text COLLATE app.ci NOT NULL,
    code  text,
    body  text,
    tsv   tsvector GENERATED ALWAYS AS (to_tsvector('app.english_copy', body)) STORED
);
CREATE INDEX docs_title ON app.docs (title);
CREATE INDEX docs_code ON app.docs (code COLLATE app.bytes);
CREATE INDEX docs_title_fts ON app.docs USING gin (to_tsvector('app.english_copy', title));
INSERT INTO app.docs
     SELECT i, CASE WHEN i % 2 = 0 THEN 'Hello' ELSE 'HELLO' END || ' running ' || i,
            'c' || i, 'jumping foxes ' || i || ' mail me@example.com'
       FROM generate_series(1, 40) i;
"#;

/// The collations, text search configurations and what uses them, one line each.
fn text_objects(client: &mut postgres::Client) -> Vec<String> {
    let mut out = rows(
        client,
        "SELECT format('collation %s provider=%s locale=%s collate=%s ctype=%s deterministic=%s',
                       collname, collprovider, colllocale, collcollate, collctype, collisdeterministic)
           FROM pg_collation WHERE collnamespace = 'app'::regnamespace ORDER BY 1",
    );
    out.extend(rows(
        client,
        "SELECT format('config %s parser=%s %s', c.cfgname, c.cfgparser::regproc,
                       (SELECT string_agg(format('%s:%s', t.alias, m.mapdict::regdictionary), ' '
                                          ORDER BY m.maptokentype, m.mapseqno)
                          FROM pg_ts_config_map m
                          JOIN ts_token_type(c.cfgparser) t ON t.tokid = m.maptokentype
                         WHERE m.mapcfg = c.oid))
           FROM pg_ts_config c WHERE c.cfgnamespace = 'app'::regnamespace ORDER BY 1",
    ));
    out.extend(rows(
        client,
        "SELECT format('column %s collation=%s', attname, attcollation::regcollation)
           FROM pg_attribute WHERE attrelid = 'app.docs'::regclass AND attnum > 0 ORDER BY attnum",
    ));
    out.extend(rows(
        client,
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'app.docs'::regclass ORDER BY 1",
    ));
    out
}

#[test]
fn collations_and_text_search_configurations_move_before_their_tables() {
    let db = "hm_cgrant_text";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(TEXT_FIXTURE).unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = |name: &str, target_db: &str, tables: &str| {
        write_spec(
            dir.path(),
            name,
            &format!(
                "version: 1\nsource: {}\ntarget: {}\ntables:\n{tables}",
                url(SOURCE_PORT, db),
                url(TARGET_PORT, target_db)
            ),
        )
    };
    let moved = spec("moved.yaml", db, "  - name: app.docs\n");
    hypermove()
        .args(["plan", moved.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("collation:app.ci"))
        .stdout(predicate::str::contains("collation:app.bytes"))
        .stdout(predicate::str::contains("text_search:app.english_copy"));
    hypermove()
        .args(["apply", "--yes", moved.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   app.docs: 1 window, 40 source rows, checksum matches",
        ));
    let source = text_objects(&mut src);
    assert_eq!(source.len(), 2 + 1 + 5 + 4, "{source:?}");
    assert_eq!(source, text_objects(&mut dst));
    // The collation and the configuration behave on the target as on the source.
    let behaviour = |client: &mut postgres::Client| {
        (
            scalar(
                client,
                "SELECT count(*)::text FROM app.docs WHERE title = 'hello RUNNING 7'",
            ),
            scalar(
                client,
                "SELECT to_tsvector('app.english_copy', 'jumping foxes mail me@example.com')::text",
            ),
        )
    };
    let (matches, vector) = behaviour(&mut src);
    assert_eq!(matches, "1");
    // Not english's: the e-mail address is not indexed.
    assert!(!vector.contains("example"), "{vector}");
    assert_eq!((matches, vector), behaviour(&mut dst));

    // A second table using them, into the same target: there and equal, used as is.
    src.batch_execute("CREATE TABLE app.more (t text COLLATE app.ci, v tsvector DEFAULT to_tsvector('app.english_copy', 'x'))")
        .unwrap();
    let more = spec("more.yaml", db, "  - name: app.more\n");
    hypermove()
        .args(["plan", more.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "collation app.ci is already on the target, with the same definition, and is used as it is",
        ))
        .stdout(predicate::str::contains(
            "text search configuration app.english_copy is already on the target, with the same parser and mappings, and is used as it is",
        ))
        .stdout(predicate::str::contains("collation:app.ci").not());

    // A target with another collation of that name: refused by name, nothing written.
    let mut other = fresh_db(TARGET_PORT, "hm_cgrant_text_other");
    other
        .batch_execute(
            "CREATE SCHEMA app;
             CREATE COLLATION app.ci (provider = icu, locale = 'und', deterministic = true);",
        )
        .unwrap();
    let before = catalog_snapshot(&mut other);
    let clash = spec("clash.yaml", "hm_cgrant_text_other", "  - name: app.docs\n");
    hypermove()
        .args(["apply", "--yes", clash.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "collation app.ci exists on the target with another definition (provider icu, locale und, deterministic true; on the source: provider icu, locale und-u-ks-level2, deterministic false)",
        ));
    assert_eq!(before, catalog_snapshot(&mut other));
}

/// A tablespace on a sandbox server, in a directory of its own inside the server's
/// chroot (owned by postgres, as `scripts/sandbox exec` runs as postgres there).
fn tablespace(server: &str, port: u16, name: &str) {
    let mut admin = connect(port, "postgres");
    let present = admin
        .query_opt("SELECT 1 FROM pg_tablespace WHERE spcname = $1", &[&name])
        .unwrap()
        .is_some();
    if present {
        return;
    }
    let dir = format!("/var/tsdata/{name}");
    let made = Command::new(root().join("scripts/sandbox"))
        .args(["exec", server, "mkdir", "-p", &dir])
        .status()
        .unwrap();
    assert!(made.success(), "mkdir {dir} in sandbox {server}");
    admin
        .batch_execute(&format!("CREATE TABLESPACE {name} LOCATION '{dir}'"))
        .unwrap();
}

const TABLESPACE_FIXTURE: &str = r#"
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE public.events (id int, kind text, CONSTRAINT events_pkey PRIMARY KEY (id) USING INDEX TABLESPACE hm_cgrant_same)
    TABLESPACE hm_cgrant_fast;
CREATE INDEX events_kind ON public.events (kind) TABLESPACE hm_cgrant_fast;
CREATE INDEX events_kind_partial ON public.events (id) TABLESPACE hm_cgrant_same WHERE kind = 'x';
CREATE INDEX events_plain ON public.events (kind, id);
INSERT INTO public.events SELECT i, CASE WHEN i % 3 = 0 THEN 'x' ELSE 'y' END FROM generate_series(1, 30) i;
CREATE TABLE public.metrics (time timestamptz NOT NULL, v int) TABLESPACE hm_cgrant_same;
SELECT create_hypertable('public.metrics', by_range('time', INTERVAL '1 day'));
CREATE INDEX metrics_v ON public.metrics (v) TABLESPACE hm_cgrant_fast;
INSERT INTO public.metrics SELECT TIMESTAMPTZ '2025-01-01' + i * INTERVAL '2 hours', i FROM generate_series(0, 35) i;
-- Chunks spread over attached tablespaces (none yet: no rows).
CREATE TABLE public.spread (time timestamptz NOT NULL, v int);
SELECT create_hypertable('public.spread', by_range('time', INTERVAL '1 day'));
SELECT attach_tablespace('hm_cgrant_same', 'public.spread');
SELECT attach_tablespace('hm_cgrant_fast', 'public.spread');
CREATE TABLE public.lost (id int) TABLESPACE hm_cgrant_lost;
CREATE INDEX lost_id ON public.lost (id) TABLESPACE hm_cgrant_lost;
"#;

/// Where each relation of the moved tables is stored; chunks and their indexes by
/// their hypertable's name.
fn placements(client: &mut postgres::Client) -> Vec<String> {
    rows(
        client,
        "SELECT DISTINCT format('%s %s', regexp_replace(c.relname, '^_hyper_\\d+_\\d+_chunk', 'chunk'),
                                coalesce(s.spcname, 'default'))
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_tablespace s ON s.oid = c.reltablespace
          WHERE c.relkind IN ('r', 'i')
            AND (n.nspname = 'public' OR c.relname LIKE '\\_hyper\\_%')
          ORDER BY 1",
    )
}

#[test]
fn tables_and_indexes_keep_their_tablespaces_or_are_refused() {
    tablespace("17", SOURCE_PORT, "hm_cgrant_fast");
    tablespace("17", SOURCE_PORT, "hm_cgrant_same");
    tablespace("17", SOURCE_PORT, "hm_cgrant_lost");
    tablespace("18", TARGET_PORT, "hm_cgrant_ssd");
    tablespace("18", TARGET_PORT, "hm_cgrant_same");
    let db = "hm_cgrant_ts";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(TABLESPACE_FIXTURE).unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = |name: &str, extra: &str, tables: &str| {
        write_spec(
            dir.path(),
            name,
            &format!(
                "version: 1\nsource: {}\ntarget: {}\n{extra}tables:\n{tables}",
                url(SOURCE_PORT, db),
                url(TARGET_PORT, db)
            ),
        )
    };

    // A tablespace the target lacks: refused by kind, name and tablespace, nothing written.
    let before = catalog_snapshot(&mut dst);
    let lost = spec(
        "lost.yaml",
        "tablespace_map: {hm_cgrant_fast: hm_cgrant_ssd}\n",
        "  - name: public.lost\n  - name: public.events\n",
    );
    hypermove()
        .args(["apply", "--yes", lost.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "table public.lost is in tablespace \"hm_cgrant_lost\" on the source, which the target does not have",
        ))
        .stderr(predicate::str::contains(
            "index public.lost_id of public.lost is in tablespace \"hm_cgrant_lost\" on the source, which the target does not have",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
    // With on_unsupported: warn it is listed, and would go to the default tablespace.
    let warned = spec(
        "warned.yaml",
        "on_unsupported: warn\n",
        "  - name: public.lost\n",
    );
    hypermove()
        .args(["plan", warned.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "table public.lost is in tablespace \"hm_cgrant_lost\" on the source, which the target does not have; it is created in the target's default tablespace (on_unsupported: warn)",
        ));

    // Mapped, and kept by name.
    let moved = spec(
        "moved.yaml",
        "tablespace_map: {hm_cgrant_fast: hm_cgrant_ssd}\n",
        "  - name: public.events\n  - name: public.metrics\n  - name: public.spread\n",
    );
    hypermove()
        .args(["apply", "--yes", moved.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   public.events: 1 window, 30 source rows, checksum matches",
        ));
    let source: Vec<String> = placements(&mut src)
        .into_iter()
        .filter(|p| !p.starts_with("lost"))
        .map(|p| p.replace("hm_cgrant_fast", "hm_cgrant_ssd"))
        .collect();
    assert_eq!(
        source,
        [
            "chunk hm_cgrant_same",
            "chunk_metrics_time_idx hm_cgrant_same",
            "chunk_metrics_v hm_cgrant_ssd",
            "events hm_cgrant_ssd",
            "events_kind hm_cgrant_ssd",
            "events_kind_partial hm_cgrant_same",
            "events_pkey hm_cgrant_same",
            "events_plain default",
            "metrics hm_cgrant_same",
            "metrics_time_idx hm_cgrant_same",
            "metrics_v hm_cgrant_ssd",
            // The first tablespace attached to a hypertable becomes its own.
            "spread hm_cgrant_same",
            "spread_time_idx default",
        ]
    );
    assert_eq!(source, placements(&mut dst));
    let attached = |client: &mut postgres::Client| {
        let mut names = rows(
            client,
            "SELECT t::text FROM show_tablespaces('public.spread') t",
        );
        for n in names.iter_mut() {
            *n = n.replace("hm_cgrant_fast", "hm_cgrant_ssd");
        }
        names.sort();
        names
    };
    assert_eq!(attached(&mut src), attached(&mut dst));
    assert_eq!(attached(&mut dst), ["hm_cgrant_same", "hm_cgrant_ssd"]);
}
