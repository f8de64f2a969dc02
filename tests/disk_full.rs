//! A full target disk: the target database lives on a small tmpfs inside the
//! sandbox. The failing window is named with the server's message and nothing is
//! half-written; once the disk is larger, the next apply resumes and completes.
//! Alone in its own binary: it mounts a filesystem into the sandbox.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use predicates::prelude::*;

fn sandbox_root() -> PathBuf {
    PathBuf::from(
        std::env::var("HYPERMOVE_SANDBOX_DIR")
            .unwrap_or_else(|_| "/var/cache/hypermove-sandbox".into()),
    )
    .join("pg18")
}

fn sh(cmd: &str) {
    let status = Command::new("sh").args(["-ec", cmd]).status().unwrap();
    assert!(status.success(), "{cmd}");
}

#[test]
fn a_full_disk_fails_clearly_and_resumes_after_space_is_freed() {
    let mnt = sandbox_root().join("var/tsdata/hm_small");
    let db = "hm_disk_full";
    // Leftovers of an earlier run go first.
    let mut admin = connect(TARGET_PORT, "postgres");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute("DROP TABLESPACE IF EXISTS hm_small")
        .unwrap();
    let m = mnt.display();
    sh(&format!(
        "mountpoint -q {m} && umount {m} || true; mkdir -p {m}; mount -t tmpfs -o size=12m tmpfs {m}; chown --reference={m}/.. {m}; chmod 700 {m}"
    ));
    admin
        .batch_execute("CREATE TABLESPACE hm_small LOCATION '/var/tsdata/hm_small'")
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db} TABLESPACE hm_small"))
        .unwrap();

    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "SET client_min_messages = warning;
         CREATE EXTENSION IF NOT EXISTS timescaledb;
         CREATE TABLE public.readings (time timestamptz NOT NULL, sensor int NOT NULL, v double precision, note text);
         SELECT create_hypertable('public.readings', by_range('time', INTERVAL '1 day'));
         INSERT INTO public.readings
         SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '6 seconds', i % 50, i / 7.0, repeat('x', 40)
         FROM generate_series(0, 20 * 14400 - 1) AS i;",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "full.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\nworkers: 1\ntables:\n  - name: public.readings\n",
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
        stderr.contains("No space left on device") || stderr.contains("(53100)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("retrying"),
        "a full disk is not retried: {stderr}"
    );

    // Free space (a larger filesystem), and the next run resumes where it stopped.
    sh(&format!("mount -o remount,size=256m {m}"));
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("Resuming an interrupted run"))
        .stdout(predicate::str::contains("checksum matches"));
    let mut dst = connect(TARGET_PORT, db);
    assert_eq!(
        rows_and_duplicates(&mut dst, "public.readings"),
        format!("{} 0", 20 * 14400)
    );
    drop(dst);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
    admin.batch_execute("DROP TABLESPACE hm_small").unwrap();
    sh(&format!("umount {m}"));
}
