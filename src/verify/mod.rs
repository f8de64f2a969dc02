//! The verify layer: judge what exec measured. A move that cannot prove itself
//! fails loudly: any mismatch, or any check that did not run, is not a pass.

use serde::Serialize;

use crate::exec::{Outcome, RunReport};
use crate::plan::{Action, Plan, StepKind};

/// The verdict on one verify step.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The verify step's ID, e.g. `verify:public.conditions`.
    pub id: String,
    /// What was compared, e.g. `row count`.
    pub what: String,
    /// The source's answer, if it ran.
    pub source: Option<String>,
    /// The target's answer, if it ran.
    pub target: Option<String>,
    /// Whether the answers are equal.
    pub ok: bool,
}

/// All verdicts of a run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Verdict {
    /// One per verify step, in plan order.
    pub checks: Vec<Check>,
}

impl Verdict {
    /// True only when every check ran and matched.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// Compare the answers of every verify step of the plan.
pub fn judge(plan: &Plan, report: &RunReport) -> Verdict {
    let mut checks = Vec::new();
    for n in plan.order() {
        let step = &plan.graph[n];
        if step.kind != StepKind::Verify {
            continue;
        }
        let Action::Probe(probe) = &step.action else {
            continue;
        };
        let answers = report
            .steps
            .iter()
            .find(|s| s.node == n)
            .and_then(|s| match &s.outcome {
                Outcome::Done {
                    probe: Some(answers),
                    ..
                } => Some(answers.clone()),
                _ => None,
            });
        let (source, target) = match answers {
            Some((s, t)) => (Some(s), Some(t)),
            None => (None, None),
        };
        checks.push(Check {
            id: step.id.clone(),
            what: probe.what.clone(),
            ok: source.is_some() && source == target,
            source,
            target,
        });
    }
    Verdict { checks }
}
