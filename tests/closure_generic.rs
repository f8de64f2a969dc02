//! The closure rule, enforced generically: walk everything the moved tables depend
//! on and everything that depends on them (pg_depend, as PostgreSQL itself records
//! it), and fail on any object that is neither on the target after the move nor
//! named in the plan's warnings. No list of object kinds to forget: a kind hypermove
//! does not know about shows up here as a missing object.
//!
//! The same fixture then checks what an application does next on the target: an
//! insert draws from the default's sequence, a trigger fires, a policy filters a
//! role that does not own the rows.

mod common;

use std::collections::BTreeMap;

use common::*;

const DB: &str = "hm_closure_generic";
const READER: &str = "hm_gen_reader";

/// The moved tables, source name to target name: one renamed into a new schema.
const MOVED: [(&str, &str); 3] = [
    ("app.devices", "app.devices"),
    ("app.readings", "metrics.readings"),
    ("app.counters", "app.counters"),
];

/// Every object around the given tables, by object address
/// (`pg_identify_object_as_address`), with the table an index belongs to.
const CLOSURE: &str = r#"
WITH RECURSIVE
walk(classid, objid, objsubid, dir, depth) AS (
    SELECT 'pg_class'::regclass::oid, t::regclass::oid, 0, 'up', 0 FROM unnest($1::text[]) t
  UNION
    SELECT e.classid, e.objid, e.objsubid, e.dir, w.depth + 1
    FROM walk w CROSS JOIN LATERAL (
        -- what depends on it (views, triggers, indexes, policies, defaults, ...)
        SELECT d.classid, d.objid, d.objsubid, 'up' AS dir
        FROM pg_depend d
        WHERE w.dir = 'up' AND d.refclassid = w.classid AND d.refobjid = w.objid
          AND d.deptype IN ('n', 'a')
      UNION ALL
        -- the whole an internal part belongs to (the view of a rewrite rule)
        SELECT d.refclassid, d.refobjid, 0, 'up'
        FROM pg_depend d
        WHERE w.dir = 'up' AND d.classid = w.classid AND d.objid = w.objid AND d.deptype = 'i'
      UNION ALL
        -- what it depends on (functions, types, sequences, collations, ...)
        SELECT d.refclassid, d.refobjid, d.refobjsubid, 'down'
        FROM pg_depend d
        WHERE d.classid = w.classid AND d.objid = w.objid AND d.deptype IN ('n', 'a')
    ) e
    WHERE w.depth < 10
      AND w.classid NOT IN ('pg_namespace'::regclass, 'pg_extension'::regclass)
),
objects AS (
    SELECT DISTINCT classid, objid, objsubid FROM walk
    WHERE classid NOT IN ('pg_namespace'::regclass, 'pg_extension'::regclass)
)
SELECT a.type, a.object_names, a.object_args,
       pg_describe_object(o.classid, o.objid, o.objsubid) AS description,
       (SELECT x.indrelid::regclass::text FROM pg_index x
         WHERE o.classid = 'pg_class'::regclass AND x.indexrelid = o.objid) AS index_of
FROM objects o, pg_identify_object(o.classid, o.objid, o.objsubid) i,
     pg_identify_object_as_address(o.classid, o.objid, o.objsubid) a
WHERE coalesce(i.schema, '') NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  -- TimescaleDB's own: its schemas (chunks and what is on them), its members
  AND coalesce(i.schema, '') NOT LIKE '\_timescaledb%'
  AND coalesce(i.schema, '') NOT LIKE 'timescaledb%'
  AND a.object_names[1] NOT LIKE '\_timescaledb%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend e
                  WHERE e.classid = o.classid AND e.objid = o.objid AND e.deptype = 'e')
  -- ... and its triggers on hypertables (ts_insert_blocker), whose function is its own
  AND NOT EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_depend e
                    ON e.classid = 'pg_proc'::regclass AND e.objid = t.tgfoid AND e.deptype = 'e'
                  WHERE o.classid = 'pg_trigger'::regclass AND t.oid = o.objid)
ORDER BY 1, 2
"#;

