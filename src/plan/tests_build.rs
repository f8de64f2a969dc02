//! The planner's output for known catalogs: shapes, windows, verification and
//! ordering. No database.

use super::StepKind;
use super::testkit::*;
use crate::catalog::{DimensionKind, TimeType};
use crate::spec::VerifyLevel;

const T: &str = "  - name: public.t\n";

fn with_hypertable(block: &str) -> String {
    format!("{T}    hypertable: {block}\n")
}

#[test]
fn a_source_hypertable_can_be_rechunked() {
    let s = spec(
        "",
        &with_hypertable("{time_column: time, chunk_time_interval: 7 days}"),
    );
    let p = plan(&s, &inputs(&s, vec![hyper("public.t", 1, 3)]));
    let t = &p.tables[0];
    assert_eq!(t.before.description, "hypertable: time every 1 day");
    assert_eq!(t.before.chunk_interval.as_deref(), Some("1 day"));
    assert_eq!(t.after.description, "hypertable: time every 7 days");
    assert_eq!(t.after.chunk_interval.as_deref(), Some("7 days"));
    // Windows stay one per source chunk.
    assert_eq!(t.windows, 3);
    assert_eq!(t.est_rows, Some(3000));
    assert!(
        sql(&p, "hypertable:public.t").contains("create_hypertable('\"public\".\"t\"'::regclass, \"public\".by_range('time', INTERVAL '7 days')"),
        "{}",
        sql(&p, "hypertable:public.t")
    );
}

#[test]
fn hash_partitions_can_be_added() {
    let s = spec(
        "",
        &with_hypertable(
            "{time_column: time, chunk_time_interval: 1 day, partitioning_column: device, number_partitions: 4}",
        ),
    );
    let p = plan(&s, &inputs(&s, vec![hyper("public.t", 1, 2)]));
    assert_eq!(p.tables[0].before.hash_partitions, 0);
    assert_eq!(p.tables[0].after.hash_partitions, 4);
    assert_eq!(
        p.tables[0].after.description,
        "hypertable: time every 1 day, device in 4 hash partitions"
    );
    let h = sql(&p, "hypertable:public.t");
    assert!(
        h.contains("add_dimension('\"public\".\"t\"'::regclass, \"public\".by_hash('device', 4))"),
        "{h}"
    );
    // TimescaleDB's default indexes, built after the data.
    assert_eq!(
        ids(&p, StepKind::Index),
        vec!["index:public.t_time_idx", "index:public.t_device_time_idx"]
    );
    assert_eq!(
        sql(&p, "index:public.t_device_time_idx"),
        "CREATE INDEX \"t_device_time_idx\" ON \"public\".\"t\" USING btree (\"device\", \"time\" DESC)"
    );
}

#[test]
fn a_plain_table_becomes_a_hypertable_in_windows_of_its_chunks() {
    let s = spec(
        "",
        &with_hypertable("{time_column: time, chunk_time_interval: 1 day}"),
    );
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    i.time_bounds = vec![bounds(3)];
    let p = plan(&s, &i);
    assert_eq!(p.tables[0].before.description, "plain table");
    assert_eq!(p.tables[0].before.chunks, None);
    assert_eq!(
        p.tables[0].after.description,
        "hypertable: time every 1 day"
    );
    let copies = ids(&p, StepKind::Copy);
    assert_eq!(copies.len(), 3, "{copies:?}");
    assert!(copies.contains(&"copy:public.t:2025-01-02T00:00:00Z..2025-01-03T00:00:00Z".into()));
    let super::Action::Copy(c) = &step(
        &p,
        "copy:public.t:2025-01-02T00:00:00Z..2025-01-03T00:00:00Z",
    )
    .action
    else {
        panic!("not a copy")
    };
    assert_eq!(
        c.source_sql,
        "COPY (SELECT \"time\", \"other\", \"device\", \"value\" FROM ONLY \"public\".\"t\" WHERE \"time\" >= '2025-01-02 00:00:00.000000+00'::timestamptz AND \"time\" < '2025-01-03 00:00:00.000000+00'::timestamptz) TO STDOUT (FORMAT binary)"
    );
    assert_eq!(c.est_rows, Some(1000));
    assert_eq!(c.bounds.time, Some(("time".into(), TimeType::TimestampTz)));
}

