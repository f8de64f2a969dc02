//! The whole-database path (`dump-db` + `restore-db --jobs 2`) on the full
//! TimescaleDB build, 17 → 17 (PostgreSQL 17 + TimescaleDB 2.19.3 on 55427, restored
//! into another database of the same server), on what a production database holds:
//! compressed chunks, an hourly continuous aggregate with a daily one on top of it, a
//! retention policy that already dropped the oldest raw chunks, a refresh policy, a
//! compression policy and a user job. This is where the TimescaleDB docs' procedure
//! matters most and where a plain `pg_restore -j` fails. Uses the sandbox's own
//! client tools (`scripts/sandbox bin 17full`); a missing server or tool fails the test.

mod common;

use std::path::PathBuf;

use common::*;
use postgres::Client;
use predicates::prelude::*;

const SOURCE_DB: &str = "hm_wdbf_src";
const TARGET_DB: &str = "hm_wdbf_dst";

/// The sandbox's pg_dump/pg_restore wrappers for the full 17 server.
fn tool(name: &str) -> String {
    let out = std::process::Command::new(root().join("scripts/sandbox"))
        .args(["bin", "17full"])
        .output()
        .expect("run scripts/sandbox bin 17full");
    assert!(
        out.status.success(),
        "scripts/sandbox bin 17full failed (run `scripts/sandbox up` first): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()).join(name);
    assert!(path.is_file(), "{} is missing", path.display());
    path.display().to_string()
}

fn drop_db(name: &str) {
    connect(FULL_SOURCE_PORT, "postgres")
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .expect("drop test database");
}

fn job_id(client: &mut Client, proc_name: &str) -> i32 {
    client
        .query_one(
            "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = $1",
            &[&proc_name],
        )
        .expect("find the job")
        .get(0)
}

/// Ten days of 5-minute rows for 3 devices in 1-day chunks; both aggregates fully
/// materialized; every chunk older than 3 days compressed; then the retention policy
/// (7 days) run once, so the oldest raw chunks are gone while their buckets stay.
fn make_source() -> Client {
    let mut src = fresh_db(FULL_SOURCE_PORT, SOURCE_DB);
    // One statement per call: refresh_continuous_aggregate() refuses to run in the
    // implicit transaction of a multi-statement batch.
    for sql in [
        "CREATE EXTENSION timescaledb",
        "CREATE TABLE public.metrics (
             time timestamptz NOT NULL, device int NOT NULL, value double precision NOT NULL)",
        "SELECT create_hypertable('public.metrics', by_range('time', INTERVAL '1 day'))",
        "INSERT INTO public.metrics
         SELECT t, d, d * 10 + extract(minute FROM t) / 7.0
           FROM generate_series(now() - INTERVAL '10 days', now(), INTERVAL '5 minutes') t,
                generate_series(1, 3) d",
        "CREATE MATERIALIZED VIEW public.metrics_hourly
           WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
           SELECT time_bucket('1 hour', time) AS bucket, device,
                  count(*) AS n, sum(value) AS total, max(value) AS top
             FROM public.metrics GROUP BY 1, 2 WITH NO DATA",
        "CALL refresh_continuous_aggregate('public.metrics_hourly', NULL, NULL)",
        "CREATE MATERIALIZED VIEW public.metrics_daily
           WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
           SELECT time_bucket('1 day', bucket) AS day, device,
                  sum(n) AS n, sum(total) AS total, max(top) AS top
             FROM public.metrics_hourly GROUP BY 1, 2 WITH NO DATA",
        "CALL refresh_continuous_aggregate('public.metrics_daily', NULL, NULL)",
        "ALTER TABLE public.metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device')",
        "SELECT compress_chunk(c)
           FROM show_chunks('public.metrics', older_than => now() - INTERVAL '3 days') c",
        "SELECT add_retention_policy('public.metrics', INTERVAL '7 days')",
        "SELECT add_continuous_aggregate_policy('public.metrics_hourly',
                  start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
                  schedule_interval => INTERVAL '1 hour')",
        "SELECT add_compression_policy('public.metrics', INTERVAL '3 days')",
        "CREATE TABLE public.job_log (
             id serial PRIMARY KEY, job_id int, ran_at timestamptz DEFAULT now(), config jsonb)",
        "CREATE PROCEDURE public.note_job(job_id int, config jsonb) LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO public.job_log (job_id, config) VALUES (job_id, config); END $$;
         SELECT add_job('public.note_job', INTERVAL '1 day', config => '{\"tag\": \"nightly\"}',
                        initial_start => now() + INTERVAL '1 day')",
    ] {
        src.batch_execute(sql)
            .unwrap_or_else(|e| panic!("build the source database: {sql}: {e}"));
    }
    let retention = job_id(&mut src, "policy_retention");
    src.batch_execute(&format!("CALL run_job({retention})"))
        .expect("run the retention policy on the source");
    src
}

