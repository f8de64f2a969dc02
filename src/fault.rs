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

/// The copy stops after its first window commits (the others are not copied yet), as
/// a kill -9 would find it: `tests/live_kill.rs` kills the follower there.
pub const PAUSE_AFTER_COPY_WINDOW: &str = "pause-after-copy-window";

/// The applier stops with its target transaction open and the first operation of
/// the batch run in it (neither the rest nor the journal position written).
pub const PAUSE_MID_BATCH: &str = "pause-mid-batch";

/// The follower stops after a batch's target transaction committed and before the
/// position is confirmed to the slot (the standby status update).
pub const PAUSE_BEFORE_CONFIRM: &str = "pause-before-confirm";

/// The verification stops before it starts: a cutover is then past the follower's
/// fence and waiting for its own verdict.
pub const PAUSE_BEFORE_VERIFY: &str = "pause-before-verify";

/// A resumed follower stops after reading its session and before starting its stream:
/// a cutover may complete (and drop the slot) meanwhile.
pub const PAUSE_BEFORE_STREAM: &str = "pause-before-stream";

/// How long [`pause`] sleeps: `HYPERMOVE_FAULT_PAUSE_MS`, or 10 minutes (the test
/// kills the process long before).
fn pause_for() -> std::time::Duration {
    let ms = std::env::var("HYPERMOVE_FAULT_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600_000);
    std::time::Duration::from_millis(ms)
}

/// When `HYPERMOVE_FAULT` names this pause: say so on stderr (`hypermove fault:
/// paused at NAME`, the line a test waits for), then sleep, so a test can kill the
/// process exactly here. Other tasks of the process go on meanwhile.
pub async fn pause(name: &str) {
    if injected(name) {
        eprintln!("hypermove fault: paused at {name}");
        tokio::time::sleep(pause_for()).await;
    }
}