#[test]
fn a_hypertable_can_become_a_plain_table() {
    let s = spec("", &with_hypertable("{plain: true}"));
    let p = plan(&s, &inputs(&s, vec![hyper("public.t", 1, 3)]));
    assert_eq!(p.count(StepKind::Hypertable), 0);
    assert_eq!(p.tables[0].after.description, "plain table");
    assert_eq!(p.tables[0].after.chunk_interval, None);
    // Still read chunk by chunk, on the source's own time dimension.
    assert_eq!(p.count(StepKind::Copy), 3);
    assert!(
        probe(&p, "verify:public.t:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z")
            .target_sql
            .ends_with("FROM \"public\".\"t\" WHERE \"time\" >= '2025-01-01 00:00:00.000000+00'::timestamptz AND \"time\" < '2025-01-02 00:00:00.000000+00'::timestamptz")
    );
}

#[test]
fn without_a_hypertable_block_the_source_layout_is_kept() {
    let s = spec("", T);
    let mut table = hyper("public.t", 1, 2);
    let h = table.hypertable.as_mut().unwrap();
    h.dimensions.push(crate::catalog::Dimension {
        column: "device".into(),
        kind: DimensionKind::Hash { partitions: 3 },
        partitioning_func: None,
    });
    let p = plan(&s, &inputs(&s, vec![table.clone()]));
    assert_eq!(
        p.tables[0].before.description,
        "hypertable: time every 1 day, device in 3 hash partitions"
    );
    assert_eq!(
        p.tables[0].after.description,
        p.tables[0].before.description
    );
    assert_eq!(p.tables[0].after.hash_partitions, 3);
    // `defaults: chunk_time_interval` replaces the primary width.
    let s = spec("defaults: {chunk_time_interval: 2 days}\n", T);
    let p = plan(&s, &inputs(&s, vec![table]));
    assert_eq!(
        p.tables[0].after.description,
        "hypertable: time every 2 days, device in 3 hash partitions"
    );
    // A plain source stays plain, in one window, checked once.
    let s = spec("", T);
    let p = plan(&s, &inputs(&s, vec![plain("public.t", 1)]));
    assert_eq!(p.tables[0].after.description, "plain table");
    assert_eq!(ids(&p, StepKind::Copy), vec!["copy:public.t"]);
    assert_eq!(ids(&p, StepKind::Verify), vec!["verify:public.t"]);
}

#[test]
fn from_and_until_clip_the_windows() {
    let s = spec(
        "",
        "  - name: public.t\n    from: 2025-01-01T12:00:00Z\n    until: 2025-01-03\n",
    );
    let p = plan(&s, &inputs(&s, vec![hyper("public.t", 1, 4)]));
    // The whole chunk goes first: windows are taken largest first.
    assert_eq!(
        ids(&p, StepKind::Copy),
        vec![
            "copy:public.t:2025-01-02T00:00:00Z..2025-01-03T00:00:00Z",
            "copy:public.t:2025-01-01T12:00:00Z..2025-01-02T00:00:00Z",
        ]
    );
    // The row total is over the same range.
    let total = probe(&p, "verify:public.t:total");
    assert!(total.table_total);
    assert_eq!(
        total.source_sql,
        "SELECT count(*)::text FROM \"public\".\"t\" WHERE \"time\" >= '2025-01-01 12:00:00.000000+00'::timestamptz AND \"time\" < '2025-01-03 00:00:00.000000+00'::timestamptz"
    );
}

