//! Compressed hypertables move compressed: the source's settings (or the spec's),
//! the compressed part of the source compressed on the target slice by slice,
//! re-chunked and re-partitioned, the policies recreated; a target that cannot
//! compress is refused by name, or takes the rows uncompressed with
//! `on_unsupported: warn`. On the full builds: 2.19/PG17 → 2.29/PG18 and 2.19 → 2.19.

mod common;

use common::*;
use predicates::prelude::*;

/// 20 days of minutes for 10 devices in 1-day chunks, the 15 oldest compressed
/// (segmented by device, newest first), with an index, a foreign key, and
/// compression and retention policies whose thresholds keep them from acting on
/// 2025's rows (a policy that ran would change what the test expects).
const FIXTURE: &str = include_str!("fixtures/compression/metrics.sql");

/// Every row of the table, in one digest.
const DIGEST: &str = "SELECT count(*) || ' ' || md5(string_agg(format('%s|%s|%s|%s', time, device_id, value, note), ',' ORDER BY time, device_id)) FROM public.metrics";

/// Compression settings as TimescaleDB reports them.
const SETTINGS: &str = "SELECT format('%s|%s', coalesce(segmentby, ''), coalesce(orderby, '')) FROM timescaledb_information.hypertable_compression_settings WHERE hypertable = 'public.metrics'::regclass";

/// The policies: kind, threshold and schedule.
const POLICIES: &str = "SELECT string_agg(format('%s %s %s', proc_name, coalesce(config ->> 'compress_after', config ->> 'drop_after'), schedule_interval), '; ' ORDER BY proc_name) FROM timescaledb_information.jobs WHERE hypertable_name = 'metrics'";

fn spec(dir: &std::path::Path, from: u16, to: u16, db: &str, extra: &str, table: &str) -> String {
    write_spec(
        dir,
        "compressed.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\nverify: checksum\n{extra}tables:\n  - name: public.devices\n  - name: public.metrics\n{table}",
            url(from, db),
            url(to, db)
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

const RECHUNKED: &str = "    hypertable:\n      time_column: time\n      chunk_time_interval: 7 days\n      partitioning_column: device_id\n      number_partitions: 2\n";

/// The target's chunks as `start compressed` lines, by time then name.
fn chunks(client: &mut postgres::Client) -> Vec<(String, bool)> {
    client
        .query(
            "SELECT range_start::text, is_compressed FROM timescaledb_information.chunks
              WHERE hypertable_name = 'metrics' ORDER BY range_start, chunk_name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn rechunked_move_keeps_compression(from: u16, to: u16, db: &str) {
    let mut src = fresh_db(from, db);
    src.batch_execute(FIXTURE).unwrap();
    let mut dst = fresh_db(to, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), from, to, db, "", RECHUNKED);
    hypermove()
        .args(["plan", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains("(20 chunks, 15 compressed)"))
        .stdout(predicate::str::contains(
            "compression: segment_by device_id, order_by \"time\" DESC; compress after 100 years; drop after 200 years",
        ))
        .stdout(predicate::str::contains("(3 slices compressed as they fill)"))
        .stdout(predicate::str::contains("not carried").not());
    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   public.metrics: 20 windows, 28800 source rows, checksum matches",
        ));
    assert_eq!(scalar(&mut src, DIGEST), scalar(&mut dst, DIGEST));
    assert_eq!(scalar(&mut src, SETTINGS), scalar(&mut dst, SETTINGS));
    assert_eq!(scalar(&mut src, POLICIES), scalar(&mut dst, POLICIES));
    // 7-day slices start on Thursdays (aligned to the Unix epoch): 2024-12-26, 01-02,
    // 01-09, 01-16. The source's compressed days are 01-01 to 01-15, so the first
    // three slices lie wholly in them and end compressed; the slice of 01-16 holds
    // the uncompressed days and stays so. Each slice has 2 hash partitions.
    let got = chunks(&mut dst);
    let expected: Vec<(String, bool)> = [
        ("2024-12-26 00:00:00+00", true),
        ("2025-01-02 00:00:00+00", true),
        ("2025-01-09 00:00:00+00", true),
        ("2025-01-16 00:00:00+00", false),
    ]
    .iter()
    .flat_map(|(s, c)| [(s.to_string(), *c), (s.to_string(), *c)])
    .collect();
    assert_eq!(got, expected);
    // Keys came along: the FK holds on the compressed hypertable.
    assert!(
        dst.batch_execute("INSERT INTO public.metrics VALUES ('2025-03-01', 42, 1, 'x')")
            .is_err()
    );
    // `verify` checks the compression too.
    hypermove()
        .args(["verify", &spec])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("verify:public.metrics:compression")
                .or(predicate::str::contains("windows match")),
        );
}

#[test]
fn a_compressed_hypertable_moves_compressed_re_chunked_from_2_19_to_2_29() {
    rechunked_move_keeps_compression(FULL_SOURCE_PORT, FULL_TARGET_PORT, "hm_comp_up");
}

/// The same within 2.19: a target that refuses foreign keys on compressed chunks
/// (they are added before the data).
#[test]
fn a_compressed_hypertable_moves_compressed_between_2_19_servers() {
    let db = "hm_comp_same";
    let mut admin = connect(FULL_SOURCE_PORT, "postgres");
    admin
        .batch_execute("DROP DATABASE IF EXISTS hm_comp_same_target WITH (FORCE)")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE hm_comp_same_target")
        .unwrap();
    let mut src = fresh_db(FULL_SOURCE_PORT, db);
    src.batch_execute(FIXTURE).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "same.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\nverify: checksum\ntables:\n  - name: public.devices\n  - name: public.metrics\n{RECHUNKED}",
            url(FULL_SOURCE_PORT, db),
            url(FULL_SOURCE_PORT, "hm_comp_same_target")
        ),
    )
    .to_str()
    .unwrap()
    .to_string();
    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   public.metrics: 20 windows, 28800 source rows, checksum matches",
        ));
    let mut dst = connect(FULL_SOURCE_PORT, "hm_comp_same_target");
    assert_eq!(scalar(&mut src, DIGEST), scalar(&mut dst, DIGEST));
    assert_eq!(scalar(&mut src, SETTINGS), scalar(&mut dst, SETTINGS));
    let compressed = chunks(&mut dst).iter().filter(|(_, c)| *c).count();
    assert_eq!(compressed, 6);
}

