//! The steps for what travels with a table besides its rows and keys: the user
//! functions and standalone sequences it needs (before it), its storage settings
//! (before its data), and its extended statistics, replica identity and row-level
//! security (after its data, indexes and checks).

use super::*;

impl<'a> Assembly<'a> {
    /// The user functions the tables call, callees first, after the types (their
    /// arguments may be of them) and their schemas; one the target has with the
    /// same definition is used as it is (`functions::check` refused the others).
    pub(super) fn add_functions(&mut self, functions: &[&UserFunction], warnings: Vec<String>) {
        self.warnings.extend(warnings);
        for f in functions {
            let Some(sql) = functions::create_sql(self.inputs, f) else {
                if self
                    .inputs
                    .target_function_defs
                    .contains_key(&f.signature())
                {
                    self.warnings.push(format!(
                        "function {} is already on the target, with the same definition, and is used as it is",
                        f.signature()
                    ));
                }
                continue;
            };
            let schema = &f.name.schema;
            self.add_schema_step(schema);
            // Each waits for the ones before it: callees come first. plpgsql bodies
            // are not checked at creation, but SQL-standard bodies are.
            let mut deps = self.schema_dep(schema);
            deps.extend(&self.type_steps);
            deps.extend(self.function_steps.last());
            let n = self.b.add(
                Step {
                    id: format!("function:{}", f.signature()),
                    kind: StepKind::Function,
                    table: None,
                    // As pg_dump does: a body given as a string may name tables that
                    // are created after it (an integer_now_func reads its hypertable),
                    // so it is not checked at creation; it is checked at its first call.
                    action: Action::Sql(vec!["SET LOCAL check_function_bodies = off".into(), sql]),
                },
                &deps,
            );
            self.function_steps.push(n);
        }
    }

    /// The domain CHECKs that call user functions, once those functions exist: the
    /// functions may take the domain's own type, so the domain cannot wait for them.
    /// Tables wait for these steps as for the types themselves.
    pub(super) fn add_late_domain_checks(&mut self, types: &[&UserType]) {
        for ty in types {
            if ty.late_checks.is_empty()
                || ty.extension.is_some()
                || self.inputs.target_types.contains(&ty.name)
            {
                continue;
            }
            let mut deps: Vec<NodeIndex> = self.type_steps.clone();
            deps.extend(&self.function_steps);
            let n = self.b.add(
                Step {
                    id: format!("type:{}:checks", ty.name),
                    kind: StepKind::Type,
                    table: None,
                    action: Action::Sql(
                        ty.late_checks
                            .iter()
                            .map(|c| format!("ALTER DOMAIN {} ADD {c}", ty.name.sql()))
                            .collect(),
                    ),
                },
                &deps,
            );
            self.type_steps.push(n);
        }
    }

    /// `CREATE SEQUENCE` for the sequences defaults draw from that no column owns,
    /// under their source names (the defaults' text names them so), after their schemas.
    pub(super) fn add_default_sequences(&mut self) {
        for (seq, _) in standalone::needed(self.inputs) {
            let schema = &seq.name.schema;
            self.add_schema_step(schema);
            let deps = self.schema_dep(schema);
            let n = self.b.add(
                Step {
                    id: format!("create_sequence:{}", seq.name),
                    kind: StepKind::CreateSequence,
                    table: None,
                    action: Action::Sql(vec![ddl::create_sequence_sql(seq)]),
                },
                &deps,
            );
            self.default_sequence_steps.insert(seq.name.clone(), n);
        }
    }

    /// Those sequences continue where the source's stand, once every table that
    /// draws from them has its rows (as the owned ones' `sequence:` steps do); a
    /// table drawing from another moved column's sequence is created after that
    /// column's table, which creates the sequence and sets it.
    pub(super) fn add_default_sequence_values(&mut self) {
        for (i, table) in self.inputs.tables.iter().enumerate() {
            for seq in &table.default_sequences {
                if let standalone::Carry::ByOwner(owner) = standalone::carry(self.inputs, seq) {
                    let before = self
                        .b
                        .find(&format!("table:{}", self.inputs.selection[owner].target));
                    let after = self
                        .b
                        .find(&format!("table:{}", self.inputs.selection[i].target));
                    if let (Some(before), Some(after)) = (before, after) {
                        if before != after {
                            self.b.graph.update_edge(before, after, ());
                        }
                    }
                }
            }
        }
        for (seq, users) in standalone::needed(self.inputs) {
            let Some(last) = seq.last_value else { continue };
            let deps: Vec<NodeIndex> = users
                .iter()
                .filter_map(|i| self.copies.get(&self.inputs.selection[*i].source))
                .flatten()
                .copied()
                .collect();
            self.b.add(
                Step {
                    id: format!("sequence:{}", seq.name),
                    kind: StepKind::Sequence,
                    table: None,
                    action: Action::Sql(vec![ddl::setval_named_sql(&seq.name, last)]),
                },
                &deps,
            );
        }
    }

