//! `hypermove apply --follow SPEC` killed with SIGKILL at five points, then run again
//! with the same command, ends exact: after `hypermove cutover SPEC --timeout 60` the
//! target equals the source row for row (no change lost, none applied twice: a
//! duplicate insert or a second delete would stop the follower) and no slot or
//! publication is left on the source. Full pair (PG17 + TimescaleDB 2.19.3 → PG18 +
//! 2.29.2); a writer inserts, updates and deletes on the source throughout.
//!
//! The exact places come from debug-build pauses (`src/fault.rs`): the process says
//! `hypermove fault: paused at NAME` on stderr and sleeps, and the test kills it there.
//! 1. the snapshot copy, one window committed and the others not;
//! 2. a batch half applied in its open target transaction;
//! 3. a batch committed on the target, its position not yet confirmed to the slot;
//! 4. idle following (no pause: killed while it waits for the stream);
//! 5. the follower at the cutover's fence while the cutover verifies.

mod common;

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::live::{Guard, databases, rows, spawn_writer, start_follow, status_json};
use hypermove::fault;
use postgres::Client;

/// The stderr lines of a child so far (echoed to the test's own stderr as they come).
type Lines = Arc<Mutex<Vec<String>>>;

/// Start `hypermove ARGS` with `envs`, its stderr read by a thread into `Lines`.
fn spawn_watched(args: &[&str], envs: &[(&str, &str)]) -> (Child, Lines) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hypermove");
    let lines: Lines = Arc::default();
    let stderr = child.stderr.take().expect("stderr piped");
    let stdout = child.stdout.take().expect("stdout piped");
    for (pipe, kept) in [
        (
            Box::new(stderr) as Box<dyn std::io::Read + Send>,
            lines.clone(),
        ),
        (Box::new(stdout), lines.clone()),
    ] {
        let tag = args[0].to_string();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                eprintln!("[{tag}] {line}");
                kept.lock().expect("lines").push(line);
            }
        });
    }
    (child, lines)
}

