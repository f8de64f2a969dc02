//! Continuous aggregates: created after the rows they read, their materialized rows
//! copied per source materialization chunk, their watermark set once those landed,
//! the aggregate on top after the one it reads, checks through the aggregates, the
//! hypertable's policies after all of it; names mapped through the rename engine;
//! refused by name (or listed) where they cannot move. No database.

use super::testkit::*;
use super::{Action, StepKind};
use crate::catalog::{ContinuousAggregate, Grants, Table, TimeType};

const T: &str =
    "  - name: public.t\n    hypertable: {time_column: time, chunk_time_interval: 7 days}\n";

/// An aggregate over `base` (or over aggregate `parent`), bucketed on `bucket`, with
/// `chunks` materialization chunks of 5 days from 2025-01-01, materialized up to
/// 2025-01-08.
fn cagg(name: &str, parent: Option<&str>, chunks: i64) -> ContinuousAggregate {
    let mat = format!("_materialized_hypertable_{}", name.len());
    let base = parent.unwrap_or("public.t");
    ContinuousAggregate {
        name: qn(name),
        oid: 9000 + name.len() as u32,
        parent: parent.map(qn),
        definition: format!(
            " SELECT public.time_bucket('01:00:00'::interval, \"time\") AS bucket, count(*) AS n\n   FROM {base}\n  GROUP BY (public.time_bucket('01:00:00'::interval, \"time\"));"
        ),
        materialized_only: false,
        finalized: true,
        materialization: qn(&format!("_timescaledb_internal.{mat}")),
        time_column: "bucket".into(),
        time_type: TimeType::TimestampTz,
        chunk_interval: 5 * DAY,
        columns: vec![
            column("bucket", 1184, "timestamp with time zone"),
            column("n", 20, "bigint"),
        ],
        chunks: (0..chunks)
            .map(|i| {
                chunk(
                    &format!("_hyper_{}_{i}_chunk", name.len()),
                    JAN1 + i * 5 * DAY,
                    JAN1 + (i + 1) * 5 * DAY,
                    100,
                    false,
                )
            })
            .collect(),
        compression: None,
        indexes: Vec::new(),
        comments: vec![(None, "hourly".into())],
        grants: Some(Grants {
            owner: "analyst".into(),
            ..Default::default()
        }),
        watermark: JAN1 + 7 * DAY,
        threshold: Some(JAN1 + 7 * DAY),
        hypertable_invalidations: vec![(JAN1, JAN1 + DAY - 1)],
        materialization_invalidations: vec![(i64::MIN, JAN1 - 1), (JAN1 + 7 * DAY, i64::MAX)],
        other_reads: Vec::new(),
        jobs: Vec::new(),
        functions: Vec::new(),
    }
}

/// `public.t` (10 daily chunks) with an hourly aggregate and a daily one on it.
fn with_caggs() -> Table {
    let mut t = hyper("public.t", 1, 10);
    let h = t.hypertable.as_mut().unwrap();
    h.continuous_aggregates = vec![
        cagg("public.hourly", None, 2),
        cagg("public.daily", Some("public.hourly"), 1),
    ];
    t
}

/// Inputs whose target is TimescaleDB's community edition.
fn community(s: &crate::spec::Spec, tables: Vec<Table>) -> super::Inputs {
    let mut i = inputs(s, tables);
    i.target_server.timescaledb_license = Some("timescale".into());
    i
}

fn sql(plan: &super::Plan, id: &str) -> String {
    match &step(plan, id).action {
        Action::Sql(s) => s.join(";\n"),
        other => panic!("{id} is {other:?}"),
    }
}

