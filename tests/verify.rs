//! Verification that fails loudly: per-window counts and checksums, `hypermove verify`,
//! the mismatch report, and checksums that agree across PostgreSQL 17 and 18.

mod common;

use common::*;
use predicates::prelude::*;

fn spec(db_source: &str, db_target: &str, tables: &str) -> String {
    format!(
        "version: 1\nsource: {}\ntarget: {}\nworkers: 2\ntables:\n{tables}",
        url(SOURCE_PORT, db_source),
        url(TARGET_PORT, db_target)
    )
}

/// Every kind of damage is caught in its own window, at the checksum level, and the
/// exit code is 3; `--diff` shows the rows; `status` shows the recorded verdict.
#[test]
fn each_kind_of_damage_is_detected_in_its_window() {
    let db = "hm_verify_damage";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE EXTENSION IF NOT EXISTS timescaledb;
         CREATE TABLE public.readings (time timestamptz NOT NULL, id int NOT NULL, f float8, j jsonb, b bytea);
         SELECT create_hypertable('public.readings', by_range('time', INTERVAL '1 day'));
         INSERT INTO public.readings
         SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '30 minutes', i, i / 3.0,
                jsonb_build_object('a', i, 'tags', jsonb_build_array('x', i)), decode(md5(i::text), 'hex')
         FROM generate_series(0, 48 * 8 - 1) AS i;
         -- a float whose last digit will change
         UPDATE public.readings SET f = 0.30000000000000004 WHERE id = 100;",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let path = write_spec(
        dir.path(),
        "damage.yaml",
        &spec(
            db,
            db,
            "  - name: public.readings\n    hypertable:\n      time_column: time\n      chunk_time_interval: 3 days\n      partitioning_column: id\n      number_partitions: 2\n",
        ),
    );
    let spec = path.to_str().unwrap();
    hypermove()
        .args(["apply", "--yes", "--verify", "count", spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Verification (count): all 8 windows match.",
        ));
    for level in ["count", "checksum"] {
        hypermove()
            .args(["verify", "--verify", level, spec])
            .assert()
            .success();
    }

    // One kind of damage per day (id = day * 48 + k).
    dst.batch_execute(
        "DELETE FROM public.readings WHERE id = 10;                                   -- day 0: a row deleted
         UPDATE public.readings SET f = 0.3 WHERE id = 100;                           -- day 2: a float's last digit
         UPDATE public.readings SET j = (j - 'a') || jsonb_build_object('A', j->'a') WHERE id = 150;  -- day 3: a jsonb key
         UPDATE public.readings SET b = set_byte(b, 7, get_byte(b, 7) # 1) WHERE id = 200;  -- day 4: one bit of a bytea
         INSERT INTO public.readings SELECT * FROM public.readings WHERE id = 300;    -- day 6: a duplicated row",
    )
    .unwrap();

    let window = |day: u32| {
        format!(
            "FAIL verify:public.readings:2025-01-{:02}T00:00:00Z..2025-01-{:02}T00:00:00Z:",
            day + 1,
            day + 2
        )
    };
    let out = hypermove()
        .args(["verify", "--diff", "3", spec])
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    for day in [0, 2, 3, 4, 6] {
        assert!(out.contains(&window(day)), "day {day} not reported:\n{out}");
    }
    for day in [1, 5, 7] {
        assert!(
            !out.contains(&window(day)),
            "day {day} wrongly reported:\n{out}"
        );
    }
    assert!(
        out.contains("Verification (checksum) FAILED: 5 of 8 windows differ."),
        "{out}"
    );
    // Counts alone catch the deleted and the duplicated row.
    assert!(
        out.contains(&format!("{} rows source 48 / target 47 ≠", window(0))),
        "{out}"
    );
    assert!(
        out.contains(&format!("{} rows source 48 / target 49 ≠", window(6))),
        "{out}"
    );
    // The diff names the rows.
    assert!(
        out.contains("missing on target: (\"2025-01-01 05:00:00+00\",10,"),
        "{out}"
    );
    assert!(out.contains(",100,0.30000000000000004,"), "{out}");
    assert!(out.contains(",100,0.3,"), "{out}");
    assert!(
        out.contains("extra on target:   (\"2025-01-07 06:00:00+00\",300,"),
        "{out}"
    );

    // At the count level only the row-count damage shows.
    let out = hypermove()
        .args(["verify", "--verify", "count", "--format", "json", spec])
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    // Two windows and the whole verdict; the table's row total matches, since one row
    // is missing and another duplicated: only window by window do they show.
    assert_eq!(out.matches("\"ok\": false").count(), 3, "{out}");

    // The checksum verdict is in the journal, for status.
    hypermove().args(["verify", spec]).assert().code(3);
    hypermove()
        .args(["status", spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "verification: 8 windows and 1 table check, 4 ok, 5 failed",
        ))
        .stdout(predicate::str::contains(
            window(4).trim_end_matches(':').to_string(),
        ));
}

