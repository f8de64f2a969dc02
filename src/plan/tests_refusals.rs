//! Every refusal the planner makes, each with its message. No database.

use super::testkit::*;
use crate::catalog::{
    ConstraintKind, DimensionKind, ForeignKey, Grants, Index, TimeBounds, UserType,
};

const T: &str = "  - name: public.t\n";

/// A spec of one table `public.t` with this `hypertable:` block (or none).
fn one(hypertable: &str) -> crate::spec::Spec {
    let body = if hypertable.is_empty() {
        T.to_string()
    } else {
        format!("{T}    hypertable: {hypertable}\n")
    };
    spec("", &body)
}

#[test]
fn grants_need_every_role_on_the_target() {
    let s = spec("grants: true\n", T);
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    i.grants = vec![Some(Grants {
        owner: "alice".into(),
        grants: vec![
            (Some("bob".into()), "SELECT".into(), false),
            (None, "SELECT".into(), false),
            (Some("carol".into()), "INSERT".into(), false),
        ],
        ..Default::default()
    })];
    i.target_roles.insert("carol".into());
    assert_eq!(
        refusal(&s, &i),
        "target: grants: true needs these roles on the target, and they do not exist there: alice, bob; create them first"
    );
}

#[test]
fn a_table_is_not_moved_onto_itself() {
    let s = one("");
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    i.target_server.instance = "source".into();
    assert!(
        refusal(&s, &i).ends_with(
            "tables[0] (public.t): the target is the source itself (same server, database and table); give a `target:` name, or another target database"
        ),
        "{}",
        refusal(&s, &i)
    );
    // Another name in the same database is a copy, not a move onto itself.
    let s = spec("", "  - name: public.t\n    target: public.t2\n");
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    i.target_server.instance = "source".into();
    plan(&s, &i);
}

#[test]
fn an_existing_target_table_is_never_written_into() {
    let s = one("");
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    i.target_existing.insert(qn("public.t"));
    assert!(refusal(&s, &i).ends_with(
        "public.t already exists on the target; hypermove never writes into an existing table (drop it, or choose another `target:`)"
    ));
    i.stale_run = true;
    assert!(refusal(&s, &i).contains(
        "public.t already exists on the target, from an interrupted run of this spec that began from a different source state"
    ));
}

#[test]
fn unsupported_features_are_refused_or_listed() {
    let s = one("");
    let mut table = hyper("public.t", 1, 2);
    table.hypertable.as_mut().unwrap().unsupported = vec!["compression policy".into()];
    let i = inputs(&s, vec![table.clone()]);
    assert!(refusal(&s, &i).ends_with(
        "compression policy on the source; hypermove does not carry it over yet (`on_unsupported: warn` moves every row without it, and lists it in the plan)"
    ));
    let s = spec("on_unsupported: warn\n", T);
    let p = plan(&s, &inputs(&s, vec![table]));
    assert_eq!(
        p.warnings,
        vec!["public.t: compression policy on the source; not carried over (on_unsupported: warn)"]
    );
}

#[test]
fn the_time_column_must_exist_and_be_of_a_time_type() {
    let i = |s| inputs(s, vec![plain("public.t", 1)]);
    let s = one("{time_column: nope, chunk_time_interval: 1 day}");
    assert!(refusal(&s, &i(&s)).ends_with("time_column `nope` is not a column of public.t"));
    let s = one("{time_column: value, chunk_time_interval: 1 day}");
    assert!(refusal(&s, &i(&s)).ends_with(
        "time_column `value` has type double precision; a hypertable needs timestamptz, timestamp, date or an integer type"
    ));
}

