//! Continuous aggregates move with their hypertable, every bucket intact: an hourly
//! real-time aggregate and a daily one on top of it (hierarchical), whose oldest raw
//! rows a retention run has already dropped on the source, moved re-chunked
//! 2.19/PG17 → 2.29/PG18 on the full pair. Every bucket of both aggregates is equal,
//! those without raw rows included; a row inserted on the target shows up in the
//! real-time aggregates; a refresh of recent data works and keeps the old buckets.
//! And a move killed with SIGKILL during the aggregates' steps resumes to the same
//! buckets, nothing duplicated.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use postgres::Client;
use predicates::prelude::*;

/// 20 days of 5-minute readings of 4 sensors in 1-day chunks (values in halves, so
/// sums are exact whatever the order); an hourly real-time aggregate in 5-day chunks
/// calling a user function, with an index and a comment, refreshed up to 01-18,
/// compressed (segmented by sensor) and its chunks before 01-12 compressed; a daily
/// one on it (and a view on that), refreshed up to 01-17; a retention policy that
/// does not act, and the raw chunks before 01-06 dropped (as a retention run would
/// have).
const FIXTURE: &str = "
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE public.readings (time timestamptz NOT NULL, sensor int NOT NULL, value float8);
SELECT create_hypertable('public.readings', by_range('time', INTERVAL '1 day'));
INSERT INTO public.readings
SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '5 minutes', i % 4, (i % 97) * 0.5
  FROM generate_series(0, 20 * 288 - 1) i;
CREATE FUNCTION public.doubled(v float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS 'SELECT v * 2';
CREATE MATERIALIZED VIEW public.readings_hourly
  WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
  SELECT time_bucket('1 hour', time) AS bucket, sensor, count(*) AS n, sum(value) AS total, max(value) AS peak,
         max(public.doubled(value)) AS peak2
    FROM public.readings GROUP BY 1, 2 WITH NO DATA;
SELECT set_chunk_time_interval('public.readings_hourly', INTERVAL '5 days');
CREATE INDEX readings_hourly_peak ON public.readings_hourly (peak);
COMMENT ON VIEW public.readings_hourly IS 'hourly readings';
CALL refresh_continuous_aggregate('public.readings_hourly', NULL, TIMESTAMPTZ '2025-01-18 00:00:00+00');
ALTER MATERIALIZED VIEW public.readings_hourly SET (timescaledb.compress = true, timescaledb.compress_segmentby = 'sensor');
SELECT count(compress_chunk(c)) FROM show_chunks('public.readings_hourly', older_than => TIMESTAMPTZ '2025-01-12 00:00:00+00') c;
CREATE MATERIALIZED VIEW public.readings_daily
  WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
  SELECT time_bucket('1 day', bucket) AS day, sensor, sum(n) AS n, sum(total) AS total, max(peak) AS peak
    FROM public.readings_hourly GROUP BY 1, 2 WITH NO DATA;
CALL refresh_continuous_aggregate('public.readings_daily', NULL, TIMESTAMPTZ '2025-01-17 00:00:00+00');
CREATE VIEW public.daily_peaks AS SELECT day, max(peak) AS peak FROM public.readings_daily GROUP BY day;
-- The policies first run a day from now: a run during the test would move the source's
-- invalidation threshold under it.
SELECT add_retention_policy('public.readings', drop_after => INTERVAL '100 years',
       initial_start => now() + INTERVAL '1 day');
SELECT count(*) FROM drop_chunks('public.readings', older_than => TIMESTAMPTZ '2025-01-06 00:00:00+00');
ALTER TABLE public.readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'sensor');
SELECT add_compression_policy('public.readings', compress_after => INTERVAL '100 years',
       initial_start => now() + INTERVAL '1 day');
SELECT add_continuous_aggregate_policy('public.readings_hourly', start_offset => INTERVAL '30 days',
       end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour',
       initial_start => now() + INTERVAL '1 day');
SELECT add_continuous_aggregate_policy('public.readings_daily', start_offset => INTERVAL '60 days',
       end_offset => INTERVAL '1 day', schedule_interval => INTERVAL '1 day',
       initial_start => now() + INTERVAL '1 day');
";

