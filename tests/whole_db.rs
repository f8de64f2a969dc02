//! The guarded whole-database path: `dump-db` and `restore-db` around pg_dump and
//! pg_restore, against the real sandbox servers, with the servers' own client tools
//! (`scripts/sandbox bin 17|18`). A missing server or tool fails the test.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;
use predicates::prelude::*;

/// The source database every test dumps or restores from.
const SOURCE_DB: &str = "hm_wdb_src";

/// The directory holding `pg_dump` and `pg_restore` wrappers for a sandbox major.
fn sandbox_bin(major: u16) -> PathBuf {
    let out = std::process::Command::new(root().join("scripts/sandbox"))
        .args(["bin", &major.to_string()])
        .output()
        .expect("run scripts/sandbox bin");
    assert!(
        out.status.success(),
        "scripts/sandbox bin {major} failed (run `scripts/sandbox up` first): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    for tool in ["pg_dump", "pg_restore"] {
        assert!(
            dir.join(tool).is_file(),
            "{} is missing",
            dir.join(tool).display()
        );
    }
    dir
}

fn tool(major: u16, name: &str) -> String {
    sandbox_bin(major).join(name).display().to_string()
}

/// Drop a database if it exists, so a test starts from "it does not exist".
fn drop_db(port: u16, name: &str) {
    connect(port, "postgres")
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .expect("drop test database");
}

fn db_exists(port: u16, name: &str) -> bool {
    connect(port, "postgres")
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .unwrap()
        .get::<_, i64>(0)
        == 1
}

/// A TimescaleDB source: a hypertable with 3 days of 1-minute rows for 3 devices in
/// 1-day chunks, a secondary index, and a plain table with a serial key that the
/// hypertable references.
fn make_source() {
    let mut src = fresh_db(SOURCE_PORT, SOURCE_DB);
    src.batch_execute(
        "CREATE EXTENSION timescaledb;
         CREATE TABLE public.devices (id serial PRIMARY KEY, name text NOT NULL);
         INSERT INTO public.devices (name) VALUES ('north'), ('south'), ('east');
         CREATE TABLE public.conditions (
             time timestamptz NOT NULL,
             device_id int NOT NULL REFERENCES public.devices (id),
             temperature double precision);
         SELECT create_hypertable('public.conditions', by_range('time', INTERVAL '1 day'));
         CREATE INDEX conditions_device_time_idx ON public.conditions (device_id, time DESC);
         INSERT INTO public.conditions
         SELECT t, d, 20 + d + extract(minute FROM t) / 10
           FROM generate_series('2025-01-01 00:00+00'::timestamptz,
                                '2025-01-03 23:59+00'::timestamptz, INTERVAL '1 minute') t,
                generate_series(1, 3) d;",
    )
    .expect("build the source database");
}

/// The source, dumped once per test process with the sandbox's pg_dump 17.
fn shared_dump() -> &'static Path {
    static DUMP: OnceLock<PathBuf> = OnceLock::new();
    DUMP.get_or_init(|| {
        make_source();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("whole_db_shared");
        let _ = std::fs::remove_dir_all(&dir);
        hypermove()
            .args(["dump-db", "--source", &url(SOURCE_PORT, SOURCE_DB), "--to"])
            .arg(&dir)
            .args(["--pg-dump", &tool(17, "pg_dump")])
            .assert()
            .success()
            .stdout(predicate::str::contains("2 tables, 12963 rows"));
        dir
    })
}

/// Copy a dump directory, to damage the copy.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn rows(port: u16, db: &str) -> Vec<String> {
    let mut client = connect(port, db);
    vec![
        scalar(
            &mut client,
            "SELECT count(*)::text FROM public.conditions",
        ),
        scalar(&mut client, "SELECT count(*)::text FROM public.devices"),
        scalar(
            &mut client,
            "SELECT string_agg(hypertable_schema || '.' || hypertable_name || ' ' || num_chunks, ', ')
               FROM timescaledb_information.hypertables",
        ),
        scalar(
            &mut client,
            "SELECT count(*)::text FROM timescaledb_information.chunks",
        ),
    ]
}

