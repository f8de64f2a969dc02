//! `backup` and `restore` of a compressed hypertable on the full pair (2.19/PG17 →
//! 2.29/PG18): the manifest records the compression settings, the policies and which
//! source chunks and windows were compressed (format 2), and the restore compresses
//! as a live move does: re-chunked, each target slice wholly in the compressed range
//! compressed as its files land, the policies recreated, `verify:<t>:compression`
//! checked. A format-1 manifest (written before compression was recorded) still
//! restores, uncompressed; a `compression:` block in the restore spec changes the
//! settings; an Apache target is refused or, with `on_unsupported: warn`, takes the
//! rows uncompressed.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use predicates::prelude::*;

/// 20 days of minutes for 10 devices in 1-day chunks, the 15 oldest compressed
/// (segmented by device, newest first), with an index, a foreign key, and compression
/// and retention policies whose thresholds keep them from ever acting on 2025's rows.
const FIXTURE: &str = include_str!("fixtures/compression/metrics.sql");

/// Every row of the table, in one digest.
const DIGEST: &str = "SELECT count(*) || ' ' || md5(string_agg(format('%s|%s|%s|%s', time, device_id, value, note), ',' ORDER BY time, device_id)) FROM public.metrics";

/// Compression settings as TimescaleDB reports them.
const SETTINGS: &str = "SELECT coalesce(string_agg(format('%s|%s', coalesce(segmentby, ''), coalesce(orderby, '')), ';'), '') FROM timescaledb_information.hypertable_compression_settings WHERE hypertable = 'public.metrics'::regclass";

/// The policies: kind, threshold and schedule; empty when there are none.
const POLICIES: &str = "SELECT coalesce(string_agg(format('%s %s %s', proc_name, coalesce(config ->> 'compress_after', config ->> 'drop_after'), schedule_interval), '; ' ORDER BY proc_name), '') FROM timescaledb_information.jobs WHERE hypertable_name = 'metrics'";

/// The source's compressed chunks, as the manifest names them.
const COMPRESSED_CHUNKS: &str = "SELECT string_agg(chunk_schema || '.' || chunk_name, ',' ORDER BY range_start) FROM timescaledb_information.chunks WHERE hypertable_name = 'metrics' AND is_compressed";

/// The restore's new partitioning: 7-day chunks.
const SEVEN_DAYS: &str =
    "    hypertable:\n      time_column: time\n      chunk_time_interval: 7 days\n";

/// The target's chunks as (start, compressed), by time.
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

/// 7-day slices start on Thursdays (aligned to the Unix epoch): 2024-12-26, 01-02,
/// 01-09, 01-16. The source's compressed days are 01-01 to 01-15, so the first three
/// slices lie wholly in them and end compressed; the slice of 01-16 holds the
/// uncompressed days and stays so.
fn seven_day_chunks(compressed: bool) -> Vec<(String, bool)> {
    [
        ("2024-12-26 00:00:00+00", compressed),
        ("2025-01-02 00:00:00+00", compressed),
        ("2025-01-09 00:00:00+00", compressed),
        ("2025-01-16 00:00:00+00", false),
    ]
    .iter()
    .map(|(s, c)| (s.to_string(), *c))
    .collect()
}

/// The fixture on the 2.19 server in `db`, backed up into `DIR/backup`.
fn backed_up(dir: &Path, db: &str) -> (postgres::Client, PathBuf) {
    let mut src = fresh_db(FULL_SOURCE_PORT, db);
    src.batch_execute(FIXTURE).unwrap();
    let out = dir.join("backup");
    let spec = write_spec(
        dir,
        "backup.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {{directory: {}}}\ntables:\n  - name: public.devices\n  - name: public.metrics\n",
            url(FULL_SOURCE_PORT, db),
            out.display()
        ),
    );
    hypermove().arg("backup").arg(&spec).assert().success();
    (src, out)
}

