//! Jobs around the moved tables: user jobs recreated paused after their tables, with
//! their config following renamed tables; policies created paused; the `jobs:enable`
//! step last, enabling only what the source has scheduled (none with `jobs: paused`);
//! scheduled source jobs named in the warnings; Apache targets refused by name. No
//! database.

use super::StepKind;
use super::testkit::*;
use crate::catalog::{JobPolicy, JobPolicyAfter, JobPolicyKind, SourceJob, Table, UserFunction};

const T: &str =
    "  - name: public.t\n    hypertable: {time_column: time, chunk_time_interval: 7 days}\n";

/// A user job running `public.rollup` whose config names `public.t`.
fn user_job(id: i32, scheduled: bool) -> SourceJob {
    SourceJob {
        id,
        application_name: format!("User-Defined Action [{id}]"),
        proc: qn("public.rollup"),
        user: true,
        schedule_interval: "01:00:00".into(),
        max_runtime: "00:00:00".into(),
        max_retries: -1,
        retry_period: "00:05:00".into(),
        scheduled,
        fixed_schedule: true,
        initial_start: Some("2030-01-01 00:00:00+00".into()),
        timezone: None,
        config: Some(r#"{"hypertable": "public.t", "keep": 3, "list": ["t", "other"]}"#.into()),
        check: None,
        owner: "postgres".into(),
        cagg: None,
        why: "its config names it".into(),
        functions: Vec::new(),
    }
}

/// `public.t` with a user job, its plpgsql procedure, and a retention policy.
fn table_with_jobs(language: &str, scheduled: bool) -> Table {
    let mut t = hyper("public.t", 1, 10);
    t.jobs = vec![user_job(1000, scheduled)];
    t.jobs[0].functions = vec![UserFunction {
        name: qn("public.rollup"),
        args: "integer, jsonb".into(),
        language: language.into(),
        definition: "CREATE OR REPLACE PROCEDURE public.rollup(IN job_id integer, IN config jsonb)\n LANGUAGE plpgsql\nAS $procedure$ BEGIN END $procedure$".into(),
        depth: 0,
    }];
    let h = t.hypertable.as_mut().unwrap();
    h.policies = vec![JobPolicy {
        kind: JobPolicyKind::Retention,
        job_id: 1001,
        after: JobPolicyAfter::Interval("1 year".into()),
        schedule_interval: "1 day".into(),
        scheduled: true,
        other_settings: Vec::new(),
    }];
    t
}

/// Inputs whose target is TimescaleDB's community edition.
fn community(s: &crate::spec::Spec, tables: Vec<Table>) -> super::Inputs {
    let mut i = inputs(s, tables);
    i.target_server.timescaledb_license = Some("timescale".into());
    i.target_server.timescaledb = Some("2.29.2".into());
    i
}

#[test]
fn a_user_job_is_recreated_paused_after_its_table_and_procedure() {
    let s = spec("", T);
    let p = plan(&s, &community(&s, vec![table_with_jobs("plpgsql", true)]));
    assert_eq!(ids(&p, StepKind::Job), vec!["job:1000"]);
    let job = sql(&p, "job:1000");
    assert!(job.contains("add_job('\"public\".\"rollup\"'::regproc, INTERVAL '01:00:00'"));
    assert!(job.contains("scheduled => false"), "{job}");
    assert!(job.contains("initial_start => TIMESTAMPTZ '2030-01-01 00:00:00+00'"));
    assert!(job.contains("fixed_schedule => true"));
    assert!(job.contains(
        "max_runtime => INTERVAL '00:00:00', max_retries => -1, retry_period => INTERVAL '00:05:00'"
    ));
    // The procedure moves as a function, created (never replaced) before the job.
    let f = "function:public.rollup(integer, jsonb)";
    assert!(sql(&p, f).contains("CREATE PROCEDURE public.rollup"));
    assert!(waits_for(&p, "job:1000", f));
    assert!(waits_for(&p, "job:1000", "verify:public.t:total"));
    assert!(waits_for(&p, "job:1000", "index:public.t_time_idx"));
}

#[test]
fn policies_are_created_paused_and_enabled_last_as_the_source_has_them() {
    let s = spec("", T);
    let p = plan(&s, &community(&s, vec![table_with_jobs("plpgsql", true)]));
    let policy = sql(&p, "policy:public.t:retention");
    assert!(
        policy.contains("alter_job(j.job_id, scheduled => false"),
        "{policy}"
    );
    assert_eq!(ids(&p, StepKind::EnableJobs), vec!["jobs:enable"]);
    let enable = sql(&p, "jobs:enable");
    assert!(
        enable.contains("j.proc_name = 'policy_retention'"),
        "{enable}"
    );
    assert!(enable.contains("j.proc_name = 'rollup'"), "{enable}");
    // Last: after every check and every job.
    assert!(waits_for(&p, "jobs:enable", "job:1000"));
    assert!(waits_for(&p, "jobs:enable", "policy:public.t:retention"));
    assert!(waits_for(&p, "jobs:enable", "verify:public.t:total"));
    assert_eq!(
        p.order().last().map(|n| p.graph[*n].id.as_str()),
        Some("jobs:enable")
    );

    // A job paused on the source stays paused: it is not enabled.
    let p = plan(&s, &community(&s, vec![table_with_jobs("plpgsql", false)]));
    let enable = sql(&p, "jobs:enable");
    assert!(!enable.contains("'rollup'"), "{enable}");
    assert!(enable.contains("'policy_retention'"), "{enable}");

    // `jobs: paused`: nothing is enabled, and the plan says so.
    let s = spec("jobs: paused\n", T);
    let p = plan(&s, &community(&s, vec![table_with_jobs("plpgsql", true)]));
    assert!(ids(&p, StepKind::EnableJobs).is_empty());
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("jobs: paused: 2 jobs")),
        "{:#?}",
        p.warnings
    );
}

