//! Nothing silently dropped: the user functions moved tables call (through a CHECK,
//! an expression index and a hypertable's integer_now_func) and the sequence a
//! default draws from without owning it move before them, from
//! PostgreSQL 17 / TimescaleDB 2.19 to PostgreSQL 18 / TimescaleDB 2.31; a function
//! that cannot be recreated is refused by name.

mod common;

use common::*;
use predicates::prelude::*;

const FIXTURE: &str = r#"
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE SCHEMA shop;
-- norm_sku calls trim_upper from an SQL-standard body: pg_depend records the call.
CREATE FUNCTION shop.trim_upper(s text) RETURNS text LANGUAGE sql IMMUTABLE RETURN upper(btrim(s));
CREATE FUNCTION shop.norm_sku(sku text) RETURNS text LANGUAGE sql IMMUTABLE RETURN shop.trim_upper(sku);
-- A sequence of its own, not owned by the column whose default draws from it.
CREATE SEQUENCE shop.ticket_seq;
-- A domain whose CHECK calls a function.
CREATE FUNCTION shop.is_positive(v int) RETURNS boolean LANGUAGE sql IMMUTABLE RETURN v > 0;
CREATE DOMAIN shop.qty AS int CONSTRAINT qty_positive CHECK (shop.is_positive(VALUE));
CREATE TABLE shop.items (
    id     int PRIMARY KEY,
    qty    shop.qty DEFAULT 1,
    sku    text NOT NULL CONSTRAINT sku_not_blank CHECK (shop.norm_sku(sku) <> ''),
    ticket int DEFAULT nextval('shop.ticket_seq')
);
CREATE INDEX items_norm_sku_idx ON shop.items (shop.norm_sku(sku));
INSERT INTO shop.items (id, sku) SELECT i, ' sku-' || i FROM generate_series(1, 200) i;
SELECT setval('shop.ticket_seq', 4321);
CREATE TABLE shop.ticks (tick bigint NOT NULL, v int);
SELECT create_hypertable('shop.ticks', by_range('tick', 1000));
-- Like TimescaleDB's own fixtures: an SQL body, given as a string, that reads the
-- hypertable, so on the target it is created before the table it names exists.
CREATE FUNCTION shop.tick_now() RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT coalesce(max(tick), 0) FROM shop.ticks $$;
SELECT set_integer_now_func('shop.ticks', 'shop.tick_now');
INSERT INTO shop.ticks SELECT i * 10, i FROM generate_series(1, 500) i;
"#;

/// The definitions of the `shop` functions, by signature.
const FUNCTIONS: &str = r#"
SELECT p.oid::regprocedure::text || ' ' || pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'shop' ORDER BY 1
"#;

