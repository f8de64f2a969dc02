//! The steps for the named objects around the tables: collations and text search
//! configurations (before the tables, as types), the tablespaces of the tables and
//! their indexes (on the steps that create them), and the default privileges of the
//! moved schemas (last, so they shape nothing the move itself creates).

use super::*;
use crate::catalog::PlacedKind;
use crate::plan::{collations, grants, tablespace};

impl<'a> Assembly<'a> {
    /// `CREATE COLLATION` and `CREATE TEXT SEARCH CONFIGURATION` for those the tables
    /// use that the target lacks, after their schemas; the tables wait for them (they
    /// join the type steps, which every table and function waits for).
    pub(super) fn add_collations_and_text_search(&mut self) {
        let inputs = self.inputs;
        let mut created: Vec<(String, QualifiedName, StepKind, Vec<String>)> = Vec::new();
        for c in collations::needed_collations(inputs) {
            if let Some(sql) = collations::collation_sql(inputs, c) {
                created.push((
                    "collation".into(),
                    c.name.clone(),
                    StepKind::Collation,
                    vec![sql],
                ));
            }
        }
        for c in collations::needed_text_search(inputs) {
            if let Some(sql) = collations::text_search_sql(inputs, c) {
                created.push((
                    "text_search".into(),
                    c.name.clone(),
                    StepKind::TextSearch,
                    sql,
                ));
            }
        }
        for (prefix, name, kind, sql) in created {
            self.add_schema_step(&name.schema);
            let deps = self.schema_dep(&name.schema);
            let n = self.b.add(
                Step {
                    id: format!("{prefix}:{name}"),
                    kind,
                    table: None,
                    action: Action::Sql(sql),
                },
                &deps,
            );
            self.type_steps.push(n);
        }
    }

    /// The tablespace of the table and of each index and constraint, on the steps
    /// that create them, and the tablespaces attached to a hypertable on its
    /// `hypertable:` step. Indexes hypermove adds for a hypertable target (its
    /// default indexes) go where TimescaleDB puts those: in the table's tablespace.
    pub(super) fn place_in_tablespaces(&mut self, index: usize) {
        let inputs = self.inputs;
        let t = &inputs.selection[index];
        let table = &inputs.tables[index];
        let mut table_space = None;
        for p in tablespace::placements(table) {
            let Some(ts) = tablespace::target_of(inputs, t, p) else {
                continue;
            };
            match p.kind {
                PlacedKind::Table => {
                    table_space = Some(ts);
                    self.edit_sql(&format!("table:{}", t.target), |sql| {
                        tablespace::place_table(sql, ts)
                    });
                }
                PlacedKind::Index => {
                    let id = QualifiedName::new(t.target.schema.clone(), p.name.clone());
                    self.edit_sql(&format!("index:{id}"), |sql| {
                        tablespace::place_index(sql, ts)
                    });
                }
                PlacedKind::Constraint => {
                    let id = format!("constraint:{}.{}", t.target, display_ident(&p.name));
                    self.edit_sql(&id, |sql| tablespace::place_index(sql, ts));
                }
                PlacedKind::Attached => {
                    let attach = tablespace::attach_sql(&self.ts_schema, &t.target, ts);
                    self.edit_sql(&format!("hypertable:{}", t.target), |sql| sql.push(attach));
                }
            }
        }
        let Some(ts) = table_space else { return };
        let own: Vec<&String> = table.indexes.iter().map(|i| &i.name).collect();
        let added: Vec<String> = self
            .b
            .graph
            .node_weights()
            .filter(|s| s.kind == StepKind::Index && s.table.as_ref() == Some(&t.target))
            .filter(|s| {
                !own.iter().any(|name| {
                    s.id == format!(
                        "index:{}",
                        QualifiedName::new(t.target.schema.clone(), (*name).clone())
                    )
                })
            })
            .map(|s| s.id.clone())
            .collect();
        for id in added {
            self.edit_sql(&id, |sql| tablespace::place_index(sql, ts));
        }
    }

    /// Change the SQL of the step with this ID, when the plan has it.
    fn edit_sql(&mut self, id: &str, edit: impl FnOnce(&mut Vec<String>)) {
        if let Some(n) = self.b.find(id) {
            if let Action::Sql(sql) = &mut self.b.graph[n].action {
                edit(sql);
            }
        }
    }

    /// `ALTER DEFAULT PRIVILEGES … IN SCHEMA` per target schema that receives tables
    /// from a schema with default privileges, once every other step of those tables
    /// (and the views) is added and done: default privileges shape what is created
    /// after them, and nothing the move creates should take them. A schema the plan
    /// creates also gets the grants of the source schemas (`GRANT USAGE ON SCHEMA`)
    /// here: without them, the tables' own grants reach no one.
    pub(super) fn add_default_privileges(&mut self) {
        let created = |s: &str| self.schema_steps.contains_key(s);
        let mut schema_grants = grants::schema_grants(self.inputs, created);
        let mut defaults = grants::schema_defaults(self.inputs);
        for schema in schema_grants.keys() {
            defaults.entry(schema.clone()).or_default();
        }
        for (schema, entries) in defaults {
            let mut sql = grants::schema_grants_sql(
                &schema,
                schema_grants.remove(&schema).unwrap_or_default().iter(),
            );
            sql.extend(grants::default_privileges_sql(&entries));
            let deps: Vec<NodeIndex> = self
                .b
                .graph
                .node_indices()
                .filter(|n| self.b.graph[*n].kind != StepKind::Verify)
                .collect();
            self.b.add(
                Step {
                    id: format!("default_privileges:{}", display_ident(&schema)),
                    kind: StepKind::DefaultPrivileges,
                    table: None,
                    action: Action::Sql(sql),
                },
                &deps,
            );
        }
    }
}
