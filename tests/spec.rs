//! The spec language: fixtures of invalid specs with their exact errors and
//! positions, valid specs that resolve, every create_hypertable parameter applied
//! on the real servers, and `init` round trips.

mod common;

use common::*;
use predicates::prelude::*;

fn fixtures(kind: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(root().join("tests/fixtures").join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Every invalid fixture fails `validate` with exit 1 and exactly the errors in its
/// `.expect` file, each with `file:line:col`, all at once.
#[test]
fn invalid_specs_report_every_error_with_its_position() {
    let files = fixtures("invalid");
    assert!(files.len() >= 40, "only {} invalid fixtures", files.len());
    let mut target = fresh_db(TARGET_PORT, "hm_spec_hostile");
    let before = catalog_snapshot(&mut target);
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        let expected = std::fs::read_to_string(file.with_extension("expect")).unwrap();
        let out = hypermove()
            .env_remove("NOPE_NOT_SET_HM")
            .args(["validate", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", file.display());
        let prefix = format!("{}:", file.display());
        let actual: String = String::from_utf8(out.stderr)
            .unwrap()
            .lines()
            .map(|l| {
                assert!(l.starts_with(&prefix), "{l}");
                format!("{}\n", &l[prefix.len()..])
            })
            .collect();
        assert_eq!(actual, expected, "{}", file.display());
        // apply refuses it too, and the target database is left exactly as it was.
        let text = std::fs::read_to_string(&file).unwrap();
        let aimed = dir.path().join(file.file_name().unwrap());
        std::fs::write(&aimed, text.replace("55418/demo", "55418/hm_spec_hostile")).unwrap();
        let out = hypermove()
            .env_remove("NOPE_NOT_SET_HM")
            .args(["apply", "--yes", aimed.to_str().unwrap()])
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0), "{}", file.display());
        assert_eq!(
            before,
            catalog_snapshot(&mut target),
            "{} touched the target",
            file.display()
        );
        for line in expected.lines() {
            let mut parts = line.splitn(3, ':');
            let (l, c) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(
                l.parse::<usize>().is_ok() && c.parse::<usize>().is_ok(),
                "{}: `{line}` has no line:col",
                file.display()
            );
        }
    }
}

/// Valid fixtures resolve (parse → resolve), offline.
#[test]
fn valid_specs_resolve() {
    let files = fixtures("valid");
    assert!(files.len() >= 5);
    for file in files {
        hypermove()
            .args(["validate", file.to_str().unwrap()])
            .assert()
            .success()
            .stdout(predicate::str::contains("valid"));
    }
}

/// A password interpolated from the environment works and never shows; a missing
/// variable is named (not its value) with its position.
#[test]
fn interpolation_keeps_secrets_out_of_every_output() {
    let db = "hm_spec_interp";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1), (2);",
    )
    .unwrap();
    fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "interp.yaml",
        &format!(
            "version: 1\nsource: postgresql://postgres:${{HM_SECRET}}@127.0.0.1:{SOURCE_PORT}/{db}\ntarget: postgresql://postgres:${{HM_SECRET}}@127.0.0.1:{TARGET_PORT}/${{HM_DB:-{db}}}\ntables:\n  - name: public.t\n"
        ),
    );
    let secret = "Sup3r-Secret-Pw";
    for args in [
        vec!["plan"],
        vec!["plan", "--format", "json"],
        vec!["plan", "--format", "dot"],
        vec!["apply", "--yes"],
        vec!["verify"],
        vec!["status"],
    ] {
        let out = hypermove()
            .env("HM_SECRET", secret)
            .args(&args)
            .arg(&spec)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !String::from_utf8_lossy(stream).contains(secret),
                "{args:?} printed the password"
            );
        }
    }
    hypermove()
        .env_remove("HM_SECRET")
        .args(["plan", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "interp.yaml:2:9: source: environment variable HM_SECRET is not set",
        ));
}