/// Facts about a relation that are not objects of their own: row-level security,
/// storage settings, replica identity, grants on it and on its columns, column
/// settings, triggers' enabled state, policies' roles and expressions.
const FACTS: &str = r#"
SELECT f FROM (
  SELECT format('rls=%s force=%s reloptions=%s identity=%s acl=%s',
                c.relrowsecurity, c.relforcerowsecurity, c.reloptions, c.relreplident,
                ARRAY(SELECT format('%s:%s:%s', a.grantee::regrole, a.privilege_type, a.is_grantable)
                        FROM aclexplode(c.relacl) a ORDER BY 1)) AS f
    FROM pg_class c WHERE c.oid = $1::text::regclass
  UNION ALL
  SELECT format('column %s type=%s collation=%s storage=%s compression=%s statistics=%s acl=%s',
                a.attname, format_type(a.atttypid, a.atttypmod), a.attcollation::regcollation,
                a.attstorage, a.attcompression, coalesce(a.attstattarget::int4, -1),
                ARRAY(SELECT format('%s:%s', x.grantee::regrole, x.privilege_type)
                        FROM aclexplode(a.attacl) x ORDER BY 1))
    FROM pg_attribute a WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('trigger %s enabled=%s', t.tgname, t.tgenabled)
    FROM pg_trigger t WHERE t.tgrelid = $1::text::regclass AND NOT t.tgisinternal
     AND t.tgname <> 'ts_insert_blocker'
  UNION ALL
  SELECT format('policy %s roles=%s using=%s', p.polname,
                ARRAY(SELECT r::regrole::text FROM unnest(p.polroles) r ORDER BY 1),
                pg_get_expr(p.polqual, p.polrelid))
    FROM pg_policy p WHERE p.polrelid = $1::text::regclass
) facts ORDER BY 1
"#;

/// One object of the closure as an address the target can resolve.
#[derive(Debug)]
struct Object {
    kind: String,
    names: Vec<String>,
    args: Vec<String>,
    description: String,
    index_of: Option<String>,
}

fn closure(client: &mut postgres::Client) -> Vec<Object> {
    let tables: Vec<&str> = MOVED.iter().map(|(s, _)| *s).collect();
    client
        .query(CLOSURE, &[&tables])
        .expect("closure query")
        .iter()
        .map(|r| Object {
            kind: r.get(0),
            names: r.get(1),
            args: r.get(2),
            description: r.get(3),
            index_of: r.get(4),
        })
        .collect()
}

/// The object's address on the target: a moved table's objects follow it to its
/// new schema and name.
fn on_target(o: &Object) -> Vec<String> {
    let split = |q: &str| -> (String, String) {
        let (s, n) = q.split_once('.').expect("qualified");
        (s.to_string(), n.to_string())
    };
    let mut names = o.names.clone();
    for (source, target) in MOVED {
        let (ss, sn) = split(source);
        let (ts, tn) = split(target);
        if names.len() >= 2 && names[0] == ss && names[1] == sn {
            names[0] = ts.clone();
            names[1] = tn.clone();
        }
        // An index lives in its table's schema.
        if o.index_of.as_deref() == Some(source) {
            names[0] = ts;
        }
    }
    names
}

