//! Bad input gets one clear line and a non-zero exit, and the target is left
//! exactly as it was.

mod common;

use common::*;
use predicates::prelude::*;

fn source_with_demo_table(db: &str) {
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE TABLE public.devices (id int PRIMARY KEY, name text);
         INSERT INTO public.devices VALUES (1, 'a'), (2, 'b');",
    )
    .unwrap();
}

fn spec_text(db: &str, tables: &str) -> String {
    format!(
        "version: 1\nsource: {}\ntarget: {}\ntables:\n{tables}",
        url(SOURCE_PORT, db),
        url(TARGET_PORT, db)
    )
}

#[test]
fn unknown_key_is_refused_with_its_position() {
    let db = "hm_refuse_key";
    source_with_demo_table(db);
    let mut dst = fresh_db(TARGET_PORT, db);
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "bad.yaml",
        &spec_text(
            db,
            "  - name: public.devices\n    hypertable:\n      time_column: id\n      chunk_interval: 10\n",
        ),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "bad.yaml:8:7: tables[0].hypertable: unknown key `chunk_interval`, did you mean `chunk_time_interval`?",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
}

#[test]
fn missing_table_is_refused_before_anything_is_written() {
    let db = "hm_refuse_missing";
    source_with_demo_table(db);
    let mut dst = fresh_db(TARGET_PORT, db);
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "missing.yaml",
        &spec_text(db, "  - name: public.devices\n  - name: public.nope\n"),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "tables[1] (public.nope): table public.nope does not exist on the source",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
}

#[test]
fn missing_time_column_is_refused_before_anything_is_written() {
    let db = "hm_refuse_column";
    source_with_demo_table(db);
    let mut dst = fresh_db(TARGET_PORT, db);
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "column.yaml",
        &spec_text(
            db,
            "  - name: public.devices\n    hypertable:\n      time_column: created\n",
        ),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "time_column `created` is not a column of public.devices",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
}

#[test]
fn unreachable_server_is_an_error_and_nothing_is_written() {
    let db = "hm_refuse_unreachable";
    let mut dst = fresh_db(TARGET_PORT, db);
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    // Port 9 (discard) has no PostgreSQL behind it on the sandbox machine.
    let spec = write_spec(
        dir.path(),
        "down.yaml",
        &format!(
            "version: 1\nsource: postgresql://postgres:s3cret-pw@127.0.0.1:9/{db}\ntarget: {}\ntables:\n  - name: public.devices\n",
            url(TARGET_PORT, db)
        ),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cannot connect to the source (postgres@127.0.0.1:9/hm_refuse_unreachable)",
        ))
        .stderr(predicate::str::contains("s3cret-pw").not());
    assert_eq!(before, catalog_snapshot(&mut dst));
}

#[test]
fn existing_target_table_is_never_written_into() {
    let db = "hm_refuse_exists";
    source_with_demo_table(db);
    let mut dst = fresh_db(TARGET_PORT, db);
    dst.batch_execute(
        "CREATE TABLE public.devices (id int); INSERT INTO public.devices VALUES (42);",
    )
    .unwrap();
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "exists.yaml",
        &spec_text(db, "  - name: public.devices\n"),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "public.devices already exists on the target",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT string_agg(id::text, ',') FROM public.devices"
        ),
        "42"
    );
}

#[test]
fn names_taken_on_the_target_are_refused_together_before_anything_is_written() {
    let db = "hm_refuse_names";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE TABLE public.devices (id int PRIMARY KEY, name text);
         CREATE INDEX devices_name_idx ON public.devices (name);
         CREATE STATISTICS public.devices_stats ON id, name FROM public.devices;
         INSERT INTO public.devices VALUES (1, 'a'), (2, 'b');",
    )
    .unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    // Another table holds the index's name, and a statistics object the other's.
    dst.batch_execute(
        "CREATE TABLE public.other (id int, name text);
         CREATE INDEX devices_name_idx ON public.other (name);
         CREATE STATISTICS public.devices_stats ON id, name FROM public.other;",
    )
    .unwrap();
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "names.yaml",
        &spec_text(db, "  - name: public.devices\n"),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "tables[0] (public.devices): the target already has objects named as its index public.devices_name_idx, statistics object public.devices_stats;",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
}

