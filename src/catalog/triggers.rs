//! User triggers: read in parts, and written back from them.
//!
//! `pg_get_triggerdef` names the table by its source name, and a moved table may get
//! another name or schema. Rather than replace the name inside that text (which could
//! as well hit a column, an argument or a string of the `WHEN` condition),
//! `CREATE TRIGGER` is written here from `pg_trigger`'s parts: timing, events with
//! `UPDATE OF` columns, `REFERENCING` transition tables, `FOR EACH ROW/STATEMENT`,
//! constraint deferral, and the function with its arguments, each name quoted by
//! whoever writes the statement. The one part no catalog function renders alone is
//! the `WHEN` condition: `pg_get_expr` refuses it, because it refers to two relations
//! (`OLD` and `NEW`). It is taken from `pg_get_triggerdef` by checking that the
//! definition is exactly what the other parts render with the server's own quoting,
//! around `WHEN (…) `: then whatever lies between is the condition, which cannot
//! name the table itself (a `WHEN` admits no subquery). A trigger whose definition
//! is anything else is kept, marked as one that cannot be recreated, and refused by
//! name in the plan.

use serde::Deserialize;
use tokio_postgres::{GenericClient, Row};

use super::model::Trigger;
use super::{Result, query_err};
use crate::pg::{QualifiedName, quote_literal};

// `tgtype` bits, as PostgreSQL's catalog/pg_trigger.h defines them.
const ROW: i16 = 1;
const BEFORE: i16 = 1 << 1;
const INSERT: i16 = 1 << 2;
const DELETE: i16 = 1 << 3;
const UPDATE: i16 = 1 << 4;
const TRUNCATE: i16 = 1 << 5;
const INSTEAD: i16 = 1 << 6;

/// The names a trigger's definition contains, each already quoted as SQL.
#[derive(Debug, Clone)]
pub struct TriggerNames {
    /// The trigger.
    pub trigger: String,
    /// The table it is on.
    pub table: String,
    /// The `UPDATE OF` columns.
    pub columns: Vec<String>,
    /// The old transition table.
    pub old_table: Option<String>,
    /// The new transition table.
    pub new_table: Option<String>,
    /// The function.
    pub function: String,
    /// The `FROM` table of a constraint trigger.
    pub from_table: Option<String>,
}

impl Trigger {
    /// `FOR EACH ROW` (else `FOR EACH STATEMENT`).
    pub fn is_row(&self) -> bool {
        self.tgtype & ROW != 0
    }

    /// `BEFORE`, `AFTER` or `INSTEAD OF`.
    pub fn timing(&self) -> &'static str {
        if self.tgtype & INSTEAD != 0 {
            "INSTEAD OF"
        } else if self.tgtype & BEFORE != 0 {
            "BEFORE"
        } else {
            "AFTER"
        }
    }

    /// The events, in the server's order, with `UPDATE OF` these columns.
    fn events(&self, columns: &[String]) -> String {
        let mut events = Vec::new();
        if self.tgtype & INSERT != 0 {
            events.push("INSERT".to_string());
        }
        if self.tgtype & DELETE != 0 {
            events.push("DELETE".to_string());
        }
        if self.tgtype & UPDATE != 0 {
            if columns.is_empty() {
                events.push("UPDATE".to_string());
            } else {
                events.push(format!("UPDATE OF {}", columns.join(", ")));
            }
        }
        if self.tgtype & TRUNCATE != 0 {
            events.push("TRUNCATE".to_string());
        }
        events.join(" OR ")
    }

    /// The statement up to where a `WHEN` condition goes, and from `EXECUTE
    /// FUNCTION` on, laid out as `pg_get_triggerdef` lays them out.
    fn around_when(&self, names: &TriggerNames) -> (String, String) {
        let mut head = format!(
            "CREATE {}TRIGGER {} {} {} ON {} ",
            if self.constraint.is_some() {
                "CONSTRAINT "
            } else {
                ""
            },
            names.trigger,
            self.timing(),
            self.events(&names.columns),
            names.table
        );
        if let Some((deferrable, deferred)) = self.constraint {
            if let Some(from) = &names.from_table {
                head.push_str(&format!("FROM {from} "));
            }
            head.push_str(if deferrable { "" } else { "NOT " });
            head.push_str("DEFERRABLE INITIALLY ");
            head.push_str(if deferred { "DEFERRED " } else { "IMMEDIATE " });
        }
        if names.old_table.is_some() || names.new_table.is_some() {
            head.push_str("REFERENCING ");
            if let Some(old) = &names.old_table {
                head.push_str(&format!("OLD TABLE AS {old} "));
            }
            if let Some(new) = &names.new_table {
                head.push_str(&format!("NEW TABLE AS {new} "));
            }
        }
        head.push_str(if self.is_row() {
            "FOR EACH ROW "
        } else {
            "FOR EACH STATEMENT "
        });
        let args: Vec<String> = self.args.iter().map(|a| quote_literal(a)).collect();
        let tail = format!("EXECUTE FUNCTION {}({})", names.function, args.join(", "));
        (head, tail)
    }

    /// `CREATE TRIGGER` with these names, and the trigger's `WHEN` condition.
    pub fn definition(&self, names: &TriggerNames) -> String {
        let (head, tail) = self.around_when(names);
        match &self.when {
            Some(when) => format!("{head}WHEN ({when}) {tail}"),
            None => format!("{head}{tail}"),
        }
    }

    /// The `WHEN` condition inside the server's `definition`, when the definition is
    /// exactly what the parts render around it: `Some(None)` for a trigger without one.
    fn when_in(
        &self,
        definition: &str,
        names: &TriggerNames,
        has_when: bool,
    ) -> Option<Option<String>> {
        let (head, tail) = self.around_when(names);
        let between = definition.strip_prefix(&head)?.strip_suffix(&tail)?;
        if !has_when {
            return between.is_empty().then_some(None);
        }
        let when = between.strip_prefix("WHEN (")?.strip_suffix(") ")?;
        Some(Some(when.to_string()))
    }
}

