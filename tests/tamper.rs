//! Tampering that the checksum must catch (issue 19): each kind of damage fails
//! `hypermove verify` in exactly the window it lies in, and nowhere else. Damage that
//! keeps every window's row count passes `--verify count`, so these prove the
//! checksum, not the count. Written against the CLI only, so that they hold for any
//! checksum method: the server-side md5 of the row's text, or a client-side hash of
//! binary COPY rows.
//!
//! The move: PG17/2.19 → PG18/2.31, 1-day source chunks into 2-day target chunks with
//! 2 hash partitions, so a window is one source day read across target chunks.

mod common;

use std::collections::BTreeSet;

use common::*;
use postgres::Client;

/// Six days of half-hours (id = day * 48 + k), 1-day chunks, one column of each kind
/// the tests damage, and the special values some of them start from.
const FIXTURE: &str = r#"
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE public.tamper (
    time timestamptz NOT NULL,
    id   int NOT NULL,
    f8   float8,
    f4   float4,
    n    numeric,
    seen timestamptz,
    j    jsonb,
    t    text
);
SELECT create_hypertable('public.tamper', by_range('time', INTERVAL '1 day'));
INSERT INTO public.tamper
SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '30 minutes', i, i / 3.0, (i / 7.0)::float4,
       i * 1.5, TIMESTAMPTZ '2024-06-01 00:00:00.123456+00' + i * INTERVAL '1.000001 seconds',
       jsonb_build_object('a', jsonb_build_array(i, jsonb_build_array(i + 1, i + 2))),
       U&'caf\00E9 ' || i
  FROM generate_series(0, 48 * 6 - 1) i;
UPDATE public.tamper SET f8 = 'NaN' WHERE id = 60;                  -- day 1
UPDATE public.tamper SET f8 = NULL WHERE id = 156;                  -- day 3
UPDATE public.tamper SET f8 = '-0' WHERE id = 61;                   -- day 1
UPDATE public.tamper SET f4 = '-0' WHERE id = 157;                  -- day 3
UPDATE public.tamper SET n = '1.0' WHERE id = 62;                   -- day 1
UPDATE public.tamper SET j = '{"a": [1, [2, 3]]}' WHERE id = 63;    -- day 1
"#;

/// 1-day chunks into 2-day chunks, and 2 hash partitions where there were none.
const RECHUNKED: &str = "    hypertable:\n      time_column: time\n      chunk_time_interval: 2 days\n      partitioning_column: id\n      number_partitions: 2\n";

/// A table moved and verified clean, ready to be damaged.
struct Moved {
    src: Client,
    dst: Client,
    spec: String,
    /// The table whose windows are checked.
    table: &'static str,
    /// Windows of the whole spec (every table's), as the closing line counts them.
    windows: usize,
    _dir: tempfile::TempDir,
}

/// A session that prints times in UTC, whatever the server's default.
fn utc(mut c: Client) -> Client {
    c.batch_execute("SET TimeZone = 'UTC'").unwrap();
    c
}

/// The databases must be UTF8: the NFC/NFD test compares bytes of `é`.
fn assert_utf8(c: &mut Client) {
    assert_eq!(scalar(c, "SHOW server_encoding"), "UTF8");
}

/// A spec of two workers and the default verification (checksum).
fn spec_text(from: u16, to: u16, db: &str, tables: &str) -> String {
    format!(
        "version: 1\nsource: {}\ntarget: {}\nworkers: 2\ntables:\n{tables}",
        url(from, db),
        url(to, db)
    )
}

/// Load the fixture on the source, move it with `apply --yes` (checksum verified),
/// and check that standalone verify passes at both levels before any damage.
fn moved(db: &str) -> Moved {
    let mut src = utc(fresh_db(SOURCE_PORT, db));
    src.batch_execute(FIXTURE).unwrap();
    let mut dst = utc(fresh_db(TARGET_PORT, db));
    assert_utf8(&mut src);
    assert_utf8(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "tamper.yaml",
        &spec_text(
            SOURCE_PORT,
            TARGET_PORT,
            db,
            &format!("  - name: public.tamper\n{RECHUNKED}"),
        ),
    )
    .to_str()
    .unwrap()
    .to_string();
    let m = Moved {
        src,
        dst,
        spec,
        table: "public.tamper",
        windows: 6,
        _dir: dir,
    };
    m.apply_clean();
    m
}

