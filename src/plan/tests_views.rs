//! Views around the moved tables: views over views in dependency order, views over
//! renamed tables recreated through their source names for a moment, materialized
//! views refreshed after the data, and every view that cannot move refused by name
//! with what it reads that stays behind. No database.

use petgraph::algo::has_path_connecting;

use super::StepKind;
use super::testkit::*;
use crate::catalog::{Index, UserFunction};

fn node(p: &super::Plan, id: &str) -> petgraph::graph::NodeIndex {
    p.graph
        .node_indices()
        .find(|n| p.graph[*n].id == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}

fn before(p: &super::Plan, a: &str, b: &str) -> bool {
    has_path_connecting(&p.graph, node(p, a), node(p, b), None)
}

#[test]
fn a_view_over_a_view_comes_after_it_whatever_their_names() {
    let s = spec("", "  - name: public.t\n");
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    // Name order would put the outer view first.
    i.views = vec![
        view("public.a_outer", 11, vec![12]),
        view("public.z_inner", 12, vec![1]),
    ];
    let p = plan(&s, &i);
    assert_eq!(
        ids(&p, StepKind::View),
        vec!["view:public.z_inner", "view:public.a_outer"]
    );
    assert!(before(&p, "table:public.t", "view:public.z_inner"));
    assert!(before(&p, "view:public.z_inner", "view:public.a_outer"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn a_view_reading_what_is_not_moved_is_refused_by_name_with_the_views_over_it() {
    let s = spec("", "  - name: public.t\n");
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    let mut joined = view("public.joined", 11, vec![1, 2]);
    joined.read_labels = vec!["table public.t".into(), "table public.other".into()];
    i.views = vec![
        joined,
        view("public.on_top", 12, vec![11]),
        view("public.fine", 13, vec![1]),
    ];
    assert_eq!(
        refusal(&s, &i),
        "the plan is refused for 2 reasons:\n  \
         - target: view public.joined cannot be carried over: it reads table public.other, which is not moved (move it too, or `on_unsupported: warn` to go without the view)\n  \
         - target: view public.on_top cannot be carried over: it reads view public.joined, which is not carried over (let that move first, or `on_unsupported: warn` to go without the view)"
    );

    let s = spec("on_unsupported: warn\n", "  - name: public.t\n");
    let mut warned = inputs(&s, vec![plain("public.t", 1)]);
    warned.views = i.views.clone();
    let p = plan(&s, &warned);
    assert_eq!(
        p.warnings,
        vec![
            "view public.joined is not carried over (on_unsupported: warn): it reads table public.other, which is not moved",
            "view public.on_top is not carried over (on_unsupported: warn): it reads view public.joined, which is not carried over",
        ]
    );
    assert_eq!(ids(&p, StepKind::View), vec!["view:public.fine"]);
}

#[test]
fn a_view_over_a_renamed_table_is_created_through_its_source_name() {
    let s = spec("", "  - name: app.t\n    target: other.t2\n");
    let mut i = inputs(&s, vec![plain("app.t", 1)]);
    let mut v = view("public.v", 11, vec![1]);
    v.definition = " SELECT t.\"time\"\n   FROM app.t;".into();
    v.options = vec!["security_barrier=true".into(), "check_option=local".into()];
    i.views = vec![v];
    let p = plan(&s, &i);
    // `app` is not on the target and nothing else of the plan lives there: the
    // step makes it for the moment and drops it again.
    assert_eq!(
        sql(&p, "view:public.v"),
        [
            "CREATE SCHEMA \"app\"",
            "ALTER TABLE \"other\".\"t2\" SET SCHEMA \"app\"",
            "ALTER TABLE \"app\".\"t2\" RENAME TO \"t\"",
            "CREATE VIEW \"public\".\"v\" WITH (\"security_barrier\" = 'true', \"check_option\" = 'local') AS SELECT t.\"time\"\n   FROM app.t",
            "ALTER TABLE \"app\".\"t\" RENAME TO \"t2\"",
            "ALTER TABLE \"app\".\"t2\" SET SCHEMA \"other\"",
            "DROP SCHEMA \"app\"",
        ]
        .join(";\n")
    );
    // It renames the table: it waits for every step of it, so it never waits on
    // a lock a step of the table holds.
    for id in p
        .graph
        .node_weights()
        .filter(|s| s.table.is_some())
        .map(|s| s.id.clone())
    {
        assert!(
            before(&p, &id, "view:public.v"),
            "{id} runs before the rename"
        );
    }
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn views_follow_a_mapped_schema_and_views_over_them_rename_them_too() {
    let s = spec(
        "schema_map: {app: app2}\n",
        "  - name: app.t\n    target: app2.t\n",
    );
    let mut i = inputs(&s, vec![plain("app.t", 1)]);
    i.views = vec![
        view("app.inner", 11, vec![1]),
        view("app.outer", 12, vec![11]),
    ];
    let p = plan(&s, &i);
    assert_eq!(
        ids(&p, StepKind::View),
        vec!["view:app2.inner", "view:app2.outer"]
    );
    let outer = sql(&p, "view:app2.outer");
    assert!(
        outer.starts_with(
            "CREATE SCHEMA \"app\";\nALTER VIEW \"app2\".\"inner\" SET SCHEMA \"app\";\nCREATE VIEW \"app2\".\"outer\" AS SELECT 1;\nALTER VIEW \"app\".\"inner\" SET SCHEMA \"app2\";\nDROP SCHEMA \"app\""
        ),
        "{outer}"
    );
    // Renaming steps run one at a time.
    assert!(before(&p, "view:app2.inner", "view:app2.outer"));
}

#[test]
fn a_source_name_taken_on_the_target_refuses_the_view_even_with_warn() {
    let s = spec(
        "on_unsupported: warn\n",
        "  - name: public.t\n    target: public.t2\n",
    );
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    i.views = vec![view("public.v", 11, vec![1])];
    i.target_names_taken.insert(qn("public.t"));
    assert_eq!(
        refusal(&s, &i),
        "target: view public.v cannot be carried over: its text names public.t, which is public.t2 on the target, and the name public.t it needs there for a moment is taken"
    );
    // Its own name, too.
    let s = spec("", "  - name: public.t\n");
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    i.views = vec![view("public.v", 11, vec![1])];
    i.target_names_taken.insert(qn("public.v"));
    assert!(
        refusal(&s, &i).contains(
            "view public.v cannot be carried over: public.v already exists on the target"
        )
    );
}

#[test]
fn a_populated_materialized_view_is_refreshed_after_the_rows_it_reads() {
    let s = spec(
        "",
        "  - name: public.m\n    hypertable: {time_column: time, chunk_time_interval: 1 day}\n",
    );
    let mut i = inputs(&s, vec![hyper("public.m", 1, 3)]);
    let mut mv = view("public.daily", 11, vec![1]);
    mv.materialized = true;
    mv.populated = true;
    mv.definition = " SELECT count(*) AS n\n   FROM public.m;".into();
    mv.indexes = vec![Index {
        name: "daily_n".into(),
        unique: true,
        method: "btree".into(),
        body: "(n)".into(),
        key_columns: vec![Some("n".into())],
    }];
    mv.comments = vec![(None, "per day".into())];
    let mut empty = view("public.never", 12, vec![1]);
    empty.materialized = true;
    let mut over = view("public.over", 13, vec![11]);
    over.materialized = true;
    over.populated = true;
    i.views = vec![mv, empty, over];
    let p = plan(&s, &i);
    assert_eq!(
        sql(&p, "view:public.daily"),
        "CREATE MATERIALIZED VIEW \"public\".\"daily\" AS SELECT count(*) AS n\n   FROM public.m WITH NO DATA;\n\
         CREATE UNIQUE INDEX \"daily_n\" ON \"public\".\"daily\" USING btree (n);\n\
         COMMENT ON MATERIALIZED VIEW \"public\".\"daily\" IS 'per day'"
    );
    assert_eq!(
        sql(&p, "refresh:public.daily"),
        "REFRESH MATERIALIZED VIEW \"public\".\"daily\""
    );
    // Created once the table exists, refreshed once every window is copied.
    assert!(before(&p, "hypertable:public.m", "view:public.daily"));
    assert!(!before(
        &p,
        "copy:public.m:2025-01-01T00:00:00Z..2025-01-02T00:00:00Z",
        "view:public.daily"
    ));
    for copy in ids(&p, StepKind::Copy) {
        assert!(before(&p, &copy, "refresh:public.daily"), "{copy}");
    }
    // One over it is refreshed after it; one empty on the source stays empty.
    assert!(before(&p, "refresh:public.daily", "refresh:public.over"));
    assert_eq!(
        ids(&p, StepKind::Refresh),
        vec!["refresh:public.daily", "refresh:public.over"]
    );
}

#[test]
fn a_views_functions_move_with_it_or_refuse_it() {
    let s = spec("", "  - name: public.t\n");
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    let mut v = view("public.v", 11, vec![1]);
    v.functions = vec![UserFunction {
        name: qn("app.f"),
        args: "integer".into(),
        language: "sql".into(),
        definition:
            "CREATE OR REPLACE FUNCTION app.f(integer)\n RETURNS integer\n LANGUAGE sql\nRETURN 1"
                .into(),
        depth: 0,
    }];
    i.views = vec![v.clone()];
    let p = plan(&s, &i);
    assert!(before(&p, "function:app.f(integer)", "view:public.v"));

    v.functions[0].language = "c".into();
    i.views = vec![v];
    assert_eq!(
        refusal(&s, &i),
        "target: view public.v cannot be carried over: it calls function app.f(integer) (language c), which the target lacks and hypermove cannot recreate (create it on the target first, or `on_unsupported: warn` to go without the view)"
    );
}

#[test]
fn a_view_needs_the_extensions_and_types_it_uses_on_the_target() {
    let s = spec("on_unsupported: warn\n", "  - name: public.t\n");
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    let mut v = view("public.v", 11, vec![1]);
    v.extensions = vec!["timescaledb".into(), "hstore".into()];
    v.types = vec![qn("app.mood")];
    i.views = vec![v];
    i.target_extensions.insert("hstore".into(), (false, true));
    let p = plan(&s, &i);
    assert_eq!(
        p.warnings,
        vec![
            "view public.v is not carried over (on_unsupported: warn): it uses type app.mood, which no moved table uses, so it is not moved",
            "view public.v is not carried over (on_unsupported: warn): it uses extension hstore, which is not installed on the target",
        ]
    );
    assert!(ids(&p, StepKind::View).is_empty());
}

#[test]
fn with_grants_a_view_gets_its_owner_and_grants_after_its_refresh() {
    let s = spec("grants: true\n", "  - name: public.t\n");
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    let grants = crate::catalog::Grants {
        owner: "alice".into(),
        grants: vec![
            (Some("bob".into()), "SELECT".into(), false),
            (None, "SELECT".into(), false),
        ],
        ..Default::default()
    };
    let mut v = view("public.v", 11, vec![1]);
    v.grants = Some(grants.clone());
    let mut mv = view("public.mv", 12, vec![1]);
    mv.materialized = true;
    mv.populated = true;
    mv.grants = Some(grants);
    i.views = vec![v, mv];
    i.target_roles = ["alice".to_string()].into();
    assert_eq!(
        refusal(&s, &i),
        "the plan is refused for 2 reasons:\n  \
         - target: view public.v cannot be carried over: grants: true needs these roles on the target, and they do not exist there: bob; create them first\n  \
         - target: materialized view public.mv cannot be carried over: grants: true needs these roles on the target, and they do not exist there: bob; create them first"
    );
    i.target_roles.insert("bob".into());
    let p = plan(&s, &i);
    assert_eq!(
        sql(&p, "view:public.v"),
        "CREATE VIEW \"public\".\"v\" AS SELECT 1;\n\
         ALTER VIEW \"public\".\"v\" OWNER TO \"alice\";\n\
         GRANT SELECT ON \"public\".\"v\" TO \"bob\";\n\
         GRANT SELECT ON \"public\".\"v\" TO PUBLIC"
    );
    // The loading role refreshes the materialized view it owns, then hands it over.
    assert_eq!(
        sql(&p, "refresh:public.mv"),
        "REFRESH MATERIALIZED VIEW \"public\".\"mv\";\n\
         ALTER MATERIALIZED VIEW \"public\".\"mv\" OWNER TO \"alice\";\n\
         GRANT SELECT ON \"public\".\"mv\" TO \"bob\";\n\
         GRANT SELECT ON \"public\".\"mv\" TO PUBLIC"
    );
    assert_eq!(
        sql(&p, "view:public.mv"),
        "CREATE MATERIALIZED VIEW \"public\".\"mv\" AS SELECT 1 WITH NO DATA"
    );
}
