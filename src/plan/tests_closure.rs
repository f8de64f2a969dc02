//! Column grants, default privileges, collations, text search configurations and
//! tablespaces: what the planner creates, finds equal on the target, or refuses by
//! name. No database.

use super::StepKind;
use super::testkit::*;
use crate::catalog::{
    ColumnGrant, Constraint, ConstraintKind, DefaultPrivilege, Grants, Index, PlacedKind,
    Placement, TextSearchConfig, UserCollation,
};

fn column_grant(column: &str, grantee: Option<&str>, privilege: &str) -> ColumnGrant {
    ColumnGrant {
        column: column.into(),
        grantee: grantee.map(String::from),
        privilege: privilege.into(),
        grantable: false,
    }
}

fn default_privilege(schema: Option<&str>, objtype: char, privilege: &str) -> DefaultPrivilege {
    DefaultPrivilege {
        role: "app".into(),
        schema: schema.map(String::from),
        objtype,
        grantee: Some("reader".into()),
        privilege: privilege.into(),
        grantable: false,
        revoked: false,
    }
}

/// `public.t` owned by `app`, with column grants and its schema's default privileges.
fn granted() -> Grants {
    Grants {
        owner: "app".into(),
        grants: vec![(Some("reader".into()), "INSERT".into(), false)],
        columns: vec![
            column_grant("device", Some("reader"), "SELECT"),
            column_grant("value", Some("reader"), "SELECT"),
            column_grant("value", None, "UPDATE"),
        ],
        default_privileges: vec![
            default_privilege(Some("public"), 'r', "SELECT"),
            default_privilege(Some("public"), 'r', "INSERT"),
            default_privilege(Some("public"), 'S', "USAGE"),
        ],
        schema_grants: vec![(Some("reader".into()), "USAGE".into(), false)],
    }
}

#[test]
fn column_grants_and_the_schemas_default_privileges_move_with_grants() {
    let s = spec(
        "grants: true\n",
        "  - name: public.t\n    target: archive.t2\n",
    );
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    i.grants = vec![Some(granted())];
    i.target_roles = ["app", "reader"].map(String::from).into();
    let p = plan(&s, &i);
    assert_eq!(
        sql(&p, "grants:archive.t2"),
        [
            "ALTER TABLE \"archive\".\"t2\" OWNER TO \"app\"",
            "GRANT INSERT ON \"archive\".\"t2\" TO \"reader\"",
            "GRANT UPDATE (\"value\") ON \"archive\".\"t2\" TO PUBLIC",
            "GRANT SELECT (\"device\", \"value\") ON \"archive\".\"t2\" TO \"reader\"",
        ]
        .join(";\n")
    );
    // The source schema's default privileges go to the schema its table moves to.
    assert_eq!(
        ids(&p, StepKind::DefaultPrivileges),
        vec!["default_privileges:archive"]
    );
    // The schema the move creates gets the source schema's grants first.
    assert_eq!(
        sql(&p, "default_privileges:archive"),
        [
            "GRANT USAGE ON SCHEMA \"archive\" TO \"reader\"",
            "ALTER DEFAULT PRIVILEGES FOR ROLE \"app\" IN SCHEMA \"archive\" GRANT USAGE ON SEQUENCES TO \"reader\"",
            "ALTER DEFAULT PRIVILEGES FOR ROLE \"app\" IN SCHEMA \"archive\" GRANT INSERT, SELECT ON TABLES TO \"reader\"",
        ]
        .join(";\n")
    );
    // Last: nothing the move creates takes them.
    for id in [
        "table:archive.t2",
        "copy:archive.t2",
        "grants:archive.t2",
        "schema:archive",
    ] {
        assert!(waits_for(&p, "default_privileges:archive", id), "{id}");
    }
    // A schema that exists on the target is the target's: its grants are left alone.
    let mut i = inputs(
        &spec(
            "grants: true\n",
            "  - name: public.t\n    target: archive.t2\n",
        ),
        vec![plain("public.t", 1)],
    );
    i.grants = vec![Some(granted())];
    i.target_roles = ["app", "reader"].map(String::from).into();
    i.target_schemas.insert("archive".into());
    let p = plan(
        &spec(
            "grants: true\n",
            "  - name: public.t\n    target: archive.t2\n",
        ),
        &i,
    );
    assert!(!sql(&p, "default_privileges:archive").contains("ON SCHEMA"));
    // Without `grants: true` there are none of them.
    let s = spec("", "  - name: public.t\n    target: archive.t2\n");
    let p = plan(&s, &inputs(&s, vec![plain("public.t", 1)]));
    assert!(ids(&p, StepKind::DefaultPrivileges).is_empty());
    assert!(ids(&p, StepKind::Grant).is_empty());
}

