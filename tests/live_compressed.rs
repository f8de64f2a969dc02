//! Live moves of a COMPRESSED hypertable (docs/live.md, sections 6, 7 and 10.2).
//! (The stream-level proofs, without the binary, are in live_compressed_stream.rs.)
//!
//! 1. Through the binary on the full pair (55427 → 55428): `apply --yes --follow` of
//!    a hypertable with segmentby + orderby compression, some chunks compressed, the
//!    database's direct batch deletes off. During the copy and the follow a writer
//!    inserts into uncompressed, compressed and new chunks, and updates and deletes
//!    rows in compressed chunks; during the follow a chunk is compressed, partial
//!    chunks are recompressed, and a segmentby-only DELETE runs. `cutover` exits 0,
//!    the target equals the source row for row, the chunks the move planned
//!    compressed are compressed, and no slot or publication is left.
//! 2. The live preflight refuses (exit 2) a compressed hypertable whose database
//!    leaves direct batch deletes on, naming the remedy, and writes nothing on either
//!    side; with `on_unsupported: warn` it is a warning and the move starts.
//! 3. `plan::compression_catch_up`, for the cutover: a chunk compressed on the
//!    source after the copy fails `verify`; the catch-up's statements compress the
//!    target's slice (twice: idempotent) and `verify` passes.

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::live::{Guard, start_follow, status_json, stops_by_itself};
use common::{FULL_SOURCE_PORT as SRC, FULL_TARGET_PORT as DST};
use postgres::Client;
use tokio::runtime::Runtime;

const MOVE_DB: &str = "hm_livecomp_move";
const REFUSE_DB: &str = "hm_livecomp_refuse";
const SETTING: &str = "timescaledb.enable_compressed_direct_batch_delete";

// ---------------------------------------------------------------------------------
// 1. Through the binary.
// ---------------------------------------------------------------------------------

/// 4 devices every 10 minutes over 6 days of 1-day chunks; the first 3 compressed
/// (one batch per device and chunk).
const METRICS: &str = "
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE metrics (time timestamptz NOT NULL, device int NOT NULL, v float8, note text,
                      PRIMARY KEY (time, device));
SELECT create_hypertable('metrics', by_range('time', interval '1 day'));
ALTER TABLE metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device',
                         timescaledb.compress_orderby = 'time DESC');
INSERT INTO metrics
SELECT '2026-01-01 00:00+00'::timestamptz + i * interval '10 minutes', d, i, 'n' || i
  FROM generate_series(0, 6 * 144 - 1) i, generate_series(1, 4) d;
SELECT count(compress_chunk(c)) FROM show_chunks('metrics', older_than => '2026-01-04 00:00+00'::timestamptz) c;
";

/// Source with its rows, target with the extension, and the spec.
fn databases(
    db: &str,
    setting_off: bool,
    extra_spec: &str,
) -> (Client, Client, tempfile::TempDir, String) {
    Guard::clean(db);
    let mut src = common::fresh_db(SRC, db);
    src.batch_execute(METRICS).expect("source setup");
    if setting_off {
        src.batch_execute(&format!("ALTER DATABASE \"{db}\" SET {SETTING} = off"))
            .expect("direct batch deletes off");
    }
    let mut dst = common::fresh_db(DST, db);
    dst.batch_execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        .expect("target extension");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = common::write_spec(
        dir.path(),
        "live.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\nverify: checksum\n{extra_spec}tables:\n  - name: public.metrics\n",
            common::url(SRC, db),
            common::url(DST, db)
        ),
    );
    let spec = spec.to_str().expect("utf-8 path").to_string();
    (src, dst, dir, spec)
}

