//! Compressed hypertables: settings before the data, a `compress:` step per target
//! slice wholly in the source's compressed range once its windows have landed, keys
//! and indexes before the data, policies after everything, and the refusal of a
//! target that cannot compress. No database.

use super::StepKind;
use super::testkit::*;
use crate::catalog::{Compression, JobPolicy, JobPolicyAfter, JobPolicyKind, Table};

const T: &str =
    "  - name: public.t\n    hypertable: {time_column: time, chunk_time_interval: 7 days}\n";

/// `public.t`: 10 daily chunks from 2025-01-01, the first `compressed` of them
/// compressed, segmented by `device`, with a compression and a retention policy.
fn compressed_table(compressed: usize) -> Table {
    let mut t = hyper("public.t", 1, 10);
    t.columns.push(column("device", 23, "integer"));
    let h = t.hypertable.as_mut().unwrap();
    for c in h.chunks.iter_mut().take(compressed) {
        c.compressed = true;
    }
    h.compression = Some(Compression {
        segment_by: vec!["device".into()],
        order_by: "\"time\" DESC".into(),
        chunk_interval: None,
    });
    h.policies = vec![
        JobPolicy {
            kind: JobPolicyKind::Retention,
            job_id: 1001,
            after: JobPolicyAfter::Interval("1 year".into()),
            schedule_interval: "1 day".into(),
            scheduled: true,
            other_settings: Vec::new(),
        },
        JobPolicy {
            kind: JobPolicyKind::Compression,
            job_id: 1000,
            after: JobPolicyAfter::Interval("7 days".into()),
            schedule_interval: "12:00:00".into(),
            scheduled: false,
            other_settings: Vec::new(),
        },
    ];
    t
}

/// Inputs whose target is TimescaleDB's community edition, 2.29.
fn community(s: &crate::spec::Spec, tables: Vec<Table>) -> super::Inputs {
    let mut i = inputs(s, tables);
    i.target_server.timescaledb_license = Some("timescale".into());
    i.target_server.timescaledb = Some("2.29.2".into());
    i
}

#[test]
fn slices_wholly_in_the_compressed_range_are_compressed_as_soon_as_their_windows_land() {
    let s = spec("verify: checksum\n", T);
    // Days 1–7 compressed: 7-day slices start on Thursdays (aligned to the Unix
    // epoch), so only the slice of 2024-12-26..2025-01-02 holds compressed days alone.
    let p = plan(&s, &community(&s, vec![compressed_table(7)]));
    let slice = "compress:public.t:2024-12-26T00:00:00Z..2025-01-02T00:00:00Z";
    assert_eq!(ids(&p, StepKind::Compress), vec![slice]);
    let first_day = "public.t:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z";
    assert!(waits_for(&p, slice, &format!("copy:{first_day}")));
    // Its check reads the slice as it ends: compressed.
    assert!(waits_for(&p, &format!("verify:{first_day}"), slice));
    assert!(!waits_for(
        &p,
        slice,
        "copy:public.t:2025-01-02T00:00:00Z..2025-01-03T00:00:00Z"
    ));
    assert!(sql(&p, slice).contains("compress_chunk("));
    // All ten compressed: every slice that holds them.
    let p = plan(&s, &community(&s, vec![compressed_table(10)]));
    assert_eq!(
        ids(&p, StepKind::Compress),
        vec![
            slice,
            "compress:public.t:2025-01-02T00:00:00Z..2025-01-09T00:00:00Z",
            "compress:public.t:2025-01-09T00:00:00Z..2025-01-16T00:00:00Z",
        ]
    );
    // The windows of a table compressed as it fills are copied in time order, and a
    // full slice is compressed before the next slice's windows are copied.
    let order: Vec<String> = p
        .order()
        .into_iter()
        .map(|n| p.graph[n].id.clone())
        .filter(|id| id.starts_with("copy:") || id.starts_with("compress:"))
        .collect();
    assert_eq!(order[0], format!("copy:{first_day}"));
    assert_eq!(order[1], slice);
    assert!(order.windows(2).all(|w| w[0] != w[1]));
}

