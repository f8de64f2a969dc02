"""Helpers shared by bench/run and its sections (bench/*.py): the sandbox servers,
psql, the benchmark dataset, hypermove's spec, the raw COPY pipe, timing."""

import os
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SANDBOX = os.path.join(ROOT, "scripts", "sandbox")
HYPERMOVE = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "hypermove")
SRC, DST = "17", "18"
# The full (community) builds, for compressed hypertables.
CSRC, CDST = "17full", "18full"
PORT = {"17": 55417, "18": 55418, "17full": 55427, "18full": 55428}


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def psql(major, db, sql, capture=False):
    """Run SQL through the chroot's psql; returns stdout when capture is set."""
    out = subprocess.run(
        [SANDBOX, "psql", major, "-d", db, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
        check=True, capture_output=True, text=True)
    return out.stdout.strip() if capture else None


def fresh_db(major, db):
    psql(major, "postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql(major, "postgres", f"CREATE DATABASE {db}")


def url(major, db):
    return f"postgresql://postgres@127.0.0.1:{PORT[major]}/{db}"


def generate(rows, db="bench_src", wide=True):
    """The source: devices (1,000 rows) and conditions (rows, 1-day chunks, sparse
    jsonb, an index on (device_id, time DESC), an FK), plus a 40-column wide table
    unless `wide` is off. Returns the size of conditions (heap + indexes, all chunks)."""
    fresh_db(SRC, db)
    days = max(1, rows // 86_400)  # about one row per second per day of data
    step = 86_400 * days / rows
    psql(SRC, db, "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS timescaledb")
    psql(SRC, db, """
        CREATE TABLE devices (id int PRIMARY KEY, name text NOT NULL);
        INSERT INTO devices SELECT i, 'device-' || i FROM generate_series(1, 1000) i;
        CREATE TABLE conditions (
            time timestamptz NOT NULL, device_id int NOT NULL,
            temperature double precision, humidity double precision,
            status text, extra jsonb);
        SELECT create_hypertable('conditions', by_range('time', INTERVAL '1 day'));""")
    psql(SRC, db, f"""
        INSERT INTO conditions
        SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + (i * {step}) * INTERVAL '1 second',
               1 + i % 1000, 20 + (i % 97) / 10.0, 40 + (i % 53) / 2.0,
               CASE WHEN i % 101 = 0 THEN 'alarm' ELSE 'ok' END,
               CASE WHEN i % 10 = 0 THEN jsonb_build_object('fw', i % 7, 'note', 'n' || i % 13) END
        FROM generate_series(0, {rows - 1}) i""")
    psql(SRC, db, """
        CREATE INDEX conditions_device_id_time_idx ON conditions (device_id, time DESC);
        ALTER TABLE conditions ADD CONSTRAINT conditions_device_id_fkey FOREIGN KEY (device_id) REFERENCES devices (id);
        ANALYZE devices; ANALYZE conditions;""")
    if wide:
        generate_wide(rows, db, days)
    return int(psql(SRC, db, "SELECT pg_total_relation_size('conditions') + coalesce((SELECT sum(pg_total_relation_size(format('%I.%I', chunk_schema, chunk_name))) FROM timescaledb_information.chunks WHERE hypertable_name = 'conditions'), 0)", capture=True))


def generate_wide(rows, db, days):
    """The 40-column table, rows / 10 of them over the same days."""
    cols = ", ".join(f"c{i} {'double precision' if i % 3 else 'text'}" for i in range(1, 39))
    vals = ", ".join(f"{'i * ' + str(i) + '.5' if i % 3 else repr('v') + ' || i'}" for i in range(1, 39))
    wide_rows = max(1, rows // 10)
    psql(SRC, db, f"""
        CREATE TABLE wide (time timestamptz NOT NULL, id bigint NOT NULL, {cols});
        SELECT create_hypertable('wide', by_range('time', INTERVAL '1 day'));
        INSERT INTO wide SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + (i * {86_400 * days / wide_rows}) * INTERVAL '1 second', i, {vals}
        FROM generate_series(0, {wide_rows - 1}) i;
        ANALYZE wide;""")


def spec_file(tmp, table, target_db, workers):
    path = os.path.join(tmp, f"{table}-{target_db}-{workers}.yaml")
    with open(path, "w") as f:
        f.write(f"""version: 1
source: {url(SRC, 'bench_src')}
target: {url(DST, target_db)}
workers: {workers}
verify: count
tables:
  - name: public.devices
  - name: public.{table}
    hypertable: {{time_column: time, chunk_time_interval: 7 days}}
""")
    return path


# Both servers share this machine's cores, so more workers than cores only queue.
DEFAULT_WORKERS = os.cpu_count() or 2


def run_raw(table="conditions"):
    fresh_db(DST, "bench_raw")
    cols = psql(SRC, "bench_src", f"SELECT string_agg(format('%I %s', attname, format_type(atttypid, atttypmod)), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped", capture=True)
    psql(DST, "bench_raw", "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS timescaledb")
    t0 = time.monotonic()
    psql(DST, "bench_raw", f"""
        CREATE TABLE devices (id int PRIMARY KEY, name text NOT NULL);
        CREATE TABLE {table} ({cols});
        SELECT create_hypertable('{table}', by_range('time', INTERVAL '7 days'), create_default_indexes => false);""")
    for t in ("devices", table):
        sh(f"{SANDBOX} psql {SRC} -d bench_src -X -c \"COPY (SELECT * FROM {t}) TO STDOUT (FORMAT binary)\" | "
           f"{SANDBOX} psql {DST} -d bench_raw -X -q -c \"COPY {t} FROM STDIN (FORMAT binary)\"")
    if table == "conditions":
        psql(DST, "bench_raw", """
            CREATE INDEX conditions_device_id_time_idx ON conditions (device_id, time DESC);
            CREATE INDEX conditions_time_idx ON conditions (time DESC);
            ALTER TABLE conditions ADD CONSTRAINT conditions_device_id_fkey FOREIGN KEY (device_id) REFERENCES devices (id);""")
    return time.monotonic() - t0


def timed(cmd):
    """Run a hypermove command under /usr/bin/time; returns (wall seconds, peak RSS bytes)."""
    t0 = time.monotonic()
    out = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd[:2])} failed:\n{out.stdout[-1500:]}\n{out.stderr[-2000:]}")
    rss = next(int(l.split(":")[1]) for l in out.stderr.splitlines() if "Maximum resident set size" in l)
    return wall, rss * 1024


def sandbox_root(major):
    base = os.environ.get("HYPERMOVE_SANDBOX_DIR", "/var/cache/hypermove-sandbox")
    return os.path.join(base, f"pg{major}")


def median(xs):
    return statistics.median(xs)


def answering(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