#[test]
fn the_chunk_interval_must_fit_the_time_column() {
    let i = |s| inputs(s, vec![plain("public.t", 1)]);
    let s = one("{time_column: device, chunk_time_interval: 1 day}");
    assert!(refusal(&s, &i(&s)).ends_with(
        "time_column `device` is an integer; give chunk_time_interval as an integer in the column's units"
    ));
    let s = one("{time_column: device}");
    assert!(
        refusal(&s, &i(&s))
            .ends_with("time_column `device` is an integer; chunk_time_interval is required")
    );
    let s = one("{time_column: time, chunk_time_interval: 1000}");
    assert!(refusal(&s, &i(&s)).ends_with(
        "time_column `time` is timestamp with time zone; give chunk_time_interval as an interval such as `7 days`"
    ));
    let s = one("{time_column: time, chunk_time_interval: 1 day, integer_now_func: now_int}");
    assert!(refusal(&s, &i(&s)).ends_with(
        "integer_now_func applies to integer time columns; `time` is timestamp with time zone"
    ));
}

#[test]
fn functions_the_target_calls_must_exist_there() {
    let s = one("{time_column: time, chunk_time_interval: 1 day, time_partitioning_func: f}");
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    assert!(
        refusal(&s, &i).ends_with("function f does not exist on the target; create it there first")
    );
    i.target_functions.insert("f".into());
    plan(&s, &i);
}

#[test]
fn partitioning_columns_must_exist_and_differ_from_the_time_column() {
    let i = |s| inputs(s, vec![plain("public.t", 1)]);
    let s = one(
        "{time_column: time, chunk_time_interval: 1 day, partitioning_column: nope, number_partitions: 2}",
    );
    assert!(
        refusal(&s, &i(&s)).ends_with("partitioning column `nope` is not a column of public.t")
    );
    // The spec refuses this already; the planner does not rely on it.
    let mut s = one(
        "{time_column: time, chunk_time_interval: 1 day, partitioning_column: device, number_partitions: 2}",
    );
    let crate::spec::TargetShape::Hypertable(h) = &mut s.tables[0].shape else {
        panic!("a hypertable spec")
    };
    let crate::spec::DimensionSpec::Hash { column, .. } = &mut h.dimensions[0] else {
        panic!("a hash dimension")
    };
    *column = "time".into();
    assert!(
        refusal(&s, &i(&s)).ends_with("`time` is the time_column; it cannot be partitioned again")
    );
}

#[test]
fn keeping_a_layout_needs_a_range_dimension_first() {
    let s = one("");
    let mut table = hyper("public.t", 1, 1);
    table.hypertable.as_mut().unwrap().dimensions[0].kind = DimensionKind::Hash { partitions: 2 };
    assert!(
        refusal(&s, &inputs(&s, vec![table]))
            .ends_with("the source hypertable's first dimension is not a range")
    );
    let mut table = hyper("public.t", 1, 1);
    table.hypertable.as_mut().unwrap().dimensions.clear();
    assert!(
        refusal(&s, &inputs(&s, vec![table])).ends_with("the source hypertable has no dimensions")
    );
}

#[test]
fn null_time_values_are_refused_for_a_hypertable_target() {
    let s = one("{time_column: time, chunk_time_interval: 1 day}");
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    i.time_bounds = vec![Some(TimeBounds {
        range: Some((JAN1, JAN1 + DAY)),
        nulls: 1,
    })];
    assert!(refusal(&s, &i).ends_with(
        "1 row of public.t has NULL in time column `time`; a hypertable's time column cannot be NULL, so fix or delete that row first"
    ));
    i.time_bounds[0].as_mut().unwrap().nulls = 3;
    assert!(refusal(&s, &i).ends_with(
        "3 rows of public.t have NULL in time column `time`; a hypertable's time column cannot be NULL, so fix or delete those rows first"
    ));
    // A plain target takes them.
    let s = one("{plain: true}");
    let mut i2 = inputs(&s, vec![plain("public.t", 1)]);
    i2.time_bounds = i.time_bounds.clone();
    plan(&s, &i2);
}