#[test]
fn settings_come_before_the_data_in_the_target_versions_terms() {
    let s = spec("", T);
    let p = plan(&s, &community(&s, vec![compressed_table(3)]));
    assert_eq!(
        sql(&p, "compression:public.t"),
        "ALTER TABLE \"public\".\"t\" SET (timescaledb.enable_columnstore = true, timescaledb.segmentby = '\"device\"', timescaledb.orderby = '\"time\" DESC')"
    );
    assert!(waits_for(&p, "compression:public.t", "hypertable:public.t"));
    assert!(waits_for(
        &p,
        "copy:public.t:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z",
        "compression:public.t"
    ));
    // Before the columnstore API (2.18), its older names.
    let mut i = community(&s, vec![compressed_table(3)]);
    i.target_server.timescaledb = Some("2.17.2".into());
    assert!(sql(&plan(&s, &i), "compression:public.t").starts_with(
        "ALTER TABLE \"public\".\"t\" SET (timescaledb.compress = true, timescaledb.compress_segmentby = '\"device\"'"
    ));
}

#[test]
fn keys_come_after_the_data_and_its_compression_and_foreign_keys_before_it_on_2_19() {
    let s = spec("", &format!("  - name: public.d\n{T}"));
    let mut d = plain("public.d", 2);
    d.constraints.push(primary_key("d_pkey", &["id"]));
    let mut t = compressed_table(3);
    t.constraints
        .push(primary_key("t_pkey", &["device", "time"]));
    t.constraints.push(crate::catalog::Constraint {
        name: "t_d_fkey".into(),
        kind: crate::catalog::ConstraintKind::ForeignKey(crate::catalog::ForeignKey {
            ref_table: qn("public.d"),
            ref_columns: vec!["id".into()],
            on_delete: 'a',
            on_update: 'a',
            match_type: 's',
            deferrable: false,
            deferred: false,
        }),
        columns: vec!["device".into()],
        definition: "FOREIGN KEY (device) REFERENCES public.d(id)".into(),
    });
    let copy = "copy:public.t:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z";
    let slice = "compress:public.t:2024-12-26T00:00:00Z..2025-01-02T00:00:00Z";
    let p = plan(&s, &community(&s, vec![d.clone(), t.clone()]));
    assert!(waits_for(&p, "constraint:public.t.t_pkey", copy));
    assert!(waits_for(&p, "constraint:public.t.t_pkey", slice));
    assert!(waits_for(&p, "fk:public.t.t_d_fkey", slice));
    // TimescaleDB 2.19 refuses a foreign key on compressed chunks: it comes first,
    // once the table it references is loaded.
    let mut i = community(&s, vec![d, t]);
    i.target_server.timescaledb = Some("2.19.3".into());
    let p = plan(&s, &i);
    assert!(waits_for(&p, copy, "fk:public.t.t_d_fkey"));
    assert!(waits_for(&p, "fk:public.t.t_d_fkey", "copy:public.d"));
    assert!(waits_for(&p, "constraint:public.t.t_pkey", slice));
}

#[test]
fn policies_are_recreated_last_and_a_paused_one_stays_paused() {
    let s = spec("verify: count\n", T);
    let p = plan(&s, &community(&s, vec![compressed_table(3)]));
    assert_eq!(
        ids(&p, StepKind::Policy),
        vec!["policy:public.t:compression", "policy:public.t:retention"]
    );
    assert_eq!(
        sql(&p, "policy:public.t:compression"),
        "CALL \"public\".add_columnstore_policy('\"public\".\"t\"'::regclass, after => INTERVAL '7 days', schedule_interval => INTERVAL '12:00:00');\nSELECT \"public\".alter_job(j.job_id, scheduled => false) FROM timescaledb_information.jobs j WHERE j.hypertable_schema = 'public' AND j.hypertable_name = 't' AND j.proc_name = 'policy_compression'"
    );
    assert_eq!(
        sql(&p, "policy:public.t:retention"),
        "SELECT \"public\".add_retention_policy('\"public\".\"t\"'::regclass, drop_after => INTERVAL '1 year', schedule_interval => INTERVAL '1 day');\nSELECT \"public\".alter_job(j.job_id, scheduled => false) FROM timescaledb_information.jobs j WHERE j.hypertable_schema = 'public' AND j.hypertable_name = 't' AND j.proc_name = 'policy_retention'"
    );
    // Both are created paused; once verified, only the one scheduled on the source
    // is enabled.
    let enable = sql(&p, "jobs:enable");
    assert!(enable.contains("'policy_retention'"), "{enable}");
    assert!(!enable.contains("'policy_compression'"), "{enable}");
    // A retention policy running before the checks could drop what they read.
    for id in [
        "verify:public.t:total",
        "verify:public.t:compression",
        "verify:public.t:2025-01-10T00:00:00Z..2025-01-11T00:00:00Z",
    ] {
        assert!(waits_for(&p, "policy:public.t:retention", id), "{id}");
    }
}