#[test]
fn aggregates_come_after_their_rows_and_before_the_policies_in_dependency_order() {
    let s = spec("verify: checksum\n", T);
    let mut t = with_caggs();
    t.hypertable.as_mut().unwrap().policies = vec![crate::catalog::JobPolicy {
        kind: crate::catalog::JobPolicyKind::Retention,
        job_id: 1001,
        after: crate::catalog::JobPolicyAfter::Interval("1 year".into()),
        schedule_interval: "1 day".into(),
        scheduled: true,
        other_settings: Vec::new(),
    }];
    let p = plan(&s, &community(&s, vec![t]));
    let hourly_copies = [
        "copy:public.hourly:2025-01-01T00:00:00Z..2025-01-06T00:00:00Z",
        "copy:public.hourly:2025-01-06T00:00:00Z..2025-01-11T00:00:00Z",
    ];
    // Created once every raw window is in; its copies after it; its watermark after them.
    for day in 1..=10 {
        let window = format!(
            "copy:public.t:2025-01-{day:02}T00:00:00Z..2025-01-{:02}T00:00:00Z",
            day + 1
        );
        assert!(waits_for(&p, "cagg:public.hourly", &window), "{window}");
    }
    for copy in hourly_copies {
        assert!(waits_for(&p, copy, "cagg:public.hourly"));
        assert!(waits_for(&p, "cagg:public.hourly:watermark", copy));
        assert_eq!(step(&p, copy).kind, StepKind::Copy);
    }
    // The aggregate on top waits for the one it reads, rows and watermark.
    assert!(waits_for(
        &p,
        "cagg:public.daily",
        "cagg:public.hourly:watermark"
    ));
    assert!(waits_for(
        &p,
        "cagg:public.daily:watermark",
        "copy:public.daily:2025-01-01T00:00:00Z..2025-01-06T00:00:00Z"
    ));
    // Checks through the aggregate, once its state is the source's, open at both
    // ends (the real-time buckets past the last chunk are compared too).
    for id in [
        "verify:public.hourly:-inf..2025-01-06T00:00:00Z",
        "verify:public.hourly:2025-01-06T00:00:00Z..+inf",
        "verify:public.daily:-inf..+inf",
    ] {
        let view = if id.contains("hourly") {
            "hourly"
        } else {
            "daily"
        };
        assert!(waits_for(&p, id, &format!("cagg:public.{view}:watermark")));
        let Action::Probe(probe) = &step(&p, id).action else {
            panic!("{id} is not a probe")
        };
        assert!(
            probe
                .target_sql
                .contains(&format!("FROM \"public\".\"{view}\"")),
            "{}",
            probe.target_sql
        );
        assert!(waits_for(&p, "policy:public.t:retention", id));
    }
    // The policy waits for the aggregates.
    assert!(waits_for(
        &p,
        "policy:public.t:retention",
        "cagg:public.daily:watermark"
    ));
    // The creation creates, refreshes nothing, and says what happens to the buckets.
    let create = sql(&p, "cagg:public.hourly");
    assert!(create.contains("CREATE MATERIALIZED VIEW \"public\".\"hourly\" WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS\nSELECT public.time_bucket"), "{create}");
    assert!(create.contains("WITH NO DATA"), "{create}");
    assert!(!create.contains("refresh_continuous_aggregate"), "{create}");
    assert!(create.contains("-- copied: its materialized buckets, 2 windows over the source's materialization chunks 2025-01-01T00:00:00Z..2025-01-11T00:00:00Z (≈ 200 rows); refreshed: none"), "{create}");
    assert!(
        create.contains("set_chunk_time_interval('\"public\".\"hourly\"', INTERVAL '5 days')"),
        "{create}"
    );
    assert!(
        create.contains("COMMENT ON VIEW \"public\".\"hourly\" IS 'hourly'"),
        "{create}"
    );
    // The watermark step writes the source's state, the minimum value included.
    let state = sql(&p, "cagg:public.hourly:watermark");
    for needle in [
        "continuous_aggs_watermark (mat_hypertable_id, watermark) SELECT a.mat_hypertable_id, (1736294400000000)::int8",
        "continuous_aggs_invalidation_threshold (hypertable_id, watermark) SELECT a.raw_hypertable_id, (1736294400000000)::int8",
        "((1735689600000000)::int8, (1735775999999999)::int8)",
        "((-9223372036854775808)::int8, (1735689599999999)::int8)",
        "a.user_view_schema = 'public' AND a.user_view_name = 'hourly'",
    ] {
        assert!(state.contains(needle), "{needle}\n{state}");
    }
    // Without grants: true, owners stay behind, and the plan says so only for grants.
    assert!(!state.contains("OWNER TO"), "{state}");
    // A copy writes the target's materialization, named when it runs.
    let Action::Copy(c) = &step(&p, hourly_copies[0]).action else {
        panic!()
    };
    assert_eq!(
        c.target_sql,
        "COPY {materialization of public.hourly} (\"bucket\", \"n\") FROM STDIN (FORMAT binary)"
    );
    assert!(c.source_sql.contains("FROM \"_timescaledb_internal\".\"_hyper_13_0_chunk\" WHERE \"bucket\" >= '2025-01-01 00:00:00.000000+00'::timestamptz"), "{}", c.source_sql);
    assert_eq!(
        c.target_lookup.as_ref().map(|(p, _)| p.as_str()),
        Some("{materialization of public.hourly}")
    );
}

