//! The exec layer: walk the plan's DAG with parallel workers.
//!
//! The scheduler runs up to `workers` steps at once, always picking the ready step
//! that comes first in the plan's own order. A failed step's dependents are skipped,
//! independent branches keep going, and only root causes are reported.
//! Exec measures; it does not judge: probe answers go back to the caller for `verify`.

mod copy;
mod error;
mod load;
pub mod rowhash;
mod session;

use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use tokio::task::JoinSet;

use crate::pg::ConnInfo;
use crate::plan::{Action, Plan, Step, StepKind};

pub use crate::journal::JournalKey;
use error::StepError;
use session::Slot;
pub use session::drop_tables;

/// What the executor needs besides the plan.
#[derive(Debug, Clone)]
pub struct ExecConfig {
    /// Source connection; `None` when the rows come from files (`restore`).
    pub source: Option<ConnInfo>,
    /// Target connection.
    pub target: ConnInfo,
    /// Steps run at once; each worker holds one source and one target connection.
    pub workers: usize,
    /// A snapshot exported by the coordinator; every source read imports it.
    pub snapshot: Option<String>,
    /// Where finished steps are recorded on the target; `None` records nothing
    /// (verification-only runs).
    pub journal: Option<JournalKey>,
    /// A COPY that moves no bytes for this long is cancelled and retried.
    pub stall_timeout: Duration,
    /// Set (by Ctrl-C) to stop starting steps; running ones finish or roll back.
    pub stop: Arc<std::sync::atomic::AtomicBool>,
}

/// How one step ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Finished.
    Done {
        /// Rows written (copy steps).
        rows: u64,
        /// Bytes streamed (copy steps).
        bytes: u64,
        /// Answers of a probe, source then target, one text per answer column.
        probe: Option<(Vec<String>, Vec<String>)>,
    },
    /// Failed with this reason.
    Failed(String),
    /// Not run because this prerequisite failed.
    Skipped {
        /// The ID of the failed step at the root.
        cause: String,
    },
}

/// The record of one step.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// The plan node.
    pub node: NodeIndex,
    /// Step ID.
    pub id: String,
    /// Step kind.
    pub kind: StepKind,
    /// How it ended.
    pub outcome: Outcome,
    /// When it started, relative to the start of the run.
    pub started: Duration,
    /// How long it ran.
    pub elapsed: Duration,
}

/// What a run did, step by step, in completion order.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// One entry per step of the plan.
    pub steps: Vec<StepReport>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Stopped before every step ran (Ctrl-C); a later apply resumes.
    pub interrupted: bool,
}

impl RunReport {
    /// Steps that failed (root causes only; skipped steps are not failures).
    pub fn failures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.steps.iter().filter_map(|s| match &s.outcome {
            Outcome::Failed(reason) => Some((s.id.as_str(), reason.as_str())),
            _ => None,
        })
    }
}

/// Progress events, for whoever draws the output.
#[derive(Debug)]
pub enum Event<'a> {
    /// A step finished, failed or was skipped.
    Finished(&'a StepReport),
}

