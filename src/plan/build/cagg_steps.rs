//! The steps of the continuous aggregates that move (see `plan::caggs`): per
//! aggregate, `cagg:<view>` creates it once what it reads holds its rows, a
//! `copy:<view>:<range>` per materialization chunk of the source carries its
//! materialized rows, `cagg:<view>:watermark` then sets its watermark and
//! invalidation state as the source's, and `verify:<view>:<range>` compares its
//! buckets through the aggregate on both sides.

use super::*;
use crate::plan::caggs;

impl<'a> Assembly<'a> {
    /// Every moved aggregate, each after the one it reads.
    pub(super) fn add_caggs(&mut self, placed: &[caggs::Placed<'_>]) {
        // Per aggregate (by target name): its watermark step, after which its rows
        // are final, and its copies.
        let mut done: BTreeMap<QualifiedName, NodeIndex> = BTreeMap::new();
        // Watermark steps write rows shared by the aggregates of one hypertable
        // (its threshold and invalidations): they run one after another.
        let mut last_state: Option<NodeIndex> = None;
        // Steps that give relations their source names for a moment run one at a
        // time (they lock what they rename).
        let mut last_renaming: Option<NodeIndex> = None;
        for p in placed {
            let base = &self.inputs.selection[p.base];
            let mut deps = self.schema_dep(&p.target.schema);
            if !self.inputs.target_schemas.contains(&p.target.schema)
                && !self.schema_steps.contains_key(&p.target.schema)
            {
                self.add_schema_step(&p.target.schema);
                deps = self.schema_dep(&p.target.schema);
            }
            if !p.cagg.functions.is_empty() {
                deps.extend(&self.function_steps);
            }
            // After the rows it reads: creating it first would make the copies log
            // invalidations (TimescaleDB 2.19's trigger) for nothing.
            deps.extend(self.readies.get(&base.source));
            match &p.parent {
                Some(parent) => deps.extend(done.get(parent)),
                None => deps.extend(self.copies.get(&base.source).into_iter().flatten()),
            }
            for &j in &p.joins {
                let s = &self.inputs.selection[j].source;
                deps.extend(self.readies.get(s));
                deps.extend(self.copies.get(s).into_iter().flatten());
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
                // Every step of the tables it renames, and the foreign keys (which
                // lock two tables), so it never waits on a lock another step holds;
                // but for their policies, which wait for the aggregates.
                let renamed: BTreeSet<&QualifiedName> =
                    p.renames.iter().map(|r| &r.target).collect();
                deps.extend(self.b.graph.node_indices().filter(|n| {
                    let step = &self.b.graph[*n];
                    step.kind == StepKind::ForeignKey
                        || (step.kind != StepKind::Policy
                            && step.table.as_ref().is_some_and(|t| renamed.contains(t)))
                }));
                deps.extend(last_renaming);
            }
            let create = self.b.add(
                Step {
                    id: format!("cagg:{}", p.target),
                    kind: StepKind::ContinuousAggregate,
                    table: Some(p.target.clone()),
                    action: Action::Sql(caggs::create_sql(p, &temporary, &self.ts_schema)),
                },
                &deps,
            );
            if !p.renames.is_empty() {
                last_renaming = Some(create);
            }
            let mut copies = Vec::new();
            for w in caggs::windows(p.cagg) {
                copies.push(self.b.add(
                    Step {
                        id: format!("copy:{}{}", p.target, caggs::suffix(p.cagg, w.lo, w.hi)),
                        kind: StepKind::Copy,
                        table: Some(p.target.clone()),
                        action: Action::Copy(caggs::copy_window(p, &w)),
                    },
                    &[create],
                ));
            }
            let mut deps = copies.clone();
            deps.push(create);
            deps.extend(last_state);
            let state = self.b.add(
                Step {
                    id: format!("cagg:{}:watermark", p.target),
                    kind: StepKind::ContinuousAggregate,
                    table: Some(p.target.clone()),
                    action: Action::Sql(caggs::state_sql(p, self.spec.grants, &self.ts_schema)),
                },
                &deps,
            );
            last_state = Some(state);
            done.insert(p.target.clone(), state);
            // Views over it wait for it as for a view they read.
            self.view_steps.insert(p.cagg.oid, (state, None));
            let mut checks = Vec::new();
            for (lo, hi) in caggs::verify_ranges(p.cagg) {
                if let Some(probe) = caggs::probe(self.spec.verify, p, lo, hi) {
                    checks.push(self.b.add(
                        Step {
                            id: format!("verify:{}{}", p.target, caggs::suffix(p.cagg, lo, hi)),
                            kind: StepKind::Verify,
                            table: Some(p.target.clone()),
                            action: Action::Probe(probe),
                        },
                        &[state],
                    ));
                }
            }
            // The hypertable's policies come after: a retention job must not drop
            // rows the aggregate's steps and checks are about to read.
            let policies: Vec<NodeIndex> = self
                .b
                .graph
                .node_indices()
                .filter(|n| {
                    let step = &self.b.graph[*n];
                    step.kind == StepKind::Policy && step.table.as_ref() == Some(&base.target)
                })
                .collect();
            for policy in policies {
                self.b.graph.update_edge(state, policy, ());
                for check in &checks {
                    self.b.graph.update_edge(*check, policy, ());
                }
            }
        }
    }
}
