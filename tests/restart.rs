//! A target server restarted in the middle of a move (`pg_ctl restart -m fast`).
//! Alone in its own test binary, because it restarts a server other tests use.

mod common;

use std::process::{Command, Stdio};

use common::*;

#[test]
fn a_restarted_target_is_retried_or_resumed() {
    let src_db = "hm_restart_src";
    let mut src = fresh_db(SOURCE_PORT, src_db);
    src.batch_execute(
        "SET client_min_messages = warning;
         CREATE EXTENSION IF NOT EXISTS timescaledb;
         CREATE TABLE public.readings (time timestamptz NOT NULL, sensor int NOT NULL, v double precision);
         SELECT create_hypertable('public.readings', by_range('time', INTERVAL '1 day'));
         INSERT INTO public.readings
         SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '6 seconds', i % 50, i / 7.0
         FROM generate_series(0, 30 * 14400 - 1) AS i;",
    )
    .unwrap();
    let dst_db = "hm_restart_dst";
    fresh_db(TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "restart.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.readings\n    hypertable: {{time_column: time, chunk_time_interval: 7 days}}\n",
            url(SOURCE_PORT, src_db),
            url(TARGET_PORT, dst_db)
        ),
    );
    let (mut child, lines) =
        spawn_apply_until_first_copy(spec.to_str().unwrap(), &[], Stdio::null());
    let restarted = Command::new(root().join("scripts/sandbox"))
        .args([
            "exec",
            "18",
            "/usr/lib/postgresql/18/bin/pg_ctl",
            "-D",
            "/var/tsdata/18",
            "-w",
            "restart",
            "-m",
            "fast",
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(restarted.success(), "pg_ctl restart failed");
    let stderr: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let first = child.wait().unwrap();
    // Within the retry limit the run finishes by itself; past it, it stops cleanly and
    // the next run resumes. Either way every row arrives once.
    let retried = stderr.iter().any(|l| l.contains("retrying"));
    if !first.success() {
        hypermove()
            .args(["apply", "--yes", spec.to_str().unwrap()])
            .assert()
            .success();
    }
    let mut dst = connect(TARGET_PORT, dst_db);
    assert_eq!(
        rows_and_duplicates(&mut dst, "public.readings"),
        format!("{} 0", 30 * 14400),
        "first run succeeded: {}, retried: {retried}; stderr: {stderr:?}",
        first.success()
    );
    assert!(retried, "the restart was not noticed: {stderr:?}");
}
