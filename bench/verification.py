"""bench/run's section for issue 19, checksum verification at the speed of the copy
(`--verification`, or `--verification-only` for just this section).

The move is the main section's, at 2,000,000 rows unless --rows says otherwise:
devices + conditions from PostgreSQL 17 / TimescaleDB 2.19 (:55417, 1-day chunks) into
PostgreSQL 18 / TimescaleDB 2.31 (:55418, 7-day chunks), two indexes and the FK.
Every round runs each of these once, in this order; medians of --repeats rounds.

Moves, each as a multiple of raw:
  raw             the main section's raw pipe: psql COPY (binary) into a pre-created 7-day
                  hypertable, then CREATE INDEX and the FK
  apply count     `hypermove apply --yes --verify count`
  apply checksum  `hypermove apply --yes --verify checksum` (the default level)

Standalone verification, on the target the checksum apply just left (the readers after
`verify count` take turns going first, so none always finds the caches as another left them):
  verify count         `hypermove verify --verify count SPEC`, the current binary
  verify checksum      `hypermove verify --verify checksum SPEC`, the current binary
  baseline checksum    the same with --baseline-bin (the binary from before the change);
                       skipped, and said so, without it
  verify checksum-sql  `--verify checksum-sql`, the current binary, when its
                       `verify --help` lists that level; skipped, and said so, otherwise
  two-sided read       conditions and devices read whole with
                       `COPY (SELECT * FROM t) TO STDOUT (FORMAT binary)` by psql from the
                       source and the target at the same time, into /dev/null: the floor a
                       client-side checksum can approach
Each reports its wall time and baseline ÷ it ("x faster").
"""

import os
import re
import subprocess
import sys
import time

from common import (DEFAULT_WORKERS, DST, HYPERMOVE, SANDBOX, SRC, fresh_db, generate, median, psql,
                    run_raw, spec_file)

DEFAULT_ROWS = 2_000_000  # the dataset
DB = "bench_v19"  # every target database of this section is named bench_v19_*
SOURCE_DB = "bench_src"
# The goals (a benchmark figure, not a timed test).
GOAL_APPLY = 1.25  # apply at checksum ÷ raw, at most
GOAL_VERIFY = 3.0  # baseline verify checksum ÷ current, at least


def measured(cmd):
    """Run a command under /usr/bin/time without giving up on failure: wall seconds,
    peak RSS bytes, exit code and the last line it printed."""
    t0 = time.monotonic()
    out = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    rss = next((int(line.split(":")[1]) for line in out.stderr.splitlines()
                if "Maximum resident set size" in line), 0)
    said = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    errs = [line.strip() for line in out.stderr.splitlines()
            if line.strip() and not line.startswith("\t") and "Command exited" not in line]
    return {"wall": wall, "rss": rss * 1024, "exit": out.returncode, "ok": out.returncode == 0,
            "said": (said or errs or [""])[-1] if out.returncode == 0 else (errs or said or [""])[-1]}


def lists_level(binary, level):
    """Whether `binary verify --help` offers `level` among --verify's values."""
    out = subprocess.run([binary, "verify", "--help"], capture_output=True, text=True, check=True).stdout
    # "[possible values: count, checksum]", or "- checksum: ..." when the values have docs
    return re.search(rf"(?<![\w-]){re.escape(level)}(?![\w-])", out) is not None


def version(binary):
    out = subprocess.run([binary, "--version"], capture_output=True, text=True)
    return out.stdout.strip() or f"exit {out.returncode}"


def apply(tmp, level):
    """`hypermove apply --yes --verify LEVEL` into a fresh bench_v19_LEVEL; stops the
    run when it fails (a failed move has no time worth reporting)."""
    db = f"{DB}_{level}"
    fresh_db(DST, db)
    spec = spec_file(tmp, "conditions", db, DEFAULT_WORKERS)
    r = measured([HYPERMOVE, "apply", "--yes", "--verify", level, spec])
    if not r["ok"]:
        sys.exit(f"hypermove apply --verify {level} failed (exit {r['exit']}): {r['said']}")
    return r, spec


def verify(binary, spec, level):
    """`verify --verify LEVEL SPEC`; a failure is recorded, not fatal, so that one binary
    that cannot read the other's target does not lose the whole run."""
    r = measured([binary, "verify", "--verify", level, spec])
    if not r["ok"]:
        print(f"    {os.path.basename(binary)} verify --verify {level}: exit {r['exit']}: {r['said']}", file=sys.stderr)
    return r


