"""bench/run's section for issue 20, live moves (`--live`, or `--live-only` for just
this section), on the full pair: PostgreSQL 17 / TimescaleDB 2.19.3 (:55427) →
PostgreSQL 18 / TimescaleDB 2.29.2 (:55428).

The source: `live_metrics (seq bigint, time timestamptz, device_id int, v float8, note
text, PRIMARY KEY (seq, time))`, one-day chunks, `time` = 2026-01-01 + seq × 100 ms
(864,000 rows a chunk, so the writer fills new chunks during the follow), --live-rows
initial rows (default 1,000,000). Each round, in this order:

  copy        `hypermove apply --yes --follow SPEC` (release build) starts as a child;
              the time until `status` shows `following` is the snapshot copy
  steady      a writer (one psql session) commits one transaction every --live-tick ms
              (default 50): an INSERT … SELECT of rate × tick rows (default 20,000 rows/s)
              and an UPDATE of --live-update-share × those rows (default 5 %, random
              earlier rows by key), for --live-seconds (default 30). Reported: the source
              rate achieved and the end-to-end lag, p50 / p99 / max (below)
  burst       Ctrl-C stops the follower (exit 130); --live-burst rows (default 1,000,000)
              are inserted in 10,000-row transactions; the same `apply --follow` resumes
              from the journal. Reported: the follower's apply rate, rows over the time
              from the first poll that sees the burst's rows arrive to the poll that sees
              the last (and, for reference, over restart → caught up, which includes the
              process start, planning and the replication connection)
  updates     the same with --live-update-burst rows (default 100,000) updated by key in
              1,000-row transactions, then one marker row: the follower runs one UPDATE
              per row; the time is restart → marker visible, less the insert burst's
              restart → first rows visible
  cutover     `hypermove cutover SPEC` once writes stopped; wall time from its start to
              the follower's exit, split into the wait for the fence, the checksum
              verification of every window and the look for writes after the fence (the
              cutover prints each) and the rest (sequences, compression catch-up, slot
              and publication dropped)
  baseline    a plain snapshot `hypermove apply --yes --verify count` of the source's
              final rows into a fresh database: the copy's rows/s, what the follower's
              rate compares with

Lag is measured end to end, not read from `status`: a poller on the target runs
`SELECT max(seq) FROM live_metrics` every --live-poll ms (default 50) in one psql
session; a writer transaction's lag is the start of the first poll that sees its last
seq minus the moment its COMMIT returned on the source. The follower applies source
transactions in commit order, one target transaction per batch, so a visible seq means
every earlier row is visible too. This is what a reader of the target sees, including
the follower's batching delay (up to 200 ms) and the replication path; its resolution
is the poll interval. `status --format json`'s `lag_seconds` (the last applied batch's
source commit → its target commit, published every 500 ms) is sampled every second
beside it for comparison: it misses the time a change waits before its batch starts.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

from common import CDST, CSRC, DEFAULT_WORKERS, HYPERMOVE, SANDBOX, fresh_db, median, psql, url

DB = "bench_live"  # source and target databases of this section are named bench_live*
BASE = "TIMESTAMPTZ '2026-01-01 00:00:00+00'"
STEP = "INTERVAL '100 milliseconds'"
# The goals, on this machine.
GOAL_APPLY = 50_000  # rows/s the follower applies, at least
GOAL_P99 = 2.0  # seconds of p99 lag at 20k rows/s, at most
GOAL_CUTOVER = 10.0  # seconds from cutover to the follower's exit, verification aside
BURST_TX = 10_000  # rows per burst transaction (the follower's batch bound)
UPDATE_TX = 1_000  # rows per update-burst transaction


class Session:
    """One psql process kept open: a statement in, its one-line answer out."""

    def __init__(self, major, db):
        self.p = subprocess.Popen([SANDBOX, "psql", major, "-d", db, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, sql):
        self.p.stdin.write(sql + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"psql ended (exit {self.p.wait()}) on: {sql[:200]}")
        return line.strip()

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        self.p.wait()


def insert_sql(lo, hi):
    """Rows lo..hi (inclusive) of live_metrics, generated on the server."""
    return (f"INSERT INTO live_metrics SELECT s, {BASE} + s * {STEP}, 1 + s % 1000, s * 0.5, 'n' || s % 97 "
            f"FROM generate_series({lo}, {hi}) s;")


def update_sql(seqs):
    keys = ", ".join(f"({s}, {BASE} + {s} * {STEP})" for s in seqs)
    return (f"UPDATE live_metrics m SET v = m.v + 1, note = 'u' FROM (VALUES {keys}) k(s, t) "
            f"WHERE m.seq = k.s AND m.time = k.t;")


def setup(rows):
    clean_source()  # a database with a slot cannot be dropped
    fresh_db(CSRC, DB)
    psql(CSRC, DB, "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS timescaledb")
    psql(CSRC, DB, f"""
        CREATE TABLE live_metrics (seq bigint NOT NULL, time timestamptz NOT NULL, device_id int NOT NULL,
                                   v double precision, note text, PRIMARY KEY (seq, time));
        SELECT create_hypertable('live_metrics', by_range('time', INTERVAL '1 day'));
        {insert_sql(1, rows)}
        ANALYZE live_metrics;""")


def clean_source():
    """Drop the slots and publications an earlier (killed) run of this section left."""
    psql(CSRC, "postgres", f"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                           f"WHERE database = '{DB}' AND active_pid IS NOT NULL")
    for _ in range(50):
        try:
            psql(CSRC, "postgres", f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                                   f"WHERE database = '{DB}'")
            break
        except subprocess.CalledProcessError:
            time.sleep(0.2)


def spec_file(tmp, target_db):
    path = os.path.join(tmp, f"live-{target_db}.yaml")
    with open(path, "w") as f:
        f.write(f"version: 1\nsource: {url(CSRC, DB)}\ntarget: {url(CDST, target_db)}\n"
                f"workers: {DEFAULT_WORKERS}\nverify: checksum\ntables:\n  - name: public.live_metrics\n")
    return path


def status(spec):
    out = subprocess.run([HYPERMOVE, "status", spec, "--format", "json"], capture_output=True, text=True)
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        return {}


def start_follower(spec, log):
    return subprocess.Popen([HYPERMOVE, "apply", "--yes", "--follow", spec], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)


def wait_following(spec, child, timeout=600):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if status(spec).get("phase") == "following":
            return time.monotonic() - t0
        if child.poll() is not None:
            sys.exit(f"apply --follow exited early: {child.returncode}")
        time.sleep(0.2)
    sys.exit("apply --follow never reached following")


class Poller(threading.Thread):
    """max(seq) on the target every `interval` seconds: (poll start, max seq) pairs."""

    def __init__(self, interval):
        super().__init__(daemon=True)
        self.interval, self.samples, self.done = interval, [], threading.Event()
        self.s = Session(CDST, DB)

    def run(self):
        while not self.done.is_set():
            t = time.monotonic()
            self.samples.append((t, int(self.s.ask("SELECT coalesce(max(seq), 0) FROM live_metrics;"))))
            time.sleep(max(0.0, self.interval - (time.monotonic() - t)))
        self.s.close()

    def latest(self):
        return self.samples[-1][1] if self.samples else 0

    def wait_for(self, seq, timeout=600):
        t0 = time.monotonic()
        while self.latest() < seq:
            if time.monotonic() - t0 > timeout:
                sys.exit(f"the target never reached seq {seq} (at {self.latest()})")
            time.sleep(self.interval / 2)
        return next(t for t, s in self.samples if s >= seq)


class StatusSampler(threading.Thread):
    """`status --format json` every second: lag_seconds, lag_bytes, apply rate."""

    def __init__(self, spec):
        super().__init__(daemon=True)
        self.spec, self.samples, self.done = spec, [], threading.Event()

    def run(self):
        while not self.done.wait(1.0):
            self.samples.append((time.monotonic(), status(self.spec)))


def steady(seq, rate, seconds, tick, update_share):
    """The writer: one transaction per tick. Returns the commits as (time, last seq),
    the rows written, the updates and the wall time."""
    src = Session(CSRC, DB)
    per_tick = max(1, round(rate * tick))
    updates_per_tick = int(per_tick * update_share)
    commits, rows, updated = [], 0, 0
    t0 = time.monotonic()
    k = 0
    while time.monotonic() - t0 < seconds:
        due = t0 + k * tick
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        lo, hi = seq + 1, seq + per_tick
        keys = [random.randint(1, seq) for _ in range(updates_per_tick)]
        src.ask(f"BEGIN; {insert_sql(lo, hi)} {update_sql(keys) if keys else ''} COMMIT; SELECT 1;")
        commits.append((time.monotonic(), hi))
        seq, rows, updated, k = hi, rows + per_tick, updated + len(keys), k + 1
    wall = time.monotonic() - t0
    src.close()
    return commits, rows, updated, wall


def lags(commits, samples):
    """Per commit: the start of the first poll after its COMMIT returned that saw its
    last seq, minus that return. Both lists are in time order, seqs never decrease."""
    out, i = [], 0
    for c, hi in commits:
        while i < len(samples) and (samples[i][0] < c or samples[i][1] < hi):
            i += 1
        if i == len(samples):
            break
        out.append(samples[i][0] - c)
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def burst(spec, child, poller, seq, n, log):
    """Stop the follower, write n rows, resume it; its apply rate."""
    child.send_signal(signal.SIGINT)
    code = child.wait()
    if code != 130:
        sys.exit(f"apply --follow exited {code} on Ctrl-C, expected 130")
    src = Session(CSRC, DB)
    t0 = time.monotonic()
    hi = seq + n
    for lo in range(seq + 1, hi + 1, BURST_TX):
        src.ask(f"{insert_sql(lo, min(hi, lo + BURST_TX - 1))} SELECT 1;")
    write = time.monotonic() - t0
    src.close()
    before = poller.latest()
    t_restart = time.monotonic()
    child = start_follower(spec, log)
    t_first = poller.wait_for(before + 1)
    first_seq = next(s for t, s in poller.samples if t == t_first)
    t_done = poller.wait_for(hi)
    # rows that arrived between the first poll that saw the burst and the last one
    applying = t_done - t_first
    return child, hi, {"rows": n, "write_s": write, "restart_to_caught_up_s": t_done - t_restart,
                       "restart_to_first_s": t_first - t_restart, "applying_s": applying,
                       "apply_rows_per_s": (hi - first_seq) / applying if applying > 0 else float("nan"),
                       "restart_rows_per_s": n / (t_done - t_restart)}


def update_burst(spec, child, poller, seq, n, overhead, log):
    """Stop the follower, update rows 1..n by key in 1,000-row transactions, insert
    one marker row, resume it: the follower's rate for updates (one statement each on
    the target). The poller sees only the marker, so the time is restart → marker
    visible, less `overhead` (the insert burst's restart → first rows visible)."""
    child.send_signal(signal.SIGINT)
    code = child.wait()
    if code != 130:
        sys.exit(f"apply --follow exited {code} on Ctrl-C, expected 130")
    src = Session(CSRC, DB)
    t0 = time.monotonic()
    for lo in range(1, n + 1, UPDATE_TX):
        hi = min(n, lo + UPDATE_TX - 1)
        src.ask(f"UPDATE live_metrics SET v = v + 1, note = 'b' WHERE seq BETWEEN {lo} AND {hi} "
                f"AND time BETWEEN {BASE} + {lo} * {STEP} AND {BASE} + {hi} * {STEP}; SELECT 1;")
    write = time.monotonic() - t0
    marker = seq + 1
    src.ask(f"{insert_sql(marker, marker)} SELECT 1;")
    src.close()
    t_restart = time.monotonic()
    child = start_follower(spec, log)
    t_done = poller.wait_for(marker)
    wall = t_done - t_restart
    return child, marker, {"rows": n, "write_s": write, "restart_to_caught_up_s": wall,
                           "apply_rows_per_s": n / max(1e-3, wall - overhead), "restart_rows_per_s": n / wall}


def cutover(spec, child):
    t0 = time.monotonic()
    out = subprocess.run([HYPERMOVE, "cutover", spec, "--timeout", "300"], capture_output=True, text=True)
    t_cut = time.monotonic() - t0
    if out.returncode != 0:
        child.kill()
        sys.exit(f"cutover failed (exit {out.returncode}):\n{out.stdout}\n{out.stderr[-2000:]}")
    code = child.wait(timeout=120)
    t_exit = time.monotonic() - t0
    if code != 0:
        sys.exit(f"apply --follow exited {code} after the cutover")
    said = out.stdout.strip().splitlines()[0]
    # "… up to it in W s; N window checks passed in V s; no writes after the fence (looked in L s)."
    waited = float(said.split("up to it in ")[1].split(" s")[0])
    verified = float(said.split("checks passed in ")[1].split(" s")[0])
    looked = float(said.split("(looked in ")[1].split(" s")[0])
    return {"cutover_s": t_cut, "to_follower_exit_s": t_exit, "wait_s": waited,
            "verify_s": verified, "late_check_s": looked,
            "rest_s": t_cut - waited, "said": said}


def snapshot_baseline(tmp, rows):
    """A plain `apply` of the source's final rows into a fresh database."""
    db = f"{DB}_snap"
    fresh_db(CDST, db)
    psql(CDST, db, "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS timescaledb")
    spec = spec_file(tmp, db)
    t0 = time.monotonic()
    out = subprocess.run([HYPERMOVE, "apply", "--yes", "--verify", "count", spec], capture_output=True, text=True)
    wall = time.monotonic() - t0
    if out.returncode != 0:
        sys.exit(f"the snapshot apply failed (exit {out.returncode}): {out.stderr[-2000:]}")
    n = int(psql(CDST, db, "SELECT count(*) FROM live_metrics", capture=True))
    assert n == rows, f"the snapshot apply moved {n} rows, expected {rows}"
    psql(CDST, "postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    return {"wall_s": wall, "rows_per_s": rows / wall}


def live_round(tmp, a):
    setup(a.live_rows)
    fresh_db(CDST, DB)
    psql(CDST, DB, "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS timescaledb")
    spec = spec_file(tmp, DB)
    log = open(os.path.join(tmp, "follow.log"), "a")
    child = start_follower(spec, log)
    try:
        copy = wait_following(spec, child)
        poller, sampler = Poller(a.live_poll / 1000), StatusSampler(spec)
        poller.start()
        sampler.start()
        seq = a.live_rows
        poller.wait_for(seq)
        t_steady = time.monotonic()
        commits, written, updated, wall = steady(seq, a.live_rate, a.live_seconds, a.live_tick / 1000,
                                                 a.live_update_share)
        seq = commits[-1][1]
        t_caught = poller.wait_for(seq)
        lag = lags(commits, poller.samples)
        st = [(t, s) for t, s in sampler.samples if t_steady <= t <= commits[-1][0]]
        st_lag = [s["live"]["lag_seconds"] for _, s in st if s.get("live", {}).get("lag_seconds") is not None]
        st_bytes = [s["lag_bytes"] for _, s in st if s.get("lag_bytes") is not None]
        st_rate = [s["live"]["apply_rate_rows_per_second"] for _, s in st
                   if s.get("live", {}).get("apply_rate_rows_per_second")]
        sampler.done.set()
        child, seq, b = burst(spec, child, poller, seq, a.live_burst, log)
        ub = None
        if a.live_update_burst:
            child, seq, ub = update_burst(spec, child, poller, seq, min(a.live_update_burst, a.live_rows),
                                          b["restart_to_first_s"], log)
        wait_following(spec, child)
        cut = cutover(spec, child)
        poller.done.set()
        poller.join()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        log.close()
    src_n = int(psql(CSRC, DB, "SELECT count(*) FROM live_metrics", capture=True))
    dst_n = int(psql(CDST, DB, "SELECT count(*) FROM live_metrics", capture=True))
    assert src_n == dst_n == seq, f"source {src_n} rows, target {dst_n}, written {seq}"
    base = snapshot_baseline(tmp, seq)
    return {
        "initial_rows": a.live_rows, "final_rows": seq, "copy_s": copy,
        "steady": {"target_rate": a.live_rate, "seconds": wall, "rows": written, "updates": updated,
                   "transactions": len(commits), "achieved_rows_per_s": written / wall,
                   "caught_up_after_s": t_caught - commits[-1][0],
                   "lag_p50_s": pct(lag, 50), "lag_p99_s": pct(lag, 99), "lag_max_s": max(lag),
                   "lag_samples": len(lag),
                   "status_lag_seconds_p50": pct(st_lag, 50), "status_lag_seconds_p99": pct(st_lag, 99),
                   "status_lag_bytes_p50": pct(st_bytes, 50), "status_lag_bytes_p99": pct(st_bytes, 99),
                   "status_apply_rate_p50": pct(st_rate, 50), "status_samples": len(st)},
        "burst": b, "update_burst": ub, "cutover": cut, "snapshot": base,
    }


def live_section(tmp, a):
    print(f"live move (issue 20): {a.live_rows:,} rows, {a.live_rate:,} rows/s for {a.live_seconds} s, "
          f"burst {a.live_burst:,} ...", file=sys.stderr)
    load = [os.getloadavg()[0]]
    rounds = []
    for r in range(a.repeats):
        x = live_round(tmp, a)
        rounds.append(x)
        s, b, c = x["steady"], x["burst"], x["cutover"]
        print(f"  round {r + 1}: source {s['achieved_rows_per_s']:,.0f} rows/s, lag p50 {s['lag_p50_s']:.2f} s "
              f"p99 {s['lag_p99_s']:.2f} s, burst apply {b['apply_rows_per_s']:,.0f} rows/s, cutover "
              f"{c['to_follower_exit_s']:.1f} s (wait {c['wait_s']}), snapshot {x['snapshot']['rows_per_s']:,.0f} rows/s",
              file=sys.stderr)
    load.append(os.getloadavg()[0])
    psql(CDST, "postgres", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    versions = {m: psql(m, "postgres", "SELECT split_part(current_setting('server_version'), ' ', 1)", capture=True)
                for m in (CSRC, CDST)}
    return {"rounds": rounds, "repeats": a.repeats, "loadavg_1min": load, "workers": DEFAULT_WORKERS,
            "update_share": a.live_update_share, "tick_ms": a.live_tick, "poll_ms": a.live_poll,
            "versions": versions}


def render_live(v):
    rs = v["rounds"]
    m = lambda f: median([f(x) for x in rs])
    st = lambda k: m(lambda x: x["steady"][k])
    r0 = rs[0]
    apply_rate = m(lambda x: x["burst"]["apply_rows_per_s"])
    snap = m(lambda x: x["snapshot"]["rows_per_s"])
    p99 = st("lag_p99_s")
    cut = m(lambda x: x["cutover"]["to_follower_exit_s"])
    rest = m(lambda x: x["cutover"]["rest_s"] or 0)
    wait = m(lambda x: x["cutover"]["wait_s"] or 0)
    verify = m(lambda x: x["cutover"]["verify_s"])
    late = m(lambda x: x["cutover"]["late_check_s"])
    after = m(lambda x: x["cutover"]["to_follower_exit_s"] - x["cutover"]["cutover_s"])
    goal = lambda ok: "met" if ok else "not met"
    out = [f"\n**Live move (issue 20)**, PG{v['versions'][CSRC]}/2.19.3 → PG{v['versions'][CDST]}/2.29.2 (full builds): "
           f"`live_metrics` (seq, time, device_id, v, note; PK (seq, time); one-day chunks), {r0['initial_rows']:,} "
           f"rows copied, then a writer at {r0['steady']['target_rate']:,} rows/s for {r0['steady']['seconds']:.0f} s "
           f"(one transaction every {v['tick_ms']} ms: an INSERT … SELECT and an UPDATE of {v['update_share']:.0%} as "
           f"many rows by key), then a burst of {r0['burst']['rows']:,} rows while the follower is stopped, then the "
           f"cutover; {r0['final_rows']:,} rows at the end. Medians of {v['repeats']} round(s), workers = {v['workers']}. "
           f"Lag is end to end: commit on the source → first poll (every {v['poll_ms']} ms) of "
           f"`max(seq)` on the target that sees the row.\n",
           "| figure | measured | goal |", "|---|---|---|",
           f"| source rate achieved (rows/s inserted, + {st('updates') / st('seconds'):,.0f} updates/s) | "
           f"{st('achieved_rows_per_s'):,.0f} | 20,000 |",
           f"| lag p50, end to end (s) | {st('lag_p50_s'):.2f} | |",
           f"| lag p99, end to end (s) | {p99:.2f} | ≤ {GOAL_P99:.0f}: {goal(p99 <= GOAL_P99)} |",
           f"| lag max, end to end (s) | {st('lag_max_s'):.2f} | |",
           f"| `status` lag_seconds p50 / p99 (sampled every 1 s) | {st('status_lag_seconds_p50'):.2f} / "
           f"{st('status_lag_seconds_p99'):.2f} | |",
           f"| `status` lag_bytes p50 / p99 | {st('status_lag_bytes_p50'):,.0f} / {st('status_lag_bytes_p99'):,.0f} | |",
           f"| follower apply rate, catch-up of the burst (rows/s) | {apply_rate:,.0f} | ≥ {GOAL_APPLY:,}: "
           f"{goal(apply_rate >= GOAL_APPLY)} |",
           f"| the same over restart → caught up (process start, plan, slot included) | "
           f"{m(lambda x: x['burst']['restart_rows_per_s']):,.0f} | |",
           *([f"| follower update rate, catch-up of {r0['update_burst']['rows']:,} updates by key (rows/s; restart "
              f"overhead of the insert burst deducted) | {m(lambda x: x['update_burst']['apply_rows_per_s']):,.0f} | |",
              f"| the same over restart → caught up | {m(lambda x: x['update_burst']['restart_rows_per_s']):,.0f} | |"]
             if r0.get("update_burst") else []),
           f"| cutover start → follower exit (s) | {cut:.2f} | ≤ {GOAL_CUTOVER:.0f} + verification |",
           f"|   of which the wait for the fence (s) | {wait:.2f} | |",
           f"|   after it: sequences, compression, checksums, late writes, slot dropped (s) | {rest:.2f} | |",
           f"|     of which the checksum verification of every window (s) | {verify:.2f} | |",
           f"|     of which the look for writes after the fence (s) | {late:.2f} | |",
           f"|   cutover exit → follower exit (s) | {after:.2f} | |",
           f"|   cutover without verification (s) | {cut - verify:.2f} | ≤ {GOAL_CUTOVER:.0f}: "
           f"{goal(cut - verify <= GOAL_CUTOVER)} |",
           f"| baseline: snapshot `apply --verify count` of the final rows (rows/s) | {snap:,.0f} | |",
           f"| follower apply rate ÷ snapshot copy rate | {apply_rate / snap:.2f} | |",
           f"\nSnapshot copy of the initial rows (start → `following`): {m(lambda x: x['copy_s']):.1f} s; burst written "
           f"on the source in {m(lambda x: x['burst']['write_s']):.1f} s; the follower caught up "
           f"{st('caught_up_after_s'):.2f} s after the writer's last commit.",
           f"\n1-minute load average at the start and the end: {v['loadavg_1min'][0]:.1f}, "
           f"{v['loadavg_1min'][1]:.1f} ({os.cpu_count()} cores)."]
    return "\n".join(out) + "\n"
