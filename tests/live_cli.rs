//! A live move through the commands, on the full pair (PG17 + TimescaleDB 2.19.3 →
//! PG18 + 2.29.2), re-chunked and hash-partitioned on the way:
//! `hypermove apply --yes --follow SPEC` runs as a child process while
//! a writer inserts (into existing chunks and a chunk created after the slot),
//! updates and deletes on the source; `status --format json` shows `following`;
//! Ctrl-C stops the follower (exit 130) and the same command resumes it from the
//! journal while the writer goes on, and again after a kill -9; writes stop;
//! a cutover whose checksums fail exits 3 and leaves the move following; then
//! `hypermove cutover SPEC --timeout 60` exits 0 and so does the follower; the target equals the source row for row, its sequence continues past
//! the source's, and no slot or publication is left on the source.

mod common;

use postgres::Client;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::live::{
    Guard, databases, rows, spawn_writer, start_follow, status_json, stops_by_itself,
};

const DB: &str = "hm_follow_cli";
const CLEAN_DB: &str = "hm_follow_clean";

#[test]
fn apply_follow_then_cutover_moves_every_change_and_cleans_the_source() {
    Guard::clean(DB);
    let (mut src, mut dst, _dir, spec) = databases(DB);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(DB, stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let mut guard = start_follow(DB, &spec);
    // Ctrl-C mid-follow: exit 130; the same command resumes from the journal while
    // the writer goes on.
    std::thread::sleep(Duration::from_secs(1));
    let mut first = guard.child.take().expect("child");
    let interrupted = Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(interrupted.success());
    let code = first.wait().expect("wait");
    assert_eq!(code.code(), Some(130), "Ctrl-C exits 130");
    std::thread::sleep(Duration::from_millis(500));
    guard.child = Some(
        Command::new(env!("CARGO_BIN_EXE_hypermove"))
            .args(["apply", "--yes", "--follow", &spec])
            .stdin(Stdio::null())
            .spawn()
            .expect("respawn apply --follow"),
    );
    // kill -9 of the resumed follower mid-follow, and the same command once more.
    std::thread::sleep(Duration::from_millis(1500));
    let mut second = guard.child.take().expect("child");
    second.kill().expect("kill -9");
    second.wait().expect("wait");
    guard.child = Some(
        Command::new(env!("CARGO_BIN_EXE_hypermove"))
            .args(["apply", "--yes", "--follow", &spec])
            .stdin(Stdio::null())
            .spawn()
            .expect("respawn apply --follow after kill -9"),
    );
    // Changes during the resumed follow, then writes stop.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(status_json(&spec)["phase"], "following");
    // A cutover while the writer still writes: refused (exit 2) naming the table the
    // writes after its fence went to; the move goes on following, slot kept.
    let early = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args(["cutover", &spec, "--timeout", "60"])
        .output()
        .expect("cutover runs");
    let said = String::from_utf8_lossy(&early.stderr);
    eprintln!("cutover during writes: {said}");
    assert_eq!(
        early.status.code(),
        Some(2),
        "writes after the fence exit 2"
    );
    assert!(
        said.contains("writes after the fence") && said.contains("public.metrics"),
        "names the writes and the table: {said}"
    );
    assert_eq!(status_json(&spec)["phase"], "following");
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().expect("writer");
    eprintln!("writer: {written} statements");

    // A cutover whose checksums fail (a stray row on the target) exits 3 and hands
    // the move back to the follower, slot kept; without the row, the next succeeds.
    dst.execute(
        "INSERT INTO metrics (id, time, v, note) VALUES (999999, '2026-01-01 00:00+00', 0, 'stray')",
        &[],
    )
    .expect("stray row");
    let failed = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args(["cutover", &spec, "--timeout", "60"])
        .output()
        .expect("cutover runs");
    eprintln!(
        "failed cutover: {}",
        String::from_utf8_lossy(&failed.stderr)
    );
    assert_eq!(failed.status.code(), Some(3), "a mismatch exits 3");
    assert_eq!(status_json(&spec)["phase"], "following");
    dst.execute("DELETE FROM metrics WHERE id = 999999", &[])
        .expect("remove the stray row");
    let slots: i64 = src
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()",
            &[],
        )
        .expect("slots")
        .get(0);
    assert_eq!(slots, 1, "the failed cutover kept the slot");

    let cutover = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args(["cutover", &spec, "--timeout", "60"])
        .output()
        .expect("cutover runs");
    eprintln!(
        "cutover: {}\n{}",
        String::from_utf8_lossy(&cutover.stdout),
        String::from_utf8_lossy(&cutover.stderr)
    );
    assert!(cutover.status.success(), "cutover exits 0");

    let mut child = guard.child.take().expect("child");
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(code) = child.try_wait().expect("try_wait") {
            break code;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the follower did not exit after the cutover");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(code.success(), "apply --follow exits 0: {code}");

    let source_rows = rows(&mut src);
    assert!(
        source_rows.iter().any(|r| r.contains("new chunk")),
        "the writer made a new chunk"
    );
    assert_eq!(rows(&mut dst), source_rows, "the target equals the source");
    assert!(
        source_rows.iter().any(|r| r.starts_with("1000")),
        "the writer moved rows between the target's hash partitions"
    );
    let dims: String = dst
        .query_one(
            "SELECT string_agg(format('%s %s %s', column_name, dimension_type,
                    coalesce(time_interval::text, num_partitions::text)), ', ' ORDER BY column_name)
               FROM timescaledb_information.dimensions WHERE hypertable_name = 'metrics'",
            &[],
        )
        .expect("target dimensions")
        .get(0);
    assert_eq!(dims, "id Space 4, time Time 7 days");

    // The sequence continues past the source's.
    let src_last: i64 = src
        .query_one("SELECT last_value FROM metrics_id_seq", &[])
        .expect("source sequence")
        .get(0);
    let next: i64 = dst
        .query_one("SELECT nextval('metrics_id_seq')", &[])
        .expect("target sequence")
        .get(0);
    assert!(
        next > src_last,
        "target nextval {next} > source last {src_last}"
    );

    // Nothing left on the source.
    let slots: i64 = src
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()",
            &[],
        )
        .expect("slots")
        .get(0);
    assert_eq!(slots, 0, "no slot is left");
    let pubs: i64 = src
        .query_one("SELECT count(*) FROM pg_publication", &[])
        .expect("publications")
        .get(0);
    assert_eq!(pubs, 0, "no publication is left");

    let json = status_json(&spec);
    assert_eq!(json["phase"], "completed", "{json}");
}

