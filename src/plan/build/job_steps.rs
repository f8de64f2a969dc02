//! The steps of the jobs around the moved tables (see `plan::jobs`): a `job:<id>`
//! step per user job, a `policy:<view>:<kind>` step per policy of a continuous
//! aggregate the plan moves, and the `jobs:enable` step, last, that `exec` holds
//! back until the whole move is verified.

use super::*;
use crate::plan::jobs::{self, CaggPolicy, Decision};
use crate::spec::{JobsSetting, OnUnsupported};

impl Assembly<'_> {
    /// `job:<source job id>` per user job, after every step of the tables it touches
    /// (and the functions, its procedure among them); then the policies of the
    /// continuous aggregates the plan has a `cagg:<view>` step for. Returns the
    /// aggregates' policies placed.
    pub(super) fn add_jobs<'d>(
        &mut self,
        d: &'d Decision<'_>,
    ) -> Result<Vec<&'d CaggPolicy<'d>>, PlanError> {
        for j in &d.user_jobs {
            let targets: Vec<&QualifiedName> = j
                .touches
                .iter()
                .map(|i| &self.inputs.selection[*i].target)
                .collect();
            let mut deps = self.steps_of(&targets);
            deps.extend(&self.function_steps);
            deps.extend(self.extension);
            self.b.add(
                Step {
                    id: format!("job:{}", j.job.id),
                    kind: StepKind::Job,
                    table: Some(targets[0].clone()),
                    action: Action::Sql(vec![jobs::add_job_sql(&self.ts_schema, j)]),
                },
                &deps,
            );
        }
        let mut placed = Vec::new();
        let mut refused = Vec::new();
        for p in &d.cagg_policies {
            let id = format!("policy:{}:{}", p.view, p.kind);
            let Some(cagg) = self.b.find(&format!("cagg:{}", p.view)) else {
                // The aggregate does not move: it is refused (or listed) by name with
                // the hypertable's unsupported features, and its policies with it.
                if self.spec.on_unsupported == OnUnsupported::Warn {
                    self.warnings.push(format!(
                        "{}: not carried over, as its continuous aggregate is not (on_unsupported: warn)",
                        p.job.describe()
                    ));
                }
                continue;
            };
            if self.b.find(&id).is_some() {
                continue;
            }
            let sql = match jobs::cagg_policy_sql(&self.ts_schema, p) {
                Ok(sql) => sql,
                Err(why) if self.spec.on_unsupported == OnUnsupported::Warn => {
                    self.warnings.push(format!(
                        "{}: {why}; not carried over (on_unsupported: warn)",
                        p.view
                    ));
                    continue;
                }
                Err(why) => {
                    refused.push(PlanError::Target(format!(
                        "continuous aggregate {}: {why}; `on_unsupported: warn` moves it without the policy",
                        p.view
                    )));
                    continue;
                }
            };
            let mut deps = vec![cagg];
            deps.extend(self.steps_of(&[&p.view]));
            self.b.add(
                Step {
                    id,
                    kind: StepKind::Policy,
                    table: Some(p.view.clone()),
                    action: Action::Sql(sql),
                },
                &deps,
            );
            placed.push(p);
        }
        match PlanError::collected(refused) {
            None => Ok(placed),
            Some(e) => Err(e),
        }
    }

    /// `jobs:enable`, after every other step: enables on the target the recreated
    /// jobs and policies that the source has scheduled. `exec` holds it back, and
    /// `apply` runs it only once the verification has passed. With `jobs: paused`
    /// there is no such step, and the plan says which jobs stay paused.
    pub(super) fn add_enable_jobs(&mut self, d: &Decision<'_>, cagg_policies: &[&CaggPolicy<'_>]) {
        let policies: Vec<(&QualifiedName, &crate::catalog::JobPolicy)> = self
            .compressions
            .iter()
            .zip(&self.inputs.selection)
            .flat_map(|(c, t)| c.policies.iter().map(move |p| (&t.target, p)))
            .collect();
        let user_jobs: Vec<&jobs::UserJob<'_>> = d.user_jobs.iter().collect();
        let sql = jobs::enable_sql(&self.ts_schema, &policies, &user_jobs, cagg_policies);
        if sql.is_empty() {
            return;
        }
        if self.spec.jobs == JobsSetting::Paused {
            self.warnings.push(format!(
                "jobs: paused: {} job{} scheduled on the source stay{} paused on the target until enabled by hand (alter_job … scheduled => true)",
                sql.len(),
                if sql.len() == 1 { "" } else { "s" },
                if sql.len() == 1 { "s" } else { "" },
            ));
            return;
        }
        let last: Vec<NodeIndex> = self
            .b
            .graph
            .node_indices()
            .filter(|n| {
                self.b
                    .graph
                    .neighbors_directed(*n, petgraph::Direction::Outgoing)
                    .next()
                    .is_none()
            })
            .collect();
        self.b.add(
            Step {
                id: "jobs:enable".into(),
                kind: StepKind::EnableJobs,
                table: None,
                action: Action::Sql(sql),
            },
            &last,
        );
    }

    /// Every step placed so far for these target relations.
    fn steps_of(&self, targets: &[&QualifiedName]) -> Vec<NodeIndex> {
        self.b
            .graph
            .node_indices()
            .filter(|n| {
                self.b.graph[*n]
                    .table
                    .as_ref()
                    .is_some_and(|t| targets.contains(&t))
            })
            .collect()
    }
}
