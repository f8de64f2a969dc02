//! End-to-end moves between the real sandbox servers: TimescaleDB 2.19 / PostgreSQL 17
//! to TimescaleDB 2.31 / PostgreSQL 18.

mod common;

use common::*;
use predicates::prelude::*;

/// The walking skeleton's main case on Debian's builds: the demo hypertable (1-day
/// chunks) arrives re-chunked to 7 days with 4 hash partitions, every row intact.
#[test]
fn demo_move_rechunks_and_repartitions_across_versions() {
    demo_move(SOURCE_PORT, TARGET_PORT);
}

/// The same on the full builds: TimescaleDB 2.19.3/PG17 → 2.29.2/PG18.
#[test]
fn demo_move_on_the_full_builds() {
    demo_move(FULL_SOURCE_PORT, FULL_TARGET_PORT);
}

/// Back the other way: TimescaleDB 2.31 names its chunks by `relid` in its catalog,
/// where 2.19 has `schema_name`/`table_name`; a 2.31 source is read as well.
#[test]
fn a_hypertable_moves_from_the_newer_server_back_to_the_older() {
    let db = "hm_apply_back";
    let mut src = fresh_db(TARGET_PORT, db);
    src.batch_execute(
        "SET client_min_messages = warning;
         CREATE EXTENSION IF NOT EXISTS timescaledb;
         CREATE TABLE public.t (time timestamptz NOT NULL, v int);
         SELECT create_hypertable('public.t', by_range('time', INTERVAL '1 day'));
         INSERT INTO public.t SELECT TIMESTAMPTZ '2025-01-01' + i * INTERVAL '1 hour', i
           FROM generate_series(0, 100) i;",
    )
    .unwrap();
    let mut dst = fresh_db(SOURCE_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "back.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\nverify: checksum\ntables:\n  - name: public.t\n",
            url(TARGET_PORT, db),
            url(SOURCE_PORT, db)
        ),
    );
    hypermove()
        .args(["plan", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("(5 chunks)"));
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   public.t: 5 windows, 101 source rows, checksum matches",
        ));
    let digest =
        "SELECT md5(string_agg(format('%s|%s', time, v), ',' ORDER BY time)) FROM public.t";
    assert_eq!(scalar(&mut src, digest), scalar(&mut dst, digest));
}

fn demo_move(from: u16, to: u16) {
    let db = "hm_apply_demo";
    let mut src = fresh_db(from, db);
    load_demo(&mut src);
    let mut dst = fresh_db(to, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "demo.yaml",
        &std::fs::read_to_string(root().join("pipelines/demo.yaml"))
            .unwrap()
            .replace(":55417/demo\n", &format!(":{from}/{db}\n"))
            .replace(":55418/demo\n", &format!(":{to}/{db}\n")),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   public.conditions: 60 windows, 1036800 source rows, checksum matches",
        ))
        .stdout(predicate::str::contains(
            "ok   public.devices: 1 window, 60 source rows, checksum matches",
        ));

    // Every row arrived.
    let count = "SELECT count(*)::text FROM public.conditions";
    assert_eq!(scalar(&mut src, count), "1036800");
    assert_eq!(scalar(&mut dst, count), "1036800");
    // Content: a full fingerprint of three devices' rows, and exact aggregates over all rows
    // (floats summed as numeric: a float sum depends on the order rows are added).
    let sample = "SELECT md5(string_agg(format('%s|%s|%s|%s|%s', time, device_id, temperature, humidity, status), E'\\n' ORDER BY time, device_id))
                    FROM public.conditions WHERE device_id IN (1, 17, 42)";
    assert_eq!(scalar(&mut src, sample), scalar(&mut dst, sample));
    let totals = "SELECT format('%s %s %s %s', sum(device_id), sum(temperature::numeric), min(time), max(time)) FROM public.conditions";
    assert_eq!(scalar(&mut src, totals), scalar(&mut dst, totals));
    let devices = "SELECT md5(string_agg(format('%s|%s|%s|%s', id, name, location, installed), ',' ORDER BY id)) FROM public.devices";
    assert_eq!(scalar(&mut src, devices), scalar(&mut dst, devices));

    // The new shape: 7-day chunks and 4 hash partitions.
    let dims = dst
        .query(
            "SELECT column_name::text, dimension_type, time_interval::text, num_partitions::int
               FROM timescaledb_information.dimensions
              WHERE hypertable_schema = 'public' AND hypertable_name = 'conditions'
              ORDER BY dimension_number",
            &[],
        )
        .unwrap();
    assert_eq!(dims.len(), 2);
    assert_eq!(dims[0].get::<_, String>(0), "time");
    assert_eq!(dims[0].get::<_, String>(2), "7 days");
    assert_eq!(dims[1].get::<_, String>(0), "device_id");
    assert_eq!(dims[1].get::<_, String>(1), "Space");
    assert_eq!(dims[1].get::<_, i32>(3), 4);

    // Chunks: one per (7-day slice, hash partition) that holds data. TimescaleDB aligns
    // slices to the Unix epoch, and 60 devices occupy all 4 partitions every week.
    let weeks: i64 = dst
        .query_one(
            "SELECT count(DISTINCT floor(extract(epoch FROM time) / 604800))::int8 FROM public.conditions",
            &[],
        )
        .unwrap()
        .get(0);
    let chunks: i64 = dst
        .query_one(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'conditions'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(weeks, 10);
    assert_eq!(chunks, weeks * 4);

    // Indexes and constraints came along, built after the data.
    let objects = dst
        .query(
            "SELECT conname::text FROM pg_constraint WHERE conrelid IN ('public.conditions'::regclass, 'public.devices'::regclass) AND contype <> 'n'
             UNION ALL SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'public.conditions'::regclass
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>();
    assert_eq!(
        objects,
        [
            "conditions_device_id_fkey",
            "conditions_device_id_time_idx",
            "conditions_humidity_check",
            "conditions_time_idx",
            "devices_name_key",
            "devices_pkey",
        ]
    );
    // The re-chunked, hash-partitioned target verifies clean, window by window,
    // against the 1-day source, at both levels.
    for level in ["count", "checksum"] {
        hypermove()
            .args(["verify", "--verify", level, spec.to_str().unwrap()])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(
                "Verification ({level}): all 61 windows match."
            )));
    }

    // TimescaleDB's insert blocker never travels as a user trigger.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_trigger WHERE tgrelid = 'public.conditions'::regclass AND NOT tgisinternal AND tgname <> 'ts_insert_blocker'"
        ),
        "0"
    );
}

