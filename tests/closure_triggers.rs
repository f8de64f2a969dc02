//! User triggers move with their tables, from PostgreSQL 17 / TimescaleDB 2.19 to
//! PostgreSQL 18 / TimescaleDB 2.31: created on the target names (a plain table moved
//! to another schema and renamed, a renamed hypertable) after the rows are loaded and
//! checked, so none fires for a copied row, each in its source state (a disabled one
//! stays disabled), with the plpgsql functions they execute; and they fire for the
//! application's next rows. A trigger TimescaleDB cannot take is refused by name.

mod common;

use common::*;
use predicates::prelude::*;

const FIXTURE: &str = r#"
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE SCHEMA app;
-- What the statement triggers write: moved with the tables, under its own name.
CREATE TABLE app.audit (id bigserial PRIMARY KEY, tbl text NOT NULL, op text NOT NULL, n int NOT NULL);
-- A row trigger that changes the row: a copy that fired it would mark rows twice.
CREATE FUNCTION app.mark_note() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.note := NEW.note || ' [' || TG_ARGV[0] || ']'; RETURN NEW; END $$;
-- A statement trigger counting the inserted rows through a transition table.
CREATE FUNCTION app.count_new() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO app.audit (tbl, op, n) SELECT TG_TABLE_NAME, TG_OP, count(*) FROM new_rows; RETURN NULL; END $$;
CREATE FUNCTION app.stamp() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.changed := TG_ARGV[0] || ' ' || OLD.price || ' -> ' || NEW.price; RETURN NEW; END $$;
CREATE FUNCTION app.bump_value() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN NEW.value := NEW.value + 1000; RETURN NEW; END $$;
CREATE FUNCTION app.nothing() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RETURN NULL; END $$;

CREATE TABLE app.items (id int PRIMARY KEY, note text, price int NOT NULL, changed text);
CREATE TRIGGER items_mark BEFORE INSERT ON app.items FOR EACH ROW
    WHEN (NEW.note IS NOT NULL AND NEW.price > 0) EXECUTE FUNCTION app.mark_note('marked');
CREATE TRIGGER items_audit AFTER INSERT ON app.items REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.count_new();
CREATE TRIGGER items_price BEFORE UPDATE OF price ON app.items FOR EACH ROW EXECUTE FUNCTION app.stamp('price');
CREATE TRIGGER items_off BEFORE INSERT ON app.items FOR EACH ROW EXECUTE FUNCTION app.mark_note('off');
ALTER TABLE app.items DISABLE TRIGGER items_off;
CREATE CONSTRAINT TRIGGER items_later AFTER UPDATE ON app.items DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION app.nothing();
ALTER TABLE app.items ENABLE REPLICA TRIGGER items_later;
INSERT INTO app.items SELECT i, 'item ' || i, i * 10, NULL FROM generate_series(1, 50) i;
UPDATE app.items SET price = price + 1 WHERE id <= 5;
INSERT INTO app.items VALUES (51, NULL, 0, NULL);

CREATE TABLE app.readings (time timestamptz NOT NULL, device int NOT NULL, value float8);
SELECT create_hypertable('app.readings', by_range('time', INTERVAL '1 day'));
CREATE TRIGGER readings_bump BEFORE INSERT ON app.readings FOR EACH ROW
    WHEN (NEW.device > 0) EXECUTE FUNCTION app.bump_value();
CREATE TRIGGER readings_audit AFTER INSERT ON app.readings REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.count_new();
CREATE TRIGGER readings_fix BEFORE UPDATE OF value ON app.readings FOR EACH ROW EXECUTE FUNCTION app.bump_value();
INSERT INTO app.readings SELECT TIMESTAMPTZ '2025-01-01 00:00:00+00' + i * INTERVAL '1 hour', i % 3, i
    FROM generate_series(0, 71) i;

-- A row trigger with a transition table: fine on a plain table, not on a hypertable.
CREATE TABLE app.events (time timestamptz NOT NULL, v int);
CREATE TRIGGER events_rows AFTER INSERT ON app.events REFERENCING NEW TABLE AS new_rows
    FOR EACH ROW EXECUTE FUNCTION app.nothing();
"#;

