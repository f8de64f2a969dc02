//! Exactly-once windows and resume: kill -9 the apply process at different points
//! of the copy, run apply again, and the target equals the source, row for row,
//! with nothing lost and nothing duplicated.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use predicates::prelude::*;

const DAYS: i64 = 30;

fn source(db: &str) {
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(&format!(
        "SET client_min_messages = warning;
         CREATE EXTENSION IF NOT EXISTS timescaledb;
         CREATE TABLE public.readings (time timestamptz NOT NULL, sensor int NOT NULL, v double precision);
         SELECT create_hypertable('public.readings', by_range('time', INTERVAL '1 day'));
         INSERT INTO public.readings
         SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '6 seconds', i % 50, i / 7.0
         FROM generate_series(0, {DAYS} * 14400 - 1) AS i;
         ANALYZE public.readings;"
    ))
    .unwrap();
}

/// Start apply, and kill -9 it once `windows` copy windows have finished
/// (`windows = 0`: as soon as the first step of any kind has finished).
fn apply_and_kill(spec: &str, windows: usize) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("hypermove"))
        .args(["apply", "--yes", "--workers", "1", spec])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut copied = 0;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("] copy:") {
            copied += 1;
        }
        if (windows == 0 && line.starts_with('[')) || (windows > 0 && copied >= windows) {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL: no cleanup of any kind
    child.wait().unwrap();
}

#[test]
fn kill_9_at_five_points_then_resume_loses_and_duplicates_nothing() {
    let src_db = "hm_resume_src";
    source(src_db);
    let dir = tempfile::tempdir().unwrap();
    for (i, windows) in [0usize, 1, 10, 25, DAYS as usize].into_iter().enumerate() {
        let dst_db = format!("hm_resume_dst_{i}");
        let mut dst = fresh_db(TARGET_PORT, &dst_db);
        let spec = write_spec(
            dir.path(),
            &format!("resume{i}.yaml"),
            &format!(
                "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.readings\n    hypertable: {{time_column: time, chunk_time_interval: 7 days}}\n",
                url(SOURCE_PORT, src_db),
                url(TARGET_PORT, &dst_db)
            ),
        );
        let spec = spec.to_str().unwrap();
        apply_and_kill(spec, windows);

        // The plan says it resumes, and the second run completes and verifies.
        hypermove()
            .args(["plan", spec])
            .assert()
            .success()
            .stdout(predicate::str::contains("Resuming an interrupted run"));
        hypermove()
            .args(["status", spec])
            .assert()
            .success()
            .stdout(predicate::str::contains("interrupted run:"));
        hypermove()
            .args(["apply", "--yes", spec])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(
                "ok   public.readings: {DAYS} windows, {} source rows, checksum matches",
                DAYS * 14400
            )));
        assert_eq!(
            rows_and_duplicates(&mut dst, "public.readings"),
            format!("{} 0", DAYS * 14400),
            "kill after {windows} windows"
        );
        // Every window was recorded exactly once.
        assert_eq!(
            scalar(
                &mut dst,
                "SELECT count(*)::text FROM hypermove.step WHERE step_id LIKE 'copy:%'"
            ),
            DAYS.to_string()
        );
        hypermove()
            .args(["plan", "--detailed-exitcode", spec])
            .assert()
            .code(0);
    }
}

/// A run interrupted before the source changed shape is not resumed into a
/// different plan: apply refuses, and `clean` forgets the run.
#[test]
fn a_changed_source_is_not_resumed() {
    let src_db = "hm_resume_stale_src";
    source(src_db);
    let dst_db = "hm_resume_stale_dst";
    fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "stale.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.readings\n",
            url(SOURCE_PORT, src_db),
            url(TARGET_PORT, dst_db)
        ),
    );
    let spec = spec.to_str().unwrap();
    apply_and_kill(spec, 3);
    connect(SOURCE_PORT, src_db)
        .batch_execute("INSERT INTO public.readings VALUES ('2030-01-01 00:00:00+00', 1, 1)")
        .unwrap();
    hypermove()
        .args(["apply", "--yes", spec])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "from an interrupted run of this spec that began from a different source state",
        ));
    // --restart drops the moved tables and the journal, then moves everything again.
    hypermove()
        .args(["apply", "--restart", spec])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "refusing to restart without confirmation",
        ));
    hypermove()
        .args(["apply", "--yes", "--restart", spec])
        .assert()
        .success()
        .stderr(predicate::str::contains("--restart drops 1 table on"))
        .stdout(predicate::str::contains(format!(
            "ok   public.readings: {} windows, {} source rows, checksum matches",
            DAYS + 1,
            DAYS * 14400 + 1
        )));
    hypermove()
        .args(["clean", spec])
        .assert()
        .success()
        .stdout(predicate::str::contains("the moved tables are untouched"));
    // Without a shared snapshot (for sources that cannot export one) the move still runs.
    let dst_db2 = "hm_resume_nosnap_dst";
    fresh_db(TARGET_PORT, dst_db2);
    let spec2 = write_spec(
        dir.path(),
        "nosnap.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.readings\n",
            url(SOURCE_PORT, src_db),
            url(TARGET_PORT, dst_db2)
        ),
    );
    hypermove()
        .args(["apply", "--yes", "--no-snapshot", spec2.to_str().unwrap()])
        .assert()
        .success()
        .stderr(predicate::str::contains("no shared snapshot"))
        .stdout(predicate::str::contains("checksum matches"));
}

