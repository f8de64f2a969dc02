//! Sequences no column owns that defaults draw from: created (with their schema)
//! before the tables, the defaults kept, set to the source's value after the data
//! of every table that draws from them; one already on the target is refused. No
//! database.

use petgraph::algo::has_path_connecting;

use super::StepKind;
use super::testkit::*;
use crate::catalog::{OwnedSequence, Table};

fn ticket_seq(column: &str) -> OwnedSequence {
    OwnedSequence {
        column: column.into(),
        name: qn("app.ticket_seq"),
        dep: 'n',
        data_type: "bigint".into(),
        start: 1,
        increment: 1,
        min: 1,
        max: i64::MAX,
        cache: 1,
        cycle: false,
        owned_by: None,
        last_value: Some(4321),
    }
}

/// A table whose `device` column defaults to `nextval('app.ticket_seq')`.
fn drawing(name: &str, oid: u32) -> Table {
    let mut t = plain(name, oid);
    t.columns[2].default = Some("nextval('app.ticket_seq'::regclass)".into());
    t.default_sequences = vec![ticket_seq(&t.columns[2].name)];
    t
}

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
fn the_sequence_is_created_before_the_table_and_set_after_its_data() {
    let s = spec("", "  - name: public.t\n");
    let p = plan(&s, &inputs(&s, vec![drawing("public.t", 1)]));
    assert_eq!(
        ids(&p, StepKind::CreateSequence),
        vec!["create_sequence:app.ticket_seq"]
    );
    assert_eq!(
        sql(&p, "create_sequence:app.ticket_seq"),
        "CREATE SEQUENCE \"app\".\"ticket_seq\" AS bigint INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1 NO CYCLE"
    );
    assert!(before(&p, "schema:app", "create_sequence:app.ticket_seq"));
    assert!(before(
        &p,
        "create_sequence:app.ticket_seq",
        "table:public.t"
    ));
    // The default is kept as the source has it.
    assert!(
        sql(&p, "table:public.t").contains("DEFAULT nextval('app.ticket_seq'::regclass)"),
        "{}",
        sql(&p, "table:public.t")
    );
    assert_eq!(
        sql(&p, "sequence:app.ticket_seq"),
        "SELECT setval('\"app\".\"ticket_seq\"'::regclass, 4321, true)"
    );
    assert!(before(&p, "copy:public.t", "sequence:app.ticket_seq"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn a_sequence_two_tables_draw_from_is_created_once_and_set_after_both() {
    let s = spec("", "  - name: public.t\n  - name: public.u\n");
    let p = plan(
        &s,
        &inputs(&s, vec![drawing("public.t", 1), drawing("public.u", 2)]),
    );
    assert_eq!(p.count(StepKind::CreateSequence), 1);
    for table in ["t", "u"] {
        assert!(before(
            &p,
            "create_sequence:app.ticket_seq",
            &format!("table:public.{table}")
        ));
        assert!(before(
            &p,
            &format!("copy:public.{table}"),
            "sequence:app.ticket_seq"
        ));
    }
}

#[test]
fn a_sequence_already_on_the_target_is_refused_by_name() {
    let s = spec("", "  - name: public.t\n");
    let mut i = inputs(&s, vec![drawing("public.t", 1)]);
    i.target_sequences.insert(qn("app.ticket_seq"));
    assert_eq!(
        refusal(&s, &i),
        "target: column defaults draw from app.ticket_seq, which already exist on the target; hypermove does not take over a sequence it did not create (drop it there, or move the table without that default)"
    );
}

/// `public.u`'s `device` defaults to the serial sequence of `public.t`'s `device`.
fn owner_and_user() -> (Table, Table) {
    let mut t = plain("public.t", 1);
    let mut own = ticket_seq("device");
    own.name = qn("public.t_device_seq");
    own.dep = 'a';
    t.columns[2].default = Some("nextval('t_device_seq'::regclass)".into());
    t.sequences = vec![own.clone()];
    let mut u = plain("public.u", 2);
    u.columns[2].default = Some("nextval('t_device_seq'::regclass)".into());
    own.dep = 'n';
    own.owned_by = Some((qn("public.t"), "device".into()));
    u.default_sequences = vec![own];
    (t, u)
}

#[test]
fn a_sequence_another_moved_column_owns_comes_with_that_table() {
    // The drawing table comes first in the spec; the owner's table is still created first.
    let s = spec("", "  - name: public.u\n  - name: public.t\n");
    let (t, u) = owner_and_user();
    let p = plan(&s, &inputs(&s, vec![u, t]));
    assert_eq!(p.count(StepKind::CreateSequence), 0);
    assert!(before(&p, "table:public.t", "table:public.u"));
    assert!(sql(&p, "table:public.t").contains("OWNED BY \"public\".\"t\".\"device\""));
    assert!(sql(&p, "table:public.u").contains("DEFAULT nextval('t_device_seq'::regclass)"));
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn a_sequence_whose_owner_stays_behind_is_created_on_its_own() {
    let s = spec("", "  - name: public.u\n");
    let (_, u) = owner_and_user();
    let p = plan(&s, &inputs(&s, vec![u]));
    assert_eq!(
        ids(&p, StepKind::CreateSequence),
        vec!["create_sequence:public.t_device_seq"]
    );
    assert!(sql(&p, "table:public.u").contains("DEFAULT nextval('t_device_seq'::regclass)"));
}

#[test]
fn a_sequence_whose_owner_moves_to_another_schema_is_refused_or_left_behind_with_warn() {
    let tables = "  - name: public.u\n  - name: public.t\n    target: other.t\n";
    let s = spec("", tables);
    let (t, u) = owner_and_user();
    assert!(refusal(&s, &inputs(&s, vec![u.clone(), t.clone()])).ends_with(
        "tables[0] (public.u): column device default `nextval('t_device_seq'::regclass)` draws from a sequence that moves to another schema with the column that owns it, where the default's text would not find it; `on_unsupported: warn` moves the table without it"
    ));
    let s = spec("on_unsupported: warn\n", tables);
    let p = plan(&s, &inputs(&s, vec![u, t]));
    assert_eq!(p.count(StepKind::CreateSequence), 0);
    assert!(!sql(&p, "table:public.u").contains("DEFAULT"));
    assert_eq!(
        p.warnings,
        vec![
            "public.u: column device default `nextval('t_device_seq'::regclass)` draws from a sequence that moves to another schema with the column that owns it, where the default's text would not find it; not carried over (on_unsupported: warn)"
        ]
    );
}