/// Per aggregate view and for the raw hypertable: row count and a digest of every
/// row, read through the view (real-time or not), so the user-visible answer is
/// compared. Then the chunks, compressed ones apart.
fn digests(client: &mut Client) -> Vec<String> {
    [
        "SELECT 'hourly ' || count(*) || ' ' || coalesce(md5(string_agg(v::text, ',' ORDER BY bucket, device)), '-') FROM public.metrics_hourly v",
        "SELECT 'daily ' || count(*) || ' ' || coalesce(md5(string_agg(v::text, ',' ORDER BY day, device)), '-') FROM public.metrics_daily v",
        "SELECT 'raw ' || count(*) || ' ' || coalesce(md5(string_agg(v::text, ',' ORDER BY time, device)), '-') FROM public.metrics v",
        "SELECT 'chunks ' || string_agg(hypertable_name || ':' || n || '/' || c, ' ' ORDER BY hypertable_name)
           FROM (SELECT hypertable_name, count(*) n, count(*) FILTER (WHERE is_compressed) c
                   FROM timescaledb_information.chunks GROUP BY 1) s",
    ]
    .iter()
    .map(|sql| scalar(client, sql))
    .collect()
}

/// `timescaledb_information.jobs` apart from the ids and next starts.
fn jobs(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT concat_ws(' | ', proc_schema, proc_name, schedule_interval, max_runtime,
                              max_retries, retry_period, owner, scheduled, fixed_schedule,
                              config, hypertable_schema, hypertable_name, initial_start,
                              check_schema, check_name)
               FROM timescaledb_information.jobs ORDER BY proc_schema, proc_name",
            &[],
        )
        .expect("read the jobs")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The user job's next start: the dump does not carry it, restore-db must.
fn user_job_next_start(client: &mut Client) -> String {
    scalar(
        client,
        "SELECT s.next_start::text FROM timescaledb_information.job_stats s
           JOIN timescaledb_information.jobs j USING (job_id) WHERE j.proc_name = 'note_job'",
    )
}

#[test]
fn full_build_parallel_restore_keeps_every_bucket_and_job() {
    let mut src = make_source();
    let before = digests(&mut src);
    // The source is what the test claims: retention dropped raw chunks whose buckets
    // the aggregates still return, and chunks are compressed.
    assert_eq!(
        scalar(
            &mut src,
            "SELECT ((SELECT min(bucket) FROM public.metrics_hourly) < (SELECT min(time) - INTERVAL '1 day' FROM public.metrics))::text"
        ),
        "true",
        "the hourly aggregate must hold buckets whose raw rows were dropped"
    );
    assert!(
        before[3].contains("metrics:8/4"),
        "expected 8 raw chunks, 4 compressed: {before:?}"
    );
    let src_jobs = jobs(&mut src);
    // Retention, refresh, compression, the user job, and the extension's own two.
    assert_eq!(src_jobs.len(), 6, "{src_jobs:#?}");
    let src_next_start = user_job_next_start(&mut src);

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("whole_db_full");
    let _ = std::fs::remove_dir_all(&dir);
    hypermove()
        .args([
            "dump-db",
            "--source",
            &url(FULL_SOURCE_PORT, SOURCE_DB),
            "--to",
        ])
        .arg(&dir)
        .args(["--pg-dump", &tool("pg_dump")])
        .assert()
        .success();

    drop_db(TARGET_DB);
    hypermove()
        .args(["restore-db"])
        .arg(&dir)
        .args(["--target", &url(FULL_SOURCE_PORT, TARGET_DB)])
        .args(["--pg-restore", &tool("pg_restore"), "--jobs", "2"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("every count matches the dump"))
        .stderr(predicate::str::contains("ran timescaledb_post_restore()"));

    let mut dst = connect(FULL_SOURCE_PORT, TARGET_DB);
    // Not left in restore mode: neither the session nor the database setting.
    assert_eq!(scalar(&mut dst, "SHOW timescaledb.restoring"), "off");
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
              WHERE d.datname = current_database()
                AND EXISTS (SELECT 1 FROM unnest(s.setconfig) c WHERE c LIKE 'timescaledb.restoring=%')"
        ),
        "0",
        "the database keeps a timescaledb.restoring setting"
    );

    // Every bucket of both aggregates, every raw row, every chunk and its compression.
    assert_eq!(digests(&mut dst), before);
    // The jobs, and the user job's next start: without it the restored scheduler
    // would run every job the moment restore mode ends.
    assert_eq!(jobs(&mut dst), src_jobs);
    assert_eq!(user_job_next_start(&mut dst), src_next_start);
    assert_eq!(
        scalar(&mut dst, "SELECT count(*)::text FROM public.job_log"),
        "0",
        "the user job ran by itself before its initial start"
    );

    // The jobs run on the restored database.
    let user_job = job_id(&mut dst, "note_job");
    dst.batch_execute(&format!("CALL run_job({user_job})"))
        .expect("run the user job on the target");
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT string_agg(job_id || ' ' || config::text, ',') FROM public.job_log"
        ),
        format!("{user_job} {{\"tag\": \"nightly\"}}")
    );
    let refresh = job_id(&mut dst, "policy_refresh_continuous_aggregate");
    dst.batch_execute(&format!("CALL run_job({refresh})"))
        .expect("run the refresh policy on the target");
    // The refresh kept every bucket, and real-time aggregation sees a new row.
    assert_eq!(digests(&mut dst)[..2], before[..2]);
    dst.batch_execute(
        "INSERT INTO public.metrics VALUES (date_trunc('hour', now()) + INTERVAL '2 hours', 1, 1.5)",
    )
    .expect("insert after the restore");
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT n::text FROM public.metrics_hourly
              WHERE bucket = date_trunc('hour', now()) + INTERVAL '2 hours' AND device = 1"
        ),
        "1"
    );
    drop(dst);
    drop_db(TARGET_DB);
}