/// The jobs around the moved relations, as `timescaledb_information.jobs` shows them,
/// apart from IDs, next starts and the catalog IDs in their configs.
const JOBS: &str = "SELECT string_agg(x, '; ' ORDER BY x) FROM (
    SELECT format('%s %s.%s every %s config %s scheduled %s', j.proc_name,
                  coalesce(a.view_schema, j.hypertable_schema), coalesce(a.view_name, j.hypertable_name),
                  j.schedule_interval, j.config - 'mat_hypertable_id' - 'hypertable_id', j.scheduled) AS x
      FROM timescaledb_information.jobs j
      LEFT JOIN timescaledb_information.continuous_aggregates a
        ON a.materialization_hypertable_schema = j.hypertable_schema
       AND a.materialization_hypertable_name = j.hypertable_name
     WHERE j.job_id >= 1000) s";

/// Every row of a relation, in one digest (with the count).
fn digest(client: &mut Client, relation: &str) -> String {
    scalar(
        client,
        &format!(
            "SELECT count(*) || ' ' || md5(coalesce(string_agg(v::text, ',' ORDER BY v::text), '')) FROM {relation} v"
        ),
    )
}

/// Buckets before `before` (UTC) in an aggregate, by its bucket column.
fn buckets_before(client: &mut Client, relation: &str, column: &str, before: &str) -> i64 {
    client
        .query_one(
            &format!("SELECT count(*) FROM {relation} WHERE {column} < $1::text::timestamptz"),
            &[&before],
        )
        .unwrap()
        .get(0)
}

/// Each statement on its own: a refresh cannot run inside a transaction block, which
/// a multi-statement string is.
fn run_each(client: &mut Client, sql: &str) {
    for statement in sql.split(";\n").filter(|s| !s.trim().is_empty()) {
        client.batch_execute(statement).expect(statement);
    }
}

fn source(db: &str) -> Client {
    let mut src = fresh_db(FULL_SOURCE_PORT, db);
    run_each(&mut src, FIXTURE);
    // The raw rows of 01-01..01-05 are gone; their hourly and daily buckets are not.
    assert_eq!(
        scalar(
            &mut src,
            "SELECT count(*)::text FROM public.readings WHERE time < '2025-01-06'"
        ),
        "0"
    );
    assert_eq!(
        buckets_before(&mut src, "public.readings_hourly", "bucket", "2025-01-06"),
        5 * 24 * 4
    );
    src
}

fn spec(dir: &std::path::Path, src_db: &str, dst_db: &str) -> String {
    spec_with(dir, src_db, dst_db, "", "")
}

/// The spec, with `extra` top-level keys and `target` lines for the table.
fn spec_with(
    dir: &std::path::Path,
    src_db: &str,
    dst_db: &str,
    extra: &str,
    target: &str,
) -> String {
    write_spec(
        dir,
        "caggs.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\nverify: checksum\n{extra}tables:\n  - name: public.readings\n{target}    hypertable:\n      time_column: time\n      chunk_time_interval: 7 days\n",
            url(FULL_SOURCE_PORT, src_db),
            url(FULL_TARGET_PORT, dst_db)
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

/// Both aggregates (and the raw rows) answer the same on both sides, bucket for
/// bucket, with the buckets whose raw rows are gone; nothing duplicated in the
/// target's materializations.
fn assert_same(src: &mut Client, dst: &mut Client, point: &str) {
    for relation in [
        "public.readings",
        "public.readings_hourly",
        "public.readings_daily",
    ] {
        assert_eq!(
            digest(src, relation),
            digest(dst, relation),
            "{point}: {relation}"
        );
    }
    assert_eq!(
        buckets_before(dst, "public.readings_hourly", "bucket", "2025-01-06"),
        5 * 24 * 4,
        "{point}"
    );
    assert_eq!(
        buckets_before(dst, "public.readings_daily", "day", "2025-01-06"),
        5 * 4,
        "{point}"
    );
    // The hourly one is compressed as on the source, chunk for chunk.
    let chunks = "SELECT string_agg(format('%s %s', c.range_start, c.is_compressed), ', ' ORDER BY c.range_start)
                    FROM timescaledb_information.chunks c
                    JOIN timescaledb_information.continuous_aggregates a
                      ON a.materialization_hypertable_name = c.hypertable_name
                   WHERE a.view_name = 'readings_hourly'";
    assert_eq!(scalar(src, chunks), scalar(dst, chunks), "{point}");
    assert_eq!(
        scalar(
            dst,
            "SELECT format('%s %s', compression_enabled, (SELECT segmentby FROM timescaledb_information.hypertable_compression_settings s
                      WHERE s.hypertable = format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name)::regclass))
               FROM timescaledb_information.continuous_aggregates WHERE view_name = 'readings_hourly'"
        ),
        "t sensor",
        "{point}"
    );
    // The materializations hold each bucket once.
    for (view, bucket) in [("readings_hourly", "bucket"), ("readings_daily", "day")] {
        let mat = scalar(
            dst,
            &format!(
                "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name)
                   FROM timescaledb_information.continuous_aggregates WHERE view_name = '{view}'"
            ),
        );
        let src_mat = scalar(
            src,
            &format!(
                "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name)
                   FROM timescaledb_information.continuous_aggregates WHERE view_name = '{view}'"
            ),
        );
        let rows = format!(
            "SELECT format('%s %s', count(*), count(*) - count(DISTINCT ({bucket}, sensor))) FROM {{}}"
        );
        assert_eq!(
            scalar(dst, &rows.replace("{}", &mat)),
            scalar(src, &rows.replace("{}", &src_mat)),
            "{point}: {view}"
        );
    }
}