/// Start apply and return once its first copy window has finished; the rest of its
/// stderr is drained in the background so it never blocks.
fn apply_started(spec: &str) -> std::process::Child {
    let (child, lines) = spawn_apply_until_first_copy(spec, &[], Stdio::piped());
    std::thread::spawn(move || for _ in lines {});
    child
}

fn spec_for(dir: &std::path::Path, name: &str, src_db: &str, dst_db: &str) -> String {
    write_spec(
        dir,
        name,
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.readings\n    hypertable: {{time_column: time, chunk_time_interval: 7 days}}\n",
            url(SOURCE_PORT, src_db),
            url(TARGET_PORT, dst_db)
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

/// pg_terminate_backend on the workers' connections, on both servers, mid-copy:
/// apply retries on fresh connections and finishes, verified, by itself.
#[test]
fn terminated_backends_are_retried() {
    let src_db = "hm_term_src";
    source(src_db);
    let dst_db = "hm_term_dst";
    let mut dst = fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_for(dir.path(), "term.yaml", src_db, dst_db);
    let child = apply_started(&spec);
    let mut src_admin = connect(SOURCE_PORT, "postgres");
    let mut dst_admin = connect(TARGET_PORT, "postgres");
    // Workers are `hypermove`; the coordinator (which holds the snapshot) is not touched.
    let kill = "SELECT count(pg_terminate_backend(pid))::int8 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'hypermove'";
    let mut killed = (0i64, 0i64);
    // One side at a time: a failed step drops both of its worker's connections, so
    // killing both sides at once can leave no source connection to find.
    for _ in 0..200 {
        killed.1 += src_admin
            .query_one(kill, &[&src_db])
            .unwrap()
            .get::<_, i64>(0);
        if killed.1 >= 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for _ in 0..200 {
        killed.0 += dst_admin
            .query_one(kill, &[&dst_db])
            .unwrap()
            .get::<_, i64>(0);
        if killed.0 >= 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        killed.0 >= 1 && killed.1 >= 1,
        "no worker backend was terminated: {killed:?}"
    );
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("checksum matches"), "{stdout}");
    assert_eq!(
        rows_and_duplicates(&mut dst, "public.readings"),
        format!("{} 0", DAYS * 14400)
    );
}

/// Every window reads one snapshot: rows written to the source after apply began
/// (inserts and deletes in windows not copied yet) do not reach the target.
#[test]
fn all_windows_read_one_snapshot() {
    let src_db = "hm_snap_src";
    source(src_db);
    let dst_db = "hm_snap_dst";
    let mut dst = fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_for(dir.path(), "snap.yaml", src_db, dst_db);
    let child = apply_started(&spec);
    let mut src = connect(SOURCE_PORT, src_db);
    src.batch_execute(
        "INSERT INTO public.readings SELECT TIMESTAMPTZ '2025-01-29 12:00:00+00' + i * INTERVAL '1 second', 999, -1 FROM generate_series(1, 500) i;
         DELETE FROM public.readings WHERE time >= '2025-01-28' AND time < '2025-01-28 01:00:00';",
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT format('%s %s %s', count(*), count(*) FILTER (WHERE sensor = 999), count(*) FILTER (WHERE time >= '2025-01-28' AND time < '2025-01-28 01:00:00'))  FROM public.readings"
        ),
        format!("{} 0 600", DAYS * 14400),
        "the target must equal the source as of the start"
    );
}

/// Ctrl-C once: running windows finish or roll back, apply exits 130 saying how to
/// resume, and the resumed run completes with every row exactly once.
#[test]
fn ctrl_c_once_then_resume() {
    let src_db = "hm_sigint_src";
    source(src_db);
    let dst_db = "hm_sigint_dst";
    let mut dst = fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_for(dir.path(), "sigint.yaml", src_db, dst_db);
    let (mut child, lines) = spawn_apply_until_first_copy(&spec, &[], Stdio::null());
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.contains("interrupted:")
                && l.contains("run `hypermove apply` again to resume")),
        "{rest:?}"
    );
    let copied: i64 = dst
        .query_one(
            "SELECT count(*) FROM hypermove.step WHERE step_id LIKE 'copy:%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        copied < DAYS,
        "Ctrl-C should stop before all {DAYS} windows, got {copied}"
    );
    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains("checksum matches"));
    assert_eq!(
        rows_and_duplicates(&mut dst, "public.readings"),
        format!("{} 0", DAYS * 14400)
    );
}