impl Moved {
    /// `apply` verifies the move at its default level, checksum; standalone verify
    /// agrees at both levels.
    fn apply_clean(&self) {
        let out = run(&["apply", "--yes", &self.spec], 0);
        assert!(
            out.contains(&format!(
                "Verification (checksum): all {} windows match.",
                self.windows
            )),
            "{out}"
        );
        self.count_passes();
        self.checksum_passes();
    }

    /// `hypermove verify SPEC` at its default, checksum, finds nothing.
    fn checksum_passes(&self) {
        let out = run(&["verify", &self.spec], 0);
        assert!(
            out.contains(&format!(
                "Verification (checksum): all {} windows match.",
                self.windows
            )),
            "{out}"
        );
    }

    /// The damage kept every window's row count: the count level sees nothing.
    fn count_passes(&self) {
        let out = run(&["verify", "--verify", "count", &self.spec], 0);
        assert!(
            out.contains(&format!(
                "Verification (count): all {} windows match.",
                self.windows
            )),
            "{out}"
        );
    }

    /// The check ID of the window of day `day` (0 = 2025-01-01).
    fn window(&self, day: u32) -> String {
        format!(
            "verify:{}:2025-01-{:02}T00:00:00Z..2025-01-{:02}T00:00:00Z",
            self.table,
            day + 1,
            day + 2
        )
    }