#[test]
fn every_role_of_column_grants_and_default_privileges_must_be_on_the_target() {
    let s = spec("grants: true\n", "  - name: public.t\n");
    let mut g = granted();
    g.columns[0].grantee = Some("auditor".into());
    g.default_privileges[0].role = "etl".into();
    g.default_privileges[1].grantee = Some("bi".into());
    // A database-wide entry is not carried: its grantee need not exist.
    let mut wide = default_privilege(None, 'r', "SELECT");
    wide.grantee = Some("nobody".into());
    g.default_privileges.push(wide.clone());
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    i.grants = vec![Some(g)];
    i.target_roles = ["app", "reader"].map(String::from).into();
    i.target_objects.default_privileges = vec![wide];
    assert_eq!(
        refusal(&s, &i),
        "target: grants: true needs these roles on the target, and they do not exist there: auditor, bi, etl; create them first"
    );
}

#[test]
fn database_wide_default_privileges_are_refused_unless_equal_on_the_target() {
    let s = spec("grants: true\n", "  - name: public.t\n");
    let mut g = granted();
    let wide = default_privilege(None, 'r', "SELECT");
    let mut revoke = default_privilege(None, 'f', "EXECUTE");
    revoke.grantee = None;
    revoke.revoked = true;
    g.default_privileges.extend([wide.clone(), revoke.clone()]);
    let mut i = inputs(&s, vec![plain("public.t", 1)]);
    i.grants = vec![Some(g)];
    i.target_roles = ["app", "reader"].map(String::from).into();
    // Neither is on the target: both refused, by role and object type, with the statement.
    assert_eq!(
        refusal(&s, &i),
        "target: the database-wide default privileges of role \"app\" on functions differ on the target (ALTER DEFAULT PRIVILEGES FOR ROLE \"app\" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC on the source); hypermove carries the default privileges of the moved tables' schemas only, since a database-wide entry changes what every schema of the target grants: run it on the target yourself, or `on_unsupported: warn` to go without it\nthe database-wide default privileges of role \"app\" on tables differ on the target (ALTER DEFAULT PRIVILEGES FOR ROLE \"app\" GRANT SELECT ON TABLES TO \"reader\" on the source); hypermove carries the default privileges of the moved tables' schemas only, since a database-wide entry changes what every schema of the target grants: run it on the target yourself, or `on_unsupported: warn` to go without it"
    );
    // Equal on the target: shown as such; the other one is listed with warn.
    i.target_objects.default_privileges = vec![wide];
    let s = spec(
        "grants: true\non_unsupported: warn\n",
        "  - name: public.t\n",
    );
    let p = plan(&s, &i);
    assert!(
        p.warnings.contains(&"the database-wide default privileges of role \"app\" on tables are already on the target, equal, and are used as they are".to_string()),
        "{:?}",
        p.warnings
    );
    assert!(
        p.warnings.contains(&"the database-wide default privileges of role \"app\" on functions are not carried over (on_unsupported: warn); on the source: ALTER DEFAULT PRIVILEGES FOR ROLE \"app\" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC".to_string()),
        "{:?}",
        p.warnings
    );
    // Never written by the plan.
    assert!(!sql(&p, "default_privileges:public").contains("FOR ROLE \"app\" GRANT"));
}

fn ci() -> UserCollation {
    UserCollation {
        name: qn("app.ci"),
        provider: 'i',
        locale: Some("und-u-ks-level2".into()),
        lc_collate: None,
        lc_ctype: None,
        deterministic: false,
        rules: None,
    }
}

fn english_copy() -> TextSearchConfig {
    let stem = qn("pg_catalog.english_stem");
    let simple = qn("pg_catalog.simple");
    TextSearchConfig {
        name: qn("app.cfg"),
        parser: qn("pg_catalog.default"),
        mappings: vec![
            ("asciiword".into(), vec![stem.clone()]),
            ("word".into(), vec![stem]),
            ("int".into(), vec![simple]),
        ],
    }
}

