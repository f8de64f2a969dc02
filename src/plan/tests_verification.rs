//! The planner's verification checks: what each check reads on each side, and how
//! a plain table's checks are cut by key. No database.

use super::StepKind;
use super::testkit::*;
use crate::spec::VerifyLevel;

fn with_hypertable(block: &str) -> String {
    format!("  - name: public.t\n    hypertable: {block}\n")
}

#[test]
fn a_checksum_check_hashes_the_copied_rows_and_counts_the_source_through_its_table() {
    let s = spec(
        "",
        &with_hypertable("{time_column: time, chunk_time_interval: 2 days}"),
    );
    let p = plan(&s, &inputs(&s, vec![hyper("public.t", 1, 3)]));
    let range = "public.t:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z";
    let checked = probe(&p, &format!("verify:{range}"));
    assert_eq!(checked.columns, vec!["rows", "checksum"]);
    let read = checked.rows_read.as_ref().expect("rows read at checksum");
    // The source's hash is the copy's own, kept in its journal row ...
    assert_eq!(
        read.copied_by.as_deref(),
        Some(format!("copy:{range}").as_str())
    );
    // ... so the source is counted another way: through the table, never the chunk.
    let through_table = "FROM \"public\".\"t\" WHERE \"time\" >= '2025-01-01 00:00:00.000000+00'::timestamptz AND \"time\" < '2025-01-02 00:00:00.000000+00'::timestamptz";
    assert_eq!(
        checked.source_sql,
        format!("SELECT count(*)::text {through_table}")
    );
    let crate::plan::Action::Copy(copy) = &step(&p, &format!("copy:{range}")).action else {
        panic!("not a copy")
    };
    assert!(
        !copy.source_sql.contains(through_table),
        "{}",
        copy.source_sql
    );
    // Both sides are read in the copy's own columns and format, so equal rows hash
    // equally; the source through its table when no hash was kept.
    let cols = "\"time\", \"other\", \"device\", \"value\"";
    assert_eq!(
        read.source_copy,
        format!("COPY (SELECT {cols} {through_table}) TO STDOUT (FORMAT binary)")
    );
    assert!(
        copy.source_sql
            .starts_with(&format!("COPY (SELECT {cols} FROM "))
    );
    assert!(read.target_copy.ends_with("TO STDOUT (FORMAT binary)"));
    // `checksum-sql` asks the servers instead, and reads no rows.
    let s = spec(
        "verify: checksum-sql\n",
        &with_hypertable("{time_column: time, chunk_time_interval: 2 days}"),
    );
    let p = plan(&s, &inputs(&s, vec![hyper("public.t", 1, 3)]));
    let checked = probe(&p, &format!("verify:{range}"));
    assert!(checked.rows_read.is_none());
    assert!(
        checked.source_sql.contains("md5(ROW("),
        "{}",
        checked.source_sql
    );
}

#[test]
fn a_large_plain_table_is_checked_by_ranges_of_its_integer_key() {
    let s = spec("", "  - name: public.p\n");
    let mut table = crate::plan::testkit::plain("public.p", 1);
    table.constraints.push(primary_key("p_pkey", &["device"]));
    table.est_rows = Some(1_000_000);
    let mut i = inputs(&s, vec![table.clone()]);
    i.key_ranges = vec![Some((1, 1_000_000))];
    let p = plan(&s, &i);
    // One copy, whose record does not depend on the ranges; four checks after it.
    assert_eq!(ids(&p, StepKind::Copy), vec!["copy:public.p"]);
    let checks = ids(&p, StepKind::Verify);
    assert_eq!(
        checks,
        vec![
            "verify:public.p:device=-inf..250001",
            "verify:public.p:device=250001..500001",
            "verify:public.p:device=500001..750001",
            "verify:public.p:device=750001..+inf",
        ]
    );
    for id in &checks {
        assert!(waits_for(&p, id, "copy:public.p"), "{id}");
    }
    // Open at both ends: a row of either side with any key is in one range.
    let first = probe(&p, &checks[0]);
    assert!(
        first.target_sql.ends_with("WHERE \"device\" < 250001"),
        "{}",
        first.target_sql
    );
    let last = probe(&p, &checks[3]);
    assert!(
        last.target_sql.ends_with("WHERE \"device\" >= 750001"),
        "{}",
        last.target_sql
    );
    // Each range reads both sides (the copy's hash covers the whole table).
    let read = first.rows_read.as_ref().unwrap();
    assert!(read.copied_by.is_none());
    assert!(
        read.source_copy
            .contains("FROM \"public\".\"p\" WHERE \"device\" < 250001")
    );
    // `verify` cuts the same ranges.
    i.target_present.insert(qn("public.p"));
    let v = crate::plan::build_verification(&s, &i, VerifyLevel::Checksum).unwrap();
    let mut verify_ids: Vec<String> = v.graph.node_weights().map(|s| s.id.clone()).collect();
    verify_ids.sort();
    assert_eq!(verify_ids, checks);

    // A small table, one without an integer key, or an empty one: one check.
    for (rows, key, range) in [
        (100_000, "device", Some((1, 100_000))),
        (1_000_000, "time", Some((1, 1_000_000))),
        (1_000_000, "device", None),
    ] {
        let mut t = table.clone();
        t.est_rows = Some(rows);
        t.constraints = vec![primary_key("p_pkey", &[key])];
        let mut i = inputs(&s, vec![t]);
        i.key_ranges = vec![range];
        assert_eq!(
            ids(&plan(&s, &i), StepKind::Verify),
            vec!["verify:public.p"]
        );
    }
}

#[test]
fn a_check_that_reads_both_sides_compares_generated_columns_too() {
    let s = spec(
        "",
        &with_hypertable("{time_column: time, chunk_time_interval: 2 days}"),
    );
    let mut table = hyper("public.t", 1, 3);
    let mut doubled = column("doubled", 701, "double precision");
    doubled.generated = Some("(value * 2)".into());
    table.columns.push(doubled);
    let mut i = inputs(&s, vec![table]);
    let range = "public.t:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z";
    // The copy leaves generated columns out (the target computes them), and so does
    // the check that compares with the copy's hash ...
    let p = plan(&s, &i);
    let read = probe(&p, &format!("verify:{range}"))
        .rows_read
        .clone()
        .unwrap();
    assert!(
        !read.target_copy.contains("\"doubled\""),
        "{}",
        read.target_copy
    );
    assert!(
        !read.source_copy.contains("\"doubled\""),
        "{}",
        read.source_copy
    );
    // ... but `verify` reads both sides, so it compares what each computed.
    i.target_present.insert(qn("public.t"));
    let v = crate::plan::build_verification(&s, &i, VerifyLevel::Checksum).unwrap();
    let read = probe(&v, &format!("verify:{range}"))
        .rows_read
        .clone()
        .unwrap();
    assert!(
        read.target_copy.contains(", \"doubled\" FROM"),
        "{}",
        read.target_copy
    );
    assert!(
        read.source_copy.contains(", \"doubled\" FROM"),
        "{}",
        read.source_copy
    );
}