#[test]
fn hierarchical_aggregates_move_with_every_bucket_and_keep_working() {
    let (src_db, dst_db) = ("hm_cagg_src", "hm_cagg_dst");
    let mut src = source(src_db);
    let mut dst = fresh_db(FULL_TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), src_db, dst_db);

    // The plan shows each aggregate: its definition, what is copied, what refreshed.
    let plan = hypermove()
        .args(["plan", &spec])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let plan = String::from_utf8(plan).unwrap();
    for needle in [
        "+ cagg:public.readings_hourly\n",
        "-- continuous aggregate public.readings_hourly (real-time above it)\n",
        "-- copied: its materialized buckets, 5 windows over the source's materialization chunks 2024-12-28T00:00:00Z..2025-01-22T00:00:00Z",
        "; refreshed: none\n",
        "-- then its watermark 2025-01-18T00:00:00Z and invalidation threshold 2025-01-18T00:00:00Z are set as the source's",
        "CREATE MATERIALIZED VIEW \"public\".\"readings_hourly\" WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS",
        "FROM public.readings",
        "+ cagg:public.readings_hourly:watermark",
        "+ cagg:public.readings_daily\n",
        "FROM public.readings_hourly",
        "-- then its watermark 2025-01-17T00:00:00Z",
        "> copy:public.readings_hourly:",
        "= verify:public.readings_daily:",
        ", 2 continuous aggregates.",
    ] {
        assert!(plan.contains(needle), "{needle}\n{plan}");
    }
    assert!(!plan.contains("depends on it"), "{plan}");

    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains("ok   public.readings_hourly:"))
        .stdout(predicate::str::contains("ok   public.readings_daily:"));
    // The refresh policies of both aggregates and the hypertable's compression and
    // retention policies moved, and ended enabled as on the source.
    let jobs = scalar(&mut src, JOBS);
    assert_eq!(
        jobs.matches("policy_refresh_continuous_aggregate").count(),
        2,
        "{jobs}"
    );
    assert!(!jobs.contains("scheduled false"), "{jobs}");
    assert_eq!(jobs, scalar(&mut dst, JOBS));
    assert_same(&mut src, &mut dst, "after the move");
    // The view over the aggregate on top came after it.
    assert_eq!(
        digest(&mut src, "public.daily_peaks"),
        digest(&mut dst, "public.daily_peaks")
    );
    // The aggregate's options, index and comment came along.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT format('%s %s %s', materialized_only, obj_description('public.readings_hourly'::regclass),
                           (SELECT d.time_interval FROM timescaledb_information.dimensions d
                             WHERE d.hypertable_name = c.materialization_hypertable_name))
               FROM timescaledb_information.continuous_aggregates c WHERE view_name = 'readings_hourly'"
        ),
        "f hourly readings 5 days"
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_indexes WHERE indexname = 'readings_hourly_peak'"
        ),
        "1"
    );
    hypermove()
        .args(["verify", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   public.readings_hourly: 5 windows, 1920 source rows, checksum matches",
        ))
        .stdout(predicate::str::contains(
            "ok   public.readings_daily: 4 windows, 80 source rows, checksum matches",
        ));
    // A bucket changed on the target (one whose raw rows are gone) is caught, named
    // by aggregate and bucket range.
    let mat = scalar(
        &mut dst,
        "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name)
           FROM timescaledb_information.continuous_aggregates WHERE view_name = 'readings_hourly'",
    );
    let bump = |d: i32| {
        format!(
            "UPDATE {mat} SET n = n + {d} WHERE bucket = '2025-01-03 05:00:00+00' AND sensor = 1"
        )
    };
    dst.batch_execute(&bump(1)).unwrap();
    hypermove()
        .args(["verify", &spec])
        .assert()
        .code(3)
        .stdout(predicate::str::contains(
            "FAIL verify:public.readings_hourly:2025-01-02T00:00:00Z..2025-01-07T00:00:00Z: rows source 480 / target 480; checksum source",
        ));
    hypermove()
        .args(["status", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "  continuous aggregate public.readings_hourly: 5 bucket ranges, 1 differ\n",
        ));
    dst.batch_execute(&bump(-1)).unwrap();
    hypermove().args(["verify", &spec]).assert().success();
    hypermove()
        .args(["status", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "  continuous aggregate public.readings_hourly: 5 bucket ranges, all ok\n",
        ))
        .stdout(predicate::str::contains(
            "  continuous aggregate public.readings_daily: 4 bucket ranges, all ok\n",
        ));

    // A row inserted on the target shows up in both real-time aggregates.
    dst.batch_execute(
        "INSERT INTO public.readings VALUES ('2025-01-25 10:15:00+00', 9, 4.5), ('2025-01-25 10:20:00+00', 9, 1.5)",
    )
    .unwrap();
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT format('%s %s %s', bucket, n, total) FROM public.readings_hourly WHERE sensor = 9"
        ),
        "2025-01-25 10:00:00+00 2 6"
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT format('%s %s', n, total) FROM public.readings_daily WHERE sensor = 9"
        ),
        "2 6"
    );
    // A refresh of recent data works, and keeps the buckets without raw rows.
    run_each(
        &mut dst,
        "CALL refresh_continuous_aggregate('public.readings_hourly', '2025-01-17', '2025-01-26');
         CALL refresh_continuous_aggregate('public.readings_daily', '2025-01-16', '2025-01-26');\n",
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT format('%s %s', n, total) FROM public.readings_daily WHERE sensor = 9"
        ),
        "2 6"
    );
    assert_eq!(
        buckets_before(&mut dst, "public.readings_hourly", "bucket", "2025-01-06"),
        5 * 24 * 4
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(mat_hypertable_id))::text
               FROM _timescaledb_catalog.continuous_agg WHERE user_view_name = 'readings_hourly'"
        ),
        "2025-01-25 11:00:00+00"
    );
    // What the source answers before its own watermark the target still answers.
    for (relation, column, before) in [
        ("public.readings_hourly", "bucket", "2025-01-17"),
        ("public.readings_daily", "day", "2025-01-16"),
    ] {
        let sql = format!("(SELECT * FROM {relation} WHERE {column} < '{before}')");
        assert_eq!(digest(&mut src, &sql), digest(&mut dst, &sql), "{relation}");
    }
}

