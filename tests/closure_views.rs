//! Nothing silently dropped: views around moved tables. Views over views, views over
//! tables renamed and moved to another schema (rewritten through the parsed
//! definition, bound to the target's tables), and a populated materialized view over a
//! renamed hypertable (recreated, indexed and refreshed) move from PostgreSQL 17 /
//! TimescaleDB 2.19 to PostgreSQL 18 / TimescaleDB 2.31; a view that reads a table
//! that is not moved is refused by name. On the full pair, a continuous aggregate is
//! named as what it is, never as a plain view.

mod common;

use common::*;
use predicates::prelude::*;

const FIXTURE: &str = r#"
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE SCHEMA app;
CREATE SCHEMA legacy;
CREATE TABLE app.devices (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO app.devices SELECT i, 'device ' || i FROM generate_series(1, 5) i;
CREATE TABLE legacy.codes (code int PRIMARY KEY, label text);
INSERT INTO legacy.codes SELECT i, 'code ' || i FROM generate_series(0, 9) i;
CREATE TABLE app.readings (time timestamptz NOT NULL, device int NOT NULL, value float8);
SELECT create_hypertable('app.readings', by_range('time', INTERVAL '1 day'));
INSERT INTO app.readings
SELECT '2025-01-01'::timestamptz + i * INTERVAL '1 hour', i % 5 + 1, (i * 7) % 100
FROM generate_series(0, 95) i;
CREATE TABLE app.other (id int PRIMARY KEY, note text);
-- Over a table renamed and moved to another schema, and a moved hypertable.
CREATE VIEW app.named AS
  SELECT r.time, d.name, r.value, c.label
  FROM app.readings r
  JOIN app.devices d ON d.id = r.device
  JOIN legacy.codes c ON c.code = r.device;
-- A view over that view, with an option and a comment.
CREATE VIEW app.hot WITH (security_barrier) AS SELECT * FROM app.named WHERE value > 50;
COMMENT ON VIEW app.hot IS 'hot readings';
-- A populated materialized view over the hypertable, with a unique index.
CREATE MATERIALIZED VIEW app.daily AS
  SELECT time_bucket('1 day', time) AS day, device, count(*) AS n, sum(value) AS total
  FROM app.readings GROUP BY 1, 2;
CREATE UNIQUE INDEX daily_day_device ON app.daily (day, device);
"#;

const TABLES: &str = "  - name: app.devices\n    target: inventory.gear\n  - name: legacy.codes\n    target: app.codes\n  - name: app.readings\n    target: metrics.readings\n";

fn spec(dir: &std::path::Path, db: &str, extra: &str, tables: &str) -> std::path::PathBuf {
    write_spec(
        dir,
        "views.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\n{extra}tables:\n{tables}",
            url(SOURCE_PORT, db),
            url(TARGET_PORT, db)
        ),
    )
}