#[test]
fn plan_writes_nothing() {
    let db = "hm_plan_readonly";
    source_with_demo_table(db);
    let mut dst = fresh_db(TARGET_PORT, db);
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "plan.yaml",
        &spec_text(db, "  - name: public.devices\n"),
    );
    let first = hypermove()
        .args(["plan", spec.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("+ table:public.devices"))
        .stdout(predicate::str::contains("> copy:public.devices"))
        .stdout(predicate::str::contains("Plan: 1 table, 1 copy window"))
        .get_output()
        .stdout
        .clone();
    let second = hypermove()
        .args(["plan", spec.to_str().unwrap()])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(
        first, second,
        "the same inputs must give the same plan text"
    );
    assert_eq!(before, catalog_snapshot(&mut dst));
}

/// SQL in names is only ever a name: a quoted identifier that does not exist, or a
/// column that does not exist. Nothing executes, and the target stays as it was.
#[test]
fn injection_attempts_are_names_that_do_not_exist() {
    let db = "hm_refuse_injection";
    source_with_demo_table(db);
    let mut dst = fresh_db(TARGET_PORT, db);
    dst.batch_execute(
        "CREATE TABLE public.devices (id int); INSERT INTO public.devices VALUES (7);",
    )
    .unwrap();
    let before = catalog_snapshot(&mut dst);
    let dir = tempfile::tempdir().unwrap();
    for (i, (tables, expected)) in [
        (
            "  - name: '\"public\".\"x\"\"; DROP TABLE devices; --\"'\n",
            "table public.\"x\"\"; DROP TABLE devices; --\" does not exist on the source",
        ),
        (
            "  - name: public.devices\n    target: '\"public\".\"d\"\"); SELECT pg_sleep(10); --\"'\n    hypertable:\n      time_column: \"'); SELECT pg_sleep(10); --\"\n",
            "time_column `'); SELECT pg_sleep(10); --` is not a column of public.devices",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let spec = write_spec(dir.path(), &format!("inject{i}.yaml"), &spec_text(db, tables));
        let started = std::time::Instant::now();
        hypermove()
            .args(["apply", "--yes", spec.to_str().unwrap()])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(expected));
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "something slept");
    }
    assert_eq!(before, catalog_snapshot(&mut dst));
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT string_agg(id::text, ',') FROM public.devices"
        ),
        "7"
    );
    assert_eq!(
        scalar(
            &mut connect(SOURCE_PORT, db),
            "SELECT count(*)::text FROM public.devices"
        ),
        "2"
    );
}

/// A huge spec is refused by its size, before it is read.
#[test]
fn a_huge_spec_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(100 * 1024 * 1024).unwrap(); // 100 MB, sparse
    hypermove()
        .args(["validate", path.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "specs larger than 1048576 bytes are refused",
        ));
}

/// A target that is the source itself (the same server and database reached by
/// another host name, and the same table) is refused before anything is written.
#[test]
fn the_source_itself_is_not_a_target() {
    let db = "hm_refuse_self";
    source_with_demo_table(db);
    let mut src = connect(SOURCE_PORT, db);
    let before = catalog_snapshot(&mut src);
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "self.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: postgresql://postgres@localhost:{SOURCE_PORT}/{db}?sslmode=disable\ntables:\n  - name: public.devices\n",
            url(SOURCE_PORT, db)
        ),
    );
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "self.yaml:5:5: tables[0] (public.devices): the target is the source itself",
        ));
    assert_eq!(before, catalog_snapshot(&mut src));
}