/// Start `apply --yes --workers 1` and kill -9 it as soon as a progress line on
/// stderr matches `at`.
fn apply_and_kill_at(spec: &str, at: &str) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("hypermove"))
        .args(["apply", "--yes", "--workers", "1", spec])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let hit = line.contains(at) && !line.contains("FAILED");
        seen.push(line);
        if hit {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL: no cleanup of any kind
    child.wait().unwrap();
    assert!(
        seen.last().is_some_and(|l| l.contains(at)),
        "apply ended before `{at}`: {seen:#?}"
    );
}

#[test]
fn a_move_killed_during_the_aggregates_resumes_with_every_bucket_once() {
    let (src_db, dst_db) = ("hm_cagg_kill_src", "hm_cagg_kill_dst");
    let mut src = source(src_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), src_db, dst_db);
    for at in [
        "] copy:public.readings_hourly:",
        "] cagg:public.readings_hourly:watermark",
        "] copy:public.readings_daily:",
    ] {
        let mut dst = fresh_db(FULL_TARGET_PORT, dst_db);
        apply_and_kill_at(&spec, at);
        hypermove()
            .args(["apply", "--yes", &spec])
            .assert()
            .success()
            .stdout(predicate::str::contains("ok   public.readings_daily:"));
        assert_same(&mut src, &mut dst, at);
        hypermove().args(["verify", &spec]).assert().success();
    }
}

