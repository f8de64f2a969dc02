//! Jobs around moved tables, on the full pair (2.19/PG17 → 2.29/PG18):
//! - a user job whose plpgsql procedure and config name the moved hypertable moves
//!   with it (the procedure as a function), and runs once on the target (`run_job`);
//! - `timescaledb_information.jobs` compares equal on both sides, apart from job IDs
//!   (also inside application names and configs' hypertable_id) and next start;
//! - jobs and policies end enabled as on the source (a paused one stays paused), and
//!   with `jobs: paused` every one stays paused;
//! - the plan names every scheduled source job that touches a moved table;
//! - `apply --pause-source-jobs` pauses those source jobs while the move runs
//!   (checked from here while a source lock holds a copy back) and restores them
//!   afterwards; after kill -9 the journal keeps them paused, and the resumed
//!   `apply`, or `clean`, restores them.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use postgres::Client;
use predicates::prelude::*;

/// A compressed hypertable with compression and retention policies whose thresholds
/// keep them from acting; a rollup table; a plpgsql procedure that rolls the table
/// its config names up into it; a scheduled user job naming the hypertable (with
/// its own runtime limits and retries), and a paused one.
const FIXTURE: &str = "
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE public.metrics (time timestamptz NOT NULL, device int NOT NULL, value float8);
SELECT create_hypertable('public.metrics', by_range('time', INTERVAL '1 day'));
INSERT INTO public.metrics
SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '1 minute', i % 5, i
  FROM generate_series(0, 5 * 1440 - 1) i;
ALTER TABLE public.metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device');
SELECT add_compression_policy('public.metrics', compress_after => INTERVAL '100 years');
SELECT add_retention_policy('public.metrics', drop_after => INTERVAL '200 years');
CREATE TABLE public.rollup (day date, device int, n bigint, PRIMARY KEY (day, device));
CREATE PROCEDURE public.do_rollup(job_id int, config jsonb) LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('INSERT INTO public.rollup SELECT time::date, device, count(*) FROM %s GROUP BY 1, 2
                  ON CONFLICT (day, device) DO UPDATE SET n = excluded.n',
                 (config ->> 'hypertable')::regclass);
END $$;
SELECT alter_job(add_job('public.do_rollup', INTERVAL '1 hour', config => '{\"hypertable\": \"public.metrics\"}',
                         initial_start => TIMESTAMPTZ '2030-01-01 00:00:00+00'),
                 max_runtime => INTERVAL '5 minutes', max_retries => 3, retry_period => INTERVAL '1 minute');
SELECT add_job('public.do_rollup', INTERVAL '1 day', config => '{\"hypertable\": \"public.metrics\", \"note\": \"paused\"}',
               initial_start => TIMESTAMPTZ '2030-01-01 00:00:00+00', scheduled => false, fixed_schedule => false);
";

/// Every job of the database as `timescaledb_information.jobs` shows it, one line
/// each, without what differs by nature: job IDs (also in application names and a
/// policy's hypertable_id) and next start. TimescaleDB 2.18 and later call their
/// compression policy a columnstore policy: the same policy, named by the version.
const JOBS: &str = "SELECT coalesce(string_agg(format('%s|%s|%s|%s|%s|%s.%s|%s|%s|%s|%s|%s|%s.%s|%s.%s',
        regexp_replace(regexp_replace(application_name, '\\s*\\[[0-9]+\\]$', ''), '^Columnstore Policy$', 'Compression Policy'), schedule_interval, max_runtime, max_retries,
        retry_period, proc_schema, proc_name, owner, scheduled, fixed_schedule, config - 'hypertable_id',
        initial_start, hypertable_schema, hypertable_name, check_schema, check_name),
        E'\\n' ORDER BY proc_name, config::text), '')
   FROM timescaledb_information.jobs WHERE job_id >= 1000";

/// Whether each job of the fixture is scheduled, by name.
const SCHEDULED: &str = "SELECT string_agg(format('%s%s=%s', proc_name, coalesce(' ' || (config ->> 'note'), ''), scheduled), ', ' ORDER BY proc_name, config::text)
   FROM timescaledb_information.jobs WHERE job_id >= 1000";

/// The fixture's jobs as the source has them.
const AS_ON_THE_SOURCE: &str =
    "do_rollup=t, do_rollup paused=f, policy_compression=t, policy_retention=t";