#[test]
fn sources_whose_windows_could_miss_rows_are_refused() {
    let s = one("");
    let mut table = hyper("public.t", 1, 1);
    table.hypertable.as_mut().unwrap().dimensions[0].partitioning_func = Some("f".into());
    assert!(refusal(&s, &inputs(&s, vec![table])).ends_with(
        "its time dimension `time` is partitioned by function f; hypermove cuts copy windows on the column's own values and cannot yet cut them on a function's"
    ));
    let s = one("{time_column: time, chunk_time_interval: 1 day}");
    let mut table = hyper("public.t", 1, 1);
    table.hypertable.as_mut().unwrap().dimensions[0].column = "value".into();
    assert!(refusal(&s, &inputs(&s, vec![table])).ends_with(
        "its time dimension `value` is not of a time or integer type; hypermove cannot cut copy windows on it"
    ));
    let s = one("");
    let mut table = plain("public.t", 1);
    table.inheritance_children = vec![qn("public.t_2024"), qn("public.t_2025")];
    assert!(refusal(&s, &inputs(&s, vec![table])).ends_with(
        "it has inheritance children (public.t_2024, public.t_2025); a query on it reads their rows too, and hypermove moves single tables, not inheritance trees"
    ));
}

#[test]
fn unique_keys_must_include_every_partitioning_column() {
    let s = one(
        "{time_column: time, chunk_time_interval: 1 day, partitioning_column: device, number_partitions: 2}",
    );
    let mut table = plain("public.t", 1);
    table.constraints.push(primary_key("t_pkey", &["time"]));
    assert!(refusal(&s, &inputs(&s, vec![table])).ends_with(
        "constraint t_pkey on (time) does not include partitioning column `device`; TimescaleDB requires every unique key of a hypertable to include all partitioning columns"
    ));
    let mut table = plain("public.t", 1);
    table.indexes.push(Index {
        name: "t_device".into(),
        unique: true,
        method: "btree".into(),
        body: "(device)".into(),
        key_columns: vec![Some("device".into())],
    });
    assert!(refusal(&s, &inputs(&s, vec![table])).ends_with(
        "unique index t_device on (device) does not include partitioning column `time`; TimescaleDB requires every unique key of a hypertable to include all partitioning columns"
    ));
}

#[test]
fn from_and_until_need_a_time_column_of_their_kind() {
    let s = spec("", "  - name: public.t\n    from: 2025-01-01\n");
    assert!(refusal(&s, &inputs(&s, vec![plain("public.t", 1)])).ends_with(
        "from/until filter on the time column, but this table has none; give `hypertable: {time_column: …}`"
    ));
    let s = spec(
        "",
        "  - name: public.t\n    from: 5\n    hypertable: {time_column: time, chunk_time_interval: 1 day}\n",
    );
    assert!(
        refusal(&s, &inputs(&s, vec![plain("public.t", 1)]))
            .ends_with("from/until must be times for time column `time`")
    );
}

#[test]
fn a_foreign_key_needs_its_referenced_table_on_the_target() {
    let s = one("");
    let mut table = plain("public.t", 1);
    table.constraints.push(crate::catalog::Constraint {
        name: "t_device_fkey".into(),
        kind: ConstraintKind::ForeignKey(ForeignKey {
            ref_table: qn("public.devices"),
            ref_columns: vec!["id".into()],
            on_update: 'a',
            on_delete: 'c',
            match_type: 's',
            deferrable: false,
            deferred: false,
        }),
        columns: vec!["device".into()],
        definition: String::new(),
    });
    let mut i = inputs(&s, vec![table]);
    assert!(refusal(&s, &i).ends_with(
        "foreign key t_device_fkey references public.devices, which is neither moved nor present on the target; add it to `tables:`"
    ));
    i.target_references.insert(qn("public.devices"));
    let p = plan(&s, &i);
    assert_eq!(
        sql(&p, "fk:public.t.t_device_fkey"),
        "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"t_device_fkey\" FOREIGN KEY (\"device\") REFERENCES \"public\".\"devices\" (\"id\") ON UPDATE NO ACTION ON DELETE CASCADE"
    );
}