/// An abandoned live move (its follower killed with SIGKILL): `clean` drops the slot
/// and the publication on the source, naming them, and `status` shows no live move.
#[test]
fn clean_drops_the_slot_and_publication_of_an_abandoned_live_move() {
    Guard::clean(CLEAN_DB);
    let (mut src, _dst, _dir, spec) = databases(CLEAN_DB);
    let mut guard = start_follow(CLEAN_DB, &spec);
    let mut child = guard.child.take().expect("child");
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    let out = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args(["clean", &spec])
        .output()
        .expect("clean runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("clean: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "clean exits 0");
    assert!(
        stdout.contains("replication slot hypermove_") && stdout.contains("publication hypermove_"),
        "clean names what it dropped: {stdout}"
    );
    let left: i64 = src
        .query_one(
            "SELECT (SELECT count(*) FROM pg_replication_slots WHERE database = current_database())
                  + (SELECT count(*) FROM pg_publication)",
            &[],
        )
        .expect("left")
        .get(0);
    assert_eq!(left, 0, "no slot or publication is left");
    assert!(status_json(&spec).get("phase").is_none(), "no live move");
}

/// A TRUNCATE on the source during the follow stops the follower with an error that
/// names the table (exit 1), never a silent divergence: the slot is kept (the changes
/// after the last applied batch stay in it) and the target keeps every row it had.
#[test]
fn a_truncate_during_the_follow_stops_it_naming_the_table() {
    const TRUNC_DB: &str = "hm_follow_trunc";
    Guard::clean(TRUNC_DB);
    let (mut src, mut dst, _dir, spec) = databases(TRUNC_DB);
    let mut guard = start_follow(TRUNC_DB, &spec);
    src.batch_execute("TRUNCATE metrics").expect("truncate");
    let status = stops_by_itself(guard.child.take().expect("child"));
    assert_eq!(status.code(), Some(1), "exit 1 on a TRUNCATE");
    let kept: i64 = src
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()",
            &[],
        )
        .expect("slots")
        .get(0);
    assert_eq!(kept, 1, "the slot is kept");
    let rows: i64 = dst
        .query_one("SELECT count(*) FROM metrics", &[])
        .expect("target rows")
        .get(0);
    assert_eq!(rows, 500, "the target keeps its rows");
    assert_eq!(status_json(&spec)["phase"], "following");
    // Run again, it stops again, saying which table and why: TRUNCATE of a hypertable
    // also drops its chunks, so either the stream's Truncate or the chunk watch (which
    // looks at once when a follower starts) may be the first to say so.
    let stderr = follow_again_fails(&spec);
    assert!(
        stderr.contains("public.metrics was truncated on the source during the live move")
            || (stderr.contains("of public.metrics was dropped on the source")
                && stderr.contains("a TRUNCATE of the hypertable")),
        "{stderr}"
    );
}