/// The source's jobs while paused for the move.
const PAUSED: &str = "do_rollup=f, do_rollup paused=f, policy_compression=f, policy_retention=f";

fn source(db: &str) -> Client {
    let mut src = fresh_db(FULL_SOURCE_PORT, db);
    src.batch_execute(FIXTURE).unwrap();
    assert_eq!(scalar(&mut src, SCHEDULED), AS_ON_THE_SOURCE);
    src
}

fn target(db: &str) -> Client {
    let mut dst = fresh_db(FULL_TARGET_PORT, db);
    dst.batch_execute("SET client_min_messages = warning; CREATE EXTENSION timescaledb")
        .unwrap();
    dst
}

fn spec(dir: &std::path::Path, name: &str, src_db: &str, dst_db: &str, extra: &str) -> String {
    write_spec(
        dir,
        name,
        &format!(
            "version: 1\nsource: {}\ntarget: {}\nverify: checksum\n{extra}tables:\n  - name: public.metrics\n  - name: public.rollup\n",
            url(FULL_SOURCE_PORT, src_db),
            url(FULL_TARGET_PORT, dst_db)
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

#[test]
fn a_user_job_moves_with_its_procedure_runs_on_the_target_and_jobs_end_as_on_the_source() {
    let src_db = "hm_jobs_move_src";
    let dst_db = "hm_jobs_move_dst";
    let mut src = source(src_db);
    let mut dst = target(dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), "move.yaml", src_db, dst_db, "");

    // The plan names each scheduled source job that touches the moved tables, and
    // not the paused one.
    let out = hypermove().args(["plan", &spec]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let warned: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("is scheduled and touches public.metrics"))
        .collect();
    assert_eq!(warned.len(), 3, "{text}");
    for job in [
        "source user job public.do_rollup (job 1002)",
        "source policy_compression (job 1000)",
        "source policy_retention (job 1001)",
    ] {
        assert!(warned.iter().any(|w| w.contains(job)), "{job}: {text}");
    }
    assert!(
        text.contains("+ function:public.do_rollup(integer, jsonb)"),
        "{text}"
    );
    assert!(text.contains("+ job:1002"), "{text}");
    assert!(text.contains("+ job:1003"), "{text}");
    assert!(text.contains("+ jobs:enable"), "{text}");

    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains("checksum matches"));
    let on_source = scalar(&mut src, JOBS);
    assert_eq!(on_source.lines().count(), 4, "{on_source}");
    assert_eq!(scalar(&mut dst, JOBS), on_source);
    assert_eq!(scalar(&mut dst, SCHEDULED), AS_ON_THE_SOURCE);

    // The procedure arrived, and the job runs on the target, on the moved table.
    let job: i32 = dst
        .query_one(
            "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'do_rollup' AND scheduled",
            &[],
        )
        .unwrap()
        .get(0);
    dst.batch_execute(&format!("CALL run_job({job})")).unwrap();
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT format('%s %s', count(*), sum(n)) FROM public.rollup"
        ),
        "25 7200"
    );
}

#[test]
fn jobs_paused_leaves_every_target_job_paused() {
    let src_db = "hm_jobs_paused_src";
    let dst_db = "hm_jobs_paused_dst";
    let mut src = source(src_db);
    let mut dst = target(dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), "paused.yaml", src_db, dst_db, "jobs: paused\n");
    let out = hypermove().args(["plan", &spec]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(!text.contains("jobs:enable"), "{text}");
    assert!(
        text.contains("jobs: paused: 3 jobs scheduled on the source stay paused on the target"),
        "{text}"
    );
    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success();
    assert_eq!(scalar(&mut dst, SCHEDULED), PAUSED);
    // Apart from that, the same jobs.
    assert_eq!(
        scalar(&mut dst, JOBS),
        scalar(&mut src, JOBS).replace("|t|", "|f|")
    );
}

