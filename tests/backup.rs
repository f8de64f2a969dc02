//! `backup` and `restore` against the real servers: a backup from PostgreSQL 17 /
//! TimescaleDB 2.19 restored into PostgreSQL 18 / TimescaleDB 2.31 with a new
//! chunk interval and hash partitions; damaged files refused by name; an
//! interrupted backup resumed into a complete, correct manifest.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::*;
use sha2::Digest;

/// A hypertable with 1-day chunks and awkward CSV values (quotes, commas,
/// newlines, NULLs, jsonb, arrays), a generated column, and a plain table it
/// references.
fn make_source(db: &str, days: i64) -> postgres::Client {
    let mut c = fresh_db(SOURCE_PORT, db);
    c.batch_execute(&format!(
        "CREATE EXTENSION timescaledb;
         CREATE TABLE devices (id int PRIMARY KEY, name text NOT NULL);
         INSERT INTO devices SELECT g, 'device ' || g FROM generate_series(1, 8) g;
         CREATE TABLE readings (
             time timestamptz NOT NULL,
             device_id int NOT NULL REFERENCES devices (id),
             value double precision,
             note text,
             tags text[],
             extra jsonb,
             doubled double precision GENERATED ALWAYS AS (value * 2) STORED
         );
         SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'));
         CREATE INDEX readings_device_time ON readings (device_id, time DESC);
         INSERT INTO readings (time, device_id, value, note, tags, extra)
         SELECT t, d, random() * 100,
                CASE WHEN d = 1 THEN 'say \"hi\", then
a new line' WHEN d = 2 THEN NULL WHEN d = 3 THEN '' ELSE 'plain' END,
                ARRAY['a,b', 'c\"d'],
                CASE WHEN d % 2 = 0 THEN jsonb_build_object('k', d, 's', 'x,\"y\"') END
         FROM generate_series('2025-01-01'::timestamptz, '2025-01-01'::timestamptz + interval '{days} days' - interval '1 minute', interval '5 minutes') t,
              generate_series(1, 8) d;"
    ))
    .expect("source data");
    c
}

fn sha256_file(path: &Path) -> String {
    hex::encode(sha2::Sha256::digest(
        std::fs::read(path).expect("read file"),
    ))
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).expect("manifest"))
        .expect("manifest is JSON")
}

/// Row count and an order-independent digest of every row, computed by the server.
fn digest(c: &mut postgres::Client, table: &str) -> String {
    scalar(
        c,
        &format!(
            "SET TimeZone = 'UTC'; SELECT count(*)::text || ' ' || coalesce(md5(string_agg(md5(ROW(time, device_id, value, note, tags, extra, doubled)::text), '' ORDER BY md5(ROW(time, device_id, value, note, tags, extra, doubled)::text))), '') FROM {table}"
        )
        .replace("SET TimeZone = 'UTC'; ", ""),
    )
}

