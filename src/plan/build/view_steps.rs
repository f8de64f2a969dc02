//! The steps of the views that move (see `plan::views`): a `view:` step per view once
//! what it reads exists, and for a materialized view that holds rows on the source a
//! `refresh:` step once the rows it reads are on the target.

use super::*;

impl<'a> Assembly<'a> {
    /// Every moved view, in creation order.
    pub(super) fn add_views(&mut self, placed: &[views::Placed<'_>]) {
        // Steps that give relations their source names for a moment run one at a
        // time, each after every step of the tables they rename: they lock them.
        let mut last_renaming: Option<NodeIndex> = None;
        for p in placed {
            let mut deps = self.schema_dep(&p.target.schema);
            if !p.view.functions.is_empty() {
                deps.extend(&self.function_steps);
            }
            for &t in &p.tables {
                deps.extend(self.readies.get(&self.inputs.selection[t].source));
            }
            for oid in &p.views {
                deps.extend(self.view_steps.get(oid).map(|(create, _)| *create));
            }
            let mut temporary = BTreeSet::new();
            if !p.renames.is_empty() {
                for r in &p.renames {
                    let schema = &r.source.schema;
                    match self.schema_steps.get(schema) {
                        Some(n) => deps.push(*n),
                        None if !self.inputs.target_schemas.contains(schema) => {
                            temporary.insert(schema.clone());
                        }
                        None => {}
                    }
                }
                deps.extend(self.locking_deps(p));
                deps.extend(last_renaming);
            }
            let mut sql = views::create_sql(p, &temporary);
            let refreshed = p.view.materialized && p.view.populated;
            if !refreshed {
                sql.extend(self.view_grants(p));
            }
            let create = self.b.add(
                Step {
                    id: format!("view:{}", p.target),
                    kind: StepKind::View,
                    table: None,
                    action: Action::Sql(sql),
                },
                &deps,
            );
            if !p.renames.is_empty() {
                last_renaming = Some(create);
            }
            let refresh = refreshed.then(|| {
                let mut deps = vec![create];
                for &t in &p.all_tables {
                    deps.extend(self.copies_of(t));
                }
                for oid in &p.all_matviews {
                    deps.extend(self.view_steps.get(oid).and_then(|(_, r)| *r));
                }
                let mut sql = vec![views::refresh_sql(p)];
                sql.extend(self.view_grants(p));
                self.b.add(
                    Step {
                        id: format!("refresh:{}", p.target),
                        kind: StepKind::Refresh,
                        table: None,
                        action: Action::Sql(sql),
                    },
                    &deps,
                )
            });
            self.view_steps.insert(p.view.oid, (create, refresh));
        }
    }

    /// The copy steps of a moved table, by selection index.
    fn copies_of(&self, t: usize) -> Vec<NodeIndex> {
        self.copies
            .get(&self.inputs.selection[t].source)
            .cloned()
            .unwrap_or_default()
    }

    /// What a renaming view step waits for, so that it never waits on a lock another
    /// step holds while that step waits on one it holds: every step of every table it
    /// reads (directly or through views), the foreign keys (which lock two tables),
    /// and the refreshes of the materialized views it reads.
    fn locking_deps(&self, p: &views::Placed<'_>) -> Vec<NodeIndex> {
        let targets: BTreeSet<&QualifiedName> = p
            .all_tables
            .iter()
            .map(|&t| &self.inputs.selection[t].target)
            .collect();
        let mut deps: Vec<NodeIndex> = self
            .b
            .graph
            .node_indices()
            .filter(|n| {
                let step = &self.b.graph[*n];
                step.kind == StepKind::ForeignKey
                    || step.table.as_ref().is_some_and(|t| targets.contains(t))
            })
            .collect();
        for oid in &p.all_matviews {
            deps.extend(self.view_steps.get(oid).and_then(|(_, r)| *r));
        }
        deps
    }

    /// The source view's owner and grants, with `grants: true`.
    fn view_grants(&self, p: &views::Placed<'_>) -> Vec<String> {
        match &p.view.grants {
            Some(g) if self.spec.grants => views::grants_sql(p, g),
            _ => Vec::new(),
        }
    }
}
