//! User triggers: created on the target name once the table's rows are loaded and
//! checked, in the state they have on the source, with their functions before the
//! tables; refused by name when they cannot be created, or listed with
//! `on_unsupported: warn`. No database.

use super::StepKind;
use super::testkit::*;
use crate::catalog::{Table, Trigger, UserFunction};

/// A trigger on `app.f()`; `tgtype` packs row (1), BEFORE (2), INSERT (4), DELETE
/// (8), UPDATE (16), TRUNCATE (32).
fn trigger(name: &str, tgtype: i16, function: &str) -> Trigger {
    Trigger {
        name: name.into(),
        tgtype,
        columns: Vec::new(),
        old_table: None,
        new_table: None,
        when: None,
        function: qn(function),
        args: Vec::new(),
        enabled: 'O',
        constraint: None,
        from_table: None,
        names_row_type: false,
        unrecreatable: None,
    }
}

/// A plpgsql trigger function the table needs.
fn trigger_function(name: &str) -> UserFunction {
    UserFunction {
        name: qn(name),
        args: String::new(),
        language: "plpgsql".into(),
        definition: format!(
            "CREATE OR REPLACE FUNCTION {}()\n RETURNS trigger\n LANGUAGE plpgsql\nAS $function$ BEGIN RETURN NEW; END $function$",
            qn(name).sql()
        ),
        depth: 0,
    }
}

/// A BEFORE INSERT row trigger with a WHEN condition and arguments, an AFTER INSERT
/// statement trigger with a transition table, an UPDATE OF trigger that is
/// disabled and a TRUNCATE trigger for replica sessions only.
fn with_triggers(mut t: Table) -> Table {
    let mut bump = trigger("bump", 1 | 2 | 4, "app.bump");
    bump.when = Some("new.value > 0::double precision".into());
    bump.args = vec!["it's".into()];
    let mut audit = trigger("audit", 4, "app.audit");
    audit.new_table = Some("new_rows".into());
    let mut price = trigger("Price", 1 | 2 | 16, "app.bump");
    price.columns = vec!["value".into(), "device".into()];
    price.enabled = 'D';
    let mut gone = trigger("gone", 32, "app.audit");
    gone.enabled = 'R';
    t.triggers = vec![audit, bump, gone, price];
    t.functions = vec![trigger_function("app.audit"), trigger_function("app.bump")];
    t
}

