//! Text rendering of a plan. It reads only the plan structs, so what is printed is
//! exactly what `apply` will run, in the order the executor prefers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Action, FORMAT_VERSION, Fingerprints, Plan, StepKind};

/// How many copy and verify steps of one table the text plan lists before it says
/// how many more there are: a 10,000-chunk table must not print 20,000 lines before
/// a confirmation prompt. `plan --detailed` (and JSON and DOT) list every step.
pub const LISTED_PER_TABLE: usize = 5;

/// Render the plan for a human reviewer. Deterministic: no clocks, no secrets.
/// Unless `detailed`, each table's copy and verify windows are listed up to
/// [`LISTED_PER_TABLE`] each, followed by a count of the rest.
pub fn render_text(plan: &Plan, detailed: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "hypermove plan for {}", plan.spec_path);
    let _ = writeln!(out, "  source: {}", plan.source);
    let _ = writeln!(out, "  target: {}", plan.target);
    if plan.up_to_date {
        let _ = writeln!(
            out,
            "\nNo changes. The target already holds this move: it was applied and verified with this spec from this source state."
        );
        let _ = writeln!(out, "\n{}", summary(plan));
        return out;
    }
    let _ = writeln!(
        out,
        "\nLegend: + create on the target   > copy a window   = verify   ✓ done by an earlier run   (≈ estimate from source statistics)"
    );
    if plan.resumed {
        let _ = writeln!(
            out,
            "\nResuming an interrupted run: {} of {} steps are done and will be skipped. The original snapshot is gone: windows copied now see the source as it is now.",
            plan.done.len(),
            plan.graph.node_count()
        );
    }

    for t in &plan.tables {
        let arrow = if t.source == t.target {
            t.source.to_string()
        } else {
            format!("{} → {}", t.source, t.target)
        };
        let _ = writeln!(out, "\nTable {arrow}");
        let chunks = t
            .before
            .chunks
            .map(|c| {
                let compressed = match t.before.compressed_chunks {
                    0 => String::new(),
                    n => format!(", {n} compressed"),
                };
                format!(" ({c} chunk{}{compressed})", if c == 1 { "" } else { "s" })
            })
            .unwrap_or_default();
        let _ = writeln!(out, "  before: {}{chunks}", t.before.description);
        let _ = writeln!(out, "  after:  {}", t.after.description);
        if let Some((before, after)) = &t.compression {
            let _ = writeln!(out, "  compression: {before}");
            let _ = writeln!(out, "           → {after}");
        }
        let _ = writeln!(
            out,
            "  data:   {} copy window{}, ≈ {} rows, ≈ {}",
            t.windows,
            if t.windows == 1 { "" } else { "s" },
            rows(t.est_rows),
            bytes(t.est_bytes)
        );
    }

    let _ = writeln!(out, "\nSteps, in execution order:");
    // Windows per (table, kind), and how many of them have been listed so far.
    let windowed = |step: &super::Step| {
        let window = match &step.action {
            Action::Probe(p) => !p.table_total,
            Action::Copy(_) | Action::Load(_) => true,
            Action::Sql(_) => false,
        };
        window.then(|| (step.table.as_ref().map(|t| t.to_string()), step.kind))
    };
    let mut totals: BTreeMap<(Option<String>, StepKind), usize> = BTreeMap::new();
    for step in plan.graph.node_weights() {
        if let Some(key) = windowed(step) {
            *totals.entry(key).or_default() += 1;
        }
    }
    let mut listed: BTreeMap<(Option<String>, StepKind), usize> = BTreeMap::new();
    for n in plan.order() {
        let step = &plan.graph[n];
        let mut more = None;
        if let (false, Some(key)) = (detailed, windowed(step)) {
            let count = listed.entry(key.clone()).or_default();
            *count += 1;
            if *count > LISTED_PER_TABLE {
                continue;
            }
            let total = totals[&key];
            if *count == LISTED_PER_TABLE && total > LISTED_PER_TABLE {
                let what = match step.kind {
                    StepKind::Verify => "verify windows",
                    _ => "copy windows",
                };
                more = Some(format!(
                    "  … and {} more {what} of {} (`hypermove plan --detailed` lists every step)",
                    total - LISTED_PER_TABLE,
                    key.0.as_deref().unwrap_or("")
                ));
            }
        }
        render_step(&mut out, plan, step);
        if let Some(line) = more {
            let _ = writeln!(out, "{line}");
        }
    }

    if !plan.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:");
        for w in &plan.warnings {
            let _ = writeln!(out, "  ! {w}");
        }
    }

    let _ = writeln!(out, "\n{}", summary(plan));
    out
}