/// Each user trigger of a table as the catalog holds it, one line each, in parts:
/// type bits, state, function, UPDATE OF columns, arguments, transition tables,
/// deferral, and the WHEN condition.
fn triggers(client: &mut postgres::Client, table: &str) -> Vec<String> {
    client
        .query(
            "SELECT format('%s type=%s enabled=%s function=%s columns=%s args=%s old=%s new=%s constraint=%s/%s/%s when=%s',
                           t.tgname, t.tgtype, t.tgenabled, t.tgfoid::regprocedure,
                           ARRAY(SELECT a.attname FROM unnest(t.tgattr::int2[]) WITH ORDINALITY u(n, i)
                                   JOIN pg_attribute a ON a.attrelid = t.tgrelid AND a.attnum = u.n ORDER BY u.i),
                           encode(t.tgargs, 'hex'), t.tgoldtable, t.tgnewtable,
                           t.tgconstraint <> 0, t.tgdeferrable, t.tginitdeferred,
                           substring(pg_get_triggerdef(t.oid, true) FROM 'WHEN \\((.*)\\) EXECUTE FUNCTION'))
               FROM pg_trigger t
               JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE t.tgrelid = $1::text::regclass AND NOT t.tgisinternal
                AND n.nspname NOT LIKE '\\_timescaledb\\_%'
              ORDER BY t.tgname",
            &[&table],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// `pg_get_triggerdef` of each user trigger of a table.
fn definitions(client: &mut postgres::Client, table: &str) -> Vec<String> {
    client
        .query(
            "SELECT pg_get_triggerdef(t.oid, true) FROM pg_trigger t
               JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE t.tgrelid = $1::text::regclass AND NOT t.tgisinternal
                AND n.nspname NOT LIKE '\\_timescaledb\\_%'
              ORDER BY t.tgname",
            &[&table],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Every row of a table as text, in a stable order.
fn rows(client: &mut postgres::Client, sql: &str) -> Vec<String> {
    client
        .query(&format!("SELECT t::text FROM ({sql}) t"), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn triggers_move_with_their_tables_and_fire_only_after_the_load() {
    let db = "hm_ctrig_move";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(FIXTURE).unwrap();
    let mut dst = fresh_db(TARGET_PORT, db);
    let dir = tempfile::tempdir().unwrap();
    let spec = |name: &str, extra: &str, tables: &str| {
        write_spec(
            dir.path(),
            name,
            &format!(
                "version: 1\nsource: {}\ntarget: {}\nverify: checksum\n{extra}tables:\n{tables}",
                url(SOURCE_PORT, db),
                url(TARGET_PORT, db)
            ),
        )
    };

    // A row trigger with a transition table cannot go onto a hypertable: refused
    // by name before anything is written, or listed with on_unsupported: warn.
    let events =
        "  - name: app.events\n    hypertable: {time_column: time, chunk_time_interval: 1 day}\n";
    let before = catalog_snapshot(&mut dst);
    hypermove()
        .args(["apply", "--yes", spec("events.yaml", "", events).to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "triggers that cannot be carried over: trigger \"events_rows\": it is a row trigger with transition tables, which TimescaleDB does not support on a hypertable",
        ));
    assert_eq!(before, catalog_snapshot(&mut dst));
    hypermove()
        .args([
            "plan",
            spec("events_warn.yaml", "on_unsupported: warn\n", events)
                .to_str()
                .unwrap(),
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "app.events: trigger \"events_rows\" is not carried over (on_unsupported: warn): it is a row trigger with transition tables",
        ))
        .stdout(predicate::str::contains("trigger:app.events").not());

    // The move: the plain table to another schema under another name, the
    // hypertable renamed, the audit table as it is.
    let moved = spec(
        "moved.yaml",
        "",
        "  - name: app.items\n    target: shop.goods\n  - name: app.readings\n    target: app.measures\n  - name: app.audit\n",
    );
    hypermove()
        .args(["plan", moved.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("+ trigger:shop.goods"))
        .stdout(predicate::str::contains("+ trigger:app.measures"))
        .stdout(predicate::str::contains(
            "-- Created once the rows are loaded and checked: triggers are disabled during the load,",
        ))
        .stdout(predicate::str::contains("function:app.mark_note()"))
        .stdout(predicate::str::contains("function:app.count_new()"))
        .stdout(predicate::str::contains("not carried").not());
    hypermove()
        .args(["apply", "--yes", moved.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ok   shop.goods: 1 window, 51 source rows, checksum matches",
        ))
        .stdout(predicate::str::contains(
            "ok   app.measures: 3 windows, 72 source rows, checksum matches",
        ))
        .stdout(predicate::str::contains(
            "ok   app.audit: 1 window, 3 source rows, checksum matches",
        ));
    hypermove()
        .args(["verify", moved.to_str().unwrap()])
        .assert()
        .success();

    // Every row arrived as the source holds it: no trigger fired during the copy
    // (a mark or a bump would be doubled, the audit would have more rows).
    assert_eq!(
        rows(&mut src, "SELECT * FROM app.items ORDER BY id"),
        rows(&mut dst, "SELECT * FROM shop.goods ORDER BY id")
    );
    assert_eq!(
        scalar(&mut dst, "SELECT note FROM shop.goods WHERE id = 7"),
        "item 7 [marked]"
    );
    assert_eq!(
        rows(&mut src, "SELECT * FROM app.readings ORDER BY time"),
        rows(&mut dst, "SELECT * FROM app.measures ORDER BY time")
    );
    let audit = rows(&mut src, "SELECT * FROM app.audit ORDER BY id");
    assert_eq!(
        audit,
        vec![
            "(1,items,INSERT,50)",
            "(2,items,INSERT,1)",
            "(3,readings,INSERT,72)"
        ]
    );
    assert_eq!(audit, rows(&mut dst, "SELECT * FROM app.audit ORDER BY id"));

    // Each trigger is the source's, part by part, on the target name.
    for (s, d) in [
        ("app.items", "shop.goods"),
        ("app.readings", "app.measures"),
    ] {
        let source = triggers(&mut src, s);
        assert_eq!(source, triggers(&mut dst, d), "{s} → {d}");
        let renamed: Vec<String> = definitions(&mut src, s)
            .iter()
            .map(|def| def.replace(&format!(" ON {s} "), &format!(" ON {d} ")))
            .collect();
        assert_eq!(renamed, definitions(&mut dst, d), "{s} → {d}");
    }
    let goods = triggers(&mut dst, "shop.goods");
    assert_eq!(goods.len(), 5, "{goods:#?}");
    assert!(
        goods
            .iter()
            .any(|t| t.starts_with("items_off ") && t.contains(" enabled=D "))
    );
    assert!(
        goods
            .iter()
            .any(|t| t.starts_with("items_later ") && t.contains(" enabled=R "))
    );
    assert!(goods.iter().any(|t| t.starts_with("items_mark ")
        && t.ends_with("when=new.note IS NOT NULL AND new.price > 0")));
    assert!(
        goods
            .iter()
            .any(|t| t.starts_with("items_price ") && t.contains(" columns={price} "))
    );
    // TimescaleDB gave every chunk of the target hypertable its row triggers.
    let chunk_triggers = scalar(
        &mut dst,
        "SELECT format('%s chunks, %s', count(DISTINCT i.inhrelid),
                       string_agg(DISTINCT t.tgname || '=' || t.tgenabled::text, ','))
           FROM pg_inherits i JOIN pg_trigger t ON t.tgrelid = i.inhrelid
          WHERE i.inhparent = 'app.measures'::regclass AND NOT t.tgisinternal",
    );
    assert_eq!(chunk_triggers, "3 chunks, readings_bump=O,readings_fix=O");

    // The application's next rows fire them.
    dst.batch_execute(
        "INSERT INTO shop.goods VALUES (100, 'new', 5, NULL);
         UPDATE shop.goods SET price = 6 WHERE id = 100;
         INSERT INTO app.measures VALUES ('2025-01-02 12:30:00+00', 1, 1);",
    )
    .unwrap();
    assert_eq!(
        rows(&mut dst, "SELECT * FROM shop.goods WHERE id = 100"),
        vec!["(100,\"new [marked]\",6,\"price 5 -> 6\")"]
    );
    assert_eq!(
        scalar(
            &mut dst,
            "SELECT value::text FROM app.measures WHERE time = '2025-01-02 12:30:00+00'"
        ),
        "1001"
    );
    assert_eq!(
        rows(
            &mut dst,
            "SELECT tbl, op, n FROM app.audit WHERE id > 3 ORDER BY id"
        ),
        vec!["(goods,INSERT,1)", "(measures,INSERT,1)"]
    );
}