/// Start `apply --yes --workers 1 SPEC extra…` while this returned session holds the
/// source's rollup table locked, and return once the run is held at its copy: the
/// move is under way, and stays so until the lock goes (`COMMIT` on the session).
fn apply_held_at_rollup_copy(src_db: &str, spec: &str, extra: &[&str]) -> (Child, Client) {
    let mut locker = connect(FULL_SOURCE_PORT, src_db);
    locker
        .batch_execute("BEGIN; LOCK TABLE public.rollup IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let child = Command::new(assert_cmd::cargo::cargo_bin("hypermove"))
        .args(["apply", "--yes", "--workers", "1", spec])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut admin = connect(FULL_SOURCE_PORT, src_db);
    let started = Instant::now();
    loop {
        let waiting: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                  WHERE d.datname = current_database() AND l.relation = 'public.rollup'::regclass AND NOT l.granted",
                &[],
            )
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the move never reached the copy of public.rollup"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, locker)
}

/// The source jobs recorded as paused in the target's journal.
fn recorded(dst: &mut Client) -> i64 {
    dst.query_one(
        "SELECT CASE WHEN to_regclass('hypermove.paused_source_job') IS NULL THEN 0
                ELSE (SELECT count(*) FROM hypermove.paused_source_job) END",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn pause_source_jobs_pauses_them_during_the_move_and_restores_them_however_it_ends() {
    let src_db = "hm_jobs_pause_src";
    let mut src = source(src_db);
    let dir = tempfile::tempdir().unwrap();

    // A move that completes: paused while it runs, restored after.
    let dst_db = "hm_jobs_pause_dst";
    let mut dst = target(dst_db);
    let spec_done = spec(dir.path(), "done.yaml", src_db, dst_db, "");
    let (child, mut locker) =
        apply_held_at_rollup_copy(src_db, &spec_done, &["--pause-source-jobs"]);
    assert_eq!(scalar(&mut src, SCHEDULED), PAUSED);
    // The scheduled three are recorded, before anything else of the move.
    assert_eq!(recorded(&mut dst), 3);
    locker.batch_execute("COMMIT").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(scalar(&mut src, SCHEDULED), AS_ON_THE_SOURCE);
    assert_eq!(recorded(&mut dst), 0);
    // The target's jobs end as the source's were before the move, not as paused.
    assert_eq!(scalar(&mut dst, SCHEDULED), AS_ON_THE_SOURCE);
    assert_eq!(scalar(&mut dst, JOBS), scalar(&mut src, JOBS));

    // kill -9 mid-move: the jobs stay paused, recorded; the resumed apply (without
    // the flag) plans the same move, resumes it, and restores them at its end.
    let dst_db = "hm_jobs_pause_kill_dst";
    let mut dst = target(dst_db);
    let spec_kill = spec(dir.path(), "kill.yaml", src_db, dst_db, "");
    let (mut child, mut locker) =
        apply_held_at_rollup_copy(src_db, &spec_kill, &["--pause-source-jobs"]);
    child.kill().unwrap(); // SIGKILL: no cleanup of any kind
    child.wait().unwrap();
    locker.batch_execute("COMMIT").unwrap();
    assert_eq!(scalar(&mut src, SCHEDULED), PAUSED);
    assert_eq!(recorded(&mut dst), 3);
    hypermove()
        .args(["status", &spec_kill])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "source user job public.do_rollup (job 1002): paused for a move that did not end cleanly (was scheduled)",
        ));
    hypermove()
        .args(["apply", "--yes", &spec_kill])
        .assert()
        .success()
        .stdout(predicate::str::contains("Resuming an interrupted run"))
        .stderr(predicate::str::contains(
            "restored source user job public.do_rollup (job 1002) (scheduled)",
        ));
    assert_eq!(scalar(&mut src, SCHEDULED), AS_ON_THE_SOURCE);
    assert_eq!(recorded(&mut dst), 0);
    assert_eq!(scalar(&mut dst, SCHEDULED), AS_ON_THE_SOURCE);
    assert_eq!(scalar(&mut dst, JOBS), scalar(&mut src, JOBS));
    hypermove()
        .args(["status", &spec_kill])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "job on the target: user job public.do_rollup (job",
        ))
        .stdout(predicate::str::contains("paused for a move").not());

    // kill -9 mid-move, then `clean`: the jobs are restored and forgotten.
    let dst_db = "hm_jobs_pause_clean_dst";
    let mut dst = target(dst_db);
    let spec_clean = spec(dir.path(), "clean.yaml", src_db, dst_db, "");
    let (mut child, mut locker) =
        apply_held_at_rollup_copy(src_db, &spec_clean, &["--pause-source-jobs"]);
    child.kill().unwrap();
    child.wait().unwrap();
    locker.batch_execute("COMMIT").unwrap();
    assert_eq!(scalar(&mut src, SCHEDULED), PAUSED);
    hypermove()
        .args(["clean", &spec_clean])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "restored source policy_retention (job 1001) (scheduled)",
        ));
    assert_eq!(scalar(&mut src, SCHEDULED), AS_ON_THE_SOURCE);
    assert_eq!(recorded(&mut dst), 0);

    // Ctrl-C once mid-move: apply winds down (exit 130), and restores them first.
    let dst_db = "hm_jobs_pause_int_dst";
    let mut dst = target(dst_db);
    let spec_int = spec(dir.path(), "int.yaml", src_db, dst_db, "");
    let (child, mut locker) =
        apply_held_at_rollup_copy(src_db, &spec_int, &["--pause-source-jobs"]);
    assert_eq!(scalar(&mut src, SCHEDULED), PAUSED);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(300));
    locker.batch_execute("COMMIT").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(scalar(&mut src, SCHEDULED), AS_ON_THE_SOURCE);
    assert_eq!(recorded(&mut dst), 0);
    // The target's jobs stay paused: the move is not verified.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*) FILTER (WHERE scheduled)::text FROM timescaledb_information.jobs WHERE job_id >= 1000"
        ),
        "0"
    );

    // A failed move (every index step fails): restored too, and exit 1.
    let dst_db = "hm_jobs_pause_fail_dst";
    let mut dst = target(dst_db);
    let spec_fail = spec(dir.path(), "fail.yaml", src_db, dst_db, "");
    hypermove()
        .env("HYPERMOVE_FAULT", "index-steps-fail")
        .args(["apply", "--yes", "--pause-source-jobs", &spec_fail])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "paused source policy_retention (job 1001) for the move",
        ))
        .stderr(predicate::str::contains(
            "restored source policy_retention (job 1001) (scheduled)",
        ));
    assert_eq!(scalar(&mut src, SCHEDULED), AS_ON_THE_SOURCE);
    assert_eq!(recorded(&mut dst), 0);
}