/// A table's user triggers (see `sql/triggers.sql`), by name.
pub(super) async fn triggers(
    client: &impl GenericClient,
    name: &QualifiedName,
    oid: u32,
) -> Result<Vec<Trigger>> {
    Ok(client
        .query(include_str!("sql/triggers.sql"), &[&oid])
        .await
        .map_err(query_err(format!("triggers of {name}")))?
        .iter()
        .map(trigger_of)
        .collect())
}

/// One row of `sql/triggers.sql`, checked against the server's definition.
fn trigger_of(r: &Row) -> Trigger {
    let nargs = r.get::<_, i32>("nargs").max(0) as usize;
    let raw: Vec<u8> = r.get("args");
    // tgargs holds each argument NUL-terminated, in the server's encoding.
    let args: Option<Vec<String>> = raw
        .split(|b| *b == 0)
        .take(nargs)
        .map(|a| String::from_utf8(a.to_vec()).ok())
        .collect();
    let from_table = r
        .get::<_, Option<String>>("from_name")
        .map(|n| QualifiedName::new(r.get::<_, String>("from_schema"), n));
    let mut trigger = Trigger {
        name: r.get("name"),
        tgtype: r.get("tgtype"),
        columns: r.get("columns"),
        old_table: r.get("old_table"),
        new_table: r.get("new_table"),
        when: None,
        function: QualifiedName::new(
            r.get::<_, String>("function_schema"),
            r.get::<_, String>("function_name"),
        ),
        args: args.clone().unwrap_or_default(),
        enabled: super::first_char(r, "enabled").unwrap_or('O'),
        constraint: r
            .get::<_, bool>("is_constraint")
            .then(|| (r.get("deferrable"), r.get("initially_deferred"))),
        from_table,
        names_row_type: r.get("names_row_type"),
        unrecreatable: None,
    };
    let definition: String = r.get("definition");
    let server_names = TriggerNames {
        trigger: r.get("q_name"),
        table: r.get("q_table"),
        columns: r.get("q_columns"),
        old_table: r.get("q_old_table"),
        new_table: r.get("q_new_table"),
        function: r.get("q_function"),
        from_table: r.get("q_from"),
    };
    let when = args
        .filter(|a| a.len() == nargs)
        .and_then(|_| trigger.when_in(&definition, &server_names, r.get("has_when")));
    match when {
        Some(when) => trigger.when = when,
        None => {
            trigger.unrecreatable = Some(format!(
                "its definition `{definition}` is not what hypermove writes from its parts"
            ))
        }
    }
    trigger
}

