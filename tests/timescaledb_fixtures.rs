//! TimescaleDB's own update-test fixtures (`test/sql/updates/setup.v7.sql` of the
//! 2.19.3 sources: compressed hypertables, continuous aggregates, policies, an
//! integer-time table with its integer_now_func, awkward names), planned and moved
//! 2.19/PG17 → 2.29/PG18 on the full builds as `hypermove init` writes the spec.
//! A schema hypermove's own tests did not write: every refusal is named with its
//! true reason, and with `on_unsupported: warn` every row arrives, compressed where
//! the source is, and only what is listed stays behind.

mod common;

use std::process::Command;

use common::*;
use predicates::prelude::*;

const DB: &str = "hm_tsdb_fixtures";

/// Extract the update-test fixtures from the checked source archive.
fn fixtures(dir: &std::path::Path) -> std::path::PathBuf {
    let out = Command::new(root().join("scripts/sandbox"))
        .args(["source", "2.19.3"])
        .output()
        .expect("run scripts/sandbox source");
    assert!(
        out.status.success(),
        "no TimescaleDB 2.19.3 source archive: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let archive = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let status = Command::new("tar")
        .args(["-xzf", &archive, "-C"])
        .arg(dir)
        .args(["--wildcards", "*/test/sql/updates/*"])
        .status()
        .expect("run tar");
    assert!(status.success(), "cannot extract the fixtures");
    std::fs::read_dir(dir)
        .unwrap()
        .next()
        .expect("an extracted directory")
        .unwrap()
        .path()
        .join("test/sql/updates")
}

/// Load them the way TimescaleDB's update tests do, with every feature on.
fn load(updates: &std::path::Path) {
    let mut src = fresh_db(FULL_SOURCE_PORT, DB);
    src.batch_execute("SET client_min_messages = warning; CREATE EXTENSION timescaledb")
        .unwrap();
    drop(src);
    let status = Command::new("psql")
        .current_dir(updates)
        .args([
            &url(FULL_SOURCE_PORT, DB),
            "-X",
            "-q",
            "-v",
            "WITH_CHUNK=true",
            "-v",
            "WITH_SUPERUSER=true",
            "-v",
            "WITH_ROLES=true",
            "-c",
            "SET client_min_messages = error",
            // Roles are the cluster's: a second run finds them there already.
            "-f",
            "pre.testing.sql",
            "-f",
            "setup.roles.sql",
            "-f",
            "setup.v7.sql",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run psql");
    assert!(status.success());
}

#[test]
fn timescaledbs_own_fixtures_are_refused_by_name_or_move_with_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let updates = fixtures(dir.path());
    load(&updates);
    let mut src = connect(FULL_SOURCE_PORT, DB);
    assert_eq!(
        scalar(
            &mut src,
            "SELECT count(*)::text FROM timescaledb_information.continuous_aggregates"
        ),
        "9",
        "the fixtures did not load"
    );
    let mut dst = fresh_db(FULL_TARGET_PORT, DB);
    // The fixtures' roles (setup.roles.sql) are the target cluster's to create: none
    // is there when the move is first planned.
    connect(FULL_TARGET_PORT, "postgres")
        .batch_execute(
            "DROP ROLE IF EXISTS cagg_user; DROP ROLE IF EXISTS tsdbadmin;
             DROP ROLE IF EXISTS \"dotted.name\"; DROP ROLE IF EXISTS \"Kim Possible\";",
        )
        .unwrap();
    let out = hypermove()
        .args([
            "init",
            "--source",
            &url(FULL_SOURCE_PORT, DB),
            "--target",
            &url(FULL_TARGET_PORT, DB),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let init = String::from_utf8(out.stdout).unwrap();
    let spec = write_spec(dir.path(), "fixtures.yaml", &init);

    // Every table that carries what hypermove does not move yet is named, each with
    // its own objects, in one refusal; nothing says the target "may not support" it.
    let refused = hypermove()
        .args(["plan", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let refused = String::from_utf8(refused).unwrap();
    assert!(
        refused.contains("the plan is refused for 2 reasons:"),
        "{refused}"
    );
    // `init` carries owners and grants: the roles the fixtures grant to must exist
    // on the target, and are named together.
    assert!(
        refused.contains(
            "target: grants: true needs these roles on the target, and they do not exist there: "
        ) && refused.contains("\"Kim Possible\", cagg_user, \"dotted.name\", tsdbadmin"),
        "{refused}"
    );
    // The continuous aggregates move, and so do their refresh policies; what stays is
    // the reorder policy, named on its table.
    assert!(
        refused
            .lines()
            .any(|l| l.contains("(public.policy_test_timestamptz):")
                && l.contains("background job policy_reorder")),
        "{refused}"
    );
    assert!(!refused.contains("depends on it"), "{refused}");
    assert!(!refused.contains("may not support"), "{refused}");
    assert!(
        !refused.contains("compress"),
        "compression moves: {refused}"
    );

    // An operator creates them there, as the refusal says: with the fixtures' own
    // roles script.
    let status = Command::new("psql")
        .current_dir(&updates)
        .args([
            &url(FULL_TARGET_PORT, "postgres"),
            "-X",
            "-q",
            "-c",
            "SET client_min_messages = error",
            "-f",
            "setup.roles.sql",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run psql");
    assert!(status.success());
    // With `on_unsupported: warn` every row moves, and only the listed objects stay.
    let warned = write_spec(
        dir.path(),
        "warned.yaml",
        &init.replacen("\nversion: 1\n", "\nversion: 1\non_unsupported: warn\n", 1),
    );
    hypermove()
        .args(["apply", "--yes", warned.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("Verification (checksum): all 54 windows match."))
        .stdout(predicate::str::contains(
            "ok   public.compress: 9 windows, 137 source rows, checksum matches, compression as planned",
        ))
        // The realtime cagg moves as what it is, never as a view of unmoved tables,
        // and its buckets are compared through it.
        .stdout(predicate::str::contains(
            "ok   cagg.realtime_mat: 2 windows, 16 source rows, checksum matches",
        ))
        .stdout(predicate::str::contains("depends on it").not())
        .stdout(predicate::str::contains("view cagg.realtime_mat").not());
    // TimescaleDB's internals (a cagg's partial and direct views) never travel as
    // the user's: the only views in its schemas are the extension's own and those
    // of the continuous aggregates the move created.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT count(*)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind = 'v' AND n.nspname LIKE '\\_timescaledb%'
                AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                AND d.objid = c.oid AND d.deptype = 'e')
                AND NOT EXISTS (SELECT 1 FROM _timescaledb_catalog.continuous_agg a
                                WHERE (a.partial_view_schema = n.nspname AND a.partial_view_name = c.relname)
                                   OR (a.direct_view_schema = n.nspname AND a.direct_view_name = c.relname))"
        ),
        "0"
    );
    // Every continuous aggregate moved, each answering bucket for bucket as the
    // source's, with its options.
    let caggs: Vec<(String, String)> = src
        .query(
            "SELECT format('%I.%I', view_schema, view_name), format('%s %s', materialized_only, compression_enabled)
               FROM timescaledb_information.continuous_aggregates ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(caggs.len(), 9);
    for (cagg, options) in &caggs {
        let digest = format!(
            "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {cagg} t"
        );
        assert_eq!(
            scalar(&mut src, &digest),
            scalar(&mut dst, &digest),
            "{cagg}"
        );
        let same = format!(
            "SELECT format('%s %s', materialized_only, compression_enabled) FROM timescaledb_information.continuous_aggregates
              WHERE format('%I.%I', view_schema, view_name) = '{cagg}'"
        );
        assert_eq!(&scalar(&mut dst, &same), options, "{cagg}");
        // And its owner and grants (init writes `grants: true`).
        let acl = format!(
            "SELECT format('%s %s', relowner::regrole, relacl) FROM pg_class WHERE oid = '{cagg}'::regclass"
        );
        assert_eq!(scalar(&mut src, &acl), scalar(&mut dst, &acl), "{cagg}");
    }
    // Their refresh policies, and the tables' compression and retention policies,
    // moved with them: per kind and relation, the same jobs, the reorder one aside.
    let jobs = "SELECT string_agg(x, '; ' ORDER BY x) FROM (
                  SELECT format('%s %s.%s %s', proc_name, coalesce(a.view_schema, j.hypertable_schema), coalesce(a.view_name, j.hypertable_name), schedule_interval) AS x
                  FROM timescaledb_information.jobs j
                  LEFT JOIN timescaledb_information.continuous_aggregates a
                    ON a.materialization_hypertable_schema = j.hypertable_schema
                   AND a.materialization_hypertable_name = j.hypertable_name
                 WHERE j.job_id >= 1000 AND proc_name <> 'policy_reorder') s";
    assert_eq!(scalar(&mut src, jobs), scalar(&mut dst, jobs));
    // The integer-time table keeps its integer_now_func, moved with it.
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT coalesce(integer_now_func, '') FROM timescaledb_information.dimensions
              WHERE hypertable_name = 'int_time_test'"
        ),
        "integer_now_test"
    );
    // Rows, in every moved table, equal.
    for table in [
        "public.compress",
        "public.conditions_before",
        "public.int_time_test",
        "public.\"two_Partitions\"",
        "public.hyper_timestamp",
    ] {
        let digest = format!(
            "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {table} t"
        );
        assert_eq!(
            scalar(&mut src, &digest),
            scalar(&mut dst, &digest),
            "{table}"
        );
    }
}