/// An Apache target cannot run jobs: the plan refuses the user job by name (with the
/// policies), and `on_unsupported: warn` moves the tables alone, listing each job,
/// without the job's procedure.
#[test]
fn an_apache_target_refuses_the_jobs_by_name_or_moves_the_tables_alone() {
    let src_db = "hm_jobs_apache_src";
    let dst_db = "hm_jobs_apache_dst";
    let mut src = source(src_db);
    let mut dst = fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let text = |extra: &str| {
        format!(
            "version: 1\nsource: {}\ntarget: {}\n{extra}tables:\n  - name: public.metrics\n  - name: public.rollup\n",
            url(FULL_SOURCE_PORT, src_db),
            url(TARGET_PORT, dst_db)
        )
    };
    let refused = write_spec(dir.path(), "apache.yaml", &text(""));
    hypermove()
        .args(["plan", refused.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "user job public.do_rollup (job 1002) (its config names it) cannot be carried over: jobs on the target need TimescaleDB's community edition, and the target's is licensed `apache`",
        ))
        .stderr(predicate::str::contains(
            "user job public.do_rollup (job 1003) (its config names it) cannot be carried over",
        ))
        .stderr(predicate::str::contains("has a retention policy"));
    let warned = write_spec(dir.path(), "warned.yaml", &text("on_unsupported: warn\n"));
    hypermove()
        .args(["apply", "--yes", warned.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "public.metrics: user job public.do_rollup (job 1002) (its config names it) is not carried over: jobs on the target need TimescaleDB's community edition",
        ))
        .stdout(predicate::str::contains(
            "public.metrics: user job public.do_rollup (job 1003) (its config names it) is not carried over",
        ));
    assert_eq!(
        scalar(&mut dst, "SELECT count(*)::text FROM public.metrics"),
        scalar(&mut src, "SELECT count(*)::text FROM public.metrics")
    );
    // The base tables only: no procedure of a job left behind.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT (to_regproc('public.do_rollup') IS NULL)::text"
        ),
        "true"
    );
}