/// A plain table with many column types moves as it is, value for value.
#[test]
fn plain_table_moves_as_is() {
    let db = "hm_apply_plain";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE TABLE public.things (
             id        bigint PRIMARY KEY,
             label     varchar(40) NOT NULL,
             price     numeric(10,2) CHECK (price >= 0),
             tags      text[],
             attrs     jsonb,
             blob      bytea,
             seen      timestamptz,
             ratio     real,
             dropped   int,
             doubled   bigint GENERATED ALWAYS AS (id * 2) STORED
         );
         ALTER TABLE public.things DROP COLUMN dropped;
         INSERT INTO public.things (id, label, price, tags, attrs, blob, seen, ratio)
         SELECT i, 'item ' || i, i * 1.25, ARRAY['a' || i, NULL, 'b'], jsonb_build_object('k', i, 'nested', jsonb_build_array(i, 'x')),
                decode(md5(i::text), 'hex'), TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '1 minute 1.5 seconds',
                i / 7.0
         FROM generate_series(1, 5000) AS i;
         INSERT INTO public.things (id, label) VALUES (0, 'nulls: ''quote'' \"dq\" \\ tab	end');
         CREATE INDEX things_label_lower_idx ON public.things (lower(label)) WHERE price IS NOT NULL;",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "plain.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\nworkers: 2\ntables:\n  - name: public.things\n",
            url(SOURCE_PORT, db),
            url(TARGET_PORT, db)
        ),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   public.things: 1 window, 5001 source rows, checksum matches",
        ));

    let all = "SELECT md5(string_agg(t::text, E'\\n' ORDER BY id)) FROM public.things t";
    assert_eq!(scalar(&mut src, all), scalar(&mut dst, all));
    let columns = "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
                     FROM pg_attribute WHERE attrelid = 'public.things'::regclass AND attnum > 0 AND NOT attisdropped";
    assert_eq!(scalar(&mut src, columns), scalar(&mut dst, columns));
    // A plain table stays plain, and a plain move installs no TimescaleDB on the target.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_extension WHERE extname = 'timescaledb'"
        ),
        "0"
    );
    let index = "SELECT pg_get_indexdef('public.things_label_lower_idx'::regclass)";
    assert_eq!(scalar(&mut src, index), scalar(&mut dst, index));
}

/// A plain source table becomes a hypertable on the way, with the spec's interval.
#[test]
fn plain_table_becomes_a_hypertable() {
    let db = "hm_apply_convert";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE SCHEMA raw;
         CREATE TABLE raw.readings (ts timestamptz NOT NULL, sensor int NOT NULL, value double precision);
         INSERT INTO raw.readings
         SELECT TIMESTAMPTZ '2025-02-01 00:00:00+00' + i * INTERVAL '7 minutes', i % 13, sqrt(i)
         FROM generate_series(0, 20000) AS i;
         ANALYZE raw.readings;",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "convert.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: raw.readings\n    target: metrics.readings\n    hypertable:\n      time_column: ts\n      chunk_time_interval: 1 day\n",
            url(SOURCE_PORT, db),
            url(TARGET_PORT, db)
        ),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   metrics.readings: 98 windows, 20001 source rows, checksum matches",
        ));

    let src_rows = "SELECT md5(string_agg(format('%s|%s|%s', ts, sensor, value), E'\\n' ORDER BY ts)) FROM raw.readings";
    let dst_rows = "SELECT md5(string_agg(format('%s|%s|%s', ts, sensor, value), E'\\n' ORDER BY ts)) FROM metrics.readings";
    assert_eq!(scalar(&mut src, src_rows), scalar(&mut dst, dst_rows));
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT time_interval::text FROM timescaledb_information.dimensions WHERE hypertable_schema = 'metrics' AND hypertable_name = 'readings'"
        ),
        "1 day"
    );
    let days = scalar(
        &mut src,
        "SELECT count(DISTINCT date_trunc('day', ts AT TIME ZONE 'UTC'))::text FROM raw.readings",
    );
    let chunks = scalar(
        &mut dst,
        "SELECT count(*)::text FROM timescaledb_information.chunks WHERE hypertable_schema = 'metrics' AND hypertable_name = 'readings'",
    );
    assert_eq!(days, chunks);
    // The time index TimescaleDB would have made exists, built after the data.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT pg_get_indexdef('metrics.readings_ts_idx'::regclass)"
        ),
        "CREATE INDEX readings_ts_idx ON metrics.readings USING btree (ts DESC)"
    );
}