/// The same data, loaded by the same SQL into PostgreSQL 17/TimescaleDB 2.19 and
/// PostgreSQL 18/TimescaleDB 2.31, has the same checksum for every column type.
#[test]
fn checksums_agree_across_versions_for_every_type() {
    let db = "hm_verify_types";
    let schema = r#"
        CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
        CREATE DOMAIN public.percent AS numeric(5,2) CHECK (VALUE BETWEEN 0 AND 100);
        CREATE TABLE public.every_type (
            id           int PRIMARY KEY,
            i2           smallint,
            i8           bigint,
            num          numeric(12,4),
            num_any      numeric,
            r4           real,
            r8           double precision,
            t            text,
            vc           varchar(20),
            ch           char(5),
            by           bytea,
            bo           boolean,
            d            date,
            tm           time,
            tmtz         timetz,
            ts           timestamp,
            tstz         timestamptz,
            iv           interval,
            u            uuid,
            js           json,
            jb           jsonb,
            ip           inet,
            net          cidr,
            mac          macaddr,
            ir           int4range,
            tr           tstzrange,
            ia           int[],
            ta           text[],
            m            public.mood,
            ma           public.mood[],
            p            public.percent,
            money_col    money,
            bits         bit(8),
            vbits        varbit,
            pt           point,
            tsv          tsvector
        );
        INSERT INTO public.every_type
        SELECT i, i::int2, i::int8 * 1000000007, i * 1.2345, i / 7.0,
               (i / 3.0)::real, CASE i % 5 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN '-Infinity' WHEN 2 THEN 1e-300 ELSE i / 3.0 END,
               'text ' || i || E' \'quoted\' "double" \\ tab\t ünïcödé ✓', 'vc' || i, 'c' || (i % 10),
               decode(md5(i::text), 'hex'), i % 2 = 0,
               DATE '2024-02-28' + i, TIME '13:14:15.123456' + i * INTERVAL '1 minute',
               TIMETZ '01:02:03+05:30', TIMESTAMP '1999-12-31 23:59:59.999999' + i * INTERVAL '1 day',
               TIMESTAMPTZ '2025-03-30 01:30:00+00' + i * INTERVAL '37 minutes',
               make_interval(years => i % 3, months => i % 13, days => i, secs => i * 1.5),
               md5(i::text)::uuid, json_build_object('b', i, 'a', 'x'), jsonb_build_object('b', i, 'a', ARRAY[1.50, 2.0]),
               ('10.0.' || (i % 256) || '.1/24')::inet, '192.168.0.0/16', ('08:00:2b:01:02:' || lpad(to_hex(i % 256), 2, '0'))::macaddr,
               int4range(i, i + 10), tstzrange(TIMESTAMPTZ '2025-01-01 00:00:00+00', TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '1 hour'),
               ARRAY[i, NULL, -i], ARRAY['a', NULL, 'b c', '"q"'],
               (ARRAY['sad', 'ok', 'happy'])[1 + i % 3]::public.mood, ARRAY['ok', 'happy']::public.mood[],
               (i % 100)::numeric(5,2), (i * 1.25)::money, (i % 256)::bit(8), B'101',
               point(i / 3.0, -i), to_tsvector('simple', 'the quick brown fox ' || i)
        FROM generate_series(1, 500) AS i;
        INSERT INTO public.every_type (id) VALUES (0);
        -- The same values without the array of an enum, whose send format embeds the
        -- enum's OID: this one is read (and hashed) in the binary format, the other
        -- in text.
        CREATE TABLE public.every_binary AS
        SELECT id, i2, i8, num, num_any, r4, r8, t, vc, ch, by, bo, d, tm, tmtz, ts, tstz, iv,
               u, js, jb, ip, net, mac, ir, tr, ia, ta, m, p, money_col, bits, vbits, pt, tsv
        FROM public.every_type;
        ALTER TABLE public.every_binary ADD PRIMARY KEY (id);
    "#;
    // Debian's 2.19 against the full build of 2.29 and against Debian's 2.31, and the
    // full 2.19 against the full 2.29.
    for (from, to) in [
        (SOURCE_PORT, FULL_TARGET_PORT),
        (FULL_SOURCE_PORT, FULL_TARGET_PORT),
        (SOURCE_PORT, TARGET_PORT),
    ] {
        let mut src = fresh_db(from, db);
        src.batch_execute(schema).unwrap();
        let mut dst = fresh_db(to, db);
        dst.batch_execute(schema).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = write_spec(
            dir.path(),
            "types.yaml",
            &format!(
                "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.every_type\n  - name: public.every_binary\n",
                url(from, db),
                url(to, db)
            ),
        );
        hypermove()
            .args(["verify", path.to_str().unwrap()])
            .assert()
            .success()
            .stdout(predicate::str::contains(
                "ok   public.every_type: 1 window, 501 source rows, checksum matches",
            ))
            .stdout(predicate::str::contains(
                "ok   public.every_binary: 1 window, 501 source rows, checksum matches",
            ));
        // The server-side method agrees too.
        hypermove()
            .args(["verify", "--verify", "checksum-sql", path.to_str().unwrap()])
            .assert()
            .success()
            .stdout(predicate::str::contains(
                "ok   public.every_binary: 1 window, 501 source rows, checksum-sql matches",
            ));
    }
    // Moved by apply, each window's copy hashes the rows it streams from 2.19 and the
    // check hashes what 2.31 reads back: equal in both formats.
    let moved = "hm_verify_types_moved";
    fresh_db(TARGET_PORT, moved);
    let dir = tempfile::tempdir().unwrap();
    let path = write_spec(
        dir.path(),
        "moved.yaml",
        &spec(
            db,
            moved,
            "  - name: public.every_type\n  - name: public.every_binary\n",
        ),
    );
    hypermove()
        .args(["apply", "--yes", path.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   public.every_type: 1 window, 501 source rows, checksum matches",
        ))
        .stdout(predicate::str::contains(
            "ok   public.every_binary: 1 window, 501 source rows, checksum matches",
        ));
    let mut dst = connect(TARGET_PORT, db);
    // And it is not blind, in either format: one changed value in the last column
    // flips it.
    for table in ["every_type", "every_binary"] {
        dst.batch_execute(&format!(
            "UPDATE public.{table} SET tsv = to_tsvector('simple', 'changed') WHERE id = 250"
        ))
        .unwrap();
        let path = write_spec(
            dir.path(),
            "types.yaml",
            &spec(db, db, &format!("  - name: public.{table}\n")),
        );
        hypermove()
            .args(["verify", "--diff", "1", path.to_str().unwrap()])
            .assert()
            .code(3)
            .stdout(predicate::str::contains("changed, key (250)"));
    }
}