#[test]
fn the_spec_changes_the_settings_or_moves_the_table_uncompressed() {
    let s = spec(
        "",
        &format!(
            "{T}    compression: {{segment_by: [], order_by: \"time ASC\", compress_after: 30 days}}\n"
        ),
    );
    let p = plan(&s, &community(&s, vec![compressed_table(3)]));
    assert!(
        sql(&p, "compression:public.t")
            .contains("timescaledb.segmentby = '', timescaledb.orderby = 'time ASC'")
    );
    assert!(sql(&p, "policy:public.t:compression").contains("after => INTERVAL '30 days'"));
    let s = spec("", &format!("{T}    compression: {{enabled: false}}\n"));
    let p = plan(&s, &community(&s, vec![compressed_table(3)]));
    assert!(ids(&p, StepKind::Compress).is_empty());
    assert!(ids(&p, StepKind::Compression).is_empty());
    // Retention is the table's whatever its compression.
    assert_eq!(ids(&p, StepKind::Policy), vec!["policy:public.t:retention"]);
    assert_eq!(
        p.warnings,
        vec![
            "public.t: moved uncompressed, without its compression policy (compression: {enabled: false})"
        ]
    );
    // A segment_by column the table lacks is refused by name.
    let s = spec("", &format!("{T}    compression: {{segment_by: [nope]}}\n"));
    assert!(
        refusal(&s, &community(&s, vec![compressed_table(3)]))
            .ends_with("compression segment_by names `nope`, which is not a column of public.t")
    );
}

#[test]
fn a_target_that_cannot_compress_is_refused_by_name_or_takes_the_rows_uncompressed() {
    let s = spec("", T);
    let mut i = community(&s, vec![compressed_table(3)]);
    i.target_server.timescaledb_license = Some("apache".into());
    assert!(refusal(&s, &i).ends_with(
        "tables[0] (public.t): it is compressed on the source and has a retention policy, but compression and policies on the target need TimescaleDB's community edition, and the target's is licensed `apache` (TimescaleDB 2.29.2); `on_unsupported: warn` moves it uncompressed and without policies"
    ), "{}", refusal(&s, &i));
    let s = spec("on_unsupported: warn\n", T);
    let mut i = community(&s, vec![compressed_table(3)]);
    i.target_server.timescaledb_license = Some("apache".into());
    let p = plan(&s, &i);
    assert!(ids(&p, StepKind::Compress).is_empty());
    assert!(ids(&p, StepKind::Policy).is_empty());
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].starts_with("public.t: moved uncompressed and without its policies: compression and policies on the target need TimescaleDB's community edition"));
}

/// Whether the copy step `id` may load its window straight into the columnstore.
fn direct(p: &super::Plan, id: &str) -> bool {
    match &step(p, id).action {
        super::Action::Copy(w) => w.direct_compress,
        other => panic!("{id} is not a copy: {other:?}"),
    }
}

#[test]
fn only_windows_wholly_inside_compressed_slices_may_load_compressed() {
    let s = spec("", T);
    // Days 1–7 compressed: day 1 fills the compressed slice ending 2025-01-02; days
    // 2–7 share their slice with days 8–10, which are not compressed.
    let p = plan(&s, &community(&s, vec![compressed_table(7)]));
    assert!(direct(
        &p,
        "copy:public.t:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z"
    ));
    for day in 2..=9 {
        let id = format!(
            "copy:public.t:2025-01-{day:02}T00:00:00Z..2025-01-{:02}T00:00:00Z",
            day + 1
        );
        assert!(!direct(&p, &id), "{id}");
    }
    // All compressed: every window.
    let p = plan(&s, &community(&s, vec![compressed_table(10)]));
    let copies = ids(&p, StepKind::Copy);
    assert_eq!(copies.len(), 10);
    assert!(copies.iter().all(|id| direct(&p, id)));
    // Moved uncompressed: none.
    let s = spec("", &format!("{T}    compression: {{enabled: false}}\n"));
    let p = plan(&s, &community(&s, vec![compressed_table(10)]));
    assert!(ids(&p, StepKind::Copy).iter().all(|id| !direct(&p, id)));
}

#[test]
fn a_window_is_covered_only_by_slices_that_hold_all_of_it() {
    use super::compression::covered;
    let slices = [(0, 10), (10, 20), (30, 40)];
    assert!(covered(&slices, Some(0), Some(20)));
    assert!(covered(&slices, Some(12), Some(18)));
    assert!(!covered(&slices, Some(15), Some(35)));
    assert!(!covered(&slices, None, Some(5)));
    assert!(!covered(&slices, Some(35), None));
    assert!(!covered(&[], Some(0), Some(1)));
}