#[test]
fn a_renamed_hypertable_and_schema_are_named_as_on_the_source_for_a_moment() {
    let s = spec(
        "verify: count\nschema_map: {public: app}\n",
        "  - name: public.t\n    target: app.t2\n    hypertable: {time_column: time, chunk_time_interval: 7 days}\n",
    );
    // With a policy on the renamed table: the renaming step waits for the table's
    // other steps, and the policy for the aggregates, without a cycle.
    let mut t = with_caggs();
    t.hypertable.as_mut().unwrap().policies = vec![crate::catalog::JobPolicy {
        kind: crate::catalog::JobPolicyKind::Retention,
        job_id: 1001,
        after: crate::catalog::JobPolicyAfter::Interval("1 year".into()),
        schedule_interval: "1 day".into(),
        scheduled: true,
        other_settings: Vec::new(),
    }];
    let p = plan(&s, &community(&s, vec![t]));
    assert_eq!(p.order().len(), p.graph.node_count());
    assert!(waits_for(
        &p,
        "policy:app.t2:retention",
        "cagg:app.daily:watermark"
    ));
    let create = sql(&p, "cagg:app.hourly");
    let at = |needle: &str| {
        create
            .find(needle)
            .unwrap_or_else(|| panic!("{needle}\n{create}"))
    };
    // The text is never edited: the table takes its source name around the CREATE.
    assert!(
        at("ALTER TABLE \"app\".\"t2\" SET SCHEMA \"public\"")
            < at("CREATE MATERIALIZED VIEW \"app\".\"hourly\"")
    );
    assert!(at("CREATE MATERIALIZED VIEW") < at("ALTER TABLE \"public\".\"t\" RENAME TO \"t2\""));
    assert!(create.contains("FROM public.t\n"), "{create}");
    // The one on top names the hourly aggregate by its source name for a moment.
    let daily = sql(&p, "cagg:app.daily");
    assert!(
        daily.contains("ALTER MATERIALIZED VIEW \"app\".\"hourly\" SET SCHEMA \"public\""),
        "{daily}"
    );
    assert!(waits_for(&p, "cagg:app.daily", "cagg:app.hourly"));
}

#[test]
fn an_apache_target_refuses_each_aggregate_by_name_or_moves_the_table_without_them() {
    let s = spec("", T);
    let refused = refusal(&s, &inputs(&s, vec![with_caggs()]));
    for name in ["public.hourly", "public.daily"] {
        assert!(
            refused.contains(&format!("continuous aggregate {name} depends on it and cannot be carried over: continuous aggregates need TimescaleDB's community edition on the target, and the target's is licensed `apache`")),
            "{refused}"
        );
    }
    let s = spec("on_unsupported: warn\n", T);
    let p = plan(&s, &inputs(&s, vec![with_caggs()]));
    assert_eq!(p.count(StepKind::ContinuousAggregate), 0);
    assert!(
        p.warnings.iter().any(|w| w.starts_with(
            "public.t: continuous aggregate public.hourly depends on it on the source; not carried over (on_unsupported: warn)"
        )),
        "{:?}",
        p.warnings
    );
    // The one on top stays behind with it, and says why.
    assert!(
        p.warnings.iter().any(|w| w.contains("public.daily")
            && w.contains(
                "it reads continuous aggregate public.hourly, which is not carried over"
            )),
        "{:?}",
        p.warnings
    );
}

#[test]
fn a_taken_name_a_plain_target_and_a_partial_move_are_refused_by_name() {
    let s = spec("", T);
    let mut i = community(&s, vec![with_caggs()]);
    i.target_names_taken.insert(qn("public.hourly"));
    let refused = refusal(&s, &i);
    assert!(refused.contains("continuous aggregate public.hourly cannot be carried over: public.hourly already exists on the target"), "{refused}");

    let s = spec("", "  - name: public.t\n    hypertable: {plain: true}\n");
    let refused = refusal(&s, &community(&s, vec![with_caggs()]));
    assert!(
        refused.contains("the spec makes public.t a plain table"),
        "{refused}"
    );

    let s = spec(
        "",
        "  - name: public.t\n    from: 2025-01-03\n    hypertable: {time_column: time, chunk_time_interval: 7 days}\n",
    );
    let refused = refusal(&s, &community(&s, vec![with_caggs()]));
    assert!(
        refused.contains("moves only part of public.t's rows"),
        "{refused}"
    );
}

#[test]
fn with_grants_the_owner_and_grants_follow_once_the_state_is_written() {
    let s = spec("grants: true\n", T);
    let mut i = community(&s, vec![with_caggs()]);
    i.grants = vec![Some(Grants {
        owner: "analyst".into(),
        ..Default::default()
    })];
    i.target_roles.insert("analyst".into());
    let p = plan(&s, &i);
    assert!(
        sql(&p, "cagg:public.hourly:watermark")
            .ends_with("ALTER MATERIALIZED VIEW \"public\".\"hourly\" OWNER TO \"analyst\"")
    );
    i.target_roles.clear();
    let refused = refusal(&s, &i);
    assert!(
        refused.contains(
            "grants: true needs these roles on the target, and they do not exist there: analyst;"
        ),
        "{refused}"
    );
}