#[test]
fn same_version_parallel_restore_keeps_every_row_and_the_hypertable() {
    let dump = shared_dump();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dump.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["kind"], "whole-database");
    assert_eq!(manifest["format_version"], 1);
    assert_eq!(manifest["source"]["timescaledb"], "2.19.3");
    assert_eq!(manifest["pg_dump"]["major"], 17);
    assert_eq!(manifest["tables"][0]["name"], "conditions");
    assert_eq!(manifest["tables"][0]["rows"], 12960);
    assert_eq!(manifest["tables"][0]["chunks"], 3);
    assert_eq!(manifest["tables"][1]["rows"], 3);
    assert!(!dump.join("database.dump.partial").exists());

    let dst = "hm_wdb_dst17";
    drop_db(SOURCE_PORT, dst);
    // --jobs 2: a plain `pg_restore -j 2` of this dump restores 0 rows.
    hypermove()
        .args(["restore-db"])
        .arg(dump)
        .args(["--target", &url(SOURCE_PORT, dst)])
        .args(["--pg-restore", &tool(17, "pg_restore"), "--jobs", "2"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("every count matches the dump"))
        .stdout(
            predicate::str::is_match(r"public\.conditions\s+3/3\s+12960\s+12960\s+ok").unwrap(),
        );

    let source = rows(SOURCE_PORT, SOURCE_DB);
    assert_eq!(source[0], "12960");
    assert_eq!(source[3], "3");
    assert_eq!(rows(SOURCE_PORT, dst), source);

    let mut client = connect(SOURCE_PORT, dst);
    assert_eq!(
        scalar(&mut client, "SHOW timescaledb.restoring"),
        "off",
        "timescaledb_post_restore() must have run"
    );
    assert_eq!(
        scalar(
            &mut client,
            "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'conditions'"
        ),
        "conditions_device_time_idx,conditions_time_idx"
    );
    // The hypertable takes new rows into a new chunk, and the serial goes on where
    // the source left it.
    client
        .batch_execute(
            "INSERT INTO public.devices (name) VALUES ('west');
             INSERT INTO public.conditions VALUES ('2025-02-01 00:00+00', 4, 1.5);",
        )
        .expect("insert after the restore");
    assert_eq!(
        scalar(&mut client, "SELECT max(id)::text FROM public.devices"),
        "4"
    );
    assert_eq!(
        scalar(
            &mut client,
            "SELECT count(*)::text FROM timescaledb_information.chunks"
        ),
        "4"
    );
    drop(client);
    drop_db(SOURCE_PORT, dst);
}