/// Run every step of the plan.
pub async fn run(
    plan: &Plan,
    config: &ExecConfig,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> RunReport {
    let started = Instant::now();
    let graph = &plan.graph;
    let order = plan.order();
    // Rank = position in the plan's order, so execution follows what was reviewed.
    let mut rank = vec![0usize; graph.node_count()];
    for (i, n) in order.iter().enumerate() {
        rank[n.index()] = i;
    }
    let mut waiting: Vec<usize> = graph
        .node_indices()
        .map(|n| graph.neighbors_directed(n, Direction::Incoming).count())
        .collect();
    let mut ready: BinaryHeap<std::cmp::Reverse<(usize, usize)>> = graph
        .node_indices()
        .filter(|n| waiting[n.index()] == 0)
        .map(|n| std::cmp::Reverse((rank[n.index()], n.index())))
        .collect();
    let mut settled = vec![false; graph.node_count()];
    let mut report = RunReport::default();
    // Steps an interrupted run finished count as done from the start: their
    // dependents are unlocked, and they are not run again.
    let mut queue: Vec<NodeIndex> = ready
        .iter()
        .map(|std::cmp::Reverse((_, i))| NodeIndex::new(*i))
        .collect();
    let mut requeue = Vec::new();
    while let Some(node) = queue.pop() {
        if !plan.done.contains(&graph[node].id) {
            requeue.push(node);
            continue;
        }
        settled[node.index()] = true;
        for next in graph.neighbors_directed(node, Direction::Outgoing) {
            waiting[next.index()] -= 1;
            if waiting[next.index()] == 0 {
                queue.push(next);
            }
        }
    }
    ready = requeue
        .into_iter()
        .map(|n| std::cmp::Reverse((rank[n.index()], n.index())))
        .collect();
    let mut idle: Vec<Slot> = Vec::new();
    let mut slots_open = 0usize;
    let mut running: JoinSet<(NodeIndex, Option<Slot>, Outcome, Duration, Duration)> =
        JoinSet::new();
    let shared = Arc::new(config.clone());

    loop {
        let stopping = config.stop.load(std::sync::atomic::Ordering::Relaxed);
        while running.len() < config.workers.max(1) && !stopping {
            let Some(std::cmp::Reverse((_, i))) = ready.pop() else {
                break;
            };
            let node = NodeIndex::new(i);
            // A finished step can still come up here: the walk above stops at steps
            // that always run again, and a policy waits for the table's checks (never
            // journaled). It is done, so it is settled, not run twice (a second
            // add_columnstore_policy fails: "policy already exists").
            if plan.done.contains(&graph[node].id) {
                settled[node.index()] = true;
                for next in graph.neighbors_directed(node, Direction::Outgoing) {
                    waiting[next.index()] -= 1;
                    if waiting[next.index()] == 0 && !settled[next.index()] {
                        ready.push(std::cmp::Reverse((rank[next.index()], next.index())));
                    }
                }
                continue;
            }
            // Held until the caller has verified the move: see `run_held`.
            if graph[node].kind == StepKind::EnableJobs {
                settled[node.index()] = true;
                continue;
            }
            let step: Step = graph[node].clone();
            let slot = idle.pop();
            if slot.is_none() {
                slots_open += 1;
            }
            let cfg = Arc::clone(&shared);
            let at = started.elapsed();
            running.spawn(async move {
                let t0 = Instant::now();
                let (slot, outcome) = run_step(&cfg, slot, &step).await;
                (node, slot, outcome, at, t0.elapsed())
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (node, slot, outcome, at, elapsed) = match joined {
            Ok(done) => done,
            Err(e) => panic!("a worker task panicked: {e}"),
        };
        match slot {
            Some(slot) => idle.push(slot),
            // A slot that saw an error may sit in a broken transaction: drop it.
            None => slots_open -= 1,
        }
        let failed = matches!(outcome, Outcome::Failed(_));
        let rep = StepReport {
            node,
            id: graph[node].id.clone(),
            kind: graph[node].kind,
            outcome,
            started: at,
            elapsed,
        };
        on_event(Event::Finished(&rep));
        report.steps.push(rep);
        settled[node.index()] = true;
        if failed {
            // Skip everything downstream, naming this step as the cause.
            let cause = graph[node].id.clone();
            let mut queue: VecDeque<NodeIndex> = graph
                .neighbors_directed(node, Direction::Outgoing)
                .collect();
            while let Some(n) = queue.pop_front() {
                if settled[n.index()] {
                    continue;
                }
                settled[n.index()] = true;
                let rep = StepReport {
                    node: n,
                    id: graph[n].id.clone(),
                    kind: graph[n].kind,
                    outcome: Outcome::Skipped {
                        cause: cause.clone(),
                    },
                    started: started.elapsed(),
                    elapsed: Duration::ZERO,
                };
                on_event(Event::Finished(&rep));
                report.steps.push(rep);
                queue.extend(graph.neighbors_directed(n, Direction::Outgoing));
            }
        } else {
            for next in graph.neighbors_directed(node, Direction::Outgoing) {
                waiting[next.index()] -= 1;
                if waiting[next.index()] == 0 && !settled[next.index()] {
                    ready.push(std::cmp::Reverse((rank[next.index()], next.index())));
                }
            }
        }
    }
    debug_assert!(slots_open <= config.workers.max(1));
    report.interrupted = settled.iter().any(|s| !s);
    drop(idle);
    report.elapsed = started.elapsed();
    report
}

/// Run the steps [`run`] holds back (`jobs:enable`: enabling the target's jobs),
/// once the caller has verified the move; each in its own transaction with its
/// journal row, like any step. Steps an earlier run finished are not run again.
pub async fn run_held(
    plan: &Plan,
    config: &ExecConfig,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> RunReport {
    let started = Instant::now();
    let mut report = RunReport::default();
    for node in plan.graph.node_indices() {
        let step = &plan.graph[node];
        if step.kind != StepKind::EnableJobs || plan.done.contains(&step.id) {
            continue;
        }
        let at = started.elapsed();
        let (_, outcome) = run_step(config, None, step).await;
        let rep = StepReport {
            node,
            id: step.id.clone(),
            kind: step.kind,
            outcome,
            started: at,
            elapsed: started.elapsed() - at,
        };
        on_event(Event::Finished(&rep));
        report.steps.push(rep);
    }
    report.elapsed = started.elapsed();
    report
}

/// How many times a step is tried when its errors are transient.
const MAX_ATTEMPTS: u32 = 5;

/// Run one step on a worker slot, retrying transient failures (a terminated
/// backend, a restarting server, a reset connection) with exponential backoff on a
/// fresh connection. The slot comes back only if the step succeeded.
async fn run_step(cfg: &ExecConfig, slot: Option<Slot>, step: &Step) -> (Option<Slot>, Outcome) {
    let mut slot = slot;
    let mut attempt = 1;
    loop {
        match attempt_step(cfg, slot.take(), step, attempt > 1).await {
            Ok((slot, outcome)) => return (Some(slot), outcome),
            Err(e) if e.transient && attempt < MAX_ATTEMPTS => {
                let delay = Duration::from_millis(250 << (attempt - 1)).min(Duration::from_secs(8));
                tracing::warn!(
                    "{}: {}; retrying in {:.1}s (attempt {} of {MAX_ATTEMPTS})",
                    step.id,
                    e.message,
                    delay.as_secs_f64(),
                    attempt + 1
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => {
                let message = if attempt > 1 {
                    format!("{} (after {attempt} attempts)", e.message)
                } else {
                    e.message
                };
                return (None, Outcome::Failed(message));
            }
        }
    }
}

/// One try of a step. On a retry, a step the journal already holds is done: its
/// COMMIT went through even though the connection was lost before the answer.
async fn attempt_step(
    cfg: &ExecConfig,
    slot: Option<Slot>,
    step: &Step,
    retry: bool,
) -> Result<(Slot, Outcome), StepError> {
    let mut slot = match slot {
        Some(s) => s,
        None => Slot::open(cfg).await?,
    };
    let done = Outcome::Done {
        rows: 0,
        bytes: 0,
        probe: None,
    };
    if retry
        && !matches!(step.action, Action::Probe(_))
        && session::already_done(&slot, cfg.journal.as_ref(), &step.id).await?
    {
        return Ok((slot, done));
    }
    if step.kind == StepKind::Index && crate::fault::injected(crate::fault::INDEX_STEPS_FAIL) {
        return Err(StepError::permanent(
            "target: injected fault: index steps fail",
        ));
    }
    let outcome = match &step.action {
        Action::Sql(statements) => {
            session::run_sql(&mut slot, statements, cfg.journal.as_ref(), &step.id).await?;
            done
        }
        Action::Copy(window) => {
            slot.source(cfg).await?;
            let (rows, bytes, _) = copy::copy_window(
                &mut slot,
                window,
                cfg.journal.as_ref(),
                &step.id,
                cfg.stall_timeout,
            )
            .await?;
            crate::fault::pause(crate::fault::PAUSE_AFTER_COPY_WINDOW).await;
            Outcome::Done {
                rows,
                bytes,
                probe: None,
            }
        }
        Action::Load(file) => {
            let (rows, bytes) = load::load_file(
                &mut slot,
                file,
                cfg.journal.as_ref(),
                &step.id,
                cfg.stall_timeout,
            )
            .await?;
            Outcome::Done {
                rows,
                bytes,
                probe: None,
            }
        }
        Action::Probe(probe) => {
            if probe.recorded.is_none() {
                slot.source(cfg).await?;
            }
            let answers =
                session::probe(&mut slot, probe, cfg.journal.as_ref(), cfg.stall_timeout).await?;
            Outcome::Done {
                rows: 0,
                bytes: 0,
                probe: Some(answers),
            }
        }
    };
    Ok((slot, outcome))
}