#[test]
fn max_window_rows_splits_large_windows() {
    let s = spec("max_window_rows: 300\n", T);
    let p = plan(&s, &inputs(&s, vec![hyper("public.t", 1, 2)]));
    // 1000 rows per chunk: four pieces each.
    assert_eq!(p.tables[0].windows, 8);
    for n in p.graph.node_weights() {
        if let super::Action::Copy(c) = &n.action {
            assert_eq!(c.est_rows, Some(250), "{}", n.id);
        }
    }
    assert!(
        ids(&p, StepKind::Copy)
            .contains(&"copy:public.t:2025-01-01T06:00:00Z..2025-01-01T12:00:00Z".into())
    );
}

#[test]
fn compressed_chunks_are_counted_in_the_plan_text() {
    let s = spec("", T);
    let mut table = hyper("public.t", 1, 3);
    for c in &mut table.hypertable.as_mut().unwrap().chunks[..2] {
        c.compressed = true;
    }
    let p = plan(&s, &inputs(&s, vec![table]));
    assert_eq!(p.tables[0].before.compressed_chunks, 2);
    let text = super::render_text(&p, false);
    assert!(text.contains("(3 chunks, 2 compressed)"), "{text}");
    // A compressed chunk is read through the chunk itself, never `ONLY`.
    let super::Action::Copy(c) = &step(
        &p,
        "copy:public.t:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z",
    )
    .action
    else {
        panic!("not a copy")
    };
    assert!(
        c.source_sql
            .contains("FROM \"_timescaledb_internal\".\"_hyper_1_0_chunk\" WHERE"),
        "{}",
        c.source_sql
    );
}

#[test]
fn windows_are_cut_on_the_source_time_dimension_whatever_the_target_partitions_by() {
    let s = spec(
        "",
        &with_hypertable("{time_column: other, chunk_time_interval: 1 day}"),
    );
    let p = plan(&s, &inputs(&s, vec![hyper("public.t", 1, 2)]));
    assert_eq!(
        p.tables[0].after.description,
        "hypertable: other every 1 day"
    );
    for id in ids(&p, StepKind::Verify) {
        let pr = probe(&p, &id);
        if pr.table_total {
            continue;
        }
        for q in [&pr.source_sql, &pr.target_sql] {
            assert!(q.contains("WHERE \"time\" >= "), "{id}: {q}");
            assert!(!q.contains("\"other\" >="), "{id}: {q}");
        }
    }
    assert!(sql(&p, "hypertable:public.t").contains("by_range('other'"));
}

#[test]
fn ranged_tables_get_a_row_total_and_a_single_whole_window_does_not() {
    let s = spec("verify: checksum\n", T);
    let p = plan(&s, &inputs(&s, vec![hyper("public.t", 1, 2)]));
    let verify = ids(&p, StepKind::Verify);
    assert_eq!(verify.len(), 3, "{verify:?}");
    assert_eq!(verify.last().unwrap(), "verify:public.t:total");
    assert!(super::is_table_total("verify:public.t:total"));
    assert!(!super::is_table_total(&verify[0]));
    let total = probe(&p, "verify:public.t:total");
    assert_eq!(total.level, VerifyLevel::Count);
    assert_eq!(total.source_rows_sql, None);
    // The total waits for every copy of the table.
    let n = p
        .graph
        .node_indices()
        .find(|&n| p.graph[n].id == "verify:public.t:total")
        .unwrap();
    assert_eq!(
        p.graph
            .neighbors_directed(n, petgraph::Direction::Incoming)
            .count(),
        2
    );
    assert_eq!(probe(&p, &verify[0]).columns, vec!["rows", "checksum"]);

    let p = plan(&s, &inputs(&s, vec![plain("public.t", 1)]));
    assert_eq!(ids(&p, StepKind::Verify), vec!["verify:public.t"]);

    let s = spec("verify: none\n", T);
    let p = plan(&s, &inputs(&s, vec![hyper("public.t", 1, 2)]));
    assert_eq!(p.count(StepKind::Verify), 0);
}