/// Every row of a query, each as text, in the query's order.
fn rows(client: &mut postgres::Client, sql: &str) -> Vec<String> {
    client
        .query(&format!("SELECT t::text FROM ({sql}) t"), &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A view's definition, every name schema-qualified.
fn viewdef(client: &mut postgres::Client, view: &str) -> String {
    let mut tx = client.transaction().unwrap();
    tx.batch_execute("SET LOCAL search_path = pg_catalog")
        .unwrap();
    let def = tx
        .query_one("SELECT pg_get_viewdef($1::text::regclass, true)", &[&view])
        .unwrap()
        .get(0);
    tx.rollback().unwrap();
    def
}

/// The relations a view's stored query is bound to (pg_depend), by their names now.
fn bound_to(client: &mut postgres::Client, view: &str) -> Vec<String> {
    let mut tx = client.transaction().unwrap();
    tx.batch_execute("SET LOCAL search_path = pg_catalog")
        .unwrap();
    let names = tx
        .query(
            "SELECT DISTINCT d.refobjid::regclass::text
               FROM pg_rewrite r
               JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                               AND d.refclassid = 'pg_class'::regclass
              WHERE r.ev_class = $1::text::regclass AND d.refobjid <> r.ev_class
              ORDER BY 1",
            &[&view],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.rollback().unwrap();
    names
}

#[test]
fn views_over_views_renamed_tables_and_a_materialized_view_move() {
    let db = "hm_cview_move";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(FIXTURE).unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), db, "", TABLES);
    hypermove()
        .args(["plan", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("view:app.named"))
        .stdout(predicate::str::contains("view:app.hot"))
        .stdout(predicate::str::contains("view:app.daily"))
        .stdout(predicate::str::contains("refresh:app.daily"))
        .stdout(predicate::str::contains("not carried").not());
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .success();

    // The views read the same rows on both sides.
    for (s, d) in [
        (
            "SELECT * FROM app.named ORDER BY time",
            "SELECT * FROM app.named ORDER BY time",
        ),
        (
            "SELECT * FROM app.hot ORDER BY time",
            "SELECT * FROM app.hot ORDER BY time",
        ),
        (
            "SELECT * FROM app.daily ORDER BY day, device",
            "SELECT * FROM app.daily ORDER BY day, device",
        ),
    ] {
        let source = rows(&mut src, s);
        assert!(!source.is_empty(), "{s}");
        assert_eq!(source, rows(&mut dst, d), "{s}");
    }
    assert_eq!(rows(&mut dst, "SELECT * FROM app.hot").len(), 45);

    // The target's definition is the source's with the renamed tables' new names,
    // and its stored query is bound to the target's tables.
    let renamed = |def: String| {
        def.replace("app.devices", "inventory.gear")
            .replace("legacy.codes", "app.codes")
            .replace("app.readings", "metrics.readings")
    };
    for view in ["app.named", "app.hot", "app.daily"] {
        assert_eq!(
            renamed(viewdef(&mut src, view)),
            viewdef(&mut dst, view),
            "{view}"
        );
    }
    assert_eq!(
        bound_to(&mut dst, "app.named"),
        vec!["app.codes", "inventory.gear", "metrics.readings"]
    );
    assert_eq!(bound_to(&mut dst, "app.hot"), vec!["app.named"]);
    assert_eq!(bound_to(&mut dst, "app.daily"), vec!["metrics.readings"]);

    // The option, the comment, the materialized view's index and its rows.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT format('%s %s', c.reloptions, obj_description(c.oid, 'pg_class'))
               FROM pg_class c WHERE c.oid = 'app.hot'::regclass"
        ),
        "{security_barrier=true} hot readings"
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT format('%s %s', c.relispopulated, pg_get_indexdef(i.indexrelid))
               FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid
              WHERE c.oid = 'app.daily'::regclass"
        ),
        "t CREATE UNIQUE INDEX daily_day_device ON app.daily USING btree (day, device)"
    );
    // The renamed tables are back under their target names, and the schema the step
    // made for a moment (legacy) is gone.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT format('%s %s %s', to_regclass('inventory.gear') IS NOT NULL,
                           to_regclass('app.codes') IS NOT NULL,
                           EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'legacy'))"
        ),
        "t t f"
    );
    // The renamed hypertable is still one, under its target name, and takes rows
    // (in a new chunk) that the views see.
    dst.batch_execute(
        "INSERT INTO metrics.readings VALUES ('2025-02-01', 1, 99);
         INSERT INTO inventory.gear VALUES (6, 'device 6');",
    )
    .unwrap();
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM app.hot WHERE time = '2025-02-01'"
        ),
        "1"
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT format('%s.%s %s', hypertable_schema, hypertable_name, num_chunks)
               FROM timescaledb_information.hypertables"
        ),
        "metrics.readings 5"
    );
}