/// Inserts into an uncompressed chunk, a compressed chunk and a chunk neither side
/// has yet; updates and deletes of rows in compressed chunks; updates in an
/// uncompressed one. Its session starts after the database's setting.
fn spawn_writer(stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut c = common::connect(SRC, MOVE_DB);
        assert_eq!(common::scalar(&mut c, &format!("SHOW {SETTING}")), "off");
        let mut i: i32 = 0;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            let sql = match i % 6 {
                0 => {
                    "INSERT INTO metrics VALUES ('2026-01-05 00:00:01+00'::timestamptz
                       + $1::int * interval '1 second', 9, $1::int, 'uncompressed chunk')"
                }
                1 => {
                    "INSERT INTO metrics VALUES ('2026-02-01 00:00+00'::timestamptz
                       + $1::int * interval '1 second', 9, $1::int, 'new chunk')"
                }
                2 => {
                    "UPDATE metrics SET v = v + 1, note = note || '+'
                      WHERE time = '2026-01-02 00:00+00'::timestamptz
                                   + ($1::int * 7 % 144) * interval '10 minutes' AND device = 2"
                }
                3 => {
                    "DELETE FROM metrics WHERE time = '2026-01-03 00:00+00'::timestamptz
                       + ($1::int % 144) * interval '10 minutes' AND device = 3"
                }
                4 => {
                    "INSERT INTO metrics VALUES ('2026-01-01 00:00:01+00'::timestamptz
                       + $1::int * interval '1 second', 8, $1::int, 'compressed chunk')"
                }
                _ => {
                    "UPDATE metrics SET note = 'u' || $1::int
                      WHERE time = '2026-01-05 00:00+00'::timestamptz
                                   + ($1::int % 144) * interval '10 minutes' AND device = 1"
                }
            };
            c.execute(sql, &[&i]).expect(sql);
            std::thread::sleep(Duration::from_millis(5));
        }
        i as u64
    })
}

fn rows(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT format('%s|%s|%s|%s', to_char(time AT TIME ZONE 'UTC',
                           'YYYY-MM-DD HH24:MI:SS'), device, v, note)
               FROM metrics ORDER BY time, device",
            &[],
        )
        .expect("rows")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The compressed chunks' first days (`MM-DD`), in order.
fn compressed_days(client: &mut Client) -> String {
    common::scalar(
        client,
        "SELECT coalesce(string_agg(to_char(range_start AT TIME ZONE 'UTC', 'MM-DD'), ','
                                    ORDER BY range_start), '')
           FROM timescaledb_information.chunks
          WHERE hypertable_name = 'metrics' AND is_compressed",
    )
}

