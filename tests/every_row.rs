//! Every row is read, and a copy that reads fewer is caught by verification.
//!
//! The copy reads each source chunk; verification reads the source through the table
//! itself, as a user's query would. These tests move sources where the two could part
//! ways (compressed chunks on the full TimescaleDB builds, a target partitioned on
//! another column, row-level security, inheritance) and force a copy that under-reads.

mod common;

use common::*;
use postgres::Client;
use predicates::prelude::*;

/// Days of data, one chunk each; the oldest `COMPRESSED` are compressed.
const DAYS: i64 = 30;
const COMPRESSED: i64 = 25;
/// Rows per day: one every two minutes for each of five devices.
const PER_DAY: i64 = 720 * 5;
/// Rows written into a compressed chunk after it was compressed (a partial chunk).
const LATE: i64 = 7;

/// A hypertable of `DAYS` one-day chunks on a full-build server, the oldest
/// `COMPRESSED` compressed, one of those written to again afterwards. The database
/// also turns TimescaleDB's optimizations off for every session, as a user may: on
/// 2.19 a query then sees a compressed chunk's late rows only. Returns its rows.
fn compressed_source(port: u16, db: &str) -> i64 {
    let mut src = fresh_db(port, db);
    src.batch_execute(&format!(
        "CREATE EXTENSION timescaledb;
         CREATE TABLE public.m (time timestamptz NOT NULL, device int NOT NULL, value float8, note text);
         SELECT create_hypertable('public.m', by_range('time', INTERVAL '1 day'));
         INSERT INTO public.m
         SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '2 minutes', d, sin(i * d), CASE WHEN i % 97 = 0 THEN 'n' || i END
           FROM generate_series(0, {DAYS} * 720 - 1) AS i, generate_series(1, 5) AS d;
         ALTER TABLE public.m SET (timescaledb.compress, timescaledb.compress_segmentby = 'device',
                                   timescaledb.compress_orderby = 'time');
         SELECT count(compress_chunk(c)) FROM (SELECT c FROM show_chunks('public.m') c ORDER BY 1 LIMIT {COMPRESSED}) s;
         INSERT INTO public.m SELECT TIMESTAMPTZ '2025-01-02 12:00:00.5+00' + i * INTERVAL '1 second', 9, i, 'late'
           FROM generate_series(1, {LATE}) AS i;
         ANALYZE public.m;
         ALTER DATABASE \"{db}\" SET timescaledb.enable_optimizations = off;"
    ))
    .unwrap();
    let compressed = scalar(
        &mut src,
        "SELECT count(*)::text FROM timescaledb_information.chunks WHERE hypertable_name = 'm' AND is_compressed",
    );
    assert_eq!(compressed, COMPRESSED.to_string());
    DAYS * PER_DAY + LATE
}

/// A session that sees every row whatever the database's defaults say.
fn reader(port: u16, db: &str) -> Client {
    let mut c = connect(port, db);
    c.batch_execute("SET timescaledb.enable_optimizations = on")
        .unwrap();
    c
}

/// Every row of `public.m`, in order, as one digest.
const DIGEST: &str = "SELECT count(*) || ' ' || md5(string_agg(format('%s|%s|%s|%s', time, device, value, note), E'\\n' ORDER BY time, device, note)) FROM public.m";

fn compressed_spec(dir: &std::path::Path, from: u16, to: u16, db: &str) -> String {
    write_spec(
        dir,
        "compressed.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\non_unsupported: warn\ntables:\n  - name: public.m\n    hypertable:\n      time_column: time\n      chunk_time_interval: 7 days\n",
            url(from, db),
            url(to, db)
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

/// The main case on the full builds: a hypertable with most chunks compressed, moved
/// 2.19/PG17 → 2.29/PG18, arrives with every row, compressed where the source was.
#[test]
fn compressed_hypertable_arrives_with_every_row() {
    let db = "hm_rows_compressed";
    let rows = compressed_source(FULL_SOURCE_PORT, db);
    let mut dst = fresh_db(FULL_TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = compressed_spec(dir.path(), FULL_SOURCE_PORT, FULL_TARGET_PORT, db);

    hypermove()
        .args(["plan", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "before: hypertable: time every 1 day ({DAYS} chunks, {COMPRESSED} compressed)"
        )))
        .stdout(predicate::str::contains("= verify:public.m:total"));
    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "ok   public.m: {DAYS} windows, {rows} source rows, checksum matches"
        )));

    let mut src = reader(FULL_SOURCE_PORT, db);
    assert!(scalar(&mut src, DIGEST).starts_with(&format!("{rows} ")));
    assert_eq!(scalar(&mut src, DIGEST), scalar(&mut dst, DIGEST));
    // Compression moves too: the four 7-day slices wholly in the compressed days
    // (2024-12-26 to 2025-01-23, slices aligned to the Unix epoch) end compressed,
    // the two with uncompressed days do not.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT format('%s of %s', count(*) FILTER (WHERE is_compressed), count(*)) FROM timescaledb_information.chunks WHERE hypertable_name = 'm'"
        ),
        "4 of 6"
    );
    for level in ["count", "checksum"] {
        hypermove()
            .args(["verify", "--verify", level, &spec])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(
                "Verification ({level}): all {DAYS} windows match."
            )));
    }
}