#[test]
fn scheduled_source_jobs_are_named_in_the_warnings() {
    let s = spec("", T);
    let p = plan(&s, &community(&s, vec![table_with_jobs("plpgsql", true)]));
    let w: Vec<&String> = p
        .warnings
        .iter()
        .filter(|w| w.contains("--pause-source-jobs"))
        .collect();
    assert_eq!(w.len(), 1, "{:#?}", p.warnings);
    assert!(w[0].starts_with(
        "source user job public.rollup (job 1000) is scheduled and touches public.t (its config names it)"
    ));
    // A paused one cannot run mid-move: not warned about.
    let p = plan(&s, &community(&s, vec![table_with_jobs("plpgsql", false)]));
    assert!(!p.warnings.iter().any(|w| w.contains("--pause-source-jobs")));
}

#[test]
fn a_renamed_table_is_renamed_in_the_config_of_its_jobs() {
    let s = spec(
        "",
        "  - name: public.t\n    target: archive.t2\n    hypertable: {time_column: time, chunk_time_interval: 7 days}\n",
    );
    let p = plan(&s, &community(&s, vec![table_with_jobs("plpgsql", true)]));
    let job = sql(&p, "job:1000");
    assert!(
        job.contains(
            r#"config => '{"hypertable":"archive.t2","keep":3,"list":["t2","other"]}'::jsonb"#
        ),
        "{job}"
    );
    // The enable step finds the job by that same config.
    assert!(sql(&p, "jobs:enable").contains(r#""hypertable":"archive.t2""#));
}

#[test]
fn a_config_naming_a_hypertable_id_gets_the_targets() {
    let s = spec("", T);
    let mut t = table_with_jobs("plpgsql", true);
    t.jobs[0].config = Some(r#"{"hypertable_id": 7}"#.into());
    t.jobs[0].why = "its config names its hypertable_id".into();
    let p = plan(&s, &community(&s, vec![t]));
    let job = sql(&p, "job:1000");
    assert!(job.contains("jsonb_set('{\"hypertable_id\":7}'::jsonb, '{hypertable_id}', to_jsonb((SELECT h.id FROM _timescaledb_catalog.hypertable h WHERE h.schema_name = 'public' AND h.table_name = 't')))"), "{job}");
}

#[test]
fn an_apache_target_refuses_user_jobs_by_name_or_lists_them() {
    let s = spec("", T);
    let mut t = table_with_jobs("plpgsql", true);
    t.hypertable.as_mut().unwrap().policies.clear();
    let i = inputs(&s, vec![t.clone()]);
    let e = refusal(&s, &i);
    assert!(
        e.contains("user job public.rollup (job 1000) (its config names it) cannot be carried over: jobs on the target need TimescaleDB's community edition, and the target's is licensed `apache`"),
        "{e}"
    );
    let s = spec("on_unsupported: warn\n", T);
    let p = plan(&s, &inputs(&s, vec![t]));
    assert!(ids(&p, StepKind::Job).is_empty());
    // Its procedure stays behind with it: the base tables only.
    assert!(ids(&p, StepKind::Function).is_empty());
    assert!(ids(&p, StepKind::EnableJobs).is_empty());
    assert!(
        p.warnings.iter().any(|w| w.starts_with(
            "public.t: user job public.rollup (job 1000) (its config names it) is not carried over: jobs on the target need"
        )),
        "{:#?}",
        p.warnings
    );
}

#[test]
fn a_job_whose_procedure_is_in_c_is_refused_by_name() {
    let s = spec("", T);
    let e = refusal(&s, &community(&s, vec![table_with_jobs("c", true)]));
    assert!(
        e.contains("its procedure public.rollup(integer, jsonb) is in language c"),
        "{e}"
    );
    // Named once, as the job's: a job that does not move needs no function.
    assert!(!e.contains("refused for"), "{e}");
}

#[test]
fn a_refresh_policy_waits_for_its_aggregate_or_stays_out() {
    let s = spec("", T);
    let mut t = table_with_jobs("plpgsql", true);
    t.jobs = vec![SourceJob {
        id: 1002,
        application_name: "Refresh Continuous Aggregate Policy [1002]".into(),
        proc: qn("_timescaledb_functions.policy_refresh_continuous_aggregate"),
        user: false,
        config: Some(
            r#"{"end_offset": "01:00:00", "start_offset": "30 days", "mat_hypertable_id": 3}"#
                .into(),
        ),
        cagg: Some(qn("public.hourly")),
        why: "a continuous aggregate over it".into(),
        ..user_job(1002, true)
    }];
    // Without the aggregate's step (not moved), no policy step.
    let p = plan(&s, &community(&s, vec![t.clone()]));
    assert!(
        !ids(&p, StepKind::Policy)
            .iter()
            .any(|i| i.contains("refresh"))
    );
    // The SQL it would run, once the aggregate moves.
    let i = community(&s, vec![t.clone()]);
    let decision = super::jobs::decide(&s, &i).expect("decided");
    let policy = &decision.cagg_policies[0];
    assert_eq!(policy.kind, "refresh");
    let sql = super::jobs::cagg_policy_sql("public", policy).expect("carried");
    assert!(
        sql[0].starts_with("SELECT \"public\".add_continuous_aggregate_policy('\"public\".\"hourly\"'::regclass, start_offset => INTERVAL '30 days', end_offset => INTERVAL '01:00:00', schedule_interval => INTERVAL '01:00:00'"),
        "{}",
        sql[0]
    );
    assert!(sql[1].contains("scheduled => false"));
}

#[test]
fn config_renames_follow_the_form_of_the_name() {
    let src = qn("public.t");
    let dst = qn("Arch.t2");
    let v: serde_json::Value = serde_json::from_str(
        r#"{"a": "public.t", "b": "\"public\".\"t\"", "c": "t", "d": ["x", {"e": "public.t"}], "f": 1, "g": "public.other"}"#,
    )
    .unwrap();
    let out = super::jobs::rename_in_config(v, &[(&src, &dst)]);
    assert_eq!(
        out,
        serde_json::json!({"a": "Arch.t2", "b": "\"Arch\".t2", "c": "t2", "d": ["x", {"e": "Arch.t2"}], "f": 1, "g": "public.other"})
    );
}