const FEATURES_SQL: &str = "
    SET client_min_messages = warning;
    CREATE EXTENSION IF NOT EXISTS timescaledb;
    CREATE FUNCTION public.counters_now() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT 100000::bigint $$;
    CREATE TABLE public.counters (t bigint NOT NULL, k int, v int);
    SELECT create_hypertable('public.counters', by_range('t', 1000));
    SELECT set_integer_now_func('public.counters', 'public.counters_now');
    INSERT INTO public.counters SELECT i, i % 7, i * 2 FROM generate_series(0, 4999) i;
    CREATE TABLE public.events (ts timestamptz NOT NULL, kind text NOT NULL, payload jsonb);
    INSERT INTO public.events SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '10 minutes', (ARRAY['a','b','c','d'])[1 + i % 4], jsonb_build_object('i', i) FROM generate_series(0, 1439) i;
    CREATE TABLE public.metrics (time timestamptz NOT NULL, v float8);
    SELECT create_hypertable('public.metrics', by_range('time', INTERVAL '1 day'));
    INSERT INTO public.metrics SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '1 hour', i FROM generate_series(0, 71) i;
    CREATE TABLE public.extra_one (time timestamptz NOT NULL, v int);
    SELECT create_hypertable('public.extra_one', by_range('time', INTERVAL '1 day'));
    INSERT INTO public.extra_one SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '1 hour', i FROM generate_series(0, 95) i;
    CREATE TABLE public.extra_skip (id int);
    ANALYZE;
";

/// integer_now_func carried, associated schema/prefix, hash dimension from the
/// `dimensions:` list, no default indexes, from/until filters, plain: true,
/// schema_map, include/exclude with defaults, and max_window_rows splitting.
#[test]
fn every_spec_feature_applies_on_the_real_servers() {
    let db = "hm_spec_features";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(FEATURES_SQL).unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    dst.batch_execute(
        "CREATE FUNCTION public.counters_now() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT 100000::bigint $$;
         CREATE FUNCTION public.kind_hash(anyelement) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT abs(hashtext($1::text)) $$;",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "features.yaml",
        &format!(
            "version: 1
source: {}
target: postgresql://postgres@127.0.0.1:{TARGET_PORT}/${{HM_TARGET_DB:-nowhere}}
max_window_rows: 500
schema_map: {{public: archive}}
defaults:
  chunk_time_interval: 2 days
include: ['public.extra_*']
exclude: ['public.extra_skip']
tables:
  - name: public.counters
  - name: public.events
    target: public.events
    from: 2025-01-02
    until: 2025-01-05
    hypertable:
      time_column: ts
      chunk_time_interval: 1 day
      dimensions:
        - {{column: kind, number_partitions: 3, partitioning_func: public.kind_hash}}
      associated_schema_name: ev_chunks
      associated_table_prefix: ev
      create_default_indexes: false
  - name: public.metrics
    hypertable: {{plain: true}}
",
            url(SOURCE_PORT, db)
        ),
    );
    hypermove()
        .env("HM_TARGET_DB", db)
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   archive.counters: 10 windows, 5000 source rows, checksum matches",
        ))
        .stdout(predicate::str::contains(
            "ok   public.events: 3 windows, 432 source rows, checksum matches",
        ))
        .stdout(predicate::str::contains(
            "ok   archive.metrics: 3 windows, 72 source rows, checksum matches",
        ))
        .stdout(predicate::str::contains(
            "ok   archive.extra_one: 4 windows, 96 source rows, checksum matches",
        ));

    let dims = |client: &mut postgres::Client, schema: &str, table: &str| -> Vec<String> {
        client
            .query(
                "SELECT concat_ws(' ', column_name, dimension_type, coalesce(time_interval::text, integer_interval::text), num_partitions, integer_now_func)
                   FROM timescaledb_information.dimensions WHERE hypertable_schema = $1 AND hypertable_name = $2 ORDER BY dimension_number",
                &[&schema, &table],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    // Integer time, its interval and integer_now_func, under the mapped schema.
    assert_eq!(
        dims(&mut dst, "archive", "counters"),
        ["t Time 1000 counters_now"]
    );
    // A plain source became a hypertable with a hash dimension from `dimensions:`.
    assert_eq!(
        dims(&mut dst, "public", "events"),
        ["ts Time 1 day", "kind Space 3"]
    );
    // The hash dimension uses the spec's partitioning_func.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT partitioning_func_schema || '.' || partitioning_func FROM _timescaledb_catalog.dimension WHERE column_name = 'kind'"
        ),
        "public.kind_hash"
    );
    // Only the rows in [from, until) moved.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT format('%s %s %s', count(*), min(ts), max(ts)) FROM public.events"
        ),
        "432 2025-01-02 00:00:00+00 2025-01-04 23:50:00+00"
    );
    // Chunks live where associated_schema_name/prefix say.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT string_agg(DISTINCT chunk_schema || ':' || left(chunk_name, 3), ',') FROM timescaledb_information.chunks WHERE hypertable_name = 'events'"
        ),
        "ev_chunks:ev_"
    );
    // create_default_indexes: false means no index at all here.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_index WHERE indrelid = 'public.events'::regclass"
        ),
        "0"
    );
    // plain: true.
    assert_eq!(dims(&mut dst, "archive", "metrics"), Vec::<String>::new());
    assert_eq!(
        scalar(&mut dst, "SELECT count(*)::text FROM archive.metrics"),
        "72"
    );
    // include/exclude and the default interval.
    assert_eq!(dims(&mut dst, "archive", "extra_one"), ["time Time 2 days"]);
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT (to_regclass('archive.extra_skip') IS NULL)::text"
        ),
        "true"
    );
    // With create_default_indexes on (the default), the time index exists.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_index WHERE indrelid = 'archive.extra_one'::regclass"
        ),
        "1"
    );
}

