//! The user functions moved tables need: created after their schemas and types and
//! before the tables, used as they are when the target has them, refused by name
//! when they cannot be recreated or differ; integer_now_func carried with them.
//! No database.

use petgraph::algo::has_path_connecting;

use super::StepKind;
use super::testkit::*;
use crate::catalog::{DimensionKind, TimeBounds, UserFunction, UserType};

const T: &str = "  - name: public.t\n";

fn function(name: &str, args: &str, language: &str, depth: i32) -> UserFunction {
    UserFunction {
        name: qn(name),
        args: args.into(),
        language: language.into(),
        definition: format!(
            "CREATE OR REPLACE FUNCTION {}({args})\n RETURNS text\n LANGUAGE {language}\nRETURN 'x'",
            qn(name).sql()
        ),
        depth,
    }
}

/// A table whose CHECK calls `shop.norm_sku(text)`, which calls `shop.trim_upper(text)`.
fn table_calling_functions() -> crate::catalog::Table {
    let mut t = plain("public.t", 1);
    t.functions = vec![
        function("shop.trim_upper", "text", "sql", 1),
        function("shop.norm_sku", "text", "sql", 0),
    ];
    t
}

fn node(p: &super::Plan, id: &str) -> petgraph::graph::NodeIndex {
    p.graph
        .node_indices()
        .find(|n| p.graph[*n].id == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}

#[test]
fn functions_come_after_schemas_and_types_and_before_the_tables() {
    let s = spec("", T);
    let mut t = table_calling_functions();
    t.types.push(UserType {
        name: qn("shop.mood"),
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
    let p = plan(&s, &inputs(&s, vec![t]));
    assert_eq!(
        ids(&p, StepKind::Function),
        vec![
            "function:shop.trim_upper(text)",
            "function:shop.norm_sku(text)"
        ]
    );
    let chain = [
        "schema:shop",
        "type:shop.mood",
        "function:shop.trim_upper(text)",
        "function:shop.norm_sku(text)",
        "table:public.t",
    ];
    for pair in chain.windows(2) {
        assert!(
            has_path_connecting(&p.graph, node(&p, pair[0]), node(&p, pair[1]), None),
            "{} does not come before {}",
            pair[0],
            pair[1]
        );
    }
    assert_eq!(
        sql(&p, "function:shop.norm_sku(text)"),
        "SET LOCAL check_function_bodies = off;\nCREATE FUNCTION \"shop\".\"norm_sku\"(text)\n RETURNS text\n LANGUAGE sql\nRETURN 'x'"
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn a_function_two_tables_need_is_created_once_before_both() {
    let s = spec("", "  - name: public.t\n  - name: public.u\n");
    let mut u = plain("public.u", 2);
    // Reached directly from u, and through norm_sku from t: the deeper place counts.
    u.functions = vec![function("shop.trim_upper", "text", "sql", 0)];
    let p = plan(&s, &inputs(&s, vec![table_calling_functions(), u]));
    assert_eq!(
        ids(&p, StepKind::Function),
        vec![
            "function:shop.trim_upper(text)",
            "function:shop.norm_sku(text)"
        ]
    );
    for table in ["table:public.t", "table:public.u"] {
        assert!(has_path_connecting(
            &p.graph,
            node(&p, "function:shop.trim_upper(text)"),
            node(&p, table),
            None
        ));
    }
}

#[test]
fn a_function_the_target_has_with_the_same_definition_is_used_as_it_is() {
    let s = spec("", T);
    let t = table_calling_functions();
    let mut i = inputs(&s, vec![t.clone()]);
    for f in &t.functions {
        i.target_function_defs
            .insert(f.signature(), f.definition.clone());
    }
    i.target_schemas.insert("shop".into());
    let p = plan(&s, &i);
    assert_eq!(p.count(StepKind::Function), 0);
    assert_eq!(p.count(StepKind::Schema), 0);
    assert_eq!(
        p.warnings,
        vec![
            "function shop.trim_upper(text) is already on the target, with the same definition, and is used as it is",
            "function shop.norm_sku(text) is already on the target, with the same definition, and is used as it is",
        ]
    );
}

#[test]
fn a_function_the_target_has_with_another_definition_is_refused_by_name() {
    let s = spec("", T);
    let mut i = inputs(&s, vec![table_calling_functions()]);
    i.target_function_defs
        .insert("shop.norm_sku(text)".into(), "CREATE FUNCTION other".into());
    assert_eq!(
        refusal(&s, &i),
        "target: function shop.norm_sku(text) exists on the target with a different definition; hypermove does not replace it (make the two the same, or drop it there)"
    );
}

#[test]
fn a_c_function_is_refused_by_name_or_listed_with_on_unsupported_warn() {
    let mut t = table_calling_functions();
    t.functions.push(function("shop.c_check", "text", "c", 0));
    let s = spec("", T);
    assert_eq!(
        refusal(&s, &inputs(&s, vec![t.clone()])),
        "target: function shop.c_check(text) is in language c; hypermove recreates SQL and PL/pgSQL functions only (create it on the target first, or `on_unsupported: warn` to go without it)"
    );
    let s = spec("on_unsupported: warn\n", T);
    let p = plan(&s, &inputs(&s, vec![t]));
    assert_eq!(
        ids(&p, StepKind::Function),
        vec![
            "function:shop.trim_upper(text)",
            "function:shop.norm_sku(text)"
        ]
    );
    assert_eq!(
        p.warnings,
        vec![
            "function shop.c_check(text) (language c) is not carried over (on_unsupported: warn); what calls it fails on the target until it exists there"
        ]
    );
}

/// An integer-time hypertable whose integer_now_func is `public.now_int()`.
fn integer_hypertable(language: &str) -> crate::catalog::Table {
    let mut b = hyper("public.t", 1, 1);
    b.columns[0] = column("time", 20, "bigint");
    b.hypertable.as_mut().unwrap().dimensions[0].kind = DimensionKind::Range {
        width: 1000,
        integer: true,
        integer_now_func: Some("public.now_int".into()),
    };
    b.functions = vec![function("public.now_int", "", language, 0)];
    b
}

#[test]
fn the_source_integer_now_func_moves_and_is_set() {
    let s = spec("", T);
    let p = plan(&s, &inputs(&s, vec![integer_hypertable("plpgsql")]));
    assert_eq!(
        ids(&p, StepKind::Function),
        vec!["function:public.now_int()"]
    );
    let h = sql(&p, "hypertable:public.t");
    assert!(
        h.contains("set_integer_now_func('\"public\".\"t\"'::regclass, 'public.now_int'::regproc)"),
        "{h}"
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);

    // One that cannot be recreated is not set, and the plan says so.
    let s = spec("on_unsupported: warn\n", T);
    let p = plan(&s, &inputs(&s, vec![integer_hypertable("c")]));
    assert!(!sql(&p, "hypertable:public.t").contains("set_integer_now_func"));
    assert!(
        p.warnings.iter().any(|w| w
            .contains("integer_now_func public.now_int is neither on the target nor recreated")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn a_spec_naming_an_integer_now_func_the_plan_creates_plans() {
    // What `hypermove init` writes for a plain source becoming an integer hypertable.
    let s = spec(
        "",
        "  - name: public.t\n    hypertable: {time_column: tick, chunk_time_interval: 1000, integer_now_func: public.now_int}\n",
    );
    let mut t = plain("public.t", 1);
    t.columns[0] = column("tick", 20, "bigint");
    t.columns[0].not_null = true;
    t.functions = vec![function("public.now_int", "", "sql", 0)];
    let mut i = inputs(&s, vec![t]);
    i.time_bounds[0] = Some(TimeBounds {
        range: Some((0, 999)),
        nulls: 0,
    });
    let p = plan(&s, &i);
    assert_eq!(
        ids(&p, StepKind::Function),
        vec!["function:public.now_int()"]
    );
    assert!(sql(&p, "hypertable:public.t").contains("set_integer_now_func"));
}

#[test]
fn a_domain_check_that_calls_a_function_is_added_after_the_function_and_before_the_table() {
    let s = spec("", T);
    let mut t = table_calling_functions();
    t.types.push(UserType {
        name: qn("shop.sku"),
        kind: 'd',
        depth: 0,
        extension: None,
        labels: Vec::new(),
        base_type: Some("text".into()),
        not_null: false,
        default: None,
        checks: vec!["CONSTRAINT not_empty CHECK (VALUE <> '')".into()],
        late_checks: vec!["CONSTRAINT normal CHECK (shop.norm_sku(VALUE) = VALUE)".into()],
        attributes: Vec::new(),
    });
    let p = plan(&s, &inputs(&s, vec![t]));
    for pair in [
        ["type:shop.sku", "function:shop.norm_sku(text)"],
        ["function:shop.norm_sku(text)", "type:shop.sku:checks"],
        ["type:shop.sku:checks", "table:public.t"],
    ] {
        assert!(
            has_path_connecting(&p.graph, node(&p, pair[0]), node(&p, pair[1]), None),
            "{} does not come before {}",
            pair[0],
            pair[1]
        );
    }
    assert!(sql(&p, "type:shop.sku").contains("CONSTRAINT not_empty CHECK (VALUE <> '')"));
    assert!(!sql(&p, "type:shop.sku").contains("normal"));
    assert_eq!(
        sql(&p, "type:shop.sku:checks"),
        "ALTER DOMAIN \"shop\".\"sku\" ADD CONSTRAINT normal CHECK (shop.norm_sku(VALUE) = VALUE)"
    );
}