#[test]
fn a_renamed_hypertable_in_a_mapped_schema_keeps_its_aggregates() {
    let (src_db, dst_db) = ("hm_cagg_ren_src", "hm_cagg_ren_dst");
    let mut src = source(src_db);
    let mut dst = fresh_db(FULL_TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with(
        dir.path(),
        src_db,
        dst_db,
        "schema_map: {public: archive}\n",
        "    target: archive.readings_v2\n",
    );
    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains("ok   archive.readings_daily:"));
    for (source, target) in [
        ("public.readings", "archive.readings_v2"),
        ("public.readings_hourly", "archive.readings_hourly"),
        ("public.readings_daily", "archive.readings_daily"),
        ("public.daily_peaks", "archive.daily_peaks"),
    ] {
        assert_eq!(
            digest(&mut src, source),
            digest(&mut dst, target),
            "{target}"
        );
    }
    // The aggregates read the renamed hypertable, and the temporary names are gone.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT string_agg(format('%s.%s on %s.%s', view_schema, view_name, hypertable_schema, hypertable_name), '; ' ORDER BY view_name)
               FROM timescaledb_information.continuous_aggregates"
        ),
        format!(
            "archive.readings_daily on _timescaledb_internal.{}; archive.readings_hourly on archive.readings_v2",
            scalar(
                &mut dst,
                "SELECT materialization_hypertable_name FROM timescaledb_information.continuous_aggregates WHERE view_name = 'readings_hourly'"
            )
        )
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_namespace WHERE nspname = 'public'"
        ),
        "1"
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname LIKE 'readings%'"
        ),
        "0"
    );
}

#[test]
fn an_apache_target_refuses_each_aggregate_by_name_or_moves_the_rows_without_them() {
    let (src_db, dst_db) = ("hm_cagg_apache_src", "hm_cagg_apache_dst");
    let mut src = source(src_db);
    let mut dst = fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let text = |extra: &str| {
        format!(
            "version: 1\nsource: {}\ntarget: {}\n{extra}tables:\n  - name: public.readings\n",
            url(FULL_SOURCE_PORT, src_db),
            url(TARGET_PORT, dst_db)
        )
    };
    let refused = write_spec(dir.path(), "refused.yaml", &text(""));
    let out = hypermove()
        .args(["plan", refused.to_str().unwrap()])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let out = String::from_utf8(out).unwrap();
    for cagg in ["public.readings_hourly", "public.readings_daily"] {
        assert!(
            out.contains(&format!("(public.readings): continuous aggregate {cagg} depends on it and cannot be carried over: continuous aggregates need TimescaleDB's community edition on the target, and the target's is licensed `apache`")),
            "{cagg}\n{out}"
        );
    }
    let warned = write_spec(dir.path(), "warned.yaml", &text("on_unsupported: warn\n"));
    hypermove()
        .args(["apply", "--yes", warned.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "public.readings: continuous aggregate public.readings_hourly depends on it on the source; not carried over (on_unsupported: warn)",
        ))
        .stdout(predicate::str::contains(
            "view public.daily_peaks is not carried over (on_unsupported: warn): it reads continuous aggregate public.readings_daily, which is not moved",
        ));
    assert_eq!(
        digest(&mut src, "public.readings"),
        digest(&mut dst, "public.readings")
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_class WHERE relkind = 'v' AND relname IN ('readings_hourly', 'readings_daily', 'daily_peaks')"
        ),
        "0"
    );
}