/// DDL on a moved table during the follow (a new column) stops the follower at the
/// first change in the new shape, naming the table (exit 1): never applied into the
/// old shape, never skipped.
#[test]
fn a_new_column_during_the_follow_stops_it_naming_the_table() {
    const DDL_DB: &str = "hm_follow_ddl";
    Guard::clean(DDL_DB);
    let (mut src, mut dst, _dir, spec) = databases(DDL_DB);
    let mut guard = start_follow(DDL_DB, &spec);
    src.batch_execute(
        "ALTER TABLE metrics ADD COLUMN extra int;
         INSERT INTO metrics (time, v, note, extra) VALUES ('2026-01-02 00:00+00', -1, 'after', 7);",
    )
    .expect("ddl and a row");
    let status = stops_by_itself(guard.child.take().expect("child"));
    assert_eq!(status.code(), Some(1), "exit 1 on a changed shape");
    let after: i64 = dst
        .query_one("SELECT count(*) FROM metrics WHERE note = 'after'", &[])
        .expect("target rows")
        .get(0);
    assert_eq!(after, 0, "the row in the new shape was not applied");
    let stderr = follow_again_fails(&spec);
    // The stream's columns are compared with the target's, the shape the move made.
    assert!(
        stderr.contains("public.metrics: source relation ")
            && stderr.contains(
                "has columns [id, time, v, note, extra], the move planned [id, time, v, note]"
            ),
        "{stderr}"
    );
}

/// `drop_chunks` during the follow drops a chunk table, which streams no row change:
/// the follower stops (exit 1) naming the chunk and its hypertable, the target keeps
/// its rows, and a rerun refuses the same way (the chunks seen are remembered on the
/// target), until `--restart` copies again.
#[test]
fn a_dropped_chunk_during_the_follow_stops_it_naming_the_chunk() {
    const DROP_DB: &str = "hm_follow_dropchunk";
    Guard::clean(DROP_DB);
    let (mut src, mut dst, _dir, spec) = databases(DROP_DB);
    let mut guard = start_follow(DROP_DB, &spec);
    let dropped: String = src
        .query_one(
            "SELECT string_agg(c::text, ',') FROM drop_chunks('metrics',
                     older_than => '2026-01-02 00:00+00'::timestamptz) AS c",
            &[],
        )
        .expect("drop_chunks")
        .get(0);
    let status = stops_by_itself(guard.child.take().expect("child"));
    assert_eq!(status.code(), Some(1), "exit 1 on a dropped chunk");
    let kept: i64 = dst
        .query_one("SELECT count(*) FROM metrics", &[])
        .expect("target rows")
        .get(0);
    assert_eq!(kept, 500, "the target keeps its rows");
    let stderr = follow_again_fails(&spec);
    assert!(
        stderr.contains(&format!(
            "chunk {dropped} of public.metrics was dropped on the source"
        )) && stderr.contains("--restart"),
        "{stderr}"
    );
    // The restart copies what the source holds now, and follows again: in a new
    // slot of the same name (its position moves past the old one's), then following.
    let slot_at = |src: &mut Client| -> String {
        src.query_one(
            "SELECT coalesce(max(confirmed_flush_lsn)::text, '0/0') FROM pg_replication_slots
              WHERE database = current_database()",
            &[],
        )
        .expect("slot position")
        .get(0)
    };
    let old_slot = slot_at(&mut src);
    guard.child = Some(
        Command::new(env!("CARGO_BIN_EXE_hypermove"))
            .args(["apply", "--yes", "--follow", "--restart", &spec])
            .stdin(Stdio::null())
            .spawn()
            .expect("apply --follow --restart"),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let moved_on = |src: &mut Client| -> bool {
        src.query_one(
            "SELECT coalesce(bool_or(confirmed_flush_lsn > $1::text::pg_lsn), false)
               FROM pg_replication_slots WHERE database = current_database()",
            &[&old_slot],
        )
        .expect("slot position")
        .get(0)
    };
    while !moved_on(&mut src) || status_json(&spec)["phase"] != "following" {
        assert!(Instant::now() < deadline, "the restart never followed");
        std::thread::sleep(Duration::from_millis(300));
    }
    let cutover = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args(["cutover", &spec, "--timeout", "60"])
        .output()
        .expect("cutover runs");
    assert!(
        cutover.status.success(),
        "{}",
        String::from_utf8_lossy(&cutover.stderr)
    );
    let status = stops_by_itself(guard.child.take().expect("child"));
    assert!(status.success(), "the follower exits 0: {status}");
    assert_eq!(
        rows(&mut dst),
        rows(&mut src),
        "the target equals the source"
    );
}

/// Run `apply --follow` again, expect exit 1, and return what it said.
fn follow_again_fails(spec: &str) -> String {
    let again = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args(["apply", "--yes", "--follow", spec])
        .stdin(Stdio::null())
        .output()
        .expect("apply --follow again");
    let stderr = String::from_utf8_lossy(&again.stderr).into_owned();
    assert_eq!(again.status.code(), Some(1), "{stderr}");
    stderr
}
