//! The steps of a compressed target: its settings before the data, a `compress:`
//! step per time slice as soon as the windows that fill it have landed (the slice's
//! checks wait for it, so they read what the target finally holds), the check of
//! the target's compression, and the recreated policies once the table is moved.

use super::*;
use crate::plan::compression;
use crate::plan::shape::time_of;

impl Assembly<'_> {
    /// `compression:<table>`: the settings, after the table's shape and storage
    /// settings and before any row. Returns the step after which rows may come.
    pub(super) fn add_compression_settings(&mut self, index: usize, ready: NodeIndex) -> NodeIndex {
        let Some(c) = &self.compressions[index].compression else {
            return ready;
        };
        let t = &self.inputs.selection[index];
        let sql =
            compression::settings_sql(&t.target, c, compression::columnstore_api(self.inputs));
        self.b.add(
            Step {
                id: format!("compression:{}", t.target),
                kind: StepKind::Compression,
                table: Some(t.target.clone()),
                action: Action::Sql(vec![sql]),
            },
            &[ready],
        )
    }

    /// A `compress:<table>:<lo>..<hi>` step per target slice that ends compressed,
    /// after the copies of the windows that overlap it; the checks of those windows
    /// (and the row total) wait for it. Then `verify:<table>:compression`.
    pub(super) fn add_compress_steps(
        &mut self,
        index: usize,
        shape: &Shape,
        windows: &[Window],
        copies: &[NodeIndex],
        checks: &[NodeIndex],
    ) -> Vec<NodeIndex> {
        let Some(c) = self.compressions[index].compression.clone() else {
            return Vec::new();
        };
        let inputs = self.inputs;
        let t = &inputs.selection[index];
        let table = &inputs.tables[index];
        let Some((_, time_type)) = time_of(table, shape) else {
            return Vec::new();
        };
        let mut compress_steps = Vec::new();
        for (lo, hi) in &c.slices {
            let overlapping: Vec<NodeIndex> = windows
                .iter()
                .zip(copies)
                .filter(|(w, _)| w.lo.is_none_or(|l| l < *hi) && w.hi.is_none_or(|h| h > *lo))
                .map(|(_, n)| *n)
                .collect();
            if overlapping.is_empty() {
                continue;
            }
            let n = self.b.add(
                Step {
                    id: format!(
                        "compress:{}:{}..{}",
                        t.target,
                        window::label(Some(*lo), time_type, "-inf"),
                        window::label(Some(*hi), time_type, "+inf")
                    ),
                    kind: StepKind::Compress,
                    table: Some(t.target.clone()),
                    action: Action::Sql(vec![compression::compress_sql(
                        &self.ts_schema,
                        &t.target,
                        time_type,
                        *lo,
                        *hi,
                    )]),
                },
                &overlapping,
            );
            // The checks read the slice as it ends: compressed.
            for check in checks {
                let reads: Vec<NodeIndex> = self
                    .b
                    .graph
                    .neighbors_directed(*check, petgraph::Direction::Incoming)
                    .collect();
                if reads.iter().any(|r| overlapping.contains(r)) {
                    self.b.graph.update_edge(n, *check, ());
                }
            }
            compress_steps.push(n);
        }
        // Windows wholly inside compressed slices may be loaded straight into the
        // columnstore (where the target can, and only when asked: exec/copy.rs);
        // the slice's compress step then finds the chunk compressed and puts its
        // batches in order.
        for (w, copy) in windows.iter().zip(copies) {
            if let Action::Copy(cw) = &mut self.b.graph[*copy].action {
                cw.direct_compress = compression::covered(&c.slices, w.lo, w.hi);
            }
        }
        if self.spec.verify == VerifyLevel::None {
            return compress_steps;
        }
        let source_order_by = table
            .hypertable
            .as_ref()
            .and_then(|h| h.compression.as_ref())
            .map(|s| s.order_by.as_str());
        let mut deps = compress_steps.clone();
        deps.extend(copies);
        self.b.add(
            Step {
                id: format!("verify:{}:compression", t.target),
                kind: StepKind::Verify,
                table: Some(t.target.clone()),
                action: Action::Probe(compression::verify_probe(
                    source_order_by,
                    &t.target,
                    time_type,
                    &c,
                )),
            },
            &deps,
        );
        compress_steps
    }

    /// `policy:<table>:compression` and `policy:<table>:retention`, after every
    /// other step of the table: a retention policy that ran before the checks could
    /// drop chunks they are about to read.
    pub(super) fn add_policies(&mut self, index: usize, first_of_table: usize) {
        let policies = self.compressions[index].policies.clone();
        if policies.is_empty() {
            return;
        }
        let t = &self.inputs.selection[index];
        let deps: Vec<NodeIndex> = self
            .b
            .graph
            .node_indices()
            .filter(|n| {
                n.index() >= first_of_table && self.b.graph[*n].table.as_ref() == Some(&t.target)
            })
            .collect();
        let columnstore = compression::columnstore_api(self.inputs);
        for p in &policies {
            let kind = match p.kind {
                crate::catalog::JobPolicyKind::Compression => "compression",
                crate::catalog::JobPolicyKind::Retention => "retention",
            };
            self.b.add(
                Step {
                    id: format!("policy:{}:{kind}", t.target),
                    kind: StepKind::Policy,
                    table: Some(t.target.clone()),
                    action: Action::Sql(compression::policy_sql(
                        &self.ts_schema,
                        &t.target,
                        p,
                        columnstore,
                        self.inputs.tables[index]
                            .jobs
                            .iter()
                            .find(|j| j.id == p.job_id),
                    )),
                },
                &deps,
            );
        }
    }

    /// Whether the table at this selection index is compressed as it fills.
    pub(super) fn compressed(&self, source: &QualifiedName) -> bool {
        self.inputs
            .selection
            .iter()
            .position(|t| &t.source == source)
            .is_some_and(|i| self.compressions[i].compression.is_some())
    }
}