fn facts(client: &mut postgres::Client, relation: &str) -> Vec<String> {
    client
        .query(FACTS, &[&relation])
        .unwrap_or_else(|e| panic!("facts of {relation}: {e}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn spec(dir: &std::path::Path) -> std::path::PathBuf {
    let mut tables = String::new();
    for (source, target) in MOVED {
        tables.push_str(&format!("  - name: {source}\n"));
        if source != target {
            tables.push_str(&format!("    target: {target}\n"));
        }
    }
    write_spec(
        dir,
        "closure.yaml",
        &format!(
            "version: 1\nsource: {}\ntarget: {}\ngrants: true\ntables:\n{tables}",
            url(SOURCE_PORT, DB),
            url(TARGET_PORT, DB)
        ),
    )
}

#[test]
fn every_object_around_the_moved_tables_is_on_the_target_or_named_in_a_warning() {
    let mut src = fresh_db(SOURCE_PORT, DB);
    let mut dst = fresh_db(TARGET_PORT, DB);
    for client in [&mut src, &mut dst] {
        client
            .batch_execute(&format!(
                "DO $$ BEGIN CREATE ROLE {READER}; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            ))
            .unwrap();
    }
    let fixture =
        std::fs::read_to_string(root().join("tests/fixtures/closure/rich.sql")).expect("fixture");
    src.batch_execute(&fixture).expect("load the rich fixture");
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path());

    let out = hypermove()
        .args(["plan", spec.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "plan refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON plan");
    let warnings: Vec<String> = plan["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    hypermove()
        .args(["apply", "--yes", spec.to_str().unwrap()])
        .assert()
        .success();

    let objects = closure(&mut src);
    // The walk itself must see the fixture's kinds, or it proves nothing.
    for kind in [
        "collation",
        "function",
        "index",
        "materialized view",
        "policy",
        "sequence",
        "statistics object",
        "table",
        "text search configuration",
        "trigger",
        "type",
        "view",
    ] {
        assert!(
            objects.iter().any(|o| o.kind == kind),
            "the closure walk found no {kind}: {objects:#?}"
        );
    }
    let mut missing = Vec::new();
    for o in &objects {
        let names = on_target(o);
        // pg_get_object_address takes every relation's column as a `table column`.
        let kind = if o.kind.ends_with(" column") {
            "table column"
        } else {
            o.kind.as_str()
        };
        let found = dst
            .query_opt(
                "SELECT 1 FROM pg_get_object_address($1, $2, $3)",
                &[&kind, &names, &o.args],
            )
            .is_ok();
        // A warning names the object by its source name or its description.
        let warned = warnings.iter().any(|w| {
            w.contains(&o.description) || w.contains(&o.names.join(".")) && o.names.len() > 1
        });
        if !found && !warned {
            missing.push(format!(
                "{} (looked for {} {:?})",
                o.description, o.kind, names
            ));
        }
    }
    assert!(
        missing.is_empty(),
        "neither on the target nor named in a warning:\n  {}\nwarnings: {warnings:#?}",
        missing.join("\n  ")
    );

    // What is not an object of its own: settings, grants, row security, policies.
    for (source, target) in MOVED {
        assert_eq!(
            facts(&mut src, source),
            facts(&mut dst, target),
            "{source} -> {target}"
        );
    }
    for view in ["app.device_names", "app.device_names_upper", "app.daily"] {
        assert_eq!(facts(&mut src, view), facts(&mut dst, view), "{view}");
    }
    let default_acl = "SELECT format('%s %s %s', defaclrole::regrole, defaclobjtype, defaclacl)
                         FROM pg_default_acl WHERE defaclnamespace = 'app'::regnamespace ORDER BY 1";
    let rows = |c: &mut postgres::Client| -> BTreeMap<String, ()> {
        c.query(default_acl, &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), ()))
            .collect()
    };
    assert_eq!(rows(&mut src), rows(&mut dst), "default privileges of app");

    // Views and the materialized view answer as on the source.
    for (source, target) in [
        ("app.device_names_upper", "app.device_names_upper"),
        ("app.recent", "app.recent"),
        ("app.daily", "app.daily"),
    ] {
        let digest = |c: &mut postgres::Client, v: &str| {
            scalar(
                c,
                &format!(
                    "SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {v} t"
                ),
            )
        };
        assert_eq!(
            digest(&mut src, source),
            digest(&mut dst, target),
            "{source}"
        );
    }

    // The application's next actions on the target.
    assert_eq!(
        scalar(
            &mut dst,
            "INSERT INTO app.devices (id, name) VALUES (1001, 'new one') RETURNING ticket::text"
        ),
        "4322",
        "an insert draws from the default's sequence where the source left it"
    );
    assert_eq!(
        scalar(
            &mut dst,
            "INSERT INTO metrics.readings (time, device_id, value) VALUES ('2025-02-01', 1, 3) RETURNING note"
        ),
        "auto",
        "the trigger fires on the target"
    );
    assert!(
        dst.batch_execute("INSERT INTO metrics.readings VALUES ('2025-02-01', 1, 0)")
            .is_err(),
        "the domain's CHECK holds on the target"
    );
    dst.batch_execute(&format!("SET ROLE {READER}")).unwrap();
    assert_eq!(
        scalar(&mut dst, "SELECT count(*)::text FROM app.devices"),
        "10",
        "the policy shows the reader its own rows only"
    );
    dst.batch_execute("RESET ROLE").unwrap();
    assert_eq!(
        scalar(&mut dst, "SELECT count(*)::text FROM app.devices"),
        "101"
    );
}