/// Wait until a line containing `needle` came (panics if the child exits first).
fn wait_for_line(lines: &Lines, needle: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if lines
            .lock()
            .expect("lines")
            .iter()
            .any(|l| l.contains(needle))
        {
            return;
        }
        if let Some(code) = child.try_wait().expect("try_wait") {
            panic!("exited ({code}) before saying {needle:?}");
        }
        assert!(Instant::now() < deadline, "never said {needle:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether some line contains `needle` (waiting a moment for the reader threads of a
/// child that just exited).
fn said(lines: &Lines, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if lines
            .lock()
            .expect("lines")
            .iter()
            .any(|l| l.contains(needle))
        {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `apply --yes --workers 1 --follow SPEC` with a pause; returns once it paused there.
fn follow_until_paused(db: &'static str, spec: &str, pause: &str) -> Guard {
    let (mut child, lines) = spawn_watched(
        &["apply", "--yes", "--workers", "1", "--follow", spec],
        &[("HYPERMOVE_FAULT", pause)],
    );
    wait_for_line(&lines, &format!("paused at {pause}"), &mut child);
    Guard {
        child: Some(child),
        db,
    }
}

/// SIGKILL the guarded follower and reap it.
fn kill9(guard: &mut Guard) {
    let mut child = guard.child.take().expect("a follower runs");
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the follower is still running when killed"
    );
    child.kill().expect("kill -9");
    child.wait().expect("wait");
}

/// The same command again, as a watched child the guard kills if the test fails.
fn rerun(guard: &mut Guard, spec: &str) -> Lines {
    let (child, lines) = spawn_watched(&["apply", "--yes", "--follow", spec], &[]);
    guard.child = Some(child);
    lines
}

/// Wait until the session is `following` with a heartbeat younger than a second:
/// the rerun's (the killed follower's last one is older by then).
fn following_again(spec: &str, guard: &mut Guard) {
    std::thread::sleep(Duration::from_millis(1500));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let json = status_json(spec);
        let age = json["live"]["heartbeat_age_seconds"].as_f64();
        if json["phase"] == "following" && age.is_some_and(|a| a < 1.0) {
            return;
        }
        let child = guard.child.as_mut().expect("child");
        if let Some(code) = child.try_wait().expect("try_wait") {
            panic!("the rerun exited early: {code}");
        }
        assert!(Instant::now() < deadline, "never following again: {json}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `cutover SPEC --timeout 60`, which must exit 0; then the follower must exit 0 too.
fn cutover_completes(spec: &str, guard: &mut Guard) {
    let out = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args(["cutover", spec, "--timeout", "60"])
        .output()
        .expect("cutover runs");
    eprintln!(
        "cutover: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "cutover exits 0");
    let code = exits_within(guard.child.take().expect("child"), 60);
    assert!(
        code.success(),
        "apply --follow exits 0 after the cutover: {code}"
    );
}

/// A child's exit status, once it exits by itself within `secs`.
fn exits_within(mut child: Child, secs: u64) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(code) = child.try_wait().expect("try_wait") {
            return code;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("did not exit within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The end of every case: the target equals the source row for row, nothing of the
/// move is left on the source, and the session is completed.
fn ends_exact(src: &mut Client, dst: &mut Client, spec: &str) {
    let source_rows = rows(src);
    assert!(source_rows.len() > 500, "the writer added rows");
    assert_eq!(rows(dst), source_rows, "the target equals the source");
    let left: i64 = src
        .query_one(
            "SELECT (SELECT count(*) FROM pg_replication_slots WHERE database = current_database())
                  + (SELECT count(*) FROM pg_publication)",
            &[],
        )
        .expect("left")
        .get(0);
    assert_eq!(left, 0, "no slot or publication is left");
    assert_eq!(status_json(spec)["phase"], "completed");
}

/// Where the first follower is killed.
enum KillAt {
    /// At this fault pause.
    Pause(&'static str),
    /// A second after it is following (idle between the writer's transactions).
    Following,
}

/// One case: writer on; `apply --follow` killed at `at` (after `check` looked at
/// both databases there); the same command again; writes stop; cutover; exact.
/// Returns what the rerun said.
fn killed_then_rerun(
    db: &'static str,
    at: KillAt,
    check: impl FnOnce(&mut Client, &mut Client),
) -> Lines {
    Guard::clean(db);
    let (mut src, mut dst, _dir, spec) = databases(db);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(db, stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let mut guard = match at {
        KillAt::Pause(pause) => follow_until_paused(db, &spec, pause),
        KillAt::Following => {
            let guard = start_follow(db, &spec);
            std::thread::sleep(Duration::from_secs(1));
            guard
        }
    };
    check(&mut src, &mut dst);
    kill9(&mut guard);
    let lines = rerun(&mut guard, &spec);
    following_again(&spec, &mut guard);
    // The writer goes on during the resumed follow, then stops for the cutover.
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    eprintln!("writer: {} statements", writer.join().expect("writer"));
    cutover_completes(&spec, &mut guard);
    ends_exact(&mut src, &mut dst, &spec);
    lines
}

/// How many slots the source database has.
fn slots(src: &mut Client) -> i64 {
    src.query_one(
        "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()",
        &[],
    )
    .expect("slots")
    .get(0)
}

/// Point 1: killed during the snapshot copy, one window committed and the others not:
/// the slot's exported snapshot died with the process, so no copy can resume in it. The
/// rerun drops the partly copied table, the slot and the publication, and copies again
/// in a new slot's snapshot: every change since the first slot is in that copy or in
/// the new slot's stream, and the old slot does not leak.
#[test]
fn killed_during_the_snapshot_copy() {
    let lines = killed_then_rerun(
        "hm_kill_copy",
        KillAt::Pause(fault::PAUSE_AFTER_COPY_WINDOW),
        |src, dst| {
            let copied: i64 = dst
                .query_one("SELECT count(*) FROM metrics", &[])
                .expect("target rows")
                .get(0);
            let source: i64 = src
                .query_one("SELECT count(*) FROM metrics", &[])
                .expect("source rows")
                .get(0);
            assert!(
                copied > 0 && copied < source,
                "one window is copied, not all: {copied} of {source}"
            );
            assert_eq!(slots(src), 1, "the copy's slot");
        },
    );
    for line in [
        "was interrupted and its snapshot is gone: copying again",
        "dropping the partly copied table public.metrics",
        "dropped the replication slot hypermove_",
    ] {
        assert!(said(&lines, line), "the rerun says {line:?}");
    }
}

/// Point 2: killed with a batch half applied in its open target transaction: the target
/// rolls it back, the journal and the slot still stand before the batch, and the rerun
/// receives and applies the whole batch again.
#[test]
fn killed_with_a_batch_half_applied() {
    killed_then_rerun(
        "hm_kill_batch",
        KillAt::Pause(fault::PAUSE_MID_BATCH),
        |_, dst| {
            let open: i64 = dst
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND state = 'idle in transaction'
                    AND application_name LIKE 'hypermove%'",
                    &[],
                )
                .expect("activity")
                .get(0);
            assert_eq!(open, 1, "the batch's target transaction is open");
        },
    );
}

/// Point 3: killed after a batch's target commit and before its position was confirmed
/// to the slot: the slot would send the batch again; the journal's position (written
/// with the batch) wins, so the rerun starts after it and applies nothing twice.
#[test]
fn killed_between_the_target_commit_and_the_confirmation() {
    killed_then_rerun(
        "hm_kill_confirm",
        KillAt::Pause(fault::PAUSE_BEFORE_CONFIRM),
        |src, dst| {
            let journal: String = dst
                .query_one("SELECT applied_lsn::text FROM hypermove.live_position", &[])
                .expect("journal")
                .get(0);
            let behind: bool = src
                .query_one(
                    "SELECT confirmed_flush_lsn < $1::text::pg_lsn FROM pg_replication_slots
                      WHERE database = current_database()",
                    &[&journal],
                )
                .expect("slot")
                .get(0);
            assert!(
                behind,
                "the slot's confirmed position is behind the journal's {journal}"
            );
        },
    );
}

/// Point 4: killed while following idly with the writer running (as `live_cli.rs` does
/// once mid-follow): the rerun resumes from the journal.
#[test]
fn killed_while_following() {
    killed_then_rerun("hm_kill_idle", KillAt::Following, |src, _| {
        assert_eq!(slots(src), 1);
    });
}

/// `cutover SPEC --timeout 60` paused in its verification (for `pause_ms`), returned
/// once it is there: the follower has reached the fence and waits for the verdict.
fn cutover_paused(spec: &str, pause_ms: &str) -> Child {
    let (mut child, lines) = spawn_watched(
        &["cutover", spec, "--timeout", "60"],
        &[
            ("HYPERMOVE_FAULT", fault::PAUSE_BEFORE_VERIFY),
            ("HYPERMOVE_FAULT_PAUSE_MS", pause_ms),
        ],
    );
    wait_for_line(
        &lines,
        &format!("paused at {}", fault::PAUSE_BEFORE_VERIFY),
        &mut child,
    );
    child
}

/// Point 5: killed at the cutover's fence while the cutover verifies. A cutover that
/// then fails (a stray target row) hands the move back: the same command follows again.
/// A cutover that passes completes without its follower: a follower started again
/// meanwhile exits 0 with it, and `apply --follow` afterwards exits 0 saying the move
/// is completed.
#[test]
fn killed_at_the_fence_while_the_cutover_verifies() {
    const DB: &str = "hm_kill_fence";
    Guard::clean(DB);
    let (mut src, mut dst, _dir, spec) = databases(DB);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(DB, stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let mut guard = start_follow(DB, &spec);
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    eprintln!("writer: {} statements", writer.join().expect("writer"));

    // A cutover that will fail, paused in its checks: the follower is at the fence.
    dst.execute(
        "INSERT INTO metrics (id, time, v, note) VALUES (999999, '2026-01-01 00:00+00', 0, 'stray')",
        &[],
    )
    .expect("stray row");
    let failing = cutover_paused(&spec, "1000");
    assert_eq!(status_json(&spec)["phase"], "cutting_over");
    kill9(&mut guard);
    let code = exits_within(failing, 60);
    assert_eq!(code.code(), Some(3), "the mismatch exits 3");
    assert_eq!(status_json(&spec)["phase"], "following");
    assert_eq!(slots(&mut src), 1, "the failed cutover kept the slot");
    rerun(&mut guard, &spec);
    following_again(&spec, &mut guard);
    dst.execute("DELETE FROM metrics WHERE id = 999999", &[])
        .expect("remove the stray row");

    // A cutover that passes, paused likewise; the follower killed there and started
    // again at once, while the cutover still verifies.
    let passing = cutover_paused(&spec, "2000");
    kill9(&mut guard);
    let again = rerun(&mut guard, &spec);
    let code = exits_within(passing, 90);
    assert!(
        code.success(),
        "the cutover completes without its follower: {code}"
    );
    let code = exits_within(guard.child.take().expect("child"), 60);
    assert!(code.success(), "the restarted follower exits 0: {code}");
    assert!(said(&again, "completed"), "it says the move is completed");

    // And afterwards: exit 0, the move is completed.
    let (after, lines) = spawn_watched(&["apply", "--yes", "--follow", &spec], &[]);
    assert!(
        exits_within(after, 60).success(),
        "apply --follow after the cutover exits 0"
    );
    assert!(
        said(&lines, "is already completed"),
        "it says the move is completed"
    );
    ends_exact(&mut src, &mut dst, &spec);
}

/// Point 5, the race: a follower started again while the cutover verifies, which
/// reads `cutting_over` but starts its stream only after the cutover completed and
/// dropped the slot (`pause-before-stream`), exits 0 saying the move is completed,
/// without retrying the missing slot until its 30 s are up.
#[test]
fn restarted_at_the_fence_as_the_cutover_completes() {
    const DB: &str = "hm_kill_race";
    Guard::clean(DB);
    let (mut src, mut dst, _dir, spec) = databases(DB);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(DB, stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let mut guard = start_follow(DB, &spec);
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    eprintln!("writer: {} statements", writer.join().expect("writer"));
    let passing = cutover_paused(&spec, "1000");
    kill9(&mut guard);
    let (mut child, lines) = spawn_watched(
        &["apply", "--yes", "--follow", &spec],
        &[
            ("HYPERMOVE_FAULT", fault::PAUSE_BEFORE_STREAM),
            ("HYPERMOVE_FAULT_PAUSE_MS", "4000"),
        ],
    );
    wait_for_line(
        &lines,
        &format!("paused at {}", fault::PAUSE_BEFORE_STREAM),
        &mut child,
    );
    guard.child = Some(child);
    let code = exits_within(passing, 60);
    assert!(code.success(), "the cutover completes: {code}");
    let done = Instant::now();
    let code = exits_within(guard.child.take().expect("child"), 60);
    assert!(code.success(), "the restarted follower exits 0: {code}");
    assert!(
        done.elapsed() < Duration::from_secs(15),
        "it did not wait for the slot: {:?}",
        done.elapsed()
    );
    assert!(
        said(&lines, "was completed by its cutover meanwhile"),
        "it says the move is completed"
    );
    ends_exact(&mut src, &mut dst, &spec);
}