/// Two tables, types, keys, a view and a foreign key: enough to order.
fn busy() -> (crate::spec::Spec, super::Inputs) {
    let s = spec(
        "",
        "  - name: public.a\n  - name: public.b\n    target: other.b\n    hypertable: {time_column: time, chunk_time_interval: 12 hours}\n",
    );
    let mut a = hyper("public.a", 1, 3);
    a.constraints
        .push(primary_key("a_pkey", &["time", "device"]));
    let mut b = plain("public.b", 2);
    b.constraints.push(primary_key("b_pkey", &["time"]));
    let mut i = inputs(&s, vec![a, b]);
    i.time_bounds = vec![None, bounds(2)];
    let mut v = view("public.v", 100, vec![1]);
    v.definition = " SELECT * FROM public.a;".into();
    i.views.push(v);
    (s, i)
}

#[test]
fn the_same_inputs_give_the_same_plan() {
    let (s, i) = busy();
    let order = |p: &super::Plan| -> Vec<String> {
        p.order()
            .into_iter()
            .map(|n| p.graph[n].id.clone())
            .collect()
    };
    let first = plan(&s, &i);
    let second = plan(&s, &i);
    assert_eq!(order(&first), order(&second));
    let all: Vec<String> = first.graph.node_weights().map(|s| s.id.clone()).collect();
    let again: Vec<String> = second.graph.node_weights().map(|s| s.id.clone()).collect();
    assert_eq!(all, again);
    let o = order(&first);
    let at = |id: &str| o.iter().position(|x| x == id).unwrap();
    assert_eq!(o[0], "schema:other");
    assert!(at("table:other.b") < at("hypertable:other.b"));
    assert!(at("view:public.v") > at("table:public.a"));
    assert!(
        at("constraint:public.a.a_pkey")
            > at("copy:public.a:2025-01-03T00:00:00Z..2025-01-04T00:00:00Z")
    );
    assert_eq!(
        sql(&first, "view:public.v"),
        "CREATE VIEW \"public\".\"v\" AS SELECT * FROM public.a"
    );
    // Four 12-hour target chunks over the plain table's two days.
    assert_eq!(first.tables[1].windows, 4);
}

#[test]
fn a_resumed_run_skips_its_own_steps_ignores_unknown_ones_and_refuses_unknown_copies() {
    let (s, mut i) = busy();
    let copy = "copy:public.a:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z".to_string();
    i.resume = Some(
        [
            "table:public.a".to_string(),
            copy.clone(),
            "index:public.gone".into(),
            "verify:public.gone:total".into(),
        ]
        .into(),
    );
    let p = plan(&s, &i);
    assert!(p.resumed);
    assert_eq!(
        p.done,
        ["table:public.a".to_string(), copy].into_iter().collect()
    );
    assert!(p.has_changes());

    i.resume
        .as_mut()
        .unwrap()
        .insert("copy:public.a:2025-01-01T00:00:00Z..2025-01-01T12:00:00Z".into());
    i.resume.as_mut().unwrap().insert("copy:public.gone".into());
    assert_eq!(
        refusal(&s, &i),
        "target: the interrupted run of this spec copied 2 windows this plan does not have (such as copy:public.a:2025-01-01T00:00:00Z..2025-01-01T12:00:00Z): the windows were cut differently when it began, so a resume would copy rows twice; run it with the max_window_rows/max_window_bytes it began with, or start over with `hypermove apply --restart`"
    );
}

#[test]
fn a_move_already_applied_is_up_to_date() {
    let (s, mut i) = busy();
    let fp = super::fingerprint::fingerprints(&s, &i);
    i.applied
        .push((fp.spec.clone(), super::combined_fingerprint(&fp.source)));
    let p = plan(&s, &i);
    assert!(p.up_to_date);
    assert_eq!(p.graph.node_count(), 0);
    assert!(!p.has_changes());
}