def two_sided_read(target_db):
    """Both tables read whole with binary COPY, one psql per side, both sides at once."""
    t0 = time.monotonic()
    procs = [subprocess.Popen([SANDBOX, "psql", major, "-d", db, "-X", "-q", "-v", "ON_ERROR_STOP=1",
                               "-c", "COPY (SELECT * FROM conditions) TO STDOUT (FORMAT binary)",
                               "-c", "COPY (SELECT * FROM devices) TO STDOUT (FORMAT binary)"],
                              stdout=subprocess.DEVNULL)
             for major, db in ((SRC, SOURCE_DB), (DST, target_db))]
    codes = [p.wait() for p in procs]
    wall = time.monotonic() - t0
    if any(codes):
        sys.exit(f"the two-sided binary read failed: exit codes {codes}")
    return {"wall": wall, "rss": 0, "exit": 0, "ok": True, "said": ""}


def dataset(n, src_bytes, target_db):
    """What the move moved, read back from both servers, for the report."""
    q_ver = ("SELECT split_part(current_setting('server_version'), ' ', 1) || '|' || extversion FROM pg_extension "
             "WHERE extname = 'timescaledb'")
    q_chunks = "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'conditions'"
    q_idx = "SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'conditions'"
    q_fk = ("SELECT count(*) FROM pg_constraint WHERE conrelid = 'conditions'::regclass AND contype = 'f'")
    src_ver, dst_ver = psql(SRC, SOURCE_DB, q_ver, capture=True), psql(DST, target_db, q_ver, capture=True)
    return {
        "rows": n, "source_bytes": src_bytes,
        "source": dict(zip(("postgres", "timescaledb"), src_ver.split("|"))),
        "target": dict(zip(("postgres", "timescaledb"), dst_ver.split("|"))),
        "source_chunks": int(psql(SRC, SOURCE_DB, q_chunks, capture=True)),
        "target_chunks": int(psql(DST, target_db, q_chunks, capture=True)),
        "target_indexes": psql(DST, target_db, q_idx, capture=True),
        "target_fks": int(psql(DST, target_db, q_fk, capture=True)),
        "target_rows": int(psql(DST, target_db, "SELECT count(*) FROM conditions", capture=True)),
    }


def verification_section(tmp, n, repeats, baseline_bin=None):
    """The moves and the verifications, `repeats` interleaved rounds at `n` rows."""
    print(f"verification (issue 19) at {n:,} rows ...", file=sys.stderr)
    src_bytes = generate(n, wide=False)  # the wide table is not part of this move
    sql_level = lists_level(HYPERMOVE, "checksum-sql")
    skipped = {}
    if not baseline_bin:
        skipped["baseline"] = "no --baseline-bin given"
    if not sql_level:
        skipped["checksum_sql"] = "`hypermove verify --help` does not list checksum-sql"
    moves = {"raw": [], "apply_count": [], "apply_checksum": []}
    verifies = {"count": [], "checksum": [], "baseline": [], "checksum_sql": [], "binary_read": []}
    load = [os.getloadavg()[0]]  # both servers share this machine with whatever else runs
    for r in range(repeats):  # interleaved: one of each per round
        moves["raw"].append({"wall": run_raw(), "rss": 0})
        moves["apply_count"].append(apply(tmp, "count")[0])
        res, spec = apply(tmp, "checksum")
        moves["apply_checksum"].append(res)
        target = f"{DB}_checksum"
        verifies["count"].append(verify(HYPERMOVE, spec, "count"))
        readers = [("checksum", lambda: verify(HYPERMOVE, spec, "checksum"))]
        if baseline_bin:
            readers.append(("baseline", lambda: verify(baseline_bin, spec, "checksum")))
        if sql_level:
            readers.append(("checksum_sql", lambda: verify(HYPERMOVE, spec, "checksum-sql")))
        readers.append(("binary_read", lambda: two_sided_read(target)))
        k = r % len(readers)
        for name, run in readers[k:] + readers[:k]:
            verifies[name].append(run())
        print(f"  round {r + 1}: " + ", ".join(f"{name} {v[-1]['wall']:.2f}s{'' if v[-1].get('ok', True) else ' FAILED'}"
                                             for name, v in {**moves, **verifies}.items() if v), file=sys.stderr)
    load.append(os.getloadavg()[0])
    data = dataset(n, src_bytes, f"{DB}_checksum")
    assert data["target_rows"] == n, f"the checksum apply left {data['target_rows']} rows, expected {n}"
    for level in ("count", "checksum"):
        psql(DST, "postgres", f"DROP DATABASE IF EXISTS {DB}_{level} WITH (FORCE)")
    psql(DST, "postgres", "DROP DATABASE IF EXISTS bench_raw WITH (FORCE)")
    med = {k: median([x["wall"] for x in v]) for k, v in {**moves, **verifies}.items() if v}
    return {"dataset": data, "moves": moves, "verifies": verifies, "median": med, "skipped": skipped,
            "failed": {k: [f"exit {x['exit']}" + (f": {x['said']}" if x["said"] else "") for x in v if not x["ok"]]
                       for k, v in verifies.items() if any(not x["ok"] for x in v)},
            "binaries": {"current": [HYPERMOVE, version(HYPERMOVE)],
                         "baseline": [baseline_bin, version(baseline_bin)] if baseline_bin else None},
            "workers": DEFAULT_WORKERS, "repeats": repeats, "loadavg_1min": load}


