//! `apply --follow` refuses before it writes anything: a table without a replica
//! identity is named with its remedy, and neither server is touched (no slot, no
//! publication, no table on the target). `plan --follow` shows the same refusal and
//! the sandbox's unlimited `max_slot_wal_keep_size` as a warning, read-only.

mod common;

use common::*;
use predicates::prelude::*;

#[test]
fn a_table_without_a_replica_identity_is_refused_before_anything_is_written() {
    let db = "hm_follow_norid";
    let mut src = fresh_db(FULL_SOURCE_PORT, db);
    src.batch_execute(
        "CREATE TABLE public.log (at timestamptz NOT NULL, msg text);
         INSERT INTO public.log SELECT now(), 'm' || i FROM generate_series(1, 10) AS i;",
    )
    .unwrap();
    let mut dst = fresh_db(FULL_TARGET_PORT, db);
    let before = catalog_snapshot(&mut dst);
    let slots = |src: &mut postgres::Client| {
        scalar(
            src,
            "SELECT format('%s slots, %s publications',
                    (SELECT count(*) FROM pg_replication_slots WHERE database = current_database()),
                    (SELECT count(*) FROM pg_publication))",
        )
    };
    let slots_before = slots(&mut src);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "norid.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ntables:\n  - name: public.log\n",
            url(FULL_SOURCE_PORT, db),
            url(FULL_TARGET_PORT, db)
        ),
    );
    // The review: the plan, then the live checks, exit 2 with the refusal.
    hypermove()
        .args(["plan", "--follow", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("+ table:public.log"))
        .stdout(predicate::str::contains(
            "warning: max_slot_wal_keep_size = -1 (unlimited)",
        ))
        .stdout(predicate::str::contains(
            "refused: table public.log has no primary key and no replica identity",
        ))
        .stderr(predicate::str::contains(
            "`apply --follow` would refuse this move (1 problem above)",
        ));
    hypermove()
        .args(["apply", "--yes", "--follow", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("public.log"))
        .stderr(predicate::str::contains(
            "ALTER TABLE \"public\".\"log\" REPLICA IDENTITY FULL",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
    assert_eq!(slots_before, slots(&mut src));
}
