//! A compressed move killed with SIGKILL, then resumed with a plain `apply --yes`:
//! after its first copy window, right after its first `compress:` step, during its
//! verification (before the policies), and after its first policy. Every resume ends with every row exactly
//! once, the compressed range compressed (and nothing else), the source's settings,
//! each policy once, and a `verify` that checks the compression. `status` reports the
//! target's compression, and `verify` catches a chunk that was decompressed since.
//! On the full pair: 2.19/PG17 → 2.29/PG18.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use postgres::Client;
use predicates::prelude::*;

/// 20 days of minutes for 10 devices in 1-day chunks, the 15 oldest compressed
/// (segmented by device, newest first); the chunk of 01-10 written to again after
/// its compression (partially compressed); an index, a foreign key, and compression
/// and retention policies whose thresholds keep them from acting on 2025's rows.
const FIXTURE: &str = concat!(
    include_str!("fixtures/compression/metrics.sql"),
    "INSERT INTO public.metrics
SELECT TIMESTAMPTZ '2025-01-10 12:00:00.5+00' + i * INTERVAL '1 second', i % 10, -i, 'late'
  FROM generate_series(1, 9) i;
"
);

/// Rows of the fixture: 20 days of minutes and the 9 late ones.
const ROWS: i64 = 20 * 1440 + 9;

/// Every row of the table, in one digest (with the count).
const DIGEST: &str = "SELECT count(*) || ' ' || md5(string_agg(format('%s|%s|%s|%s', time, device_id, value, note), ',' ORDER BY time, device_id, value)) FROM public.metrics";

/// Compression settings as TimescaleDB reports them.
const SETTINGS: &str = "SELECT format('%s|%s', coalesce(segmentby, ''), coalesce(orderby, '')) FROM timescaledb_information.hypertable_compression_settings WHERE hypertable = 'public.metrics'::regclass";

/// The policies: kind, threshold and schedule, one line per job (a duplicate shows).
const POLICIES: &str = "SELECT coalesce(string_agg(format('%s %s %s', proc_name, coalesce(config ->> 'compress_after', config ->> 'drop_after'), schedule_interval), '; ' ORDER BY proc_name), '') FROM timescaledb_information.jobs WHERE hypertable_name = 'metrics'";

/// The source, with its compressed and its partially compressed chunk.
fn source(db: &str) -> Client {
    let mut src = fresh_db(FULL_SOURCE_PORT, db);
    src.batch_execute(FIXTURE).unwrap();
    assert_eq!(
        scalar(
            &mut src,
            "SELECT format('%s compressed, %s partially', count(*) FILTER (WHERE ch.status & 1 <> 0), count(*) FILTER (WHERE ch.status & 8 <> 0))
               FROM _timescaledb_catalog.chunk ch JOIN _timescaledb_catalog.hypertable h ON h.id = ch.hypertable_id
              WHERE h.table_name = 'metrics' AND NOT ch.dropped"
        ),
        "15 compressed, 1 partially"
    );
    src
}