#[test]
fn backup_from_17_restores_into_18_with_new_partitioning() {
    let mut src = make_source("hm_bk_src", 3);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("backup");
    // A password in the URL (the sandbox trusts, so any password works) must never
    // reach the directory or the output.
    let secret = "Pa55-backup-secret";
    let spec = write_spec(
        dir.path(),
        "backup.yaml",
        &format!(
            "version: 1\nsource: postgresql://postgres:{secret}@127.0.0.1:{SOURCE_PORT}/hm_bk_src\ntarget: {{directory: {}}}\ntables:\n  - name: public.devices\n  - name: public.readings\n",
            out.display()
        ),
    );
    // `plan` shows what the backup will write, and writes nothing.
    let planned = hypermove().arg("plan").arg(&spec).output().unwrap();
    let text = String::from_utf8_lossy(&planned.stdout);
    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    assert_eq!(text.matches("> copy:public.readings:").count(), 3, "{text}");
    assert!(text.contains("target: directory"), "{text}");
    assert!(!out.exists(), "plan wrote the backup directory");
    let backup = hypermove().arg("backup").arg(&spec).output().unwrap();
    let stdout = String::from_utf8_lossy(&backup.stdout);
    let stderr = String::from_utf8_lossy(&backup.stderr);
    assert!(backup.status.success(), "backup failed: {stdout}\n{stderr}");
    assert!(!stdout.contains(secret) && !stderr.contains(secret));

    // The manifest describes the source, the snapshot, the tables and every file.
    let m = manifest(&out);
    assert_eq!(m["format"], "hypermove-backup");
    assert_eq!(m["format_version"], 1);
    assert!(
        m["source"]["postgresql"]
            .as_str()
            .unwrap()
            .starts_with("17.")
    );
    assert_eq!(m["source"]["timescaledb"], "2.19.3");
    assert!(m["snapshot_time"].as_str().unwrap().starts_with("20"));
    let tables = m["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 2);
    let readings = &tables[1];
    assert_eq!(readings["name"]["schema"], "public");
    assert_eq!(readings["name"]["name"], "readings");
    assert!(readings["layout"].as_str().unwrap().contains("1 day"));
    let columns: Vec<&str> = readings["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "time",
            "device_id",
            "value",
            "note",
            "tags",
            "extra",
            "doubled"
        ]
    );
    // The generated column is not written; it is computed again on restore.
    assert_eq!(readings["header"].as_array().unwrap().len(), 6);
    let files = readings["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "one file per 1-day chunk");
    let mut rows = 0;
    for f in files {
        let path = out.join(f["path"].as_str().unwrap());
        assert_eq!(sha256_file(&path), f["sha256"].as_str().unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            f["bytes"].as_u64().unwrap()
        );
        assert!(f["checksum"].is_string());
        rows += f["rows"].as_u64().unwrap();
    }
    assert_eq!(rows, readings["rows"].as_u64().unwrap());
    assert_eq!(
        rows.to_string(),
        scalar(&mut src, "SELECT count(*)::text FROM readings")
    );
    // A zstd file decompresses to CSV with a header.
    let first = zstd::decode_all(
        std::fs::File::open(out.join(files[0]["path"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("time,device_id,value,note,tags,extra\n"));
    let schema = std::fs::read_to_string(out.join("schema.sql")).unwrap();
    assert!(schema.contains("create_hypertable"), "{schema}");
    assert!(
        schema.contains("CREATE INDEX \"readings_device_time\""),
        "{schema}"
    );
    assert!(
        !schema.contains("_timescaledb"),
        "TimescaleDB internals leaked: {schema}"
    );
    assert!(!schema.contains("ts_insert_blocker"));
    for name in ["manifest.json", "schema.sql"] {
        let text = std::fs::read_to_string(out.join(name)).unwrap();
        assert!(!text.contains(secret), "{name} holds the password");
    }
    assert!(!out.join("backup.json").exists() && !out.join("files.jsonl").exists());

    // Restore into 18 with a 12-hour chunk interval, 3 hash partitions, a new name.
    let mut dst = fresh_db(TARGET_PORT, "hm_bk_dst");
    dst.batch_execute("CREATE EXTENSION timescaledb").unwrap();
    let restore_spec = write_spec(
        dir.path(),
        "restore.yaml",
        &format!(
            "version: 1\nsource: {{directory: {}}}\ntarget: postgresql://postgres@127.0.0.1:{TARGET_PORT}/hm_bk_dst\nworkers: 2\ntables:\n  - name: public.devices\n  - name: public.readings\n    target: metrics.readings\n    hypertable:\n      time_column: time\n      chunk_time_interval: 12 hours\n      partitioning_column: device_id\n      number_partitions: 3\n",
            out.display()
        ),
    );
    let planned = hypermove().arg("plan").arg(&restore_spec).output().unwrap();
    let text = String::from_utf8_lossy(&planned.stdout);
    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    assert!(text.contains("hypertable:metrics.readings"), "{text}");
    assert_eq!(
        text.matches("> copy:metrics.readings:").count(),
        3,
        "{text}"
    );
    let restore = hypermove()
        .arg("restore")
        .arg(&restore_spec)
        .arg("--yes")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&restore.stdout);
    assert!(
        restore.status.success(),
        "restore failed: {stdout}\n{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    assert!(stdout.contains("checksum-sql matches"), "{stdout}");
    // Every row, value for value.
    assert_eq!(
        digest(&mut src, "public.readings"),
        digest(&mut dst, "metrics.readings")
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT time_interval::text || ' ' || (SELECT num_partitions FROM timescaledb_information.dimensions WHERE hypertable_name = 'readings' AND column_name = 'device_id')::text FROM timescaledb_information.dimensions WHERE hypertable_name = 'readings' AND column_name = 'time'"
        ),
        "12:00:00 3"
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM timescaledb_information.chunks WHERE hypertable_name = 'readings'"
        ),
        "18"
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_indexes WHERE indexname = 'readings_device_time' AND schemaname = 'metrics' AND tablename = 'readings'"
        ),
        "1"
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_constraint WHERE conname = 'readings_device_id_fkey' AND conrelid = 'metrics.readings'::regclass"
        ),
        "1"
    );
    // Restoring again has nothing to do.
    let again = hypermove()
        .arg("restore")
        .arg(&restore_spec)
        .arg("--yes")
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("Nothing to do"));

    // The whole backup as it was, from the directory alone, into a second database.
    fresh_db(TARGET_PORT, "hm_bk_dst2")
        .batch_execute("CREATE EXTENSION timescaledb")
        .unwrap();
    let plain = hypermove()
        .arg("restore")
        .arg(&out)
        .arg("--target")
        .arg(url(TARGET_PORT, "hm_bk_dst2"))
        .arg("--yes")
        .output()
        .unwrap();
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let mut dst2 = connect(TARGET_PORT, "hm_bk_dst2");
    assert_eq!(
        digest(&mut src, "public.readings"),
        digest(&mut dst2, "public.readings")
    );
    assert_eq!(
        scalar(
            &mut dst2,
            "SELECT time_interval::text FROM timescaledb_information.dimensions WHERE hypertable_name = 'readings'"
        ),
        "1 day"
    );
}

