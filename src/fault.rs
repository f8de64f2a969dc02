//! Faults that tests inject on purpose, to prove that a safety net catches them.
//!
//! Only debug builds (the ones `cargo test` runs) look at `HYPERMOVE_FAULT`; in a
//! release build [`injected`] is always false and the check compiles away.

/// The copy reads each chunk with `FROM ONLY chunk`, as hypermove once did: the rows
/// of a compressed chunk are then missed. Verification must catch it.
pub const COPY_READS_CHUNK_HEAP_ONLY: &str = "copy-reads-chunk-heap-only";

/// Every index step fails, as a step the target rejects at run time would: the
/// executor must skip only what depends on it, finish the rest, and exit 1.
pub const INDEX_STEPS_FAIL: &str = "index-steps-fail";

/// Whether `HYPERMOVE_FAULT` (a comma-separated list) names this fault.
pub fn injected(name: &str) -> bool {
    cfg!(debug_assertions)
        && std::env::var("HYPERMOVE_FAULT").is_ok_and(|v| v.split(',').any(|f| f.trim() == name))
}
