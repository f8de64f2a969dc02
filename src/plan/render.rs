//! Text rendering of a plan. It reads only the plan structs, so what is printed is
//! exactly what `apply` will run, in the order the executor prefers.

use std::fmt::Write;

use super::{Action, Plan, StepKind};

/// Render the plan for a human reviewer. Deterministic: no clocks, no secrets.
pub fn render_text(plan: &Plan, spec_path: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "hypermove plan for {spec_path}");
    let _ = writeln!(out, "  source: {}", plan.source);
    let _ = writeln!(out, "  target: {}", plan.target);
    let _ = writeln!(
        out,
        "\nLegend: + create on the target   > copy a window   = verify   (≈ estimate from source statistics)"
    );

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
            .map(|c| format!(" ({c} chunk{})", if c == 1 { "" } else { "s" }))
            .unwrap_or_default();
        let _ = writeln!(out, "  before: {}{chunks}", t.before.description);
        let _ = writeln!(out, "  after:  {}", t.after.description);
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
    for n in plan.order() {
        let step = &plan.graph[n];
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
                let _ = writeln!(out, "  > {}  ≈ {} rows", step.id, rows(c.est_rows));
            }
            Action::Probe(p) => {
                let _ = writeln!(out, "  = {}  ({} on both sides)", step.id, p.what);
            }
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

/// The closing line, e.g.
/// `Plan: 2 tables (1 hypertable reshaped), 61 copy windows, ≈ 1.0 M rows ≈ 83 MB, 1 index, 3 constraints, 1 FK.`
pub fn summary(plan: &Plan) -> String {
    let tables = plan.tables.len();
    let reshaped: Vec<String> = plan
        .tables
        .iter()
        .filter(|t| t.before.description != t.after.description)
        .map(|t| format!("{} → {}", t.before.description, t.after.description))
        .collect();
    let est_rows = plan
        .tables
        .iter()
        .try_fold(0u64, |acc, t| t.est_rows.map(|r| acc + r));
    let est_bytes: u64 = plan.tables.iter().map(|t| t.est_bytes).sum();
    let mut line = format!("Plan: {tables} table{}", plural(tables));
    if !reshaped.is_empty() {
        let _ = write!(line, " ({} reshaped)", reshaped.len());
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
    line.push('.');
    line
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