    /// Storage settings once the table (and its hypertable) exists, before the data:
    /// returns the step after which the table can take rows.
    pub(super) fn add_settings(
        &mut self,
        t: &TableSpec,
        table: &Table,
        ready: NodeIndex,
    ) -> NodeIndex {
        let Some(s) = &table.settings else {
            return ready;
        };
        let sql = settings::settings_sql(&t.target, s);
        if sql.is_empty() {
            return ready;
        }
        self.b.add(
            Step {
                id: format!("settings:{}", t.target),
                kind: StepKind::Settings,
                table: Some(t.target.clone()),
                action: Action::Sql(sql),
            },
            &[ready],
        )
    }

    /// Extended statistics objects once the data is in, on the target name.
    pub(super) fn add_statistics(
        &mut self,
        t: &TableSpec,
        table: &Table,
        table_copies: &[NodeIndex],
    ) {
        for st in &table.statistics {
            self.b.add(
                Step {
                    id: format!(
                        "statistics:{}",
                        QualifiedName::new(t.target.schema.clone(), st.name.clone())
                    ),
                    kind: StepKind::Statistics,
                    table: Some(t.target.clone()),
                    action: Action::Sql(settings::statistics_sql(&t.target, st)),
                },
                table_copies,
            );
        }
    }

    /// `REPLICA IDENTITY` once every step of the table added since node `from` is
    /// done: `USING INDEX` needs the index, which is built after the data.
    pub(super) fn add_replica_identity(&mut self, t: &TableSpec, table: &Table, from: usize) {
        let Some(identity) = table
            .settings
            .as_ref()
            .and_then(|s| s.replica_identity.as_ref())
        else {
            return;
        };
        let deps: Vec<NodeIndex> = (from..self.b.graph.node_count())
            .map(NodeIndex::new)
            .collect();
        self.b.add(
            Step {
                id: format!("replica_identity:{}", t.target),
                kind: StepKind::ReplicaIdentity,
                table: Some(t.target.clone()),
                action: Action::Sql(vec![settings::replica_identity_sql(&t.target, identity)]),
            },
            &deps,
        );
    }

    /// The table's user triggers once every step of the table added since node
    /// `from` is done (its copies and their checks above all): a trigger created
    /// earlier would fire for the copied rows.
    pub(super) fn add_triggers(
        &mut self,
        t: &TableSpec,
        table: &Table,
        shape: &Shape,
        from: usize,
    ) {
        let carried = triggers::carried(self.inputs, table, shape);
        if carried.is_empty() {
            return;
        }
        let deps: Vec<NodeIndex> = (from..self.b.graph.node_count())
            .map(NodeIndex::new)
            .collect();
        self.b.add(
            Step {
                id: format!("trigger:{}", t.target),
                kind: StepKind::Trigger,
                table: Some(t.target.clone()),
                action: Action::Sql(triggers::triggers_sql(&t.target, &carried)),
            },
            &deps,
        );
    }

    /// Row-level security and policies once every step of the table added since
    /// node `from` (copies, their checks, keys, grants, sequences, indexes) is done:
    /// a forced policy would filter the checks' own reads.
    pub(super) fn add_row_security(&mut self, t: &TableSpec, table: &Table, from: usize) {
        let Some(rs) = &table.row_security else {
            return;
        };
        let deps: Vec<NodeIndex> = (from..self.b.graph.node_count())
            .map(NodeIndex::new)
            .collect();
        self.b.add(
            Step {
                id: format!("rls:{}", t.target),
                kind: StepKind::RowSecurity,
                table: Some(t.target.clone()),
                action: Action::Sql(security::row_security_sql(&t.target, rs)),
            },
            &deps,
        );
    }
}