/// One step of the text plan: its marker, its ID, and its SQL or estimate.
fn render_step(out: &mut String, plan: &Plan, step: &super::Step) {
    {
        if plan.done.contains(&step.id) {
            let _ = writeln!(out, "  ✓ {}", step.id);
            return;
        }
        match &step.action {
            Action::Sql(statements) => {
                let _ = writeln!(out, "  + {}", step.id);
                for s in statements {
                    for line in s.lines() {
                        let _ = writeln!(out, "      {line}");
                    }
                }
            }
            Action::Copy(c) => {
                let _ = writeln!(
                    out,
                    "  > {}  ≈ {} rows ≈ {}",
                    step.id,
                    rows(c.est_rows),
                    bytes(c.est_bytes)
                );
            }
            Action::Load(l) => {
                let _ = writeln!(
                    out,
                    "  > {}  {} rows  {} from {}",
                    step.id,
                    l.rows,
                    bytes(l.bytes),
                    l.path.display()
                );
            }
            Action::Probe(p) => {
                let what = if p.table_total {
                    "all rows of the table on both sides".to_string()
                } else {
                    let answers = p.columns.join(" + ");
                    match (&p.recorded, &p.rows_read) {
                        (Some(_), _) => format!("{answers} of the target against the backup's record"),
                        (None, Some(read)) if read.copied_by.is_some() => {
                            "rows counted through the source table, the copy's row hash against the target's rows".to_string()
                        }
                        (None, Some(_)) => format!("{answers} of both sides' rows, hashed"),
                        (None, None) => format!("{answers} on both sides"),
                    }
                };
                let _ = writeln!(out, "  = {}  ({what})", step.id);
            }
        }
    }
}

/// The closing line, e.g.
/// `Plan: 2 tables (1 hypertable reshaped), 61 copy windows, ≈ 1.0 M rows ≈ 83 MB, 1 index, 3 constraints, 1 FK.`
pub fn summary(plan: &Plan) -> String {
    if plan.up_to_date {
        return "Plan: nothing to do.".to_string();
    }
    let tables = plan.tables.len();
    // What happens to each table's shape, counted: "1 hypertable re-chunked 1 day → 7 days".
    let mut changes: BTreeMap<String, usize> = BTreeMap::new();
    for t in &plan.tables {
        let (b, a) = (&t.before, &t.after);
        let phrase = match (&b.chunk_interval, &a.chunk_interval) {
            (None, None) => continue,
            (None, Some(i)) => format!("plain table → hypertable every {i}"),
            (Some(_), None) => "hypertable → plain table".to_string(),
            (Some(x), Some(y)) if x != y => format!("hypertable re-chunked {x} → {y}"),
            (Some(_), Some(_)) if b.hash_partitions != a.hash_partitions => {
                "hypertable repartitioned".to_string()
            }
            (Some(_), Some(_)) if b.description != a.description => {
                "hypertable reshaped".to_string()
            }
            _ => continue,
        };
        let phrase = if b.chunk_interval.is_some()
            && a.hash_partitions != b.hash_partitions
            && !phrase.ends_with("repartitioned")
        {
            format!(
                "{phrase}, {} → {} hash partitions",
                b.hash_partitions, a.hash_partitions
            )
        } else {
            phrase
        };
        *changes.entry(phrase).or_default() += 1;
    }
    let est_rows = plan
        .tables
        .iter()
        .try_fold(0u64, |acc, t| t.est_rows.map(|r| acc + r));
    let est_bytes: u64 = plan.tables.iter().map(|t| t.est_bytes).sum();
    let mut line = format!("Plan: {tables} table{}", plural(tables));
    if !changes.is_empty() {
        let list: Vec<String> = changes.iter().map(|(p, n)| format!("{n} {p}")).collect();
        let _ = write!(line, " ({})", list.join("; "));
    }
    let windows = plan.count(StepKind::Copy);
    let _ = write!(
        line,
        ", {windows} copy window{}, ≈ {} rows ≈ {}",
        plural(windows),
        rows(est_rows),
        bytes(est_bytes)
    );
    for (kind, word) in [
        (StepKind::Index, "index"),
        (StepKind::Constraint, "constraint"),
        (StepKind::ForeignKey, "FK"),
    ] {
        let n = plan.count(kind);
        if n > 0 {
            let word = if n == 1 {
                word.to_string()
            } else if word == "index" {
                "indexes".into()
            } else {
                format!("{word}s")
            };
            let _ = write!(line, ", {n} {word}");
        }
    }
    // Continuous aggregates: one creation step each (their watermark steps aside).
    let caggs = plan
        .graph
        .node_weights()
        .filter(|s| s.kind == StepKind::ContinuousAggregate && !s.id.ends_with(":watermark"))
        .count();
    if caggs > 0 {
        let _ = write!(line, ", {caggs} continuous aggregate{}", plural(caggs));
    }
    line.push('.');
    line
}