#[test]
fn collations_and_text_search_configurations_are_created_before_the_tables() {
    let s = spec("", "  - name: public.t\n");
    let mut t = plain("public.t", 1);
    t.collations = vec![ci()];
    t.text_search = vec![english_copy()];
    let p = plan(&s, &inputs(&s, vec![t]));
    assert_eq!(
        sql(&p, "collation:app.ci"),
        "CREATE COLLATION \"app\".\"ci\" (provider = icu, locale = 'und-u-ks-level2', deterministic = false)"
    );
    assert_eq!(
        sql(&p, "text_search:app.cfg"),
        [
            "CREATE TEXT SEARCH CONFIGURATION \"app\".\"cfg\" (PARSER = \"pg_catalog\".\"default\")",
            "ALTER TEXT SEARCH CONFIGURATION \"app\".\"cfg\" ADD MAPPING FOR \"asciiword\", \"word\" WITH \"pg_catalog\".\"english_stem\"",
            "ALTER TEXT SEARCH CONFIGURATION \"app\".\"cfg\" ADD MAPPING FOR \"int\" WITH \"pg_catalog\".\"simple\"",
        ]
        .join(";\n")
    );
    // In their schema, which the target lacks; before the table.
    for id in ["collation:app.ci", "text_search:app.cfg"] {
        assert!(waits_for(&p, id, "schema:app"), "{id}");
        assert!(waits_for(&p, "table:public.t", id), "{id}");
    }
}

#[test]
fn a_libc_collation_keeps_its_locales() {
    let s = spec("", "  - name: public.t\n");
    let mut t = plain("public.t", 1);
    t.collations = vec![UserCollation {
        name: qn("public.fr"),
        provider: 'c',
        locale: None,
        lc_collate: Some("fr_FR.utf8".into()),
        lc_ctype: Some("fr_FR.utf8".into()),
        deterministic: true,
        rules: None,
    }];
    let p = plan(&s, &inputs(&s, vec![t]));
    assert_eq!(
        sql(&p, "collation:public.fr"),
        "CREATE COLLATION \"public\".\"fr\" (provider = libc, lc_collate = 'fr_FR.utf8', lc_ctype = 'fr_FR.utf8', deterministic = true)"
    );
}

#[test]
fn collations_and_configurations_on_the_target_are_used_when_equal_and_refused_when_not() {
    let s = spec("", "  - name: public.t\n");
    let mut t = plain("public.t", 1);
    t.collations = vec![ci()];
    t.text_search = vec![english_copy()];
    let mut i = inputs(&s, vec![t]);
    i.target_schemas.insert("app".into());
    i.target_objects.collations = vec![ci()];
    let mut reordered = english_copy();
    reordered.mappings.reverse();
    i.target_objects.text_search = vec![reordered];
    let p = plan(&s, &i);
    assert!(ids(&p, StepKind::Collation).is_empty());
    assert!(ids(&p, StepKind::TextSearch).is_empty());
    assert!(p.warnings.contains(
        &"collation app.ci is already on the target, with the same definition, and is used as it is"
            .to_string()
    ));
    assert!(p.warnings.contains(&"text search configuration app.cfg is already on the target, with the same parser and mappings, and is used as it is".to_string()));

    // Different on the target: refused by name, both at once.
    i.target_objects.collations[0].deterministic = true;
    i.target_objects.text_search[0].mappings.pop();
    assert_eq!(
        refusal(&s, &i),
        "target: collation app.ci exists on the target with another definition (provider icu, locale und-u-ks-level2, deterministic true; on the source: provider icu, locale und-u-ks-level2, deterministic false); hypermove does not replace it (make the two the same, or drop it there)\ntext search configuration app.cfg exists on the target with another parser or other mappings; hypermove does not replace it (make the two the same, or drop it there)"
    );
}