/// `--diff` reads the source in the snapshot the verdict was measured in: a row
/// committed on the source after that snapshot, before the diff reads, is not listed.
#[test]
fn the_diff_reads_the_source_in_the_verification_snapshot() {
    let db = "hm_verify_diff_snapshot";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE TABLE public.items (id int PRIMARY KEY, v int NOT NULL);
         INSERT INTO public.items SELECT i, i FROM generate_series(1, 100) AS i;",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let path = write_spec(
        dir.path(),
        "items.yaml",
        &spec(db, db, "  - name: public.items\n"),
    );
    let spec = path.to_str().unwrap();
    hypermove()
        .args(["apply", "--yes", "--verify", "count", spec])
        .assert()
        .success();
    // The damage the verdict finds.
    dst.batch_execute("UPDATE public.items SET v = -1 WHERE id = 50")
        .unwrap();

    // A source write whose transaction is open when verify takes its snapshot, and
    // commits while verify is held up on the target: after the snapshot, before the diff.
    let mut writer = connect(SOURCE_PORT, db);
    let mut write = writer.transaction().unwrap();
    write
        .batch_execute("INSERT INTO public.items VALUES (1000, 1000)")
        .unwrap();
    let mut locker = connect(TARGET_PORT, db);
    let mut lock = locker.transaction().unwrap();
    lock.batch_execute("LOCK TABLE public.items IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("hypermove"))
        .args(["verify", "--diff", "10", spec])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start hypermove");
    // Verify waits for the lock only after its snapshot was exported (it reads the
    // target once the source's snapshot is open).
    let mut watcher = connect(TARGET_PORT, db);
    let waiting = "SELECT count(*)::text FROM pg_locks
                    WHERE relation = 'public.items'::regclass AND NOT granted";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while scalar(&mut watcher, waiting) == "0" {
        assert!(
            std::time::Instant::now() < deadline,
            "verify never waited for the target's table"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    write.commit().unwrap();
    lock.rollback().unwrap();
    let out = child.wait_with_output().expect("hypermove ran");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("changed, key (50)\n    source: (50,50)\n    target: (50,-1)\n"),
        "{stdout}"
    );
    // The row is there now, but not in the snapshot the verdict was measured in.
    assert_eq!(
        scalar(&mut src, "SELECT count(*)::text FROM public.items"),
        "101"
    );
    assert!(!stdout.contains("(1000,1000)"), "{stdout}");
    assert!(!stdout.contains("missing on target"), "{stdout}");
}