#[test]
fn verification_plans_use_the_same_windows_and_queries() {
    let s = spec("", T);
    let mut i = inputs(&s, vec![hyper("public.t", 1, 2)]);
    let apply = plan(&s, &i);
    i.target_present.insert(qn("public.t"));
    let v = super::build_verification(&s, &i, VerifyLevel::Checksum).unwrap();
    let mut want = ids(&apply, StepKind::Verify);
    let mut got = ids(&v, StepKind::Verify);
    want.sort();
    got.sort();
    assert_eq!(want, got);
    for id in &got {
        assert_eq!(probe(&v, id).source_sql, probe(&apply, id).source_sql);
    }
}

#[test]
fn a_restore_loads_the_backup_files_and_checks_against_their_manifest() {
    use super::{Action, ArchiveFile, ArchiveTable, WindowBounds};
    let s = spec("verify: checksum\n", T);
    let mut i = inputs(&s, vec![hyper("public.t", 1, 2)]);
    let file = |d: i64, checksum: Option<&str>| ArchiveFile {
        bounds: WindowBounds {
            time: Some(("time".into(), TimeType::TimestampTz)),
            lo: Some(JAN1 + d * DAY),
            hi: Some(JAN1 + (d + 1) * DAY),
        },
        path: format!("public.t/{d}.csv.zst").into(),
        zstd: true,
        rows: 10 + d as u64,
        bytes: 100,
        sha256: format!("sha{d}"),
        checksum: checksum.map(str::to_string),
    };
    i.archive = Some(vec![ArchiveTable {
        header: vec!["value".into(), "time".into()],
        files: vec![file(0, Some("42")), file(1, None)],
    }]);
    let p = plan(&s, &i);
    let first = "public.t:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z";
    let second = "public.t:2025-01-02T00:00:00Z..2025-01-03T00:00:00Z";
    let Action::Load(load) = &step(&p, &format!("copy:{first}")).action else {
        panic!("not a load")
    };
    assert_eq!(
        load.target_sql,
        "COPY \"public\".\"t\" (\"value\", \"time\") FROM STDIN (FORMAT csv, HEADER true)"
    );
    assert_eq!((load.rows, load.sha256.as_str()), (10, "sha0"));
    // The source is not asked: the manifest's answers stand for it.
    let checked = probe(&p, &format!("verify:{first}"));
    assert_eq!(checked.level, VerifyLevel::ChecksumSql);
    assert_eq!(checked.recorded, Some(vec!["10".into(), "42".into()]));
    // A file without a checksum can still be counted.
    let counted = probe(&p, &format!("verify:{second}"));
    assert_eq!(counted.level, VerifyLevel::Count);
    assert_eq!(counted.recorded, Some(vec!["11".into()]));
    let total = probe(&p, "verify:public.t:total");
    assert_eq!(total.recorded, Some(vec!["21".into()]));
    assert_eq!(p.tables[0].est_rows, Some(21));
}

#[test]
fn what_does_not_carry_over_is_said_in_warnings() {
    let s = spec(
        "on_unsupported: warn\n",
        "  - name: public.a\n  - name: public.b\n    target: public.b2\n",
    );
    let mut a = plain("public.a", 1);
    a.columns[2].default = Some("nextval('shared'::regclass)".into());
    let mut b = hyper("public.b", 2, 1);
    b.hypertable.as_mut().unwrap().dimensions[0].kind = DimensionKind::Range {
        width: DAY,
        integer: false,
        integer_now_func: Some("now_int".into()),
    };
    b.types.push(crate::catalog::UserType {
        name: qn("public.mood"),
        kind: 'e',
        depth: 0,
        extension: None,
        labels: vec!["ok".into()],
        base_type: None,
        not_null: false,
        default: None,
        checks: Vec::new(),
        late_checks: Vec::new(),
        attributes: Vec::new(),
    });
    let mut i = inputs(&s, vec![a, b]);
    i.target_types.insert(qn("public.mood"));
    i.views = vec![
        view("public.both", 101, vec![1, 3]),
        view("public.fine", 102, vec![1]),
    ];
    let p = plan(&s, &i);
    assert_eq!(
        p.warnings,
        vec![
            "public.a: column device default `nextval('shared'::regclass)` draws from a sequence that moves to another schema with the column that owns it, where the default's text would not find it; not carried over (on_unsupported: warn)",
            "public.b: its integer_now_func now_int is neither on the target nor recreated by the plan, and every policy on the table needs it; not carried over (on_unsupported: warn)",
            "view public.both is not carried over (on_unsupported: warn): it reads table public.t3, which is not moved",
            "type public.mood already exists on the target and is used as it is",
        ]
    );
    // Without `on_unsupported: warn`, each is a refusal, all of them at once.
    let s = spec(
        "",
        "  - name: public.a\n  - name: public.b\n    target: public.b2\n",
    );
    let message = refusal(&s, &i);
    assert!(
        message.starts_with("the plan is refused for 3 reasons:"),
        "{message}"
    );
    assert!(
        message.contains("(public.a): column device default"),
        "{message}"
    );
    assert!(
        message.contains("(public.b): its integer_now_func now_int is neither on the target"),
        "{message}"
    );
    assert_eq!(ids(&p, StepKind::View), vec!["view:public.fine"]);
    assert_eq!(p.count(StepKind::Type), 0);
}