fn functions(client: &mut postgres::Client) -> Vec<String> {
    client
        .query(FUNCTIONS, &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

fn spec(dir: &std::path::Path, db: &str, tables: &str) -> std::path::PathBuf {
    write_spec(
        dir,
        "closure.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n{tables}",
            url(SOURCE_PORT, db),
            url(TARGET_PORT, db)
        ),
    )
}

#[test]
fn functions_the_tables_call_move_before_them() {
    let db = "hm_closure_fn_move";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(FIXTURE).unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        dir.path(),
        db,
        "  - name: shop.items\n  - name: shop.ticks\n",
    );
    hypermove()
        .args(["plan", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("function:shop.norm_sku(text)"))
        .stdout(predicate::str::contains("function:shop.tick_now()"))
        .stdout(predicate::str::contains("create_sequence:shop.ticket_seq"))
        .stdout(predicate::str::contains("not carried").not());
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   shop.items: 1 window, 200 source rows, checksum matches",
        ))
        .stdout(
            predicate::str::contains("shop.ticks")
                .and(predicate::str::contains("checksum matches")),
        );

    let source = functions(&mut src);
    assert_eq!(source.len(), 4, "{source:#?}");
    assert_eq!(source, functions(&mut dst));
    // The default is kept, and its sequence continues where the source's stands.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
             JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
             WHERE d.adrelid = 'shop.items'::regclass AND a.attname = 'ticket'"
        ),
        "nextval('shop.ticket_seq'::regclass)"
    );
    assert_eq!(
        scalar(
            &mut dst,
            "INSERT INTO shop.items (id, sku) VALUES (1001, 'new') RETURNING ticket::text"
        ),
        "4322"
    );
    // The domain's CHECK calls its moved function on the target.
    assert!(
        dst.batch_execute("INSERT INTO shop.items (id, sku, qty) VALUES (1002, 'q', 0)")
            .is_err()
    );
    // The CHECK and the index call the moved function on the target.
    assert!(
        dst.batch_execute("INSERT INTO shop.items VALUES (1000, '   ')")
            .is_err()
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_indexes WHERE indexname = 'items_norm_sku_idx' AND indexdef LIKE '%shop.norm_sku(sku)%'"
        ),
        "1"
    );
    // The hypertable keeps its integer_now_func.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT d.integer_now_func_schema || '.' || d.integer_now_func
             FROM _timescaledb_catalog.dimension d
             JOIN _timescaledb_catalog.hypertable h ON h.id = d.hypertable_id
             WHERE h.schema_name = 'shop' AND h.table_name = 'ticks'"
        ),
        "shop.tick_now"
    );
}

#[test]
fn a_c_function_the_table_needs_is_refused_by_name() {
    let db = "hm_closure_fn_c";
    let mut src = fresh_db(SOURCE_PORT, db);
    // A C function needs a library with the symbol; plpgsql's is on every server.
    // The table is empty, so the function is never called.
    src.batch_execute(
        "CREATE SCHEMA shop;
         CREATE FUNCTION shop.c_check(text) RETURNS boolean LANGUAGE c
             AS '$libdir/plpgsql', 'plpgsql_validator';
         CREATE TABLE shop.odd (id int PRIMARY KEY, s text CHECK (shop.c_check(s)));",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), db, "  - name: shop.odd\n");
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "function shop.c_check(text) is in language c",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
}

#[test]
fn the_spec_init_writes_plans_with_the_integer_now_func_it_names() {
    let db = "hm_closure_fn_init";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(FIXTURE).unwrap();
    fresh_db(TARGET_PORT, db);
    let out = hypermove()
        .args([
            "init",
            "--source",
            &url(SOURCE_PORT, db),
            "--target",
            &url(TARGET_PORT, db),
            "--include",
            "shop.ticks",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "integer_now_func: \"shop.tick_now\"",
        ))
        .get_output()
        .stdout
        .clone();
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "init.yaml", &String::from_utf8(out).unwrap());
    hypermove()
        .args(["plan", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("+ function:shop.tick_now()"))
        .stdout(predicate::str::contains(
            "set_integer_now_func('\"shop\".\"ticks\"'::regclass, 'shop.tick_now'::regproc)",
        ))
        .stdout(predicate::str::contains("does not exist on the target").not());
}

#[test]
fn a_sequence_another_moved_column_owns_moves_with_its_table() {
    let db = "hm_closure_fn_owned";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE SCHEMA shop;
         CREATE TABLE shop.orders (id serial PRIMARY KEY, note text);
         CREATE TABLE shop.lines (id int DEFAULT nextval('shop.orders_id_seq'), note text);
         INSERT INTO shop.orders (note) SELECT 'o' FROM generate_series(1, 10);
         INSERT INTO shop.lines (note) SELECT 'l' FROM generate_series(1, 5);",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    // The drawing table first: the owner's table is still created before it.
    let spec = spec(
        dir.path(),
        db,
        "  - name: shop.lines\n  - name: shop.orders\n",
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("not carried").not());
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT pg_get_serial_sequence('shop.orders', 'id')"
        ),
        "shop.orders_id_seq"
    );
    assert_eq!(
        scalar(
            &mut dst,
            "INSERT INTO shop.lines (note) VALUES ('new') RETURNING id::text"
        ),
        "16"
    );
}