def render_verification(v):
    d, m, n = v["dataset"], v["median"], v["dataset"]["rows"]
    raw = m["raw"]
    mb = d["source_bytes"] / 1e6
    rss = lambda runs: f"{max(x['rss'] for x in runs) / 1e6:.0f}" if any(x["rss"] for x in runs) else "—"
    out = [f"\n**Verification (issue 19), {n:,} rows** ({mb:.0f} MB on the source): devices (1,000 rows) and "
           f"conditions, PG{d['source']['postgres']}/{d['source']['timescaledb']} → "
           f"PG{d['target']['postgres']}/{d['target']['timescaledb']}, {d['source_chunks']} one-day chunks → "
           f"{d['target_chunks']} seven-day chunks, two indexes ((device_id, time DESC) and (time DESC)) and the FK "
           f"to devices. Medians of {v['repeats']} interleaved runs, workers = {v['workers']}.\n",
           "| move | wall s | rows/s | ÷ raw | peak RSS MB |", "|---|---|---|---|---|"]
    labels = {"raw": "raw COPY binary pipe + CREATE INDEX + FK (no check)",
              "apply_count": "`hypermove apply --verify count`",
              "apply_checksum": "`hypermove apply` (default `verify: checksum`)"}
    for k, label in labels.items():
        out.append(f"| {label} | {m[k]:.2f} | {n / m[k]:,.0f} | {m[k] / raw:.2f}× | {rss(v['moves'][k])} |")
    per_round = [a["wall"] / r["wall"] for a, r in zip(v["moves"]["apply_checksum"], v["moves"]["raw"])]
    ratio = m["apply_checksum"] / raw
    out.append(f"\napply checksum ÷ raw per round: {', '.join(f'{p:.2f}' for p in per_round)}; "
               f"the goal is ≤ {GOAL_APPLY}×: {'met' if ratio <= GOAL_APPLY else 'not met'} ({ratio:.2f}×).")

    base = m.get("baseline") if "baseline" not in v["failed"] else None
    floor = m["binary_read"]
    out += ["\nStandalone verification of the target the checksum apply left; the baseline is `--baseline-bin`, "
            "a hypermove from before the change:\n",
            "| verification | wall s | rows/s | baseline ÷ this (x faster) | ÷ two-sided read | peak RSS MB |",
            "|---|---|---|---|---|---|"]
    labels = {"count": "`hypermove verify --verify count`",
              "checksum": "`hypermove verify --verify checksum`",
              "baseline": "`hypermove verify --verify checksum`, baseline (before the change)",
              "checksum_sql": "`hypermove verify --verify checksum-sql`",
              "binary_read": "two-sided binary read: `COPY (SELECT * FROM …) TO STDOUT (FORMAT binary)` "
                             "of both tables, source and target at once, into /dev/null"}
    for k, label in labels.items():
        if k in v["skipped"]:
            out.append(f"| {label} | skipped: {v['skipped'][k]} | | | | |")
            continue
        if k in v["failed"]:
            out.append(f"| {label} | FAILED: {v['failed'][k][0]} | | | | |")
            continue
        w = m[k]
        faster = f"{base / w:.2f}×" if base else "—"
        out.append(f"| {label} | {w:.2f} | {n / w:,.0f} | {faster} | {w / floor:.2f}× | {rss(v['verifies'][k])} |")
    if base and "checksum" not in v["failed"]:
        per_round = [b["wall"] / c["wall"] for b, c in zip(v["verifies"]["baseline"], v["verifies"]["checksum"])]
        x = base / m["checksum"]
        out.append(f"\nbaseline ÷ current verify checksum per round: {', '.join(f'{p:.2f}' for p in per_round)}; "
                   f"the goal is ≥ {GOAL_VERIFY:.0f}× faster: {'met' if x >= GOAL_VERIFY else 'not met'} ({x:.2f}×).")
    out.append(f"\n1-minute load average at the start and the end: {v['loadavg_1min'][0]:.1f}, "
               f"{v['loadavg_1min'][1]:.1f} ({os.cpu_count()} cores).")
    return "\n".join(out) + "\n"
