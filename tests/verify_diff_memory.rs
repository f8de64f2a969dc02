//! `verify --diff` bounds its memory: when a 1,000,000-row window mismatches in every
//! row, listing a few differences streams both sides instead of loading them.
//!
//! One test only in this file: it measures the peak RSS of the `hypermove verify`
//! child it starts (through `wait4`, which reports that one child's usage), and any
//! other test of the same process would run its own children alongside.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::*;
use predicates::prelude::*;

/// The bound on `verify --diff`'s peak RSS for a mismatching 1 M-row window.
const PEAK_RSS_LIMIT_KB: i64 = 64 * 1024;

/// Run `hypermove ARGS` to its end; its exit code, stdout, stderr and peak RSS in kB.
// The child is reaped, by wait4 instead of Child::wait, which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str]) -> (i32, String, String, i64) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("hypermove"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hypermove");
    let mut stderr = child.stderr.take().expect("stderr piped");
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).expect("read stderr");
        text
    });
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout piped")
        .read_to_string(&mut out)
        .expect("read stdout");
    let err = err.join().expect("stderr reader");
    // Reap the child with wait4 rather than Child::wait: it returns this child's own
    // resource usage, so nothing else this process started (apply) is in the figure.
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own unreaped child; status and usage point to live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(libc::WIFEXITED(status), "hypermove did not exit: {status}");
    // Linux reports ru_maxrss in kilobytes.
    (libc::WEXITSTATUS(status), out, err, usage.ru_maxrss)
}

/// Every row of one 1,000,000-row window differs; `verify --diff 5` lists the first
/// five by key, says more exist, and its peak RSS stays within 64 MB.
#[test]
fn a_diff_of_a_million_changed_rows_stays_small() {
    let db = "hm_diffmem_million";
    let mut src = fresh_db(SOURCE_PORT, db);
    // 2025-01-02 is a multiple of 7 days since the epoch, so one 7-day chunk holds
    // every row (1,000,000 rows 100 ms apart span 1.16 days): one window.
    src.batch_execute(
        "CREATE EXTENSION IF NOT EXISTS timescaledb;
         CREATE TABLE public.big (time timestamptz NOT NULL PRIMARY KEY, v bigint NOT NULL);
         SELECT create_hypertable('public.big', by_range('time', INTERVAL '7 days'));
         INSERT INTO public.big
         SELECT TIMESTAMPTZ '2025-01-02 00:00:00+00' + i * INTERVAL '100 milliseconds', i
         FROM generate_series(0, 999999) AS i;
         ANALYZE public.big;",
    )
    .unwrap();
    assert_eq!(
        scalar(
            &mut src,
            "SELECT count(*)::text FROM timescaledb_information.chunks WHERE hypertable_name = 'big'"
        ),
        "1"
    );
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let path = write_spec(
        dir.path(),
        "big.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\nworkers: 2\ntables:\n  - name: public.big\n    hypertable:\n      time_column: time\n      chunk_time_interval: 7 days\n",
            url(SOURCE_PORT, db),
            url(TARGET_PORT, db)
        ),
    );
    let spec = path.to_str().unwrap();
    hypermove()
        .args(["apply", "--yes", "--verify", "count", spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   public.big: 1 window, 1000000 source rows, count matches",
        ));

    dst.batch_execute("UPDATE public.big SET v = v + 1")
        .unwrap();

    let (code, out, err, peak_kb) = run_measured(&["verify", "--diff", "5", spec]);
    eprintln!("hypermove verify --diff 5: peak RSS {peak_kb} kB");
    assert_eq!(code, 3, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("Verification (checksum) FAILED: 1 of 1 window differ."),
        "{out}"
    );
    // Keys sort by their bytes, which for these timestamps is time order: the first
    // five rows are listed, each with the source's and the target's value.
    let changed: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("changed, key "))
        .collect();
    let times = [
        "00:00:00",
        "00:00:00.1",
        "00:00:00.2",
        "00:00:00.3",
        "00:00:00.4",
    ];
    let expected: Vec<String> = times
        .iter()
        .map(|t| format!("(\"2025-01-02 {t}+00\")"))
        .collect();
    assert_eq!(changed, expected, "{out}");
    for (i, t) in times.iter().enumerate() {
        let row = |v: usize| format!("(\"2025-01-02 {t}+00\",{v})");
        assert!(
            out.contains(&format!(
                "    source: {}\n    target: {}\n",
                row(i),
                row(i + 1)
            )),
            "row {i}:\n{out}"
        );
    }
    assert!(!out.contains("missing on target"), "{out}");
    assert!(!out.contains("extra on target"), "{out}");
    assert!(
        out.contains("… more differences not shown (raise --diff)"),
        "{out}"
    );
    assert!(
        peak_kb <= PEAK_RSS_LIMIT_KB,
        "verify --diff peaked at {peak_kb} kB, above {PEAK_RSS_LIMIT_KB} kB"
    );
}