/// The reader hypermove once had (`FROM ONLY chunk`) skips the rows of compressed
/// chunks. Forced back on, it must be caught: window by window, in the row total, by
/// `apply` (exit 3) and by `verify` afterwards.
#[test]
fn verification_catches_a_copy_that_reads_too_few_rows() {
    let db = "hm_rows_underread";
    let rows = compressed_source(FULL_SOURCE_PORT, db);
    let mut dst = fresh_db(FULL_TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = compressed_spec(dir.path(), FULL_SOURCE_PORT, FULL_TARGET_PORT, db);

    let out = hypermove()
        .env("HYPERMOVE_FAULT", "copy-reads-chunk-heap-only")
        .args(["apply", "--yes", &spec])
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    // Only the uncompressed chunks and the late rows arrived.
    let arrived = (DAYS - COMPRESSED) * PER_DAY + LATE;
    assert_eq!(
        scalar(&mut dst, "SELECT count(*)::text FROM public.m"),
        arrived.to_string()
    );
    assert!(
        out.contains(&format!(
            "FAIL verify:public.m:total: rows source {rows} / target {arrived} ≠"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Verification (checksum) FAILED: {COMPRESSED} of {DAYS} windows differ, and the row total of public.m differs."
        )),
        "{out}"
    );
    // The partially compressed chunk: its late rows came, its compressed ones did not.
    assert!(
        out.contains(&format!(
            "FAIL verify:public.m:2025-01-02T00:00:00Z..2025-01-03T00:00:00Z: rows source {} / target {LATE} ≠",
            PER_DAY + LATE
        )),
        "{out}"
    );
    // A standalone verify, at the cheapest level, says the same.
    hypermove()
        .args(["verify", "--verify", "count", &spec])
        .assert()
        .code(3)
        .stdout(predicate::str::contains(format!(
            "Verification (count) FAILED: {COMPRESSED} of {DAYS} windows differ"
        )));
}

/// From a full build to Debian's Apache-only 2.31 with `on_unsupported: warn`: the
/// compressed chunks' rows arrive, uncompressed, and the plan says what stays behind.
#[test]
fn compressed_source_into_an_apache_target_with_warn() {
    let db = "hm_rows_apache";
    let rows = compressed_source(FULL_SOURCE_PORT, db);
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = compressed_spec(dir.path(), FULL_SOURCE_PORT, TARGET_PORT, db);
    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "public.m: moved uncompressed and without its policies: compression and policies on the target need TimescaleDB's community edition, and the target's is licensed `apache`",
        ))
        .stdout(predicate::str::contains(format!(
            "ok   public.m: {DAYS} windows, {rows} source rows, checksum matches"
        )));
    let mut src = reader(FULL_SOURCE_PORT, db);
    assert_eq!(scalar(&mut src, DIGEST), scalar(&mut dst, DIGEST));
}

/// Without `on_unsupported: warn`, a compressed source bound for a target that cannot
/// compress (Debian's Apache-only build) is refused by name, with the target's license.
#[test]
fn compressed_source_into_an_apache_target_is_refused_by_default() {
    let db = "hm_rows_refused";
    compressed_source(FULL_SOURCE_PORT, db);
    let mut dst = fresh_db(TARGET_PORT, db);
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = compressed_spec(dir.path(), FULL_SOURCE_PORT, TARGET_PORT, db)
        .replace("compressed.yaml", "refused.yaml");
    std::fs::write(
        &spec,
        std::fs::read_to_string(dir.path().join("compressed.yaml"))
            .unwrap()
            .replace("on_unsupported: warn\n", ""),
    )
    .unwrap();
    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "(public.m): it is compressed on the source, but compression and policies on the target need TimescaleDB's community edition, and the target's is licensed `apache` (TimescaleDB 2.31.0)",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
}

