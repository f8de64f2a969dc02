//! Compression the source gained after the copy, for a live move's cutover.
//!
//! A live move compresses the target's slices that were compressed on the source
//! when it copied them. During the follow the source keeps compressing (a
//! compression policy, or `compress_chunk` by hand): the rows stream (the
//! compression itself is skipped inside TimescaleDB's markers), but the target's
//! slice stays uncompressed, and the cutover's verification, planned from the
//! source as it is at the fence, then finds `compression not as planned`
//! (docs/live.md, section 7). Compressing, before the verification, every target
//! slice the source now has wholly compressed makes the target as the move would
//! plan it now. Each statement is the plan's own `compress:` step
//! (`compress_chunk(…, if_not_compressed => true)`), so running it again, or on a
//! slice already compressed, changes nothing.

use super::Inputs;
use super::compression;
use super::shape::{shape_of, time_of};
use super::window;
use crate::spec::Spec;

/// The target slices the move would compress now, one statement each, named by
/// the plan's step ID (`compress:<table>:<lo>..<hi>`): the plan's compression
/// decisions on `inputs` (gathered at the fence). Tables whose plan is refused or
/// that do not compress are left out: the verification reports them.
pub fn compression_catch_up(spec: &Spec, inputs: &Inputs) -> Vec<(String, String)> {
    let ts_schema = inputs
        .target_server
        .timescaledb_schema
        .clone()
        .unwrap_or_else(|| "public".to_string());
    let mut out = Vec::new();
    for (t, table) in inputs.selection.iter().zip(&inputs.tables) {
        let Ok(shape) = shape_of(t, table, inputs) else {
            continue;
        };
        let Ok(decision) = compression::decide(spec, inputs, t, table, &shape) else {
            continue;
        };
        let (Some(c), Some((_, time_type))) = (decision.compression, time_of(table, &shape)) else {
            continue;
        };
        for (lo, hi) in c.slices {
            out.push((
                format!(
                    "compress:{}:{}..{}",
                    t.target,
                    window::label(Some(lo), time_type, "-inf"),
                    window::label(Some(hi), time_type, "+inf")
                ),
                compression::compress_sql(&ts_schema, &t.target, time_type, lo, hi),
            ));
        }
    }
    out
}