#[test]
fn a_configuration_with_a_dictionary_of_its_own_is_refused_by_name() {
    let mut cfg = english_copy();
    cfg.mappings[0].1 = vec![qn("app.my_synonyms"), qn("pg_catalog.english_stem")];
    let mut t = plain("public.t", 1);
    t.text_search = vec![cfg];
    let s = spec("", "  - name: public.t\n");
    let i = inputs(&s, vec![t]);
    assert_eq!(
        refusal(&s, &i),
        "target: text search configuration app.cfg uses dictionary app.my_synonyms, not PostgreSQL's own, which hypermove cannot recreate (create the configuration on the target first, or `on_unsupported: warn` to go without it)"
    );
    let s = spec("on_unsupported: warn\n", "  - name: public.t\n");
    let p = plan(&s, &i);
    assert!(ids(&p, StepKind::TextSearch).is_empty());
    assert!(p.warnings.contains(&"text search configuration app.cfg uses dictionary app.my_synonyms, not PostgreSQL's own; it is not carried over (on_unsupported: warn), and what names it fails on the target until it exists there".to_string()), "{:?}", p.warnings);
}

fn placed(kind: PlacedKind, name: &str, tablespace: &str) -> Placement {
    Placement {
        kind,
        name: name.into(),
        tablespace: tablespace.into(),
    }
}

/// `public.t` in tablespace `fast`, with an index in `fast`, a primary key in
/// `slow` and an index in the default tablespace.
fn placed_table() -> crate::catalog::Table {
    let mut t = hyper("public.t", 1, 2);
    t.indexes = vec![
        Index {
            name: "t_device".into(),
            unique: false,
            method: "btree".into(),
            body: "(device) WHERE (value > (0)::double precision)".into(),
            key_columns: vec![Some("device".into())],
        },
        Index {
            name: "t_value".into(),
            unique: false,
            method: "btree".into(),
            body: "(value)".into(),
            key_columns: vec![Some("value".into())],
        },
    ];
    t.constraints = vec![Constraint {
        name: "t_pkey".into(),
        kind: ConstraintKind::PrimaryKey,
        columns: vec!["device".into(), "time".into()],
        definition: "PRIMARY KEY (device, \"time\")".into(),
    }];
    t.tablespaces = vec![
        placed(PlacedKind::Table, "t", "fast"),
        placed(PlacedKind::Index, "t_device", "fast"),
        placed(PlacedKind::Constraint, "t_pkey", "slow"),
        // create_hypertable attached the table's own; another was attached after.
        placed(PlacedKind::Attached, "t", "fast"),
        placed(PlacedKind::Attached, "t", "hot"),
    ];
    t
}

#[test]
fn tables_and_indexes_go_to_the_mapped_tablespace_or_the_same_name() {
    let s = spec(
        "tablespace_map: {fast: ssd}\n",
        "  - name: public.t\n    hypertable: {time_column: time, chunk_time_interval: 1 day}\n",
    );
    let mut i = inputs(&s, vec![placed_table()]);
    i.target_objects.tablespaces = vec![
        ("ssd".into(), true),
        ("slow".into(), true),
        ("hot".into(), true),
    ];
    let p = plan(&s, &i);
    assert!(
        sql(&p, "table:public.t").ends_with("\n) TABLESPACE \"ssd\""),
        "{}",
        sql(&p, "table:public.t")
    );
    assert_eq!(
        sql(&p, "index:public.t_device"),
        "SET default_tablespace = \"ssd\";\nCREATE INDEX \"t_device\" ON \"public\".\"t\" USING btree (device) WHERE (value > (0)::double precision);\nRESET default_tablespace"
    );
    assert_eq!(
        sql(&p, "constraint:public.t.t_pkey"),
        "SET default_tablespace = \"slow\";\nALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"t_pkey\" PRIMARY KEY (device, \"time\");\nRESET default_tablespace"
    );
    // An index in the default tablespace stays there; TimescaleDB's default index,
    // which hypermove adds, goes where TimescaleDB puts it: with the table.
    assert_eq!(
        sql(&p, "index:public.t_value"),
        "CREATE INDEX \"t_value\" ON \"public\".\"t\" USING btree (value)"
    );
    assert!(
        sql(&p, "index:public.t_time_idx").starts_with("SET default_tablespace = \"ssd\";\n"),
        "{}",
        sql(&p, "index:public.t_time_idx")
    );
    assert!(
        sql(&p, "hypertable:public.t").ends_with(
            "SELECT \"public\".attach_tablespace('hot', '\"public\".\"t\"'::regclass, if_not_attached => true)"
        ),
        "{}",
        sql(&p, "hypertable:public.t")
    );
    // A table's own map wins.
    let s = spec(
        "tablespace_map: {fast: ssd}\n",
        "  - name: public.t\n    tablespace_map: {fast: slow}\n    hypertable: {time_column: time, chunk_time_interval: 1 day}\n",
    );
    i.selection = s.tables.clone();
    let p = plan(&s, &i);
    assert!(
        sql(&p, "table:public.t").ends_with(" TABLESPACE \"slow\""),
        "{}",
        sql(&p, "table:public.t")
    );
}