/// A COPY that cannot progress (the target table is locked) is cancelled after
/// --stall-timeout and retried; once the lock goes, the move completes.
#[test]
fn stalled_copy_is_cancelled_and_retried() {
    let src_db = "hm_stall_src";
    source(src_db);
    let dst_db = "hm_stall_dst";
    let mut dst = fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_for(dir.path(), "stall.yaml", src_db, dst_db);
    let (child, lines) =
        spawn_apply_until_first_copy(&spec, &["--stall-timeout", "1"], Stdio::piped());
    // Hold the table for 3 s: every COPY into it waits, so apply must give up and retry.
    let mut locker = connect(TARGET_PORT, dst_db);
    let mut tx = locker.transaction().unwrap();
    tx.batch_execute("LOCK TABLE public.readings IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    tx.commit().unwrap();
    let stderr: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{stderr:?}");
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("no progress for 1s; cancelled") && l.contains("retrying")),
        "{stderr:?}"
    );
    assert_eq!(
        scalar(&mut dst, "SELECT count(*)::text FROM public.readings"),
        (DAYS * 14400).to_string()
    );
}

/// kill -9 twenty times at seeded random moments, each run resuming the last one,
/// then a final resume: 0 rows lost, 0 duplicated, checksum verified.
#[test]
fn twenty_seeded_kills_then_resume() {
    const SEED: u64 = 20261125;
    let src_db = "hm_kill20_src";
    source(src_db);
    let dst_db = "hm_kill20_dst";
    let mut dst = fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_for(dir.path(), "kill20.yaml", src_db, dst_db);
    // A small LCG: the same seed gives the same kill points on every run.
    let mut state = SEED;
    let mut points = Vec::new();
    for _ in 0..20 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        points.push(((state >> 33) % 3) as usize); // 0, 1 or 2 windows per run
    }
    for &windows in &points {
        apply_and_kill(&spec, windows);
    }
    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains("checksum matches"));
    assert_eq!(
        rows_and_duplicates(&mut dst, "public.readings"),
        format!("{} 0", DAYS * 14400),
        "seed {SEED}, kill points {points:?}"
    );
}

