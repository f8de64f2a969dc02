//! A source transaction larger than `Limits::transaction_bytes` (here 64 KiB) is not
//! held whole in the follower's memory: it goes to the target in parts, inside one
//! target transaction that commits with the source's Commit and the journal
//! position. On the full pair, through the library's follower: a transaction of
//! 30,000 inserts, updates, deletes and partition-moving key changes between two
//! small ones; after the fence the target equals the source row for row, the
//! follower applied it in several parts, and the row changes add up exactly.

mod common;
#[path = "harness/follow.rs"]
mod harness;

use std::sync::{Arc, Mutex};

use harness::*;
use hypermove::live::follow::{Outcome, Progress};
use hypermove::live::pending::Limits;

const CASE: Case = Case {
    db: "hm_live_large",
    slot: "hm_live_large_slot",
    publication: "hm_live_large_pub",
    fingerprint: "hm_live_large-spec",
};

#[test]
fn a_transaction_larger_than_the_bound_is_applied_in_parts_in_one_target_transaction() {
    let _cleanup = common::live::SlotGuard::fresh(CASE.db, CASE.slot, CASE.publication);
    let Setup {
        rt,
        mut src,
        mut dst,
        slot,
        repl,
        ..
    } = setup(CASE);
    let stream = rt
        .block_on(repl.start_replication(CASE.slot, slot.consistent_point, &[CASE.publication]))
        .expect("START_REPLICATION");
    let shared = Arc::new(Mutex::new(Progress::default()));
    let limits = Limits {
        transaction_bytes: 64 << 10,
        ..Limits::default()
    };
    let (controller, task) = spawn_follower(&rt, CASE, stream, shared.clone(), limits);

    src.execute(
        "INSERT INTO metrics VALUES (5000, '2026-01-02 00:00+00', 1, 'before')",
        &[],
    )
    .expect("a small transaction before");
    let mut tx = src.transaction().expect("begin");
    let mut changed = 0;
    for sql in [
        "INSERT INTO metrics SELECT 100000 + i, '2026-01-01 00:00+00'::timestamptz
           + i * interval '7 seconds', i, repeat('x', 40) FROM generate_series(1, 30000) i",
        "UPDATE metrics SET v = -v WHERE id BETWEEN 100001 AND 101000",
        "DELETE FROM metrics WHERE id BETWEEN 101001 AND 101500",
        // Key changes: rows move between the target's hash partitions.
        "UPDATE metrics SET id = id + 500000 WHERE id BETWEEN 102001 AND 102100",
        "DELETE FROM metrics WHERE id < 20",
    ] {
        changed += tx.execute(sql, &[]).expect(sql);
    }
    tx.commit().expect("the large transaction commits");
    src.execute(
        "INSERT INTO metrics VALUES (5001, '2026-01-02 00:00+00', 2, 'after')",
        &[],
    )
    .expect("a small transaction after");

    let fence = fence(&mut src);
    controller.fence(fence);
    let (outcome, _stream) = join(&rt, task);
    let Outcome::Fenced { position } = outcome.expect("the follow succeeds") else {
        panic!("the follower did not stop at the fence");
    };
    let progress = shared.lock().unwrap().clone();
    eprintln!("progress: {progress:?}");
    assert_eq!(
        rows(&mut dst),
        rows(&mut src),
        "the target equals the source"
    );
    assert_eq!(
        journal(&rt, CASE),
        position,
        "the journal holds the position"
    );
    assert_slot_confirmed(&mut src, CASE, fence);
    assert_eq!(progress.transactions, 3, "{progress:?}");
    assert_eq!(
        progress.rows,
        changed + 2,
        "every row change once: {progress:?}"
    );
    assert!(
        progress.parts >= 10,
        "30,000 rows of ~100 bytes in parts of 64 KiB: {progress:?}"
    );
}
