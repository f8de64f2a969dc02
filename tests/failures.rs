//! A move that goes wrong says so: a failed step exits non-zero with its reason while
//! independent steps still finish, and a count mismatch fails verification loudly.

mod common;

use common::*;
use predicates::prelude::*;

/// A step the target rejects at run time (here every index step, by an injected
/// fault: a name taken on the target is refused at plan time now) fails that one
/// step; the data, the other steps and the verification still complete, and the exit
/// code says "error".
#[test]
fn failed_step_skips_only_its_dependents_and_exits_1() {
    let db = "hm_fail_step";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE TABLE public.things (id int PRIMARY KEY, label text);
         CREATE INDEX things_label_idx ON public.things (label);
         INSERT INTO public.things SELECT i, 'x' || i FROM generate_series(1, 1000) AS i;",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "step.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.things\n",
            url(SOURCE_PORT, db),
            url(TARGET_PORT, db)
        ),
    );
    hypermove()
        .env("HYPERMOVE_FAULT", "index-steps-fail")
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "step index:public.things_label_idx failed: target: injected fault: index steps fail",
        ))
        .stderr(predicate::str::contains(
            "hypermove: 1 step failed, 0 skipped",
        ));
    // The journal keeps the root cause, and status shows it.
    hypermove()
        .args(["status", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("interrupted run:"))
        .stdout(predicate::str::contains(
            "failed: index:public.things_label_idx: target: injected fault: index steps fail",
        ));
    // The independent branches finished: data, primary key.
    assert_eq!(
        scalar(&mut dst, "SELECT count(*)::text FROM public.things"),
        "1000"
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_constraint WHERE conname = 'things_pkey'"
        ),
        "1"
    );
}

/// Rows with a NULL time cannot enter a hypertable: the plan refuses before writing.
#[test]
fn null_times_are_refused_at_plan_time() {
    let db = "hm_fail_nulls";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE TABLE public.events (at timestamptz, v int);
         INSERT INTO public.events SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '1 hour', i FROM generate_series(1, 100) AS i;
         INSERT INTO public.events VALUES (NULL, -1);",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "nulls.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.events\n    hypertable:\n      time_column: at\n      chunk_time_interval: 1 day\n",
            url(SOURCE_PORT, db),
            url(TARGET_PORT, db)
        ),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "1 row of public.events has NULL in time column `at`",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
}

/// A target that silently drops a row (here a trap trigger planted by an event
/// trigger) fails the count check: exit 3 and a FAIL line, never a quiet 0.
#[test]
fn lost_rows_fail_verification_with_exit_3() {
    let db = "hm_fail_verify";
    let (_dst, _dir, spec) = trapped_move(db, "RETURN NULL;");
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .code(3)
        .stdout(predicate::str::contains(
            "FAIL verify:public.events: rows source 100 / target 99 ≠",
        ))
        .stderr(predicate::str::contains("verification failed"));
}

/// A target that changes a value on the way in (a trap trigger again) keeps every
/// row, so only the checksum catches it: the copy's hash of the rows it streamed
/// (kept in its journal row) against the target's rows read back. Exit 3.
#[test]
fn a_value_changed_on_the_way_in_fails_the_checksum_of_apply() {
    let db = "hm_fail_changed";
    let (mut dst, _dir, spec) = trapped_move(db, "NEW.v := -13;");
    let out = hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    // Every row arrived; one value did not.
    assert!(
        out.contains("FAIL verify:public.events: rows source 100 / target 100; checksum source "),
        "{out}"
    );
    // The source's checksum is the copy's own: the one its journal row keeps.
    let kept = scalar(
        &mut dst,
        "SELECT row_hash FROM hypermove.step WHERE step_id = 'copy:public.events'",
    );
    assert_eq!(kept.len(), 32, "{kept}");
    assert!(
        out.contains(&format!("checksum source {kept} / target ")),
        "{out}"
    );
}

/// A window that fails for good (a CHECK constraint on the target rejects one of
/// its rows) fails fast, without retries: the other windows complete, the steps that
/// depend on it are skipped, the exit is 1, and the journal names the cause.
#[test]
fn a_window_that_cannot_heal_fails_alone() {
    let db = "hm_fail_window";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE TABLE public.events (at timestamptz NOT NULL, v int NOT NULL);
         INSERT INTO public.events SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '1 hour', i FROM generate_series(0, 95) AS i;",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    dst.batch_execute(
        "CREATE FUNCTION public.plant_check() RETURNS event_trigger LANGUAGE plpgsql AS
           $$ BEGIN
                IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
                           WHERE command_tag = 'CREATE TABLE' AND object_identity = 'public.events') THEN
                  ALTER TABLE public.events ADD CONSTRAINT no_13 CHECK (v <> 13);
                END IF;
              END $$;
         CREATE EVENT TRIGGER plant_check ON ddl_command_end EXECUTE FUNCTION public.plant_check();",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "check.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.events\n    hypertable:\n      time_column: at\n      chunk_time_interval: 1 day\n",
            url(SOURCE_PORT, db),
            url(TARGET_PORT, db)
        ),
    );
    let out = hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("step copy:public.events:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z failed: target: new row for relation"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("retrying"),
        "a check violation must not be retried: {stderr}"
    );
    // The verify step of that window, the table's row total and the index after all
    // windows are skipped.
    assert!(stderr.contains("1 step failed, 3 skipped"), "{stderr}");
    // The three other days arrived.
    assert_eq!(
        scalar(&mut dst, "SELECT count(*)::text FROM public.events"),
        "72"
    );
    hypermove()
        .args(["status", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("failed: copy:public.events:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z: target: new row"));
}

/// `public.events` (v = 1..100) on the source, and on the target a trap: an event
/// trigger that, once hypermove creates the table, adds a trigger doing `on_13` for
/// the row v = 13 (what a hostile or broken target might do). Returns the target,
/// the spec's directory (keep it alive) and the spec.
fn trapped_move(
    db: &str,
    on_13: &str,
) -> (postgres::Client, tempfile::TempDir, std::path::PathBuf) {
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE TABLE public.events (v int);
         INSERT INTO public.events SELECT i FROM generate_series(1, 100) AS i;",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    dst.batch_execute(&format!(
        "CREATE FUNCTION public.on_13() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN IF NEW.v = 13 THEN {on_13} END IF; RETURN NEW; END $$;
         CREATE FUNCTION public.plant_trap() RETURNS event_trigger LANGUAGE plpgsql AS
           $$ BEGIN
                IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
                           WHERE command_tag = 'CREATE TABLE' AND object_identity = 'public.events') THEN
                  CREATE TRIGGER trap BEFORE INSERT ON public.events FOR EACH ROW EXECUTE FUNCTION public.on_13();
                END IF;
              END $$;
         CREATE EVENT TRIGGER plant_trap ON ddl_command_end EXECUTE FUNCTION public.plant_trap();"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "trap.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.events\n",
            url(SOURCE_PORT, db),
            url(TARGET_PORT, db)
        ),
    );
    (dst, dir, spec)
}