fn spec_with(dir: &std::path::Path, name: &str, src_db: &str, dst_db: &str, extra: &str) -> String {
    write_spec(
        dir,
        name,
        &format!(
            "version: 1\nsource: {}\ntarget: {}\n{extra}tables:\n  - name: public.readings\n",
            url(SOURCE_PORT, src_db),
            url(TARGET_PORT, dst_db)
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

/// Settings that only shape how a move runs do not orphan an interrupted run:
/// after a kill, the spec's `workers:` and `verify:` are edited and apply resumes.
#[test]
fn editing_workers_or_verify_keeps_the_run_resumable() {
    let src_db = "hm_resume_edit_src";
    source(src_db);
    let dst_db = "hm_resume_edit_dst";
    let mut dst = fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with(dir.path(), "edit.yaml", src_db, dst_db, "workers: 1\n");
    apply_and_kill(&spec, 5);
    let edited = spec_with(
        dir.path(),
        "edit.yaml",
        src_db,
        dst_db,
        "workers: 3\nverify: count\n",
    );
    hypermove()
        .args(["apply", "--yes", &edited])
        .assert()
        .success()
        .stdout(predicate::str::contains("Resuming an interrupted run"))
        .stdout(predicate::str::contains(format!(
            "ok   public.readings: {DAYS} windows, {} source rows, count matches",
            DAYS * 14400
        )));
    assert_eq!(
        rows_and_duplicates(&mut dst, "public.readings"),
        format!("{} 0", DAYS * 14400)
    );
}

/// Windows cut differently (a new `max_window_rows:`) cannot resume a run whose
/// windows were others: their rows would be copied twice. Refused, nothing written.
#[test]
fn new_window_sizes_do_not_resume_into_duplicates() {
    let src_db = "hm_resume_windows_src";
    source(src_db);
    let dst_db = "hm_resume_windows_dst";
    let mut dst = fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with(dir.path(), "windows.yaml", src_db, dst_db, "");
    apply_and_kill(&spec, 3);
    let copied = scalar(&mut dst, "SELECT count(*)::text FROM public.readings");
    let split = spec_with(
        dir.path(),
        "windows.yaml",
        src_db,
        dst_db,
        "max_window_rows: 5000\n",
    );
    hypermove()
        .args(["apply", "--yes", &split])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "the windows were cut differently when it began, so a resume would copy rows twice",
        ));
    assert_eq!(
        scalar(&mut dst, "SELECT count(*)::text FROM public.readings"),
        copied
    );
}

/// A journal naming steps this plan does not have (another version's, or rows
/// written by hand) neither breaks the resume nor its progress count.
#[test]
fn unknown_steps_in_the_journal_are_ignored() {
    let src_db = "hm_resume_unknown_src";
    source(src_db);
    let dst_db = "hm_resume_unknown_dst";
    let mut dst = fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with(dir.path(), "unknown.yaml", src_db, dst_db, "");
    apply_and_kill(&spec, 2);
    // More unknown "done" steps than the plan has steps at all.
    dst.batch_execute(
        "INSERT INTO hypermove.step
         SELECT spec_fingerprint, source_fingerprint, 'index:from.another_version_' || i, 0, 0, now(), now()
           FROM hypermove.run, generate_series(1, 500) AS i",
    )
    .unwrap();
    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "ok   public.readings: {DAYS} windows, {} source rows, checksum matches",
            DAYS * 14400
        )));
    assert_eq!(
        rows_and_duplicates(&mut dst, "public.readings"),
        format!("{} 0", DAYS * 14400)
    );
}

/// Two applies of one spec never run at once: while the first holds its run, the
/// second stops before writing, naming the first (its run id and start).
#[test]
fn a_second_apply_of_the_same_spec_is_refused_while_one_runs() {
    let src_db = "hm_resume_lock_src";
    source(src_db);
    let dst_db = "hm_resume_lock_dst";
    let mut dst = fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_with(dir.path(), "lock.yaml", src_db, dst_db, "");
    let mut first = apply_started(&spec);
    // Hold the first run inside its next window: its COPY waits for this lock.
    let mut holder = connect(TARGET_PORT, dst_db);
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("LOCK TABLE public.readings IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let out = hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("another hypermove run of this spec is in progress on the target (run "),
        "{out}"
    );
    assert!(out.contains(", started 20"), "{out}");
    // `clean` would forget the running move's journal: refused as well.
    hypermove()
        .args(["clean", &spec])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "another hypermove run of this spec",
        ));
    tx.rollback().unwrap();
    assert!(first.wait().unwrap().success());
    assert_eq!(
        rows_and_duplicates(&mut dst, "public.readings"),
        format!("{} 0", DAYS * 14400)
    );
}

/// A run resumed from a journal whose copy rows hold no row hash (written by a
/// hypermove from before hashes were kept) checks those windows by reading the
/// source whole, through its table: it completes, every window verified.
#[test]
fn a_journal_without_row_hashes_still_verifies_its_windows() {
    let src_db = "hm_nohash_src";
    source(src_db);
    let dst_db = "hm_nohash_dst";
    let mut dst = fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_for(dir.path(), "nohash.yaml", src_db, dst_db);
    apply_and_kill(&spec, 3);
    let forgotten = dst
        .execute(
            "UPDATE hypermove.step SET row_hash = NULL WHERE step_id LIKE 'copy:%'",
            &[],
        )
        .unwrap();
    assert!(forgotten >= 3, "{forgotten} copy rows");
    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "Verification (checksum): all {DAYS} windows match."
        )));
    assert_eq!(
        rows_and_duplicates(&mut dst, "public.readings"),
        format!("{} 0", DAYS * 14400)
    );
}