#[test]
fn row_security_comes_after_everything_else_of_the_table_on_its_new_name() {
    let s = spec(
        "",
        "  - name: public.t\n    target: public.t2\n    hypertable: {time_column: time, chunk_time_interval: 1 day}\n",
    );
    let mut t = hyper("public.t", 1, 2);
    t.row_security = Some(row_security());
    let mut i = inputs(&s, vec![t]);
    i.target_roles.insert("reader".into());
    let p = plan(&s, &i);
    assert_eq!(ids(&p, StepKind::RowSecurity), vec!["rls:public.t2"]);
    assert_eq!(
        sql(&p, "rls:public.t2"),
        [
            "ALTER TABLE \"public\".\"t2\" ENABLE ROW LEVEL SECURITY",
            "ALTER TABLE \"public\".\"t2\" FORCE ROW LEVEL SECURITY",
            "CREATE POLICY \"only_device_1\" ON \"public\".\"t2\" AS PERMISSIVE FOR SELECT TO \"reader\" USING ((device = 1))",
            "CREATE POLICY \"not_negative\" ON \"public\".\"t2\" AS RESTRICTIVE FOR ALL TO PUBLIC USING ((value >= (0)::double precision)) WITH CHECK ((value >= (0)::double precision))",
        ]
        .join(";\n")
    );
    // After every copy window, every check of them and every index: a forced policy
    // must never filter hypermove's own loading or checking.
    let others: Vec<String> = p
        .graph
        .node_weights()
        .filter(|st| {
            matches!(
                st.kind,
                StepKind::Copy | StepKind::Verify | StepKind::Index | StepKind::Hypertable
            )
        })
        .map(|st| st.id.clone())
        .collect();
    assert!(others.len() >= 5, "{others:?}");
    for id in others {
        assert!(waits_for(&p, "rls:public.t2", &id), "rls before {id}");
    }
}

#[test]
fn a_table_without_row_security_has_no_rls_step() {
    let s = spec("", T);
    let p = plan(&s, &inputs(&s, vec![plain("public.t", 1)]));
    assert!(ids(&p, StepKind::RowSecurity).is_empty());
}