#[test]
fn a_compressed_hypertable_moves_live_with_every_change() {
    let (mut src, mut dst, _dir, spec) = databases(MOVE_DB, true, "");
    assert_eq!(compressed_days(&mut src), "01-01,01-02,01-03");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let mut follower = start_follow(MOVE_DB, &spec);
    // The copy compressed what the move planned.
    assert_eq!(compressed_days(&mut dst), "01-01,01-02,01-03");
    std::thread::sleep(Duration::from_secs(1));

    // A chunk compressed during the follow, and a row of it updated (its batch
    // decompressed); partial chunks recompressed: markers, skipped.
    let mut ops = common::connect(SRC, MOVE_DB);
    assert_eq!(common::scalar(&mut ops, &format!("SHOW {SETTING}")), "off");
    ops.batch_execute(
        "SELECT compress_chunk(c) FROM show_chunks('metrics') c
          WHERE c IN (SELECT format('%I.%I', chunk_schema, chunk_name)::regclass
                        FROM timescaledb_information.chunks
                       WHERE hypertable_name = 'metrics'
                         AND range_start = '2026-01-04 00:00+00');
         UPDATE metrics SET note = 'after compress' WHERE time = '2026-01-04 01:00+00' AND device = 1;",
    )
    .expect("compress during the follow");
    std::thread::sleep(Duration::from_millis(500));
    // 2.19 aborts a segmentwise recompression that meets the writer's DML (40001,
    // "retrying with next policy run"): retry, as the policy would.
    let mut recompressed = 0;
    for attempt in 0..50 {
        match ops.batch_execute(
            "SELECT count(compress_chunk(c, if_not_compressed => true))
               FROM show_chunks('metrics', older_than => '2026-01-04 00:00+00'::timestamptz) c",
        ) {
            Ok(()) => {
                recompressed = attempt + 1;
                break;
            }
            Err(e) if e.code() == Some(&postgres::error::SqlState::T_R_SERIALIZATION_FAILURE) => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("recompress partial chunks: {e}"),
        }
    }
    assert!(recompressed > 0, "the partial chunks were recompressed");
    // A DELETE on the segmentby column only: with direct batch deletes off, its
    // batches are decompressed and the rows stream as row deletes.
    let deleted = ops
        .execute("DELETE FROM metrics WHERE device = 4", &[])
        .expect("segmentby delete");
    assert!(deleted >= 6 * 144, "{deleted}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(status_json(&spec)["phase"], "following");
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().expect("writer");
    eprintln!("writer: {written} statements");

    let cutover = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args(["cutover", &spec, "--timeout", "60"])
        .output()
        .expect("cutover runs");
    eprintln!(
        "cutover: {}\n{}",
        String::from_utf8_lossy(&cutover.stdout),
        String::from_utf8_lossy(&cutover.stderr)
    );
    if !cutover.status.success() {
        // Say which rows differ before failing.
        std::thread::sleep(Duration::from_secs(2));
        let (a, b) = (rows(&mut src), rows(&mut dst));
        let only = |x: &[String], y: &[String]| {
            let y: std::collections::HashSet<&String> = y.iter().collect();
            x.iter()
                .filter(|r| !y.contains(r))
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
        };
        panic!(
            "cutover exits 0; source only: {:?}; target only: {:?}",
            only(&a, &b),
            only(&b, &a)
        );
    }
    // The chunk the source compressed during the follow is compressed on the target
    // by the cutover, before its verification.
    assert!(
        String::from_utf8_lossy(&cutover.stdout)
            .contains("compressed before verifying, as the source is compressed now: compress:public.metrics:2026-01-04"),
        "{}",
        String::from_utf8_lossy(&cutover.stdout)
    );
    let code = stops_by_itself(follower.child.take().expect("follower"));
    assert!(code.success(), "apply --follow exits 0: {code}");

    let source_rows = rows(&mut src);
    for note in [
        "new chunk",
        "compressed chunk",
        "uncompressed chunk",
        "after compress",
    ] {
        assert!(
            source_rows.iter().any(|r| r.ends_with(note)),
            "the source has a '{note}' row"
        );
    }
    assert_eq!(
        common::scalar(
            &mut src,
            "SELECT count(*)::text FROM metrics WHERE device = 4"
        ),
        "0",
        "device 4 is gone"
    );
    let target_rows = rows(&mut dst);
    assert_eq!(target_rows.len(), source_rows.len(), "row counts");
    assert_eq!(target_rows, source_rows, "the target equals the source");
    // The chunks the move planned compressed are compressed (rows changed since
    // only make them partial), and so is the one the source compressed during the
    // follow: the cutover compressed it.
    assert_eq!(compressed_days(&mut dst), "01-01,01-02,01-03,01-04");

    let left: i64 = src
        .query_one(
            "SELECT (SELECT count(*) FROM pg_replication_slots WHERE database = current_database())
                  + (SELECT count(*) FROM pg_publication)",
            &[],
        )
        .expect("left")
        .get(0);
    assert_eq!(left, 0, "no slot or publication is left");
    assert_eq!(status_json(&spec)["phase"], "completed");
}

// ---------------------------------------------------------------------------------
// 2. The preflight's rule.
// ---------------------------------------------------------------------------------

fn source_live_objects(src: &mut Client) -> i64 {
    src.query_one(
        "SELECT (SELECT count(*) FROM pg_replication_slots WHERE database = current_database())
              + (SELECT count(*) FROM pg_publication)",
        &[],
    )
    .expect("live objects")
    .get(0)
}

#[test]
fn direct_batch_deletes_left_on_refuse_the_live_move_and_nothing_is_written() {
    let (mut src, mut dst, dir, spec) = databases(REFUSE_DB, false, "");
    let src_before = common::catalog_snapshot(&mut src);
    let dst_before = common::catalog_snapshot(&mut dst);
    let out = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args(["apply", "--yes", "--follow", &spec])
        .stdin(Stdio::null())
        .output()
        .expect("apply --follow runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert_eq!(out.status.code(), Some(2), "refused: exit 2");
    assert!(
        stderr.contains(&format!(
            "refused: hypertable public.metrics is compressed and {SETTING} is not off for database {REFUSE_DB}"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "`ALTER DATABASE \"{REFUSE_DB}\" SET {SETTING} = off`"
        )) && stderr.contains("reconnect every session already open"),
        "{stderr}"
    );
    assert_eq!(
        common::catalog_snapshot(&mut src),
        src_before,
        "source untouched"
    );
    assert_eq!(source_live_objects(&mut src), 0, "no slot, no publication");
    assert_eq!(
        common::catalog_snapshot(&mut dst),
        dst_before,
        "target untouched"
    );
    assert!(status_json(&spec).get("phase").is_none(), "no live move");

    // on_unsupported: warn: the same finding is a warning and the move starts.
    let warn_spec = common::write_spec(
        dir.path(),
        "warn.yaml",
        &std::fs::read_to_string(&spec).expect("spec").replace(
            "verify: checksum\n",
            "verify: checksum\non_unsupported: warn\n",
        ),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args([
            "apply",
            "--yes",
            "--follow",
            warn_spec.to_str().expect("path"),
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let guard = Guard {
        child: Some(child),
        db: REFUSE_DB,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("{line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let warned = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line)
                if line.contains("warning: hypertable public.metrics is compressed")
                    && line.contains("on_unsupported: warn") =>
            {
                break true;
            }
            Ok(_) => {}
            Err(_) => break false,
        }
    };
    assert!(warned, "the finding is a warning with on_unsupported: warn");
    // The move started: its publication and slot exist.
    while source_live_objects(&mut src) < 2 {
        assert!(Instant::now() < deadline, "the move did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(guard);
    assert_eq!(source_live_objects(&mut src), 0, "cleaned up");
}

// ---------------------------------------------------------------------------------
// 3. The compression catch-up a cutover needs (plan::compression_catch_up).
// ---------------------------------------------------------------------------------

/// A chunk the source compresses after the copy (as a policy would during a follow)
/// fails the verification ("compression not as planned"); the catch-up statements,
/// computed from both catalogs as they are then, compress the target's slice, after
/// which the verification passes, and running them again changes nothing.
#[test]
fn the_compression_catch_up_compresses_what_the_source_compressed_since_the_copy() {
    const DB: &str = "hm_livecomp_catchup";
    let (mut src, mut dst, _dir, spec) = databases(DB, true, "");
    let applied = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args(["apply", "--yes", &spec])
        .output()
        .expect("apply runs");
    assert!(applied.status.success(), "apply exits 0");
    assert_eq!(compressed_days(&mut dst), "01-01,01-02,01-03");
    src.batch_execute(
        "SELECT compress_chunk(c) FROM show_chunks('metrics') c
          WHERE c IN (SELECT format('%I.%I', chunk_schema, chunk_name)::regclass
                        FROM timescaledb_information.chunks
                       WHERE hypertable_name = 'metrics'
                         AND range_start = '2026-01-04 00:00+00')",
    )
    .expect("compress after the copy");
    let verify = |spec: &str| {
        Command::new(env!("CARGO_BIN_EXE_hypermove"))
            .args(["verify", spec])
            .output()
            .expect("verify runs")
    };
    let failed = verify(&spec);
    assert_eq!(failed.status.code(), Some(3), "compression not as planned");
    assert!(
        String::from_utf8_lossy(&failed.stdout).contains("compression not as planned"),
        "{}",
        String::from_utf8_lossy(&failed.stdout)
    );

    let rt = Runtime::new().expect("runtime");
    let loaded = hypermove::spec::load(std::path::Path::new(&spec)).expect("spec");
    let source = common::live::tokio_client(&rt, SRC, DB);
    let target = common::live::tokio_client(&rt, DST, DB);
    let statements = rt.block_on(async {
        let inputs = hypermove::plan::gather(&loaded, &source, &target)
            .await
            .expect("gather");
        hypermove::plan::compression_catch_up(&loaded, &inputs)
    });
    // One statement per slice the source has wholly compressed now: 4 days.
    assert_eq!(statements.len(), 4, "{statements:?}");
    assert!(
        statements
            .iter()
            .all(|(step, _)| step.starts_with("compress:public.metrics:2026-01-0")),
        "{statements:?}"
    );
    for _ in 0..2 {
        for (_, sql) in &statements {
            dst.batch_execute(sql).expect(sql);
        }
        assert_eq!(compressed_days(&mut dst), "01-01,01-02,01-03,01-04");
    }
    let passed = verify(&spec);
    assert!(
        passed.status.success(),
        "{}",
        String::from_utf8_lossy(&passed.stdout)
    );
}