    /// `hypermove verify` at `level` exits 3 and names exactly the windows of `days`:
    /// a FAIL line for each and for nothing else (the table's row total matches), a
    /// closing line that counts them, and the same failing IDs in the JSON. The
    /// checksum level is asked for as the default, without `--verify`.
    fn fails_exactly(&self, level: &str, days: &[u32]) {
        let expected: BTreeSet<String> = days.iter().map(|d| self.window(*d)).collect();
        let verify = |more: &[&str]| {
            let mut args = vec!["verify"];
            if level != "checksum" {
                args.extend(["--verify", level]);
            }
            args.extend(more);
            args.push(&self.spec);
            run(&args, 3)
        };
        let out = verify(&[]);
        for id in &expected {
            assert!(
                out.contains(&format!("FAIL {id}:")),
                "{id} not reported:\n{out}"
            );
        }
        let fail_lines = out
            .lines()
            .filter(|l| l.starts_with("FAIL verify:"))
            .count();
        assert_eq!(
            fail_lines,
            expected.len(),
            "other checks failed too:\n{out}"
        );
        assert!(
            out.contains(&format!(
                "Verification ({level}) FAILED: {} of {} windows differ.\n",
                expected.len(),
                self.windows
            )),
            "{out}"
        );
        let json = verify(&["--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&json).expect("verify JSON");
        assert_eq!(v["ok"], serde_json::Value::Bool(false), "{json}");
        let checks = v["checks"].as_array().expect("checks");
        let failing: BTreeSet<String> = checks
            .iter()
            .filter(|c| c["ok"] == serde_json::Value::Bool(false))
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(failing, expected, "{json}");
        let total = format!("verify:{}:total", self.table);
        assert!(
            checks
                .iter()
                .any(|c| c["id"] == total.as_str() && c["ok"] == true),
            "the row total should be checked and match:\n{json}"
        );
    }

    /// Damage that keeps every window's row count: count passes, checksum fails in
    /// exactly the windows of `days`.
    fn only_checksum_catches(&self, days: &[u32]) {
        self.count_passes();
        self.fails_exactly("checksum", days);
    }
}

/// Run hypermove, expect an exit code, return stdout.
fn run(args: &[&str], code: i32) -> String {
    let out = hypermove().args(args).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "hypermove {args:?}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// One cell of `public.tamper` as text, `NULL` for null.
fn cell(c: &mut Client, column: &str, id: i32) -> String {
    scalar(
        c,
        &format!("SELECT coalesce({column}::text, 'NULL') FROM public.tamper WHERE id = {id}"),
    )
}

/// NaN on one side against NULL on the other, both ways (day 1: NaN → NULL;
/// day 3: NULL → NaN). `NaN` and NULL are both "not a number" to a careless hash.
#[test]
fn nan_against_null_fails_its_window() {
    let mut m = moved("hm_tamper_nan");
    assert_eq!(cell(&mut m.dst, "f8", 60), "NaN");
    assert_eq!(cell(&mut m.dst, "f8", 156), "NULL");
    m.dst
        .batch_execute(
            "UPDATE public.tamper SET f8 = NULL WHERE id = 60;
             UPDATE public.tamper SET f8 = 'NaN' WHERE id = 156;",
        )
        .unwrap();
    assert_eq!(cell(&mut m.src, "f8", 60), "NaN");
    assert_eq!(cell(&mut m.dst, "f8", 60), "NULL");
    assert_eq!(cell(&mut m.src, "f8", 156), "NULL");
    assert_eq!(cell(&mut m.dst, "f8", 156), "NaN");
    m.only_checksum_catches(&[1, 3]);
}

/// -0.0 on the source against 0.0 on the target: float8 on day 1, float4 on day 3.
/// They are equal by `=`, so only a hash of the value's form tells them apart.
#[test]
fn negative_zero_against_zero_fails_its_window() {
    let mut m = moved("hm_tamper_zero");
    assert_eq!(cell(&mut m.dst, "f8", 61), "-0");
    assert_eq!(cell(&mut m.dst, "f4", 157), "-0");
    m.dst
        .batch_execute(
            "UPDATE public.tamper SET f8 = 0 WHERE id = 61;
             UPDATE public.tamper SET f4 = 0 WHERE id = 157;",
        )
        .unwrap();
    assert_eq!(cell(&mut m.dst, "f8", 61), "0");
    assert_eq!(cell(&mut m.dst, "f4", 157), "0");
    // Still equal by value: the count-level query sees the same rows.
    assert_eq!(
        scalar(
            &mut m.dst,
            "SELECT (f8 = '-0'::float8)::text FROM public.tamper WHERE id = 61"
        ),
        "true"
    );
    m.only_checksum_catches(&[1, 3]);
}

/// numeric `1.0` against `1.00`: the same value, a different scale (day 1).
#[test]
fn numeric_scale_fails_its_window() {
    let mut m = moved("hm_tamper_scale");
    assert_eq!(cell(&mut m.dst, "n", 62), "1.0");
    m.dst
        .batch_execute("UPDATE public.tamper SET n = '1.00' WHERE id = 62")
        .unwrap();
    assert_eq!(cell(&mut m.src, "n", 62), "1.0");
    assert_eq!(cell(&mut m.dst, "n", 62), "1.00");
    m.only_checksum_catches(&[1]);
}

/// One microsecond: on a timestamptz that is not the time column (day 2), and on the
/// time column itself, moved within its window (day 4).
#[test]
fn one_microsecond_fails_its_window() {
    let mut m = moved("hm_tamper_micro");
    m.dst
        .batch_execute(
            "UPDATE public.tamper SET seen = seen + INTERVAL '1 microsecond' WHERE id = 100;
             UPDATE public.tamper SET time = time + INTERVAL '1 microsecond' WHERE id = 200;",
        )
        .unwrap();
    assert_eq!(
        cell(&mut m.src, "seen", 100),
        "2024-06-01 00:01:40.123556+00"
    );
    assert_eq!(
        cell(&mut m.dst, "seen", 100),
        "2024-06-01 00:01:40.123557+00"
    );
    assert_eq!(cell(&mut m.src, "time", 200), "2025-01-05 04:00:00+00");
    assert_eq!(
        cell(&mut m.dst, "time", 200),
        "2025-01-05 04:00:00.000001+00"
    );
    m.only_checksum_catches(&[2, 4]);
}

/// A jsonb value changed deep inside a nested array (day 1).
#[test]
fn jsonb_nested_array_change_fails_its_window() {
    let mut m = moved("hm_tamper_jsonb");
    assert_eq!(cell(&mut m.dst, "j", 63), r#"{"a": [1, [2, 3]]}"#);
    m.dst
        .batch_execute(r#"UPDATE public.tamper SET j = '{"a": [1, [2, 4]]}' WHERE id = 63"#)
        .unwrap();
    assert_eq!(cell(&mut m.dst, "j", 63), r#"{"a": [1, [2, 4]]}"#);
    m.only_checksum_catches(&[1]);
}

/// Text changed to a canonically equivalent form with other bytes: NFC `é` (U+00E9)
/// on the source against NFD `e` + U+0301 on the target (day 2).
#[test]
fn unicode_nfc_against_nfd_fails_its_window() {
    let mut m = moved("hm_tamper_nfd");
    let bytes = "SELECT encode(convert_to(t, 'UTF8'), 'hex') FROM public.tamper WHERE id = 100";
    // "café 100", NFC, arrived byte for byte.
    assert_eq!(scalar(&mut m.dst, bytes), "636166c3a920313030");
    m.dst
        .batch_execute("UPDATE public.tamper SET t = normalize(t, NFD) WHERE id = 100")
        .unwrap();
    assert_eq!(scalar(&mut m.src, bytes), "636166c3a920313030");
    assert_eq!(scalar(&mut m.dst, bytes), "63616665cc8120313030");
    // Canonically the same text.
    assert_eq!(
        scalar(
            &mut m.dst,
            "SELECT normalize(t, NFC) || '|' || (t IS NFD NORMALIZED)::text FROM public.tamper WHERE id = 100"
        ),
        "café 100|true"
    );
    m.only_checksum_catches(&[2]);
}

/// Move the row `id` one day later on one side, as a delete and an insert (a
/// TimescaleDB UPDATE need not move a row between chunks).
fn move_row_a_day_later(c: &mut Client, id: i32) {
    c.batch_execute(&format!(
        "WITH d AS (DELETE FROM public.tamper WHERE id = {id} RETURNING *)
         INSERT INTO public.tamper SELECT time + INTERVAL '1 day', id, f8, f4, n, seen, j, t FROM d"
    ))
    .unwrap();
}

/// A row moved on the target from its window into the next (day 4 → day 5): both
/// windows fail, at count and at checksum, and the table's row total still matches.
#[test]
fn a_row_moved_to_the_next_window_on_the_target_fails_both() {
    let mut m = moved("hm_tamper_move");
    move_row_a_day_later(&mut m.dst, 202);
    assert_eq!(cell(&mut m.dst, "time", 202), "2025-01-06 05:00:00+00");
    assert_eq!(
        scalar(&mut m.dst, "SELECT count(*)::text FROM public.tamper"),
        "288"
    );
    m.fails_exactly("count", &[4, 5]);
    m.fails_exactly("checksum", &[4, 5]);
}

/// A value changed on the SOURCE after the move (day 1: float8 -0 → 0): verify reads
/// the source again, it does not trust what the copy saw.
#[test]
fn a_value_changed_on_the_source_after_the_move_fails_its_window() {
    let mut m = moved("hm_tamper_src_value");
    m.src
        .batch_execute("UPDATE public.tamper SET f8 = 0 WHERE id = 61")
        .unwrap();
    assert_eq!(cell(&mut m.src, "f8", 61), "0");
    assert_eq!(cell(&mut m.dst, "f8", 61), "-0");
    m.only_checksum_catches(&[1]);
}

/// A row moved on the SOURCE after the move (day 4 → day 5): both windows fail and
/// the row total matches.
#[test]
fn a_row_moved_on_the_source_after_the_move_fails_both_windows() {
    let mut m = moved("hm_tamper_src_move");
    move_row_a_day_later(&mut m.src, 202);
    assert_eq!(cell(&mut m.src, "time", 202), "2025-01-06 05:00:00+00");
    assert_eq!(cell(&mut m.dst, "time", 202), "2025-01-05 05:00:00+00");
    m.fails_exactly("count", &[4, 5]);
    m.fails_exactly("checksum", &[4, 5]);
}

/// The compressed fixture (tests/compression.rs): 20 days of minutes for 10 devices,
/// 1-day chunks, the 15 oldest compressed.
const COMPRESSED: &str = include_str!("fixtures/compression/metrics.sql");

/// The target's chunks holding `at`, as `is_compressed` of each hash partition.
fn compressed_at(c: &mut Client, at: &str) -> Vec<bool> {
    c.query(
        "SELECT is_compressed FROM timescaledb_information.chunks
          WHERE hypertable_name = 'metrics' AND range_start <= $1::text::timestamptz
            AND range_end > $1::text::timestamptz ORDER BY chunk_name",
        &[&at],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// TimescaleDB's status bits of the target's chunks holding `at` (1 compressed,
/// 8 partially: rows written since), by chunk.
fn chunk_status(c: &mut Client, at: &str) -> Vec<i32> {
    c.query(
        "SELECT k.status FROM timescaledb_information.chunks i
           JOIN _timescaledb_catalog.chunk k
             ON k.relid = format('%I.%I', i.chunk_schema, i.chunk_name)::regclass
          WHERE i.hypertable_name = 'metrics' AND i.range_start <= $1::text::timestamptz
            AND i.range_end > $1::text::timestamptz ORDER BY i.chunk_name",
        &[&at],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// On the full builds (2.19/PG17 → 2.29/PG18), a compressed source moved into
/// compressed 7-day, 2-partition target chunks; damage inside compressed target chunks
/// (0 → -0 on day 0, the time column +1 µs on day 10), written through the hypertable
/// and the chunks compressed again: those two windows fail, no other, and the
/// compression check still passes.
#[test]
fn damage_in_a_compressed_target_chunk_fails_its_window() {
    let db = "hm_tamper_compressed";
    let mut src = utc(fresh_db(FULL_SOURCE_PORT, db));
    src.batch_execute(COMPRESSED).unwrap();
    let mut dst = utc(fresh_db(FULL_TARGET_PORT, db));
    assert_utf8(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "compressed.yaml",
        &spec_text(
            FULL_SOURCE_PORT,
            FULL_TARGET_PORT,
            db,
            "  - name: public.devices\n  - name: public.metrics\n    hypertable:\n      time_column: time\n      chunk_time_interval: 7 days\n      partitioning_column: device_id\n      number_partitions: 2\n",
        ),
    )
    .to_str()
    .unwrap()
    .to_string();
    // 20 windows of metrics and the one of devices.
    let mut m = Moved {
        src,
        dst,
        spec,
        table: "public.metrics",
        windows: 21,
        _dir: dir,
    };
    m.apply_clean();
    let (day0, day10) = ("2025-01-01 00:00:00+00", "2025-01-11 12:00:00+00");
    for at in [day0, day10] {
        assert_eq!(compressed_at(&mut m.dst, at), [true, true], "{at}");
    }
    let value = "SELECT value::text FROM public.metrics WHERE time = '2025-01-01 00:00:00+00' AND device_id = 0";
    assert_eq!(scalar(&mut m.src, value), "0");
    m.dst
        .batch_execute(
            "UPDATE public.metrics SET value = '-0' WHERE time = '2025-01-01 00:00:00+00' AND device_id = 0;
             UPDATE public.metrics SET time = time + INTERVAL '1 microsecond'
              WHERE time = '2025-01-11 12:00:00+00' AND device_id = 0;",
        )
        .unwrap();
    // Each update went into a compressed chunk (device 0's hash partition, now
    // partially compressed), and compressing it again leaves the damage in
    // compressed storage.
    for at in [day0, day10] {
        let mut status = chunk_status(&mut m.dst, at);
        status.sort();
        assert_eq!(status, [1, 9], "{at}");
    }
    m.dst
        .batch_execute(
            "SELECT count(compress_chunk(c)) FROM show_chunks('public.metrics', older_than => TIMESTAMPTZ '2025-01-16 00:00:00+00') c",
        )
        .unwrap();
    for at in [day0, day10] {
        assert_eq!(chunk_status(&mut m.dst, at), [1, 1], "{at}");
    }
    assert_eq!(scalar(&mut m.dst, value), "-0");
    assert_eq!(
        scalar(
            &mut m.dst,
            "SELECT time::text FROM public.metrics WHERE time > '2025-01-11 12:00:00+00' AND time < '2025-01-11 12:00:01+00'"
        ),
        "2025-01-11 12:00:00.000001+00"
    );
    m.only_checksum_catches(&[0, 10]);
}