#[test]
fn another_timescaledb_version_is_refused_before_anything_is_written() {
    let dump = shared_dump();
    let dst = "hm_wdb_to18";
    drop_db(TARGET_PORT, dst);
    hypermove()
        .args(["restore-db"])
        .arg(dump)
        .args(["--target", &url(TARGET_PORT, dst)])
        .args(["--pg-restore", &tool(18, "pg_restore"), "--jobs", "2"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("TimescaleDB 2.19.3"))
        .stderr(predicate::str::contains("TimescaleDB 2.31.0"))
        .stderr(predicate::str::contains("hypermove apply"))
        .stderr(predicate::str::contains("nothing was written"));
    assert!(
        !db_exists(TARGET_PORT, dst),
        "the target database was created"
    );
}

#[test]
fn client_tools_older_than_the_server_are_refused() {
    // The host's own PostgreSQL client tools (15) against the PostgreSQL 17 server.
    let version = std::process::Command::new("pg_dump")
        .arg("--version")
        .output()
        .expect("the host's pg_dump on PATH");
    let version = String::from_utf8(version.stdout).unwrap();
    let major: u32 = version
        .split_whitespace()
        .find(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .and_then(|t| t.split('.').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the host's pg_dump version: {version}"));
    assert!(
        major < 17,
        "this test needs an older pg_dump on PATH than the 17 server; found {version}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dump");
    make_source_once();
    hypermove()
        .args(["dump-db", "--source", &url(SOURCE_PORT, SOURCE_DB), "--to"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("pg_dump {major}.")))
        .stderr(predicate::str::contains("PostgreSQL 17."))
        .stderr(predicate::str::contains("pass --pg-dump PATH"));
    assert!(!dir.exists(), "a refused dump wrote {}", dir.display());

    let dst = "hm_wdb_old_restore";
    drop_db(SOURCE_PORT, dst);
    hypermove()
        .args(["restore-db"])
        .arg(shared_dump())
        .args(["--target", &url(SOURCE_PORT, dst)])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("pg_restore {major}.")))
        .stderr(predicate::str::contains("pass --pg-restore PATH"));
    assert!(!db_exists(SOURCE_PORT, dst));
}

/// Make sure the source database exists (it is made, and dumped, once per process).
fn make_source_once() {
    let _ = shared_dump();
}

#[test]
fn a_damaged_dump_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("copy");
    copy_dir(shared_dump(), &copy);
    let file = copy.join("database.dump");
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&file, bytes).unwrap();

    let dst = "hm_wdb_damaged";
    drop_db(SOURCE_PORT, dst);
    hypermove()
        .args(["restore-db"])
        .arg(&copy)
        .args(["--target", &url(SOURCE_PORT, dst)])
        .args(["--pg-restore", &tool(17, "pg_restore")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("SHA-256"))
        .stderr(predicate::str::contains("nothing was written"));
    assert!(!db_exists(SOURCE_PORT, dst));

    // An interrupted dump (no manifest) is no dump at all.
    std::fs::remove_file(copy.join("manifest.json")).unwrap();
    hypermove()
        .args(["restore-db"])
        .arg(&copy)
        .args(["--target", &url(SOURCE_PORT, dst)])
        .args(["--pg-restore", &tool(17, "pg_restore")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no manifest.json"));
    assert!(!db_exists(SOURCE_PORT, dst));
}

#[test]
fn a_count_that_differs_from_the_manifest_exits_3() {
    // The manifest is not covered by the dump's checksum, so editing a recorded count
    // stands in for rows that went missing on the way.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("copy");
    copy_dir(shared_dump(), &copy);
    let path = copy.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    manifest["tables"][0]["rows"] = 12961.into();
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();

    let dst = "hm_wdb_mismatch";
    drop_db(SOURCE_PORT, dst);
    hypermove()
        .args(["restore-db"])
        .arg(&copy)
        .args(["--target", &url(SOURCE_PORT, dst)])
        .args(["--pg-restore", &tool(17, "pg_restore")])
        .assert()
        .code(3)
        .stdout(
            predicate::str::is_match(r"public\.conditions\s+3/3\s+12961\s+12960\s+MISMATCH")
                .unwrap(),
        )
        .stdout(predicate::str::contains(
            "1 of 2 tables differ from the dump",
        ))
        .stderr(predicate::str::contains("verification failed"));
    drop_db(SOURCE_PORT, dst);
}

#[test]
fn an_existing_database_or_dump_is_never_overwritten() {
    let dump = shared_dump();
    let mut src = connect(SOURCE_PORT, SOURCE_DB);
    let before = catalog_snapshot(&mut src);
    hypermove()
        .args(["restore-db"])
        .arg(dump)
        .args(["--target", &url(SOURCE_PORT, SOURCE_DB)])
        .args(["--pg-restore", &tool(17, "pg_restore")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "database {SOURCE_DB} already exists"
        )));
    assert_eq!(before, catalog_snapshot(&mut src));

    let manifest = std::fs::read(dump.join("manifest.json")).unwrap();
    hypermove()
        .args(["dump-db", "--source", &url(SOURCE_PORT, SOURCE_DB), "--to"])
        .arg(dump)
        .args(["--pg-dump", &tool(17, "pg_dump")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already holds a complete dump"));
    assert_eq!(manifest, std::fs::read(dump.join("manifest.json")).unwrap());
}

#[test]
fn the_password_never_appears() {
    make_source_once();
    // The sandbox trusts loopback, so any password connects.
    let password = "Wdb-s3cret-9f2a";
    let with_password =
        |port: u16, db: &str| format!("postgresql://postgres:{password}@127.0.0.1:{port}/{db}");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dump");
    let out = hypermove()
        .args([
            "-vv",
            "dump-db",
            "--source",
            &with_password(SOURCE_PORT, SOURCE_DB),
            "--to",
        ])
        .arg(&dir)
        .args(["--pg-dump", &tool(17, "pg_dump")])
        .assert()
        .success()
        .get_output()
        .clone();
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    for (what, text) in [
        ("stdout", String::from_utf8_lossy(&out.stdout).into_owned()),
        ("stderr", String::from_utf8_lossy(&out.stderr).into_owned()),
        ("manifest.json", manifest),
    ] {
        assert!(
            !text.contains(password),
            "{what} shows the password: {text}"
        );
    }

    // A restore through pg_restore, and a refused one.
    let dst = "hm_wdb_pw";
    drop_db(SOURCE_PORT, dst);
    let ok = hypermove()
        .args(["-vv", "restore-db"])
        .arg(&dir)
        .args(["--target", &with_password(SOURCE_PORT, dst)])
        .args(["--pg-restore", &tool(17, "pg_restore")])
        .assert()
        .code(0)
        .get_output()
        .clone();
    drop_db(TARGET_PORT, dst);
    let refused = hypermove()
        .args(["restore-db"])
        .arg(&dir)
        .args(["--target", &with_password(TARGET_PORT, dst)])
        .args(["--pg-restore", &tool(18, "pg_restore")])
        .assert()
        .code(2)
        .get_output()
        .clone();
    for out in [ok, refused] {
        for text in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(text);
            assert!(
                !text.contains(password),
                "output shows the password: {text}"
            );
        }
    }
    drop_db(SOURCE_PORT, dst);
}