/// `Table::triggers` as this version writes it, or as trigger names alone (what a
/// backup made before triggers moved recorded): those cannot be recreated.
pub(super) fn read_recorded<'de, D>(d: D) -> std::result::Result<Vec<Trigger>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Recorded {
        Parts(Box<Trigger>),
        Name(String),
    }
    Ok(Vec::<Recorded>::deserialize(d)?
        .into_iter()
        .map(|r| match r {
            Recorded::Parts(t) => *t,
            Recorded::Name(name) => Trigger {
                name,
                tgtype: 0,
                columns: Vec::new(),
                old_table: None,
                new_table: None,
                when: None,
                function: QualifiedName::new("", ""),
                args: Vec::new(),
                enabled: 'O',
                constraint: None,
                from_table: None,
                names_row_type: false,
                unrecreatable: Some(
                    "the backup recorded its name only (it was made by an older hypermove)"
                        .to_string(),
                ),
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(tgtype: i16) -> Trigger {
        Trigger {
            name: "t".into(),
            tgtype,
            columns: Vec::new(),
            old_table: None,
            new_table: None,
            when: None,
            function: QualifiedName::new("app", "f"),
            args: Vec::new(),
            enabled: 'O',
            constraint: None,
            from_table: None,
            names_row_type: false,
            unrecreatable: None,
        }
    }

    fn names(columns: &[&str]) -> TriggerNames {
        TriggerNames {
            trigger: "t".into(),
            table: "app.items".into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            old_table: None,
            new_table: None,
            function: "app.f".into(),
            from_table: None,
        }
    }

    #[test]
    fn the_when_condition_is_what_lies_between_the_parts() {
        let mut t = trigger(ROW | BEFORE | INSERT | UPDATE);
        t.args = vec!["a'b".into(), "c\\d".into()];
        let def = "CREATE TRIGGER t BEFORE INSERT OR UPDATE OF note, price ON app.items FOR EACH ROW WHEN (new.note <> ') EXECUTE FUNCTION x('::text) EXECUTE FUNCTION app.f('a''b', 'c\\d')";
        assert_eq!(
            t.when_in(def, &names(&["note", "price"]), true),
            Some(Some(
                "new.note <> ') EXECUTE FUNCTION x('::text".to_string()
            ))
        );
        t.when = Some("new.note <> ') EXECUTE FUNCTION x('::text".into());
        assert_eq!(t.definition(&names(&["note", "price"])), def);
        // Anything else is not taken apart.
        assert_eq!(t.when_in(def, &names(&["note"]), true), None);
        assert_eq!(t.when_in(def, &names(&["note", "price"]), false), None);
    }

    #[test]
    fn statement_constraint_and_transition_parts_render_as_the_server_does() {
        let mut t = trigger(INSERT | DELETE | UPDATE | TRUNCATE);
        t.old_table = Some("o".into());
        let mut n = names(&[]);
        n.old_table = Some("o".into());
        n.new_table = Some("\"table\"".into());
        assert_eq!(
            t.definition(&n),
            "CREATE TRIGGER t AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON app.items REFERENCING OLD TABLE AS o NEW TABLE AS \"table\" FOR EACH STATEMENT EXECUTE FUNCTION app.f()"
        );
        let mut c = trigger(ROW | UPDATE);
        c.constraint = Some((false, false));
        let mut n = names(&[]);
        n.from_table = Some("app.r2".into());
        assert_eq!(
            c.definition(&n),
            "CREATE CONSTRAINT TRIGGER t AFTER UPDATE ON app.items FROM app.r2 NOT DEFERRABLE INITIALLY IMMEDIATE FOR EACH ROW EXECUTE FUNCTION app.f()"
        );
        assert_eq!(trigger(INSTEAD | ROW | INSERT).timing(), "INSTEAD OF");
    }

    #[test]
    fn names_recorded_by_an_older_version_read_as_triggers_that_cannot_be_recreated() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "read_recorded")]
            triggers: Vec<Trigger>,
        }
        let t: T = serde_json::from_str(r#"{"triggers": ["audit"]}"#).unwrap();
        assert_eq!(t.triggers[0].name, "audit");
        assert!(t.triggers[0].unrecreatable.is_some());
        let parts = serde_json::to_string(&trigger(ROW | INSERT)).unwrap();
        let t: T = serde_json::from_str(&format!(r#"{{"triggers": [{parts}]}}"#)).unwrap();
        assert_eq!(t.triggers, vec![trigger(ROW | INSERT)]);
    }
}