/// A restore spec from `backup` into `db` on `port`.
fn restore_spec(
    dir: &Path,
    name: &str,
    backup: &Path,
    port: u16,
    db: &str,
    extra: &str,
    table: &str,
) -> String {
    write_spec(
        dir,
        name,
        &format!(
            "version: 1\nsource: {{directory: {}}}\ntarget: {}\nverify: checksum\n{extra}tables:\n  - name: public.devices\n  - name: public.metrics\n{table}",
            backup.display(),
            url(port, db)
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

fn read_manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// stdout and stderr of a finished command, for messages.
fn output(o: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn backup_of_a_compressed_hypertable_then_restore_into_2_29_ends_compressed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut src, backup) = backed_up(dir.path(), "hm_carc_src");

    // The manifest records the settings, the policies and the compressed chunks and
    // windows, in format 2.
    let m = read_manifest(&backup);
    assert_eq!(m["format_version"], 2);
    let tables = m["tables"].as_array().unwrap();
    assert!(
        tables[0].get("columnstore").is_none(),
        "devices is a plain table"
    );
    let cs = &tables[1]["columnstore"];
    assert_eq!(
        cs["settings"]["segment_by"],
        serde_json::json!(["device_id"])
    );
    assert_eq!(cs["settings"]["order_by"], "\"time\" DESC");
    let policies: Vec<String> = cs["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {} {}",
                p["kind"], p["after"]["interval"], p["schedule_interval"]
            )
        })
        .collect();
    assert_eq!(
        policies,
        [
            "\"compression\" \"100 years\" \"06:00:00\"",
            "\"retention\" \"200 years\" \"1 day\""
        ]
    );
    let recorded: Vec<String> = cs["compressed_chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}.{}",
                c["schema"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(recorded.len(), 15);
    assert_eq!(recorded.join(","), scalar(&mut src, COMPRESSED_CHUNKS));
    let flags: Vec<bool> = tables[1]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["source_compressed"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(flags.len(), 20);
    assert!(
        flags[..15].iter().all(|c| *c) && flags[15..].iter().all(|c| !c),
        "{flags:?}"
    );
    // schema.sql holds the settings and the policies, but no compress_chunk: that acts
    // on rows, as they land.
    let schema = std::fs::read_to_string(backup.join("schema.sql")).unwrap();
    assert!(schema.contains("-- compression:public.metrics"), "{schema}");
    assert!(
        schema.contains("-- policy:public.metrics:compression"),
        "{schema}"
    );
    assert!(!schema.contains("compress_chunk"), "{schema}");

    // Restore into 2.29 with 7-day chunks: the plan compresses as a live move would.
    let mut dst = fresh_db(FULL_TARGET_PORT, "hm_carc_dst");
    let spec = restore_spec(
        dir.path(),
        "restore.yaml",
        &backup,
        FULL_TARGET_PORT,
        "hm_carc_dst",
        "",
        SEVEN_DAYS,
    );
    hypermove()
        .args(["plan", &spec])
        .assert()
        .success()
        .stdout(predicate::str::contains("(20 chunks, 15 compressed)"))
        .stdout(predicate::str::contains(
            "compression: segment_by device_id, order_by \"time\" DESC; compress after 100 years; drop after 200 years",
        ))
        .stdout(predicate::str::contains("(3 slices compressed as they fill)"))
        .stdout(predicate::str::contains("+ compress:public.metrics:2024-12-26T00:00:00Z..2025-01-02T00:00:00Z"))
        .stdout(predicate::str::contains("not carried").not());
    let restored = hypermove()
        .args(["restore", "--yes", &spec])
        .output()
        .unwrap();
    let text = output(&restored);
    assert!(restored.status.success(), "{text}");
    assert!(
        text.contains("ok   public.metrics: 20 windows, 28800 source rows, checksum-sql matches, compression as planned"),
        "{text}"
    );
    assert!(text.contains("verify:public.metrics:compression"), "{text}");
    assert_eq!(scalar(&mut src, DIGEST), scalar(&mut dst, DIGEST));
    assert_eq!(
        scalar(&mut src, "SELECT count(*)::text FROM public.devices"),
        scalar(&mut dst, "SELECT count(*)::text FROM public.devices")
    );
    assert_eq!(scalar(&mut src, SETTINGS), scalar(&mut dst, SETTINGS));
    assert_eq!(scalar(&mut dst, SETTINGS), "device_id|\"time\" DESC");
    assert_eq!(scalar(&mut src, POLICIES), scalar(&mut dst, POLICIES));
    assert_eq!(chunks(&mut dst), seven_day_chunks(true));
    // The foreign key came along and holds on the compressed hypertable.
    assert!(
        dst.batch_execute("INSERT INTO public.metrics VALUES ('2025-03-01', 42, 1, 'x')")
            .is_err()
    );
}

/// A manifest without the compression record (format 1, as hypermove wrote before it
/// recorded compression) still loads and restores, uncompressed and without policies,
/// and the plan says why. The manifest keeps no hash of itself (only of schema.sql
/// and the data files, which are unchanged), so editing it needs no fix-up.
#[test]
fn a_format_1_manifest_still_restores_uncompressed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut src, backup) = backed_up(dir.path(), "hm_carc_old_src");
    let mut m = read_manifest(&backup);
    m["format_version"] = 1.into();
    for t in m["tables"].as_array_mut().unwrap() {
        t.as_object_mut().unwrap().remove("columnstore");
        for f in t["files"].as_array_mut().unwrap() {
            f.as_object_mut().unwrap().remove("source_compressed");
        }
    }
    let write = |m: &serde_json::Value| {
        std::fs::write(
            backup.join("manifest.json"),
            serde_json::to_string_pretty(m).unwrap(),
        )
        .unwrap()
    };
    write(&m);

    let mut dst = fresh_db(FULL_TARGET_PORT, "hm_carc_old_dst");
    let spec = restore_spec(
        dir.path(),
        "restore.yaml",
        &backup,
        FULL_TARGET_PORT,
        "hm_carc_old_dst",
        "",
        SEVEN_DAYS,
    );
    let restored = hypermove()
        .args(["restore", "--yes", &spec])
        .output()
        .unwrap();
    let text = output(&restored);
    assert!(restored.status.success(), "{text}");
    // Its catalog still shows the source's compression: the plan says it is not restored.
    assert!(
        text.contains("public.metrics: restored uncompressed and without its policies: the backup's manifest does not record which chunks were compressed"),
        "{text}"
    );
    assert!(text.contains("checksum-sql matches"), "{text}");
    assert!(
        !text.contains("verify:public.metrics:compression"),
        "{text}"
    );
    assert_eq!(scalar(&mut src, DIGEST), scalar(&mut dst, DIGEST));
    assert_eq!(chunks(&mut dst), seven_day_chunks(false));
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT compression_enabled::text FROM timescaledb_information.hypertables WHERE hypertable_name = 'metrics'"
        ),
        "false"
    );
    assert_eq!(scalar(&mut dst, POLICIES), "");

    // A manifest from before compression was read at all has nothing to warn about.
    for t in m["catalog"]["tables"].as_array_mut().unwrap() {
        if let Some(h) = t["hypertable"].as_object_mut() {
            h.remove("compression");
            h.remove("policies");
        }
    }
    write(&m);
    let again = restore_spec(
        dir.path(),
        "again.yaml",
        &backup,
        FULL_TARGET_PORT,
        "hm_carc_old_dst2",
        "",
        SEVEN_DAYS,
    );
    fresh_db(FULL_TARGET_PORT, "hm_carc_old_dst2");
    hypermove()
        .args(["plan", &again])
        .assert()
        .success()
        .stdout(predicate::str::contains("(20 chunks)"))
        .stdout(predicate::str::contains("restored uncompressed").not())
        .stdout(predicate::str::contains("compress:").not());

    // A format this hypermove does not know is refused by name.
    m["format_version"] = 3.into();
    write(&m);
    hypermove()
        .args(["restore", "--yes", &again])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "manifest format 3 is not a format this hypermove reads (1 to 2)",
        ));
}

