//! Shared helpers for tests against the real sandbox servers (scripts/sandbox up).
//! A server that cannot be reached fails the test: nothing here ever skips.
#![allow(dead_code)]

pub mod live;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use postgres::{Client, NoTls};

/// PostgreSQL 17 + TimescaleDB 2.19, the usual source.
pub const SOURCE_PORT: u16 = 55417;
/// PostgreSQL 18 + TimescaleDB 2.31, the usual target.
pub const TARGET_PORT: u16 = 55418;
/// PostgreSQL 17 + TimescaleDB 2.19.3 built from source with the community features
/// (compression, continuous aggregates, jobs): the usual source of the full pair.
pub const FULL_SOURCE_PORT: u16 = 55427;
/// PostgreSQL 18 + TimescaleDB 2.29.2 built from source: the full pair's target.
pub const FULL_TARGET_PORT: u16 = 55428;

/// Connect to a database on a sandbox server, or fail the test with the fix.
pub fn connect(port: u16, db: &str) -> Client {
    Client::connect(
        &format!("host=127.0.0.1 port={port} user=postgres dbname={db}"),
        NoTls,
    )
    .unwrap_or_else(|e| {
        panic!("sandbox server 127.0.0.1:{port} (database {db}) is not reachable: {e}; run `scripts/sandbox up`")
    })
}

/// A brand-new, empty database with this name (dropped first if it exists).
pub fn fresh_db(port: u16, name: &str) -> Client {
    let mut admin = connect(port, "postgres");
    // Two calls: a multi-statement string runs as one transaction, which DROP DATABASE refuses.
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .expect("drop test database");
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .expect("create test database");
    connect(port, name)
}

/// The connection URL of a sandbox database.
pub fn url(port: u16, db: &str) -> String {
    format!("postgresql://postgres@127.0.0.1:{port}/{db}")
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Load the demo data set (examples/demo.sql) into a database.
pub fn load_demo(client: &mut Client) {
    let sql = std::fs::read_to_string(root().join("examples/demo.sql")).expect("demo.sql");
    client.batch_execute(&sql).expect("load demo data");
}

/// Write a spec into a temporary directory and return its path.
pub fn write_spec(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write spec");
    path
}

/// The `hypermove` binary, ready to run.
pub fn hypermove() -> Command {
    Command::cargo_bin("hypermove").expect("binary built")
}

/// Everything user-visible in a database, to prove a failed run wrote nothing:
/// relations outside the system schemas, schemas and extensions.
pub fn catalog_snapshot(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT 'rel ' || n.nspname::text || '.' || c.relname::text || ' ' || c.relkind::text
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
             UNION ALL SELECT 'schema ' || nspname::text FROM pg_namespace
             UNION ALL SELECT 'ext ' || extname::text || ' ' || extversion FROM pg_extension
             ORDER BY 1",
            &[],
        )
        .expect("catalog snapshot")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// One text value from a query.
pub fn scalar(client: &mut Client, sql: &str) -> String {
    client.query_one(sql, &[]).expect(sql).get(0)
}

/// Start `hypermove apply --yes --workers 1 SPEC [extra…]` and return once its first
/// copy window has finished, with the rest of its stderr still to read.
pub fn spawn_apply_until_first_copy(
    spec: &str,
    extra: &[&str],
    stdout: std::process::Stdio,
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStderr>>,
) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("hypermove"))
        .args(["apply", "--yes", "--workers", "1", spec])
        .args(extra)
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start hypermove");
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("stderr piped")).lines();
    for line in lines.by_ref() {
        if line.expect("stderr line").contains("] copy:") {
            break;
        }
    }
    (child, lines)
}

/// `"<rows> <duplicates>"` for a table keyed by `(time, sensor)`: the proof that every
/// row arrived exactly once is `"<expected> 0"`.
pub fn rows_and_duplicates(client: &mut Client, table: &str) -> String {
    scalar(
        client,
        &format!(
            "SELECT format('%s %s', count(*), count(*) - count(DISTINCT (time, sensor))) FROM {table}"
        ),
    )
}