/// A backup of a compressed hypertable holds every row, checked against the source
/// read through the table, and restores whole.
#[test]
fn backup_of_a_compressed_hypertable_holds_every_row() {
    let db = "hm_rows_backup";
    let rows = compressed_source(FULL_SOURCE_PORT, db);
    let mut dst = fresh_db(FULL_TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup");
    let spec = write_spec(
        dir.path(),
        "backup.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget:\n  directory: {}\non_unsupported: warn\ntables:\n  - name: public.m\n",
            url(FULL_SOURCE_PORT, db),
            backup.display()
        ),
    );
    hypermove()
        .args(["backup", spec.to_str().unwrap()])
        .assert()
        .success();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(backup.join("manifest.json")).unwrap())
            .unwrap();
    let files = manifest["tables"][0]["files"].as_array().unwrap();
    let in_files: u64 = files.iter().map(|f| f["rows"].as_u64().unwrap()).sum();
    assert_eq!(in_files, rows as u64);
    let restore = write_spec(
        dir.path(),
        "restore.yaml",
        &format!(
            "version: 1\nsource:\n  directory: {}\ntarget: {}\non_unsupported: warn\ntables:\n  - name: public.m\n",
            backup.display(),
            url(FULL_TARGET_PORT, db)
        ),
    );
    hypermove()
        .args(["restore", "--yes", restore.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "ok   public.m: {DAYS} windows, {rows} source rows, checksum-sql matches"
        )));
    let mut src = reader(FULL_SOURCE_PORT, db);
    assert_eq!(scalar(&mut src, DIGEST), scalar(&mut dst, DIGEST));
}

/// A target partitioned on another time column than the source's chunks: windows
/// stay cut on the source's own dimension, so rows whose other column falls outside
/// their chunk's range are not left behind.
#[test]
fn target_time_column_other_than_the_source_dimension() {
    let db = "hm_rows_other_column";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE EXTENSION timescaledb;
         CREATE TABLE public.events (time timestamptz NOT NULL, recorded_at timestamptz NOT NULL, v int);
         SELECT create_hypertable('public.events', by_range('time', INTERVAL '1 day'));
         -- recorded up to three days after the event: mostly outside the event's chunk
         INSERT INTO public.events
         SELECT TIMESTAMPTZ '2025-03-01 00:00:00+00' + i * INTERVAL '5 minutes',
                TIMESTAMPTZ '2025-03-01 00:00:00+00' + i * INTERVAL '5 minutes' + (i % 73) * INTERVAL '1 hour', i
           FROM generate_series(0, 5000) AS i;",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "other.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.events\n    hypertable:\n      time_column: recorded_at\n      chunk_time_interval: 2 days\n",
            url(SOURCE_PORT, db),
            url(TARGET_PORT, db)
        ),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "5001 source rows, checksum matches",
        ));
    let all = "SELECT count(*) || ' ' || md5(string_agg(format('%s|%s|%s', time, recorded_at, v), ',' ORDER BY v)) FROM public.events";
    assert_eq!(scalar(&mut src, all), scalar(&mut dst, all));
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT column_name::text FROM timescaledb_information.dimensions WHERE hypertable_name = 'events'"
        ),
        "recorded_at"
    );
}

/// A source role that row-level security filters would read fewer rows without an
/// error: the plan refuses, naming the table, before anything is written.
#[test]
fn row_level_security_on_the_source_is_refused() {
    let db = "hm_rows_rls";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hm_rls_reader') THEN
             CREATE ROLE hm_rls_reader LOGIN;
           END IF;
         END $$;
         CREATE TABLE public.secrets (id int PRIMARY KEY, owner text);
         INSERT INTO public.secrets SELECT i, CASE WHEN i % 2 = 0 THEN 'hm_rls_reader' ELSE 'someone' END
           FROM generate_series(1, 100) AS i;
         ALTER TABLE public.secrets ENABLE ROW LEVEL SECURITY;
         CREATE POLICY mine ON public.secrets USING (owner = current_user);
         GRANT SELECT ON public.secrets TO hm_rls_reader;",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "rls.yaml",
        &format!(
            "version: 1\nsource: postgresql://hm_rls_reader@127.0.0.1:{SOURCE_PORT}/{db}\ntarget: {}\ntables:\n  - name: public.secrets\n",
            url(TARGET_PORT, db)
        ),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "source: reading all of public.secrets, whose row-level security applies to hm_rls_reader",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
}

/// A plain table with inheritance children: a query on it reads their rows too, a
/// move of the table alone would not. Refused by name.
#[test]
fn a_table_with_inheritance_children_is_refused() {
    let db = "hm_rows_inherits";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE TABLE public.parent (id int, v text);
         CREATE TABLE public.child_a () INHERITS (public.parent);
         INSERT INTO public.parent VALUES (1, 'p');
         INSERT INTO public.child_a VALUES (2, 'c');",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "inherits.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.parent\n",
            url(SOURCE_PORT, db),
            url(TARGET_PORT, db)
        ),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "(public.parent): it has inheritance children (public.child_a)",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
}