/// A large plain table is copied whole but checked by ranges of its integer key, in
/// parallel; a damaged row fails its range only, and `--diff` lists it there.
#[test]
fn a_large_plain_table_is_checked_by_key_ranges() {
    let db = "hm_verify_keys";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE TABLE public.big (id bigint PRIMARY KEY, v text);
         INSERT INTO public.big SELECT i, 'v' || i FROM generate_series(1, 600000) AS i;
         ANALYZE public.big;",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let path = write_spec(
        dir.path(),
        "big.yaml",
        &spec(db, db, "  - name: public.big\n"),
    );
    let spec = path.to_str().unwrap();
    hypermove()
        .args(["apply", "--yes", spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   public.big: 3 windows, 600000 source rows, checksum matches",
        ));
    dst.batch_execute("UPDATE public.big SET v = 'changed' WHERE id = 300000")
        .unwrap();
    let out = hypermove()
        .args(["verify", "--diff", "2", spec])
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("FAIL verify:public.big:id=200001..400001:"),
        "{out}"
    );
    assert_eq!(out.matches("FAIL verify:").count(), 1, "{out}");
    assert!(
        out.contains("Verification (checksum) FAILED: 1 of 3 windows differ."),
        "{out}"
    );
    assert!(
        out.contains(
            "Differences in verify:public.big:id=200001..400001:\n  changed, key (300000)"
        ),
        "{out}"
    );
}