#[test]
fn triggers_are_created_after_the_copies_and_their_checks_on_the_new_name() {
    let s = spec(
        "",
        "  - name: public.t\n    target: other.t2\n    hypertable: {time_column: time, chunk_time_interval: 1 day}\n",
    );
    let mut i = inputs(&s, vec![with_triggers(plain("public.t", 1))]);
    i.time_bounds = vec![bounds(3)];
    i.target_server.timescaledb = Some("2.31.0".into());
    let p = plan(&s, &i);
    assert_eq!(ids(&p, StepKind::Trigger), vec!["trigger:other.t2"]);
    assert_eq!(
        sql(&p, "trigger:other.t2"),
        [
            "-- Created once the rows are loaded and checked: triggers are disabled during the load,\n-- so none of them fires for a copied row.\nCREATE TRIGGER \"audit\" AFTER INSERT ON \"other\".\"t2\" REFERENCING NEW TABLE AS \"new_rows\" FOR EACH STATEMENT EXECUTE FUNCTION \"app\".\"audit\"()",
            "CREATE TRIGGER \"bump\" BEFORE INSERT ON \"other\".\"t2\" FOR EACH ROW WHEN (new.value > 0::double precision) EXECUTE FUNCTION \"app\".\"bump\"('it''s')",
            "CREATE TRIGGER \"gone\" AFTER TRUNCATE ON \"other\".\"t2\" FOR EACH STATEMENT EXECUTE FUNCTION \"app\".\"audit\"()",
            "CREATE TRIGGER \"Price\" BEFORE UPDATE OF \"value\", \"device\" ON \"other\".\"t2\" FOR EACH ROW EXECUTE FUNCTION \"app\".\"bump\"()",
            "ALTER TABLE \"other\".\"t2\" ENABLE REPLICA TRIGGER \"gone\"",
            "ALTER TABLE \"other\".\"t2\" DISABLE TRIGGER \"Price\"",
        ]
        .join(";\n")
    );
    // After every copy window and every check of them (and the hypertable): no
    // trigger fires for a copied row.
    let loading: Vec<String> = p
        .graph
        .node_weights()
        .filter(|st| {
            matches!(
                st.kind,
                StepKind::Copy | StepKind::Verify | StepKind::Hypertable | StepKind::Table
            )
        })
        .map(|st| st.id.clone())
        .collect();
    assert!(
        loading.iter().filter(|id| id.starts_with("copy:")).count() >= 3,
        "{loading:?}"
    );
    assert!(loading.contains(&"verify:other.t2:total".to_string()));
    for id in loading {
        assert!(
            waits_for(&p, "trigger:other.t2", &id),
            "trigger before {id}"
        );
    }
    // Their functions come before the table, under their source names.
    for f in ["function:app.audit()", "function:app.bump()"] {
        assert!(waits_for(&p, "table:other.t2", f), "{f}");
    }
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn a_table_without_triggers_has_no_trigger_step() {
    let s = spec("", "  - name: public.t\n");
    let p = plan(&s, &inputs(&s, vec![plain("public.t", 1)]));
    assert!(ids(&p, StepKind::Trigger).is_empty());
}

#[test]
fn row_security_still_comes_last() {
    let s = spec("", "  - name: public.h\n");
    let mut t = with_triggers(hyper("public.h", 1, 2));
    t.triggers.retain(|tr| tr.enabled == 'O');
    t.row_security = Some(row_security());
    let mut i = inputs(&s, vec![t]);
    i.target_roles.insert("reader".into());
    let p = plan(&s, &i);
    assert!(waits_for(&p, "trigger:public.h", "hypertable:public.h"));
    assert!(waits_for(&p, "rls:public.h", "trigger:public.h"));
}

#[test]
fn triggers_that_cannot_be_created_are_refused_by_name_all_at_once() {
    let mut t = with_triggers(plain("public.t", 1));
    let mut from = trigger("from_other", 1 | 16, "app.bump");
    from.constraint = Some((true, false));
    from.from_table = Some(qn("app.other"));
    let mut odd = trigger("odd", 1 | 4, "app.bump");
    odd.unrecreatable =
        Some("its definition `…` is not what hypermove writes from its parts".into());
    // pg_catalog's, not on this target.
    let absent = trigger(
        "absent",
        1 | 2 | 16,
        "pg_catalog.suppress_redundant_updates_trigger",
    );
    t.triggers.extend([from, odd, absent]);
    let s = spec("", "  - name: public.t\n");
    assert_eq!(
        refusal(&s, &inputs(&s, vec![t.clone()])),
        "t.yaml:5:5: tables[0] (public.t): triggers that cannot be carried over: trigger \"from_other\": it is a constraint trigger FROM app.other, another table, which hypermove does not carry; trigger \"odd\": its definition `…` is not what hypermove writes from its parts; trigger \"absent\": its function pg_catalog.suppress_redundant_updates_trigger is not on the target (create it there, or its extension, first); drop them on the source first, or `on_unsupported: warn` to move the table without them"
    );
    // With a target that has the function, that one moves.
    let mut i = inputs(&s, vec![t.clone()]);
    i.target_functions
        .insert(qn("pg_catalog.suppress_redundant_updates_trigger").sql());
    assert!(!refusal(&s, &i).contains("absent"));
    // With on_unsupported: warn the others are listed, and the rest move.
    let s = spec("on_unsupported: warn\n", "  - name: public.t\n");
    let p = plan(&s, &inputs(&s, vec![t]));
    assert_eq!(
        p.warnings,
        vec![
            "public.t: trigger \"from_other\" is not carried over (on_unsupported: warn): it is a constraint trigger FROM app.other, another table, which hypermove does not carry",
            "public.t: trigger \"odd\" is not carried over (on_unsupported: warn): its definition `…` is not what hypermove writes from its parts",
            "public.t: trigger \"absent\" is not carried over (on_unsupported: warn): its function pg_catalog.suppress_redundant_updates_trigger is not on the target (create it there, or its extension, first)",
        ]
    );
    let created = sql(&p, "trigger:public.t");
    for name in ["audit", "bump", "gone", "Price"] {
        assert!(
            created.contains(&format!("CREATE TRIGGER \"{name}\"")),
            "{created}"
        );
    }
    assert!(
        !created.contains("from_other") && !created.contains("odd") && !created.contains("absent")
    );
}

#[test]
fn a_trigger_whose_function_cannot_be_recreated_is_refused_with_it() {
    let mut t = plain("public.t", 1);
    t.triggers = vec![trigger("c_trig", 1 | 4, "app.c_fn")];
    let mut f = trigger_function("app.c_fn");
    f.language = "c".into();
    t.functions = vec![f];
    let s = spec("", "  - name: public.t\n");
    assert!(
        refusal(&s, &inputs(&s, vec![t.clone()])).contains(
            "trigger \"c_trig\": its function app.c_fn() is in language c, which hypermove does not recreate, and the target lacks it"
        )
    );
    let s = spec("on_unsupported: warn\n", "  - name: public.t\n");
    let p = plan(&s, &inputs(&s, vec![t]));
    assert!(ids(&p, StepKind::Trigger).is_empty());
    assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
}

#[test]
fn hypertable_targets_refuse_what_timescaledb_cannot_do() {
    let s = spec(
        "",
        "  - name: public.t\n    hypertable: {time_column: time, chunk_time_interval: 1 day}\n",
    );
    let mut t = with_triggers(plain("public.t", 1));
    let mut rows = trigger("row_rows", 1 | 4, "app.audit");
    rows.old_table = Some("o".into());
    t.triggers.push(rows);
    let mut i = inputs(&s, vec![t.clone()]);
    i.time_bounds = vec![bounds(2)];
    assert_eq!(
        refusal(&s, &i),
        "t.yaml:5:5: tables[0] (public.t): triggers that cannot be carried over: trigger \"gone\": it is enabled for replica sessions only on the source, and TimescaleDB 2.19.0 on the target cannot set that on a hypertable (2.27 and later can); trigger \"Price\": it is disabled on the source, and TimescaleDB 2.19.0 on the target cannot set that on a hypertable (2.27 and later can); trigger \"row_rows\": it is a row trigger with transition tables, which TimescaleDB does not support on a hypertable; drop them on the source first, or `on_unsupported: warn` to move the table without them"
    );
    // A newer TimescaleDB sets the states; a plain target takes everything.
    i.target_server.timescaledb = Some("2.31.0".into());
    assert!(refusal(&s, &i).contains("trigger \"row_rows\""));
    assert!(!refusal(&s, &i).contains("trigger \"Price\""));
    let s = spec("", "  - name: public.t\n");
    let p = plan(&s, &inputs(&s, vec![t]));
    assert!(sql(&p, "trigger:public.t").contains("REFERENCING OLD TABLE AS \"o\" FOR EACH ROW"));
}