fn spec(dir: &std::path::Path, name: &str, src_db: &str, dst_db: &str) -> String {
    write_spec(
        dir,
        name,
        &format!(
            "version: 1\nsource: {}\ntarget: {}\nverify: checksum\ntables:\n  - name: public.devices\n  - name: public.metrics\n    hypertable:\n      time_column: time\n      chunk_time_interval: 7 days\n      partitioning_column: device_id\n      number_partitions: 2\n",
            url(FULL_SOURCE_PORT, src_db),
            url(FULL_TARGET_PORT, dst_db)
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

/// Start `apply --yes --workers 1` and kill -9 it as soon as a progress line on
/// stderr matches `at`. Returns the lines read.
fn apply_and_kill_at(spec: &str, at: &str) -> Vec<String> {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("hypermove"))
        .args(["apply", "--yes", "--workers", "1", spec])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let hit = line.contains(at) && !line.contains("FAILED");
        seen.push(line);
        if hit {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL: no cleanup of any kind
    child.wait().unwrap();
    assert!(
        seen.last().is_some_and(|l| l.contains(at)),
        "apply ended before `{at}`: {seen:#?}"
    );
    seen
}

/// The target's chunks as `(start, compressed, partially)`, by time then name.
fn chunks(client: &mut Client) -> Vec<(String, bool, bool)> {
    client
        .query(
            "SELECT c.range_start::text, c.is_compressed, ch.status & 8 <> 0
               FROM timescaledb_information.chunks c
               JOIN _timescaledb_catalog.chunk ch ON ch.relid = format('%I.%I', c.chunk_schema, c.chunk_name)::regclass
              WHERE c.hypertable_name = 'metrics' ORDER BY c.range_start, c.chunk_name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// The steps of a kind the journal records as done.
fn recorded(client: &mut Client, prefix: &str) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM hypermove.step WHERE step_id LIKE $1 || '%'",
            &[&prefix],
        )
        .unwrap()
        .get(0)
}

/// What a finished move must look like, however often it was killed on the way.
fn assert_moved(src: &mut Client, dst: &mut Client, spec: &str, point: &str) {
    assert_eq!(scalar(src, DIGEST), scalar(dst, DIGEST), "{point}");
    assert!(
        scalar(dst, DIGEST).starts_with(&format!("{ROWS} ")),
        "{point}"
    );
    assert_eq!(scalar(src, SETTINGS), scalar(dst, SETTINGS), "{point}");
    // Each policy exactly once: a resumed run must not add one again.
    assert_eq!(scalar(src, POLICIES), scalar(dst, POLICIES), "{point}");
    assert_eq!(
        scalar(
            dst,
            "SELECT count(*)::text FROM timescaledb_information.jobs WHERE hypertable_name = 'metrics'"
        ),
        "2",
        "{point}"
    );
    // 7-day slices start on Thursdays: 2024-12-26, 01-02, 01-09 lie wholly in the
    // source's compressed days (01-01 to 01-15, the partial 01-10 among them) and end
    // compressed; 01-16 holds the uncompressed days and stays so. Two hash partitions
    // each. No chunk is partially compressed: no window landed in a compressed chunk.
    let expected: Vec<(String, bool, bool)> = [
        ("2024-12-26 00:00:00+00", true),
        ("2025-01-02 00:00:00+00", true),
        ("2025-01-09 00:00:00+00", true),
        ("2025-01-16 00:00:00+00", false),
    ]
    .iter()
    .flat_map(|(s, c)| [(s.to_string(), *c, false), (s.to_string(), *c, false)])
    .collect();
    assert_eq!(chunks(dst), expected, "{point}");
    // Every window and every slice recorded once (the journal's key allows no more).
    assert_eq!(recorded(dst, "copy:public.metrics:"), 20, "{point}");
    assert_eq!(recorded(dst, "compress:public.metrics:"), 3, "{point}");
    hypermove()
        .args(["verify", spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "ok   public.metrics: 20 windows, {ROWS} source rows, checksum matches, compression as planned"
        )));
    hypermove()
        .args(["status", spec])
        .assert()
        .success()
        .stdout(predicate::str::contains("move: completed and verified"))
        .stdout(predicate::str::contains(
            "compression of public.metrics: segment_by device_id, order_by \"time\" DESC; 6 of 8 chunks compressed\n",
        ));
}

#[test]
fn kill_9_at_four_points_of_a_compressed_move_then_resume() {
    let src_db = "hm_cres_src";
    let mut src = source(src_db);
    let dir = tempfile::tempdir().unwrap();
    let points = [
        ("a", "] copy:public.metrics:"),
        ("b", "] compress:public.metrics:"),
        ("c", "] verify:"),
        // Found by killing after every step in turn: a resume ran a policy again.
        ("d", "] policy:public.metrics:"),
    ];
    for (point, at) in points {
        let dst_db = format!("hm_cres_{point}");
        let mut dst = fresh_db(FULL_TARGET_PORT, &dst_db);
        let spec = spec(dir.path(), &format!("{point}.yaml"), src_db, &dst_db);
        let seen = apply_and_kill_at(&spec, at);
        // Where the kill landed, as the journal has it.
        let copies = recorded(&mut dst, "copy:public.metrics:");
        let compressed = recorded(&mut dst, "compress:public.metrics:");
        let policies = recorded(&mut dst, "policy:");
        match point {
            "a" => assert!((1..20).contains(&copies), "{point}: {copies} copies"),
            "b" => assert!((1..3).contains(&compressed), "{point}: {seen:#?}"),
            "c" => assert!(
                copies == 20 && compressed == 3 && policies == 0,
                "{point}: {copies} copies, {compressed} slices, {policies} policies"
            ),
            _ => assert!(policies >= 1, "{point}: {policies} policies"),
        }
        hypermove()
            .args(["plan", &spec])
            .assert()
            .success()
            .stdout(predicate::str::contains("Resuming an interrupted run"));
        // `status` mid-move: the interrupted run and the compression so far.
        let status = hypermove().args(["status", &spec]).assert().success();
        let out = String::from_utf8(status.get_output().stdout.clone()).unwrap();
        assert!(out.contains("interrupted run:"), "{point}: {out}");
        if compressed > 0 {
            assert!(
                out.contains(&format!(
                    "compression of public.metrics: segment_by device_id, order_by \"time\" DESC; {} of ",
                    2 * compressed
                )),
                "{point}: {out}"
            );
        }
        hypermove()
            .args(["apply", "--yes", &spec])
            .assert()
            .success()
            .stdout(predicate::str::contains("Resuming an interrupted run"))
            .stdout(predicate::str::contains(format!(
                "ok   public.metrics: 20 windows, {ROWS} source rows, checksum matches, compression as planned"
            )));
        assert_moved(&mut src, &mut dst, &spec, point);
        // Applying the finished move again changes nothing, policies included.
        hypermove()
            .args(["apply", "--yes", &spec])
            .assert()
            .success()
            .stdout(predicate::str::contains("Nothing to do."));
        assert_eq!(scalar(&mut src, POLICIES), scalar(&mut dst, POLICIES));
    }
}

/// A target chunk decompressed after the move: `verify` exits 3 naming the
/// compression check, and `status` shows the chunk count and the failed check.
#[test]
fn verify_and_status_catch_a_decompressed_target_chunk() {
    let src_db = "hm_cres_mm_src";
    source(src_db);
    let dst_db = "hm_cres_mm";
    let mut dst = fresh_db(FULL_TARGET_PORT, dst_db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), "mismatch.yaml", src_db, dst_db);
    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains("compression as planned"));
    hypermove()
        .args(["status", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "compression of public.metrics: segment_by device_id, order_by \"time\" DESC; 6 of 8 chunks compressed\n",
        ));
    // One chunk of the first slice (a subquery: a LIMIT after the call would leave
    // it called on every chunk).
    dst.batch_execute(
        "SELECT decompress_chunk(format('%I.%I', chunk_schema, chunk_name)::regclass)
           FROM (SELECT chunk_schema, chunk_name FROM timescaledb_information.chunks
                  WHERE hypertable_name = 'metrics' ORDER BY range_start, chunk_name LIMIT 1) c",
    )
    .unwrap();
    hypermove()
        .args(["verify", &spec])
        .assert()
        .code(3)
        .stdout(predicate::str::contains(format!(
            "FAIL public.metrics: 20 windows, {ROWS} source rows, checksum matches, compression not as planned"
        )))
        .stdout(predicate::str::contains(
            "FAIL verify:public.metrics:compression: segment_by source device_id / target device_id; uncompressed chunks source 0 / target 1 ≠;",
        ))
        .stdout(predicate::str::contains(
            "Not as planned: the compression of public.metrics.",
        ));
    hypermove()
        .args(["status", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "compression of public.metrics: segment_by device_id, order_by \"time\" DESC; 5 of 8 chunks compressed\n",
        ))
        .stdout(predicate::str::contains(
            "FAIL verify:public.metrics:compression (count): source device_id 0 \"time\" DESC / target device_id 1 \"time\" DESC",
        ));
}