/// The step IDs a step waits for, sorted.
fn depends_on(plan: &Plan, n: NodeIndex) -> Vec<String> {
    let mut deps: Vec<String> = plan
        .graph
        .neighbors_directed(n, Direction::Incoming)
        .map(|d| plan.graph[d].id.clone())
        .collect();
    deps.sort();
    deps
}

/// Render the plan as versioned JSON: keys sorted, steps in execution order, the
/// same bytes for the same inputs. This is also the saved-plan format (`--out`).
pub fn render_json(plan: &Plan) -> String {
    let steps: Vec<serde_json::Value> = plan
        .order()
        .into_iter()
        .map(|n| {
            let step = &plan.graph[n];
            json!({
                "id": step.id,
                "kind": step.kind,
                "table": step.table.as_ref().map(|t| t.to_string()),
                "depends_on": depends_on(plan, n),
                "action": step.action,
            })
        })
        .collect();
    // serde_json's map is ordered by key, so the output is sorted at every level.
    let value = json!({
        "format_version": FORMAT_VERSION,
        "hypermove_version": env!("CARGO_PKG_VERSION"),
        "spec": plan.spec_path,
        "source": plan.source,
        "target": plan.target,
        "fingerprints": plan.fingerprints,
        "up_to_date": plan.up_to_date,
        "done_before": plan.done,
        "tables": plan.tables,
        "steps": steps,
        "warnings": plan.warnings,
        "summary": summary(plan),
    });
    let mut text = serde_json::to_string_pretty(&value).expect("a plan serializes");
    text.push('\n');
    text
}

/// The parts of a saved plan that `apply` checks before it runs anything.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Must be [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The hypermove that wrote it.
    pub hypermove_version: String,
    /// The spec it was made from.
    pub spec: String,
    /// What it was made from.
    pub fingerprints: Fingerprints,
}