#[test]
fn a_tablespace_the_target_lacks_is_refused_by_kind_name_and_tablespace() {
    let s = spec(
        "",
        "  - name: public.t\n    hypertable: {time_column: time, chunk_time_interval: 1 day}\n",
    );
    let mut i = inputs(&s, vec![placed_table()]);
    i.target_objects.tablespaces = vec![("slow".into(), false)];
    assert_eq!(
        refusal(&s, &i),
        [
            "target: table public.t is in tablespace \"fast\" on the source, which the target does not have; create it there, map it with `tablespace_map: {fast: …}`, or `on_unsupported: warn` to use the target's default",
            "index public.t_device of public.t is in tablespace \"fast\" on the source, which the target does not have; create it there, map it with `tablespace_map: {fast: …}`, or `on_unsupported: warn` to use the target's default",
            "constraint public.t_pkey of public.t is in tablespace \"slow\" on the source, and the target role writer may not create in \"slow\" (GRANT CREATE ON TABLESPACE \"slow\" TO it)",
            "hypertable public.t (attached) is in tablespace \"hot\" on the source, which the target does not have; create it there, map it with `tablespace_map: {hot: …}`, or `on_unsupported: warn` to use the target's default",
        ]
        .join("\n")
    );
    // With warn: listed, and created in the target's default.
    let s = spec(
        "on_unsupported: warn\n",
        "  - name: public.t\n    hypertable: {time_column: time, chunk_time_interval: 1 day}\n",
    );
    i.target_objects.tablespaces = vec![("slow".into(), true)];
    let p = plan(&s, &i);
    assert!(!sql(&p, "table:public.t").contains("TABLESPACE"));
    assert!(!sql(&p, "hypertable:public.t").contains("attach_tablespace"));
    assert!(p.warnings.contains(&"table public.t is in tablespace \"fast\" on the source, which the target does not have; it is created in the target's default tablespace (on_unsupported: warn)".to_string()), "{:?}", p.warnings);
    assert!(p.warnings.contains(&"hypertable public.t (attached) is in tablespace \"hot\" on the source, which the target does not have; it is not attached on the target (on_unsupported: warn)".to_string()), "{:?}", p.warnings);
    assert!(sql(&p, "constraint:public.t.t_pkey").starts_with("SET default_tablespace = \"slow\""));
}

#[test]
fn refusals_of_every_kind_come_together() {
    let s = spec("grants: true\n", "  - name: public.t\n");
    let mut t = plain("public.t", 1);
    t.tablespaces = vec![placed(PlacedKind::Table, "t", "fast")];
    let mut cfg = english_copy();
    cfg.parser = qn("app.my_parser");
    t.text_search = vec![cfg];
    let mut i = inputs(&s, vec![t]);
    let mut g = granted();
    g.default_privileges = vec![default_privilege(None, 'T', "USAGE")];
    i.grants = vec![Some(g)];
    i.target_roles = ["app", "reader"].map(String::from).into();
    let m = refusal(&s, &i);
    assert_eq!(m.lines().count(), 3, "{m}");
    assert!(m.contains("role \"app\" on types"), "{m}");
    assert!(m.contains("uses parser app.my_parser"), "{m}");
    assert!(
        m.contains("table public.t is in tablespace \"fast\""),
        "{m}"
    );
}

#[test]
fn tables_selected_by_include_take_the_top_level_tablespace_map() {
    let s = crate::spec::parse(
        std::path::Path::new("t.yaml"),
        "version: 1\nsource: postgresql://u@src:5432/a\ntarget: postgresql://u@dst:5432/b\ntablespace_map: {fast: ssd}\ninclude: ['public.*']\n",
    )
    .unwrap();
    let selected = super::select_from(&s, vec![qn("public.x")]);
    assert_eq!(
        selected[0].tablespace_map.get("fast").map(String::as_str),
        Some("ssd")
    );
}