#[test]
fn every_missing_privilege_is_named_at_once() {
    let s = one("");
    let mut i = inputs(&s, vec![hyper("public.t", 1, 1)]);
    i.source_privileges.unreadable_tables = vec!["public.secret".into()];
    i.source_privileges.rls_filtered_tables = vec!["public.t".into()];
    i.target_privileges.superuser = false;
    i.target_privileges.create_in_database = false;
    i.target_privileges.unwritable_schemas = vec!["public".into()];
    i.target_server.timescaledb = None;
    assert_eq!(
        refusal(&s, &i),
        "target: the move needs privileges it does not have (nothing was written): \
         source: SELECT on public.secret; \
         source: reading all of public.t, whose row-level security applies to reader (connect as its owner, or as a role with BYPASSRLS); \
         target: CREATE on database db (for new schemas and the journal schema hypermove); \
         target: CREATE on schema public; \
         target: the timescaledb extension is not installed and writer may not create it (an administrator must run CREATE EXTENSION timescaledb)"
    );
}

#[test]
fn hypertables_need_timescaledb_on_the_target() {
    let s = one("");
    let mut i = inputs(&s, vec![hyper("public.t", 1, 1)]);
    i.target_server.timescaledb = None;
    i.target_server.timescaledb_available = None;
    assert_eq!(
        refusal(&s, &i),
        "target: the spec asks for hypertables, but TimescaleDB is not installed on the target server (17.5); install it, or move the tables as plain tables"
    );
    // Available but not installed: the plan installs it.
    i.target_server.timescaledb_available = Some("2.19.0".into());
    let p = plan(&s, &i);
    assert_eq!(
        sql(&p, "extension:timescaledb"),
        "CREATE EXTENSION IF NOT EXISTS timescaledb WITH SCHEMA \"public\""
    );
    // A plain target needs no TimescaleDB at all.
    let s = one("{plain: true}");
    let mut i = inputs(&s, vec![hyper("public.t", 1, 1)]);
    i.target_server.timescaledb = None;
    i.target_server.timescaledb_available = None;
    assert_eq!(plan(&s, &i).count(super::StepKind::Extension), 0);
}

#[test]
fn a_type_from_a_missing_extension_is_refused() {
    let s = one("");
    let mut table = plain("public.t", 1);
    table.types.push(UserType {
        name: qn("public.citext"),
        kind: 'b',
        depth: 0,
        extension: Some("citext".into()),
        labels: Vec::new(),
        base_type: None,
        not_null: false,
        default: None,
        checks: Vec::new(),
        late_checks: Vec::new(),
        attributes: Vec::new(),
    });
    let mut i = inputs(&s, vec![table]);
    i.target_extensions.insert("citext".into(), (false, false));
    assert_eq!(
        refusal(&s, &i),
        "target: type public.citext comes from extension citext, which the target server does not have; install it there"
    );
    i.target_extensions.insert("citext".into(), (false, true));
    let p = plan(&s, &i);
    assert_eq!(
        sql(&p, "extension:citext"),
        "CREATE EXTENSION IF NOT EXISTS \"citext\" WITH SCHEMA \"public\""
    );
    i.target_extensions.insert("citext".into(), (true, true));
    assert_eq!(plan(&s, &i).count(super::StepKind::Extension), 0);
}

#[test]
fn verification_needs_the_target_table() {
    let s = one("");
    let i = inputs(&s, vec![plain("public.t", 1)]);
    let e = super::build_verification(&s, &i, crate::spec::VerifyLevel::Count)
        .expect_err("nothing to verify");
    assert!(
        e.to_string()
            .ends_with("public.t does not exist on the target; nothing to verify")
    );
}

#[test]
fn policies_need_every_role_they_name_on_the_target() {
    let s = spec("grants: true\n", T);
    let mut t = plain("public.t", 1);
    let mut rs = row_security();
    rs.policies[1].roles = vec![Some("dave".into()), Some("alice".into())];
    t.row_security = Some(rs);
    let mut i = inputs(&s, vec![t]);
    i.grants = vec![Some(Grants {
        owner: "alice".into(),
        grants: Vec::new(),
        ..Default::default()
    })];
    assert_eq!(
        refusal(&s, &i),
        "target: grants: true and row-level security policies need these roles on the target, and they do not exist there: alice, dave, reader; create them first"
    );
    i.grants = vec![None];
    i.target_roles.insert("dave".into());
    assert_eq!(
        refusal(&s, &i),
        "target: row-level security policies need these roles on the target, and they do not exist there: alice, reader; create them first"
    );
}