#[test]
fn damaged_files_are_refused_by_name_before_anything_is_written() {
    make_source("hm_bk_dmg_src", 3);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("backup");
    let backup = hypermove()
        .args([
            "backup",
            "--source",
            &url(SOURCE_PORT, "hm_bk_dmg_src"),
            "--include",
            "public.readings",
            "--compression",
            "none",
            "--to",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    let m = manifest(&out);
    let files: Vec<String> = m["tables"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(files.len(), 3);
    // One byte changed in the first file (a digit, so the CSV still parses), the
    // second cut short.
    let corrupt = out.join(&files[0]);
    let mut bytes = std::fs::read(&corrupt).unwrap();
    let at = bytes.len() / 2
        + bytes[bytes.len() / 2..]
            .iter()
            .position(|b| b.is_ascii_digit())
            .unwrap();
    bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&corrupt, &bytes).unwrap();
    let truncated = out.join(&files[1]);
    let len = std::fs::metadata(&truncated).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&truncated)
        .unwrap()
        .set_len(len / 2)
        .unwrap();

    let mut dst = fresh_db(TARGET_PORT, "hm_bk_dmg_dst");
    dst.batch_execute("CREATE EXTENSION timescaledb").unwrap();
    let before = catalog_snapshot(&mut dst);
    let restore = hypermove()
        .arg("restore")
        .arg(&out)
        .args(["--target", &url(TARGET_PORT, "hm_bk_dmg_dst"), "--yes"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&restore.stderr);
    assert_eq!(restore.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&files[0]) && stderr.contains("corrupted"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&files[1]) && stderr.contains("truncated"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&files[2]),
        "the intact file is not blamed: {stderr}"
    );
    assert_eq!(
        before,
        catalog_snapshot(&mut dst),
        "the target was written to"
    );
}

#[test]
fn an_interrupted_backup_resumes_into_a_complete_manifest() {
    let mut src = make_source("hm_bk_kill_src", 40);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("backup");
    let args = |cmd: &mut std::process::Command| {
        cmd.args([
            "backup",
            "--source",
            &url(SOURCE_PORT, "hm_bk_kill_src"),
            "--workers",
            "1",
            "--to",
        ])
        .arg(&out);
    };
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("hypermove"));
    args(&mut first);
    let mut child = first
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until some files are finished, then kill -9 mid-way.
    let journal = out.join("files.jsonl");
    let started = std::time::Instant::now();
    loop {
        let lines = std::fs::read_to_string(&journal)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 5 {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "the backup made no progress"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !out.join("manifest.json").exists(),
        "an interrupted backup looks complete"
    );
    let restore = hypermove()
        .arg("restore")
        .arg(&out)
        .args(["--target", &url(TARGET_PORT, "hm_bk_kill_dst"), "--yes"])
        .output()
        .unwrap();
    assert_eq!(restore.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&restore.stderr).contains("incomplete"));

    let mut second = std::process::Command::new(assert_cmd::cargo::cargo_bin("hypermove"));
    args(&mut second);
    let resumed = second.output().unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let m = manifest(&out);
    assert_eq!(m["resumed_snapshots"].as_array().unwrap().len(), 1);
    let readings = m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"]["name"] == "readings")
        .expect("readings in the manifest");
    let files = readings["files"].as_array().unwrap();
    assert_eq!(files.len(), 40, "one file per chunk");
    let mut rows = 0;
    let mut windows = std::collections::BTreeSet::new();
    for f in files {
        let path = out.join(f["path"].as_str().unwrap());
        assert_eq!(
            sha256_file(&path),
            f["sha256"].as_str().unwrap(),
            "{}",
            path.display()
        );
        rows += f["rows"].as_u64().unwrap();
        assert!(windows.insert(f["window"].as_str().unwrap().to_string()));
    }
    assert_eq!(
        rows.to_string(),
        scalar(&mut src, "SELECT count(*)::text FROM readings")
    );
    let leftovers: Vec<_> = walk(&out)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "partial" || e == "tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // It restores; a restore killed after a few files resumes, every row once.
    let mut dst = fresh_db(TARGET_PORT, "hm_bk_kill_dst");
    dst.batch_execute("CREATE EXTENSION timescaledb").unwrap();
    let target = url(TARGET_PORT, "hm_bk_kill_dst");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("hypermove"))
        .arg("restore")
        .arg(&out)
        .args(["--target", &target, "--yes", "--workers", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let copies = lines
            .map_while(Result::ok)
            .filter(|l| l.contains("] copy:public.readings"))
            .take(5)
            .count();
        assert_eq!(copies, 5, "the restore ended before it could be killed");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let loaded: i64 = scalar(&mut dst, "SELECT count(*)::text FROM public.readings")
        .parse()
        .unwrap();
    assert!(loaded > 0, "nothing was loaded before the kill");
    let restore = hypermove()
        .arg("restore")
        .arg(&out)
        .args(["--target", &target, "--yes"])
        .output()
        .unwrap();
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    assert_eq!(
        digest(&mut src, "public.readings"),
        digest(&mut dst, "public.readings")
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT (count(*) - count(DISTINCT (time, device_id)))::text FROM public.readings"
        ),
        "0"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The library's backup runs on any tokio runtime, a current-thread one included:
/// its file work goes to the blocking pool instead of stalling (or, with
/// `block_in_place`, panicking on) the runtime's own thread.
#[test]
fn backup_runs_on_a_current_thread_runtime() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use hypermove::archive::backup::{BackupOptions, backup};
    use hypermove::archive::manifest::Compression;

    let db = "hm_backup_current_thread";
    drop(make_source(db, 3));
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("b");
    let spec = write_spec(
        dir.path(),
        "b.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget:\n  directory: {}\ntables:\n  - name: public.readings\n",
            url(SOURCE_PORT, db),
            to.display()
        ),
    );
    let spec = hypermove::spec::load(&spec).expect("valid spec");
    let opts = BackupOptions {
        workers: 2,
        compression: Compression::Zstd,
        verify: hypermove::spec::VerifyLevel::Checksum,
        stop: Arc::new(AtomicBool::new(false)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let summary = runtime
        .block_on(backup(&spec, &opts, &|_, _, _| {}))
        .expect("backup on a current-thread runtime");
    assert_eq!(summary.written, 3);
    let rows: u64 = summary.manifest.tables[0].rows;
    assert_eq!(rows, 3 * 288 * 8);
    assert!(to.join("manifest.json").exists());
}