/// `include: ['*']` selects every table, never a chunk or a TimescaleDB internal,
/// and a missing function is refused at plan time, naming it.
#[test]
fn include_never_selects_chunks_and_functions_must_exist() {
    let db = "hm_spec_include";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(FEATURES_SQL).unwrap();
    fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "all.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ninclude: ['*']\n",
            url(SOURCE_PORT, db),
            url(TARGET_PORT, db)
        ),
    );
    let out = hypermove()
        .args(["plan", "--format", "json", spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for table in [
        "public.counters",
        "public.events",
        "public.metrics",
        "public.extra_one",
        "public.extra_skip",
    ] {
        assert!(
            text.contains(&format!("\"table:{table}\"")),
            "{table} not selected"
        );
    }
    assert!(
        !text.contains("\"table:_timescaledb"),
        "an internal table was selected"
    );
    // counters' integer_now_func does not exist on this target: it moves with the
    // table, before it, and is set on the target hypertable.
    assert!(
        text.contains("\"id\": \"function:public.counters_now()\""),
        "{text}"
    );
    assert!(!text.contains("is not carried over"), "{text}");

    let spec = write_spec(
        dir.path(),
        "func.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.events\n    hypertable:\n      time_column: ts\n      partitioning_column: kind\n      number_partitions: 2\n      partitioning_func: public.no_such_hash\n",
            url(SOURCE_PORT, db),
            url(TARGET_PORT, db)
        ),
    );
    hypermove()
        .args(["plan", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("func.yaml:5:5: tables[0] (public.events): function public.no_such_hash does not exist on the target"));
}

/// `init` writes a spec that, applied unchanged, reproduces the source's dimensions;
/// `validate --online` accepts it.
#[test]
fn init_round_trips_the_source_layout() {
    let db = "hm_spec_init";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(FEATURES_SQL).unwrap();
    src.batch_execute(
        "CREATE TABLE public.wide (time timestamptz NOT NULL, site int NOT NULL, seq bigint NOT NULL, v int);
         SELECT create_hypertable('public.wide', by_range('time', INTERVAL '6 hours'));
         SELECT add_dimension('public.wide', by_hash('site', 3));
         SELECT add_dimension('public.wide', by_range('seq', 50));
         INSERT INTO public.wide SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '1 hour', i % 5, i, i FROM generate_series(0, 47) i;",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    dst.batch_execute("CREATE FUNCTION public.counters_now() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT 100000::bigint $$")
        .unwrap();
    let out = hypermove()
        .args([
            "init",
            "--source",
            &url(SOURCE_PORT, db),
            "--target",
            &url(TARGET_PORT, db),
            "--include",
            "public.*",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("chunk_time_interval: \"6 hours\"   # edit to re-chunk"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "init.yaml", &text);
    hypermove()
        .args(["validate", "--online", spec.to_str().unwrap()])
        .assert()
        .success();
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("Verification (checksum): all"));
    let layout = "SELECT string_agg(concat_ws(' ', hypertable_schema, hypertable_name, dimension_number, column_name, column_type, dimension_type, time_interval, integer_interval, num_partitions, integer_now_func), E'\\n' ORDER BY hypertable_schema, hypertable_name, dimension_number)
                    FROM timescaledb_information.dimensions";
    let source_layout = scalar(&mut src, layout);
    assert!(
        source_layout.contains("wide 3 seq bigint Time"),
        "{source_layout}"
    );
    assert_eq!(source_layout, scalar(&mut dst, layout));
}

/// Passwords from PGPASSWORD and from ~/.pgpass never appear in any output, at any
/// verbosity, nor in the journal the target keeps.
#[test]
fn passwords_from_the_environment_and_pgpass_never_appear() {
    let dir = tempfile::tempdir().unwrap();
    let pgpass = dir.path().join(".pgpass");
    std::fs::write(&pgpass, "*:*:*:postgres:Pgpass-Secret-2\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    for (i, (var, value, secret)) in [
        ("PGPASSWORD", "Env-Secret-1", "Env-Secret-1"),
        ("HOME", dir.path().to_str().unwrap(), "Pgpass-Secret-2"),
        ("HM_UNUSED", "", "Uri-Secret-3"),
    ]
    .into_iter()
    .enumerate()
    {
        let db = format!("hm_spec_secret_{i}");
        let mut src = fresh_db(SOURCE_PORT, &db);
        src.batch_execute(
            "CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1);",
        )
        .unwrap();
        let mut dst = fresh_db(TARGET_PORT, &db);
        let spec = write_spec(
            dir.path(),
            &format!("secret{i}.yaml"),
            &format!(
                "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.t\n",
                url(SOURCE_PORT, &db).replace("postgres@", "postgres:Uri-Secret-3@"),
                url(TARGET_PORT, &db).replace("postgres@", "postgres:Uri-Secret-3@")
            ),
        );
        let spec = spec.to_str().unwrap();
        for args in [
            vec!["-vv", "plan", spec],
            vec!["plan", "--format", "json", spec],
            vec!["plan", "--format", "dot", spec],
            vec!["-vv", "apply", "--yes", spec],
            vec!["-vv", "verify", spec],
            vec!["status", "--format", "json", spec],
        ] {
            let out = hypermove()
                .env_remove("PGPASSWORD")
                .env(var, value)
                .args(&args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            for stream in [&out.stdout, &out.stderr] {
                assert!(
                    !String::from_utf8_lossy(stream).contains(secret),
                    "{args:?} printed the password"
                );
            }
        }
        let journal = scalar(
            &mut dst,
            "SELECT concat_ws(' ', (SELECT string_agg(r::text, ' ') FROM hypermove.run r),
                                   (SELECT string_agg(s::text, ' ') FROM hypermove.step s),
                                   (SELECT string_agg(v::text, ' ') FROM hypermove.verification v),
                                   (SELECT string_agg(a::text, ' ') FROM hypermove.applied a))",
        );
        assert!(journal.contains("copy:public.t"), "{journal}");
        assert!(!journal.contains(secret), "the journal holds the password");
    }
}