#[test]
fn a_policy_that_reads_another_table_is_refused_by_name() {
    let s = spec("", T);
    let mut t = plain("public.t", 1);
    let mut rs = row_security();
    rs.policies[0].other_tables = vec!["public.allowed".into()];
    t.row_security = Some(rs);
    let mut i = inputs(&s, vec![t]);
    i.target_roles.insert("reader".into());
    let m = refusal(&s, &i);
    assert!(
        m.ends_with("row-level security policies that read other tables cannot be carried over: policy \"only_device_1\" reads public.allowed; drop or rewrite them on the source first"),
        "{m}"
    );
}

#[test]
fn every_refusal_is_listed_at_once_each_with_its_own_reason() {
    let s = spec(
        "",
        "  - name: public.a\n  - name: public.b\n  - name: public.c\n",
    );
    let mut a = hyper("public.a", 1, 2);
    a.hypertable.as_mut().unwrap().unsupported = vec![
        "compression is enabled".into(),
        "continuous aggregate public.a_daily depends on it".into(),
    ];
    let mut b = hyper("public.b", 2, 2);
    b.hypertable.as_mut().unwrap().unsupported =
        vec!["background job policy_retention (job 7) runs on it".into()];
    let c = plain("public.c", 3);
    let mut i = inputs(&s, vec![a, b, c]);
    i.target_existing.insert(qn("public.c"));
    let message = refusal(&s, &i);
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines[0], "the plan is refused for 3 reasons:", "{message}");
    assert_eq!(lines.len(), 4, "{message}");
    assert!(lines[1].contains("tables[0] (public.a): on the source, compression is enabled; continuous aggregate public.a_daily depends on it; hypermove does not carry these over yet"), "{message}");
    assert!(
        lines[2].contains(
            "tables[1] (public.b): background job policy_retention (job 7) runs on it on the source"
        ),
        "{message}"
    );
    assert!(
        lines[3].contains("tables[2] (public.c): public.c already exists on the target"),
        "{message}"
    );
}

#[test]
fn lz4_columns_are_refused_when_the_target_was_built_without_lz4() {
    let s = one("");
    let mut t = plain("public.t", 1);
    t.settings = Some(settings(None));
    let mut i = inputs(&s, vec![t]);
    plan(&s, &i);
    i.target_server.lz4 = false;
    assert!(
        refusal(&s, &i).ends_with(
            "tables[0] (public.t): column value uses lz4 compression, and the target server was built without lz4; switch it to pglz on the source (ALTER TABLE … ALTER COLUMN … SET COMPRESSION pglz), or use a target built with lz4"
        ),
        "{}",
        refusal(&s, &i)
    );
}

#[test]
fn owners_and_grants_left_behind_are_refused_unless_the_spec_says_grants_false() {
    let left = Grants {
        owner: "alice".into(),
        grants: vec![
            (Some("bob".into()), "SELECT".into(), false),
            (None, "SELECT".into(), false),
        ],
        ..Default::default()
    };
    let with = |s: &crate::spec::Spec, g: Grants| {
        let mut i = inputs(s, vec![plain("public.t", 1)]);
        i.grants_left = vec![Some(g)];
        i.target_privileges.role = "loader".into();
        i
    };
    let s = one("");
    assert!(
        refusal(&s, &with(&s, left.clone())).ends_with(
            "tables[0] (public.t): its owner alice and its grants to PUBLIC, bob would stay behind: say `grants: true` to carry them (the roles must exist on the target), or `grants: false` to leave them behind"
        ),
        "{}",
        refusal(&s, &with(&s, left.clone()))
    );
    let s = spec("grants: false\n", T);
    assert_eq!(
        plan(&s, &with(&s, left.clone())).warnings,
        vec![
            "public.t: its owner alice and its grants to PUBLIC, bob stay behind (grants: false); on the target it belongs to loader"
        ]
    );
    // Owned by the loading role and granted to no one: nothing is left behind.
    let s = one("");
    let mine = Grants {
        owner: "loader".into(),
        ..Default::default()
    };
    assert!(plan(&s, &with(&s, mine)).warnings.is_empty());
}