/// "Reorganise while moving": a new segmentby and orderby re-compress on the way.
#[test]
fn new_settings_in_the_spec_recompress_on_the_way() {
    let db = "hm_comp_new";
    let mut src = fresh_db(FULL_SOURCE_PORT, db);
    src.batch_execute(FIXTURE).unwrap();
    let mut dst = fresh_db(FULL_TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(
        dir.path(),
        FULL_SOURCE_PORT,
        FULL_TARGET_PORT,
        db,
        "",
        "    compression:\n      segment_by: [note]\n      order_by: time ASC\n",
    );
    hypermove()
        .args(["apply", "--yes", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains("checksum matches"));
    assert_eq!(scalar(&mut src, DIGEST), scalar(&mut dst, DIGEST));
    assert_eq!(scalar(&mut dst, SETTINGS), "note|\"time\"");
    // The source's 1-day chunks are kept: its 15 compressed days arrive compressed.
    let compressed = chunks(&mut dst).iter().filter(|(_, c)| *c).count();
    assert_eq!(compressed, 15);
}

/// An Apache-only target cannot compress: refused by name with its license, nothing
/// written; with `on_unsupported: warn` the rows go uncompressed and the plan says so.
#[test]
fn an_apache_target_is_refused_or_takes_the_rows_uncompressed() {
    let db = "hm_comp_apache";
    let mut src = fresh_db(FULL_SOURCE_PORT, db);
    src.batch_execute(FIXTURE).unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let refused = spec(dir.path(), FULL_SOURCE_PORT, TARGET_PORT, db, "", "");
    hypermove()
        .args(["apply", "--yes", &refused])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "tables[1] (public.metrics): it is compressed on the source and has a retention policy, but compression and policies on the target need TimescaleDB's community edition, and the target's is licensed `apache`",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
    let warned = spec(
        dir.path(),
        FULL_SOURCE_PORT,
        TARGET_PORT,
        db,
        "on_unsupported: warn\n",
        "",
    );
    hypermove()
        .args(["apply", "--yes", &warned])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "public.metrics: moved uncompressed and without its policies",
        ))
        .stdout(predicate::str::contains("checksum matches"));
    assert_eq!(scalar(&mut src, DIGEST), scalar(&mut dst, DIGEST));
    assert!(chunks(&mut dst).iter().all(|(_, c)| !c));
}

/// `init` writes the source's compression into the spec, and the spec it writes
/// plans the move with the settings unchanged.
#[test]
fn init_writes_the_compression_it_reads() {
    let db = "hm_comp_init";
    let mut src = fresh_db(FULL_SOURCE_PORT, db);
    src.batch_execute(FIXTURE).unwrap();
    fresh_db(FULL_TARGET_PORT, db);
    let out = hypermove()
        .args([
            "init",
            "--source",
            &url(FULL_SOURCE_PORT, db),
            "--target",
            &url(FULL_TARGET_PORT, db),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "    compression:   # 15 of 20 chunks compressed; edit to re-compress on the way\n      segment_by: [\"device_id\"]\n      order_by: \"\\\"time\\\" DESC\"\n      compress_after: \"100 years\"\n"
        ),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "init.yaml", &text);
    hypermove()
        .args(["plan", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "compression: segment_by device_id, order_by \"time\" DESC; compress after 100 years; drop after 200 years\n           → segment_by device_id, order_by \"time\" DESC; compress after 100 years; drop after 200 years",
        ));
}