#[test]
fn settings_come_before_the_data_and_the_replica_identity_after_the_indexes() {
    use crate::catalog::ReplicaIdentity;
    let s = spec(
        "",
        "  - name: public.t\n    target: public.t2\n    hypertable: {time_column: time, chunk_time_interval: 1 day}\n",
    );
    let mut t = hyper("public.t", 1, 2);
    t.indexes.push(crate::catalog::Index {
        name: "t_time_uq".into(),
        unique: true,
        method: "btree".into(),
        body: "(\"time\")".into(),
        key_columns: vec![Some("time".into())],
    });
    t.settings = Some(settings(Some(ReplicaIdentity::Index("t_time_uq".into()))));
    t.row_security = Some(row_security());
    let mut i = inputs(&s, vec![t]);
    i.target_roles.insert("reader".into());
    let p = plan(&s, &i);
    assert_eq!(
        sql(&p, "settings:public.t2"),
        [
            "ALTER TABLE \"public\".\"t2\" SET (\"fillfactor\" = '70', \"autovacuum_vacuum_scale_factor\" = '0.05', \"toast\".\"autovacuum_enabled\" = 'false')",
            "ALTER TABLE \"public\".\"t2\" ALTER COLUMN \"value\" SET STORAGE EXTERNAL",
            "ALTER TABLE \"public\".\"t2\" ALTER COLUMN \"value\" SET COMPRESSION lz4",
            "ALTER TABLE \"public\".\"t2\" ALTER COLUMN \"value\" SET STATISTICS 500",
        ]
        .join(";\n")
    );
    assert_eq!(
        sql(&p, "replica_identity:public.t2"),
        "ALTER TABLE \"public\".\"t2\" REPLICA IDENTITY USING INDEX \"t_time_uq\""
    );
    // On the hypertable, before every copy window; the identity after every index.
    assert!(waits_for(&p, "settings:public.t2", "hypertable:public.t2"));
    for id in ids(&p, StepKind::Copy) {
        assert!(waits_for(&p, &id, "settings:public.t2"), "{id}");
    }
    let indexes = ids(&p, StepKind::Index);
    assert!(
        indexes.contains(&"index:public.t_time_uq".to_string()),
        "{indexes:?}"
    );
    for id in indexes {
        assert!(waits_for(&p, "replica_identity:public.t2", &id), "{id}");
    }
    assert!(waits_for(&p, "rls:public.t2", "replica_identity:public.t2"));
}

#[test]
fn a_replica_identity_alone_has_no_settings_step() {
    use crate::catalog::{ReplicaIdentity, TableSettings};
    let s = spec("", T);
    let mut t = plain("public.t", 1);
    t.settings = Some(TableSettings {
        replica_identity: Some(ReplicaIdentity::Full),
        ..Default::default()
    });
    let p = plan(&s, &inputs(&s, vec![t]));
    assert!(ids(&p, StepKind::Settings).is_empty());
    assert_eq!(
        sql(&p, "replica_identity:public.t"),
        "ALTER TABLE \"public\".\"t\" REPLICA IDENTITY FULL"
    );
}

#[test]
fn extended_statistics_come_after_the_data_on_the_new_name() {
    use crate::catalog::ExtendedStatistics;
    let s = spec("", "  - name: public.t\n    target: other.t2\n");
    let mut t = plain("public.t", 1);
    t.statistics = vec![
        ExtendedStatistics {
            name: "t_day".into(),
            kinds: Vec::new(),
            columns: "(date_trunc('day'::text, \"time\"))".into(),
            target: None,
        },
        ExtendedStatistics {
            name: "t_device_value".into(),
            kinds: vec!['d', 'm'],
            columns: "device, value".into(),
            target: Some(200),
        },
    ];
    let mut i = inputs(&s, vec![t]);
    i.time_bounds = vec![bounds(2)];
    let p = plan(&s, &i);
    assert_eq!(
        ids(&p, StepKind::Statistics),
        vec!["statistics:other.t_day", "statistics:other.t_device_value"]
    );
    assert_eq!(
        sql(&p, "statistics:other.t_device_value"),
        "CREATE STATISTICS \"other\".\"t_device_value\" (ndistinct, mcv) ON device, value FROM \"other\".\"t2\";\nALTER STATISTICS \"other\".\"t_device_value\" SET STATISTICS 200"
    );
    assert_eq!(
        sql(&p, "statistics:other.t_day"),
        "CREATE STATISTICS \"other\".\"t_day\" ON (date_trunc('day'::text, \"time\")) FROM \"other\".\"t2\""
    );
    let copies = ids(&p, StepKind::Copy);
    assert!(!copies.is_empty());
    for id in copies {
        assert!(waits_for(&p, "statistics:other.t_day", &id), "{id}");
    }
}