fn dot_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Render the DAG for Graphviz. Each table is a cluster, and its copy windows are
/// drawn as one node, so a table of hundreds of chunks stays readable.
pub fn render_dot(plan: &Plan) -> String {
    let graph = &plan.graph;
    // Node name of every step: copy windows share one per table.
    let name = |n: NodeIndex| -> String {
        let step = &graph[n];
        match (&step.kind, &step.table) {
            (StepKind::Copy, Some(t)) => format!("copy:{t}"),
            (StepKind::Verify, Some(t)) => format!("verify:{t}"),
            _ => step.id.clone(),
        }
    };
    let mut clusters: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut loose: BTreeSet<(String, String)> = BTreeSet::new();
    let mut windows: BTreeMap<String, (usize, Option<u64>)> = BTreeMap::new();
    let mut totals: BTreeSet<String> = BTreeSet::new();
    for n in plan.order() {
        let step = &graph[n];
        let est = match &step.action {
            Action::Copy(c) => c.est_rows,
            Action::Load(l) => Some(l.rows),
            // A table's row total shares the node, but is not a window.
            Action::Probe(p) if p.table_total => {
                totals.insert(name(n));
                continue;
            }
            Action::Probe(_) => Some(0),
            Action::Sql(_) => continue,
        };
        let entry = windows.entry(name(n)).or_insert((0, Some(0)));
        entry.0 += 1;
        entry.1 = entry.1.zip(est).map(|(a, b)| a + b);
    }
    for n in plan.order() {
        let step = &graph[n];
        let node = name(n);
        let label = match (windows.get(&node), step.kind) {
            (Some((count, _)), StepKind::Verify) => {
                let total = if totals.contains(&node) {
                    " + row total"
                } else {
                    ""
                };
                format!("{node}\n{count} window{}{total}", plural(*count))
            }
            (Some((count, est)), _) => format!(
                "{node}\n{count} window{}, ≈ {} rows",
                plural(*count),
                rows(*est)
            ),
            (None, _) => node.clone(),
        };
        let attrs = match step.kind {
            StepKind::Copy => format!("label={}, shape=box3d", dot_quote(&label)),
            StepKind::Verify => format!("label={}, shape=octagon", dot_quote(&label)),
            _ => format!("label={}", dot_quote(&label)),
        };
        match &step.table {
            Some(t) => {
                clusters
                    .entry(t.to_string())
                    .or_default()
                    .insert((node, attrs));
            }
            None => {
                loose.insert((node, attrs));
            }
        }
    }
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    for e in graph.edge_indices() {
        let (a, b) = graph.edge_endpoints(e).expect("edge has endpoints");
        let (a, b) = (name(a), name(b));
        if a != b {
            edges.insert((a, b));
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "digraph hypermove {{");
    let _ = writeln!(out, "  rankdir=LR;");
    let _ = writeln!(
        out,
        "  node [shape=box, fontname=\"Helvetica\", fontsize=10];"
    );
    let _ = writeln!(out, "  label={};", dot_quote(&summary(plan)));
    for (node, attrs) in &loose {
        let _ = writeln!(out, "  {} [{attrs}];", dot_quote(node));
    }
    for (i, (table, nodes)) in clusters.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{i} {{");
        let _ = writeln!(out, "    label={};", dot_quote(table));
        for (node, attrs) in nodes {
            let _ = writeln!(out, "    {} [{attrs}];", dot_quote(node));
        }
        let _ = writeln!(out, "  }}");
    }
    for (a, b) in &edges {
        let _ = writeln!(out, "  {} -> {};", dot_quote(a), dot_quote(b));
    }
    let _ = writeln!(out, "}}");
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Rows for humans: `17,280`, `1.0 M`; `?` when the source was never analyzed.
pub fn rows(n: Option<u64>) -> String {
    match n {
        None => "?".into(),
        Some(n) if n >= 1_000_000 => format!("{:.1} M", n as f64 / 1e6),
        Some(n) => {
            let s = n.to_string();
            let mut out = String::new();
            for (i, c) in s.chars().enumerate() {
                if i > 0 && (s.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            out
        }
    }
}

/// Bytes for humans, in powers of 1000 as `pg_size_pretty` does not (it uses 1024),
/// because throughput figures are quoted in MB/s.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_numbers() {
        assert_eq!(rows(Some(17280)), "17,280");
        assert_eq!(rows(Some(1_036_800)), "1.0 M");
        assert_eq!(rows(None), "?");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(83_000_000), "83.0 MB");
    }
}