/// A `compression:` block in the restore spec changes the settings: the target
/// re-compresses the source's compressed range with them, and the policy's threshold
/// is the spec's.
#[test]
fn a_compression_block_in_the_restore_spec_changes_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let (mut src, backup) = backed_up(dir.path(), "hm_carc_new_src");
    let mut dst = fresh_db(FULL_TARGET_PORT, "hm_carc_new_dst");
    let spec = restore_spec(
        dir.path(),
        "restore.yaml",
        &backup,
        FULL_TARGET_PORT,
        "hm_carc_new_dst",
        "",
        &format!(
            "{SEVEN_DAYS}    compression:\n      segment_by: [note]\n      order_by: time ASC\n      compress_after: 18250 days\n"
        ),
    );
    let restored = hypermove()
        .args(["restore", "--yes", &spec])
        .output()
        .unwrap();
    let text = output(&restored);
    assert!(restored.status.success(), "{text}");
    assert!(
        text.contains("checksum-sql matches, compression as planned"),
        "{text}"
    );
    assert_eq!(scalar(&mut src, DIGEST), scalar(&mut dst, DIGEST));
    assert_eq!(scalar(&mut dst, SETTINGS), "note|\"time\"");
    assert_eq!(
        scalar(&mut dst, POLICIES),
        "policy_compression 18250 days 06:00:00; policy_retention 200 years 1 day"
    );
    assert_eq!(chunks(&mut dst), seven_day_chunks(true));
}

/// An Apache-only target cannot compress: the restore is refused by name with the
/// target's license, nothing written; with `on_unsupported: warn` the rows arrive
/// uncompressed and the plan says so.
#[test]
fn an_apache_target_refuses_the_compressed_restore_or_takes_it_uncompressed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut src, backup) = backed_up(dir.path(), "hm_carc_apache_src");
    let mut dst = fresh_db(TARGET_PORT, "hm_carc_apache_dst");
    let before = catalog_snapshot(&mut dst);
    let refused = restore_spec(
        dir.path(),
        "refused.yaml",
        &backup,
        TARGET_PORT,
        "hm_carc_apache_dst",
        "",
        "",
    );
    hypermove()
        .args(["restore", "--yes", &refused])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "tables[1] (public.metrics): it is compressed on the source and has a retention policy, but compression and policies on the target need TimescaleDB's community edition, and the target's is licensed `apache`",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
    let warned = restore_spec(
        dir.path(),
        "warned.yaml",
        &backup,
        TARGET_PORT,
        "hm_carc_apache_dst",
        "on_unsupported: warn\n",
        "",
    );
    let restored = hypermove()
        .args(["restore", "--yes", &warned])
        .output()
        .unwrap();
    let text = output(&restored);
    assert!(restored.status.success(), "{text}");
    assert!(
        text.contains("public.metrics: moved uncompressed and without its policies"),
        "{text}"
    );
    assert!(text.contains("checksum-sql matches"), "{text}");
    assert_eq!(scalar(&mut src, DIGEST), scalar(&mut dst, DIGEST));
    assert!(chunks(&mut dst).iter().all(|(_, c)| !c));
    assert_eq!(scalar(&mut dst, POLICIES), "");
}