#[test]
fn a_view_reading_a_table_that_is_not_moved_is_refused_by_name() {
    let db = "hm_cview_refuse";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(FIXTURE).unwrap();
    src.batch_execute(
        "CREATE VIEW app.mixed AS
           SELECT r.time, o.note FROM app.readings r JOIN app.other o ON o.id = r.device;
         CREATE VIEW app.on_mixed AS SELECT * FROM app.mixed;",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let refused = spec(dir.path(), db, "", TABLES);
    hypermove()
        .args(["apply", "--yes", refused.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "view app.mixed cannot be carried over: it reads table app.other, which is not moved",
        ))
        .stderr(predicate::str::contains(
            "view app.on_mixed cannot be carried over: it reads view app.mixed, which is not carried over",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));

    let warned = spec(dir.path(), db, "on_unsupported: warn\n", TABLES);
    hypermove()
        .args(["plan", warned.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "view app.mixed is not carried over (on_unsupported: warn): it reads table app.other, which is not moved",
        ))
        .stdout(predicate::str::contains(
            "view app.on_mixed is not carried over (on_unsupported: warn): it reads view app.mixed, which is not carried over",
        ));
    hypermove()
        .args(["apply", "--yes", warned.to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT format('%s %s %s', to_regclass('app.mixed') IS NULL,
                           to_regclass('app.on_mixed') IS NULL, to_regclass('app.hot') IS NOT NULL)"
        ),
        "t t t"
    );
}

#[test]
fn a_continuous_aggregate_moves_as_one_and_the_view_over_it_after_it() {
    let db = "hm_cview_cagg";
    let mut src = fresh_db(FULL_SOURCE_PORT, db);
    src.batch_execute(
        "SET client_min_messages = warning;
         CREATE EXTENSION IF NOT EXISTS timescaledb;
         CREATE SCHEMA cagg;
         CREATE TABLE public.conditions_before (time timestamptz NOT NULL, location text, temperature float8);
         SELECT create_hypertable('public.conditions_before', by_range('time', INTERVAL '1 day'));
         INSERT INTO public.conditions_before
         SELECT '2025-01-01'::timestamptz + i * INTERVAL '1 hour', 'loc' || (i % 3), i % 30
         FROM generate_series(0, 71) i;
         CREATE MATERIALIZED VIEW cagg.realtime_mat
           WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
           SELECT time_bucket('1 day', time) AS bucket, location, avg(temperature) AS avg
           FROM public.conditions_before GROUP BY 1, 2 WITH NO DATA;
         CREATE VIEW public.recent AS SELECT * FROM public.conditions_before WHERE temperature > 10;
         CREATE VIEW public.over_cagg AS SELECT * FROM cagg.realtime_mat;",
    )
    .unwrap();
    let mut dst = fresh_db(FULL_TARGET_PORT, db);
    dst.batch_execute(
        "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS timescaledb;",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = |extra: &str| {
        format!(
            "version: 1\nsource: {}\ntarget: {}\n{extra}tables:\n  - name: public.conditions_before\n",
            url(FULL_SOURCE_PORT, db),
            url(FULL_TARGET_PORT, db)
        )
    };
    // The aggregate moves with its hypertable, and the view over it after it.
    let spec = write_spec(dir.path(), "spec.yaml", &text(""));
    hypermove()
        .args(["plan", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("+ cagg:cagg.realtime_mat\n"))
        .stdout(predicate::str::contains("+ view:public.over_cagg\n"))
        .stdout(predicate::str::contains("view cagg.realtime_mat").not())
        .stdout(predicate::str::contains("view:cagg.realtime_mat").not())
        .stdout(predicate::str::contains("view:public.recent"));
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(
        rows(&mut src, "SELECT * FROM public.over_cagg ORDER BY 1, 2"),
        rows(&mut dst, "SELECT * FROM public.over_cagg ORDER BY 1, 2")
    );
    assert_eq!(
        rows(&mut src, "SELECT * FROM public.recent ORDER BY time"),
        rows(&mut dst, "SELECT * FROM public.recent ORDER BY time")
    );
}
