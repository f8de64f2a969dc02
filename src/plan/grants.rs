//! `grants: true` beyond the table's owner and grants: its column-level grants, and the
//! default privileges of the moved tables' schemas. Pure.
//!
//! A schema's default privileges (`ALTER DEFAULT PRIVILEGES … IN SCHEMA s`) go to
//! every target schema a table of `s` moves to; they only ever add privileges, so
//! running them where the target has some already is harmless. A database-wide entry
//! (no `IN SCHEMA`) of a moved table's owner is not carried: it would change what
//! every schema of the target database grants, the moved ones and all the others. It
//! is checked instead: equal on the target, it is shown as such; otherwise it is
//! refused by name with the statement that would make it so (`on_unsupported: warn`
//! lists it and goes on).

use std::collections::{BTreeMap, BTreeSet};

use super::closure::Findings;
use super::{Inputs, ddl};
use crate::catalog::{ColumnGrant, DefaultPrivilege, Grants};
use crate::pg::{QualifiedName, quote_ident};
use crate::spec::{OnUnsupported, Spec};

/// Every role the target must have for the grants step and the default privileges
/// carried: the owner, the grantees of the table and of its columns, and the roles
/// and grantees of its schema's default privileges (PUBLIC is no role).
pub(super) fn roles(g: &Grants) -> BTreeSet<&str> {
    let mut out: BTreeSet<&str> = BTreeSet::from([g.owner.as_str()]);
    out.extend(g.grants.iter().filter_map(|(r, _, _)| r.as_deref()));
    out.extend(g.columns.iter().filter_map(|c| c.grantee.as_deref()));
    out.extend(g.schema_grants.iter().filter_map(|(r, _, _)| r.as_deref()));
    for d in g.default_privileges.iter().filter(|d| d.schema.is_some()) {
        out.insert(&d.role);
        out.extend(d.grantee.as_deref());
    }
    out
}

/// The grants step: the owner and table grants, then the column grants, each
/// privilege with every column it covers (`GRANT SELECT ("a", "b") ON …`).
pub(super) fn grants_sql(target: &QualifiedName, g: &Grants) -> Vec<String> {
    let mut sql = ddl::grants_sql(target, g);
    sql.extend(column_grants_sql(target, &g.columns));
    sql
}

fn grantee_sql(grantee: Option<&str>) -> String {
    grantee.map_or_else(|| "PUBLIC".to_string(), quote_ident)
}

/// `GRANT privilege (columns) ON target TO grantee`, one per grantee, privilege and
/// grant option, columns in table order.
fn column_grants_sql(target: &QualifiedName, columns: &[ColumnGrant]) -> Vec<String> {
    let mut grouped: BTreeMap<(Option<&str>, &str, bool), Vec<String>> = BTreeMap::new();
    for c in columns {
        grouped
            .entry((c.grantee.as_deref(), &c.privilege, c.grantable))
            .or_default()
            .push(quote_ident(&c.column));
    }
    grouped
        .into_iter()
        .map(|((grantee, privilege, grantable), cols)| {
            format!(
                "GRANT {privilege} ({}) ON {} TO {}{}",
                cols.join(", "),
                target.sql(),
                grantee_sql(grantee),
                if grantable { " WITH GRANT OPTION" } else { "" }
            )
        })
        .collect()
}

/// The default privileges of the moved tables' schemas, per target schema: each
/// source schema's go to every target schema its tables move to.
pub(super) fn schema_defaults(inputs: &Inputs) -> BTreeMap<String, BTreeSet<DefaultPrivilege>> {
    let mut out: BTreeMap<String, BTreeSet<DefaultPrivilege>> = BTreeMap::new();
    for (t, g) in inputs.selection.iter().zip(&inputs.grants) {
        let Some(g) = g else { continue };
        for d in &g.default_privileges {
            if d.schema.as_deref() == Some(t.source.schema.as_str()) {
                let mut on_target = d.clone();
                on_target.schema = Some(t.target.schema.clone());
                out.entry(t.target.schema.clone())
                    .or_default()
                    .insert(on_target);
            }
        }
    }
    out
}

/// The grants on each schema the plan creates, from the source schemas whose tables
/// move into it (a target schema that exists already is the target's to decide).
pub(super) fn schema_grants(
    inputs: &Inputs,
    created: impl Fn(&str) -> bool,
) -> BTreeMap<String, BTreeSet<(Option<String>, String, bool)>> {
    let mut out: BTreeMap<String, BTreeSet<(Option<String>, String, bool)>> = BTreeMap::new();
    for (t, g) in inputs.selection.iter().zip(&inputs.grants) {
        let Some(g) = g else { continue };
        if created(&t.target.schema) && !g.schema_grants.is_empty() {
            out.entry(t.target.schema.clone())
                .or_default()
                .extend(g.schema_grants.iter().cloned());
        }
    }
    out
}

/// `GRANT USAGE ON SCHEMA s TO r` for each grant.
pub(super) fn schema_grants_sql<'a>(
    schema: &str,
    grants: impl IntoIterator<Item = &'a (Option<String>, String, bool)>,
) -> Vec<String> {
    grants
        .into_iter()
        .map(|(grantee, privilege, grantable)| {
            format!(
                "GRANT {privilege} ON SCHEMA {} TO {}{}",
                quote_ident(schema),
                grantee_sql(grantee.as_deref()),
                if *grantable { " WITH GRANT OPTION" } else { "" }
            )
        })
        .collect()
}

/// What a default-privileges object type is called in `ALTER DEFAULT PRIVILEGES`.
fn objects_word(objtype: char) -> &'static str {
    match objtype {
        'S' => "SEQUENCES",
        'f' => "FUNCTIONS",
        'T' => "TYPES",
        'n' => "SCHEMAS",
        'L' => "LARGE OBJECTS",
        _ => "TABLES",
    }
}

/// `ALTER DEFAULT PRIVILEGES` statements that give these entries: per role, object
/// type, grantee and grant option, the revocations first (database-wide entries only
/// have them), then the grants.
pub(super) fn default_privileges_sql<'a>(
    entries: impl IntoIterator<Item = &'a DefaultPrivilege>,
) -> Vec<String> {
    type Key<'a> = (bool, &'a str, Option<&'a str>, char, Option<&'a str>, bool);
    let mut grouped: BTreeMap<Key<'a>, Vec<&'a str>> = BTreeMap::new();
    for d in entries {
        // `!revoked` sorts the revocations first.
        let key = (
            !d.revoked,
            d.role.as_str(),
            d.schema.as_deref(),
            d.objtype,
            d.grantee.as_deref(),
            d.grantable,
        );
        grouped.entry(key).or_default().push(&d.privilege);
    }
    grouped
        .into_iter()
        .map(
            |((granted, role, schema, objtype, grantee, grantable), privileges)| {
                let scope = schema
                    .map(|s| format!(" IN SCHEMA {}", quote_ident(s)))
                    .unwrap_or_default();
                let (verb, to) = if granted {
                    ("GRANT", "TO")
                } else {
                    ("REVOKE", "FROM")
                };
                format!(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {}{scope} {verb} {} ON {} {to} {}{}",
                    quote_ident(role),
                    privileges.join(", "),
                    objects_word(objtype),
                    grantee_sql(grantee),
                    if granted && grantable {
                        " WITH GRANT OPTION"
                    } else {
                        ""
                    }
                )
            },
        )
        .collect()
}

/// Compare each owner's database-wide default privileges, per object type, with the
/// target's: equal ones are shown as such, the others refused (or listed, with
/// `on_unsupported: warn`).
pub(super) fn check_database_wide(spec: &Spec, inputs: &Inputs, out: &mut Findings) {
    type Entries<'a> = BTreeMap<(&'a str, char), BTreeSet<&'a DefaultPrivilege>>;
    let mut source: Entries = BTreeMap::new();
    for d in inputs
        .grants
        .iter()
        .flatten()
        .flat_map(|g| &g.default_privileges)
        .filter(|d| d.schema.is_none())
    {
        source.entry((&d.role, d.objtype)).or_default().insert(d);
    }
    let mut target: Entries = BTreeMap::new();
    for d in &inputs.target_objects.default_privileges {
        target.entry((&d.role, d.objtype)).or_default().insert(d);
    }
    for ((role, objtype), entries) in &source {
        let what = format!(
            "the database-wide default privileges of role {} on {}",
            quote_ident(role),
            objects_word(*objtype).to_lowercase()
        );
        if target.get(&(*role, *objtype)) == Some(entries) {
            out.warnings.push(format!(
                "{what} are already on the target, equal, and are used as they are"
            ));
            continue;
        }
        let sql = default_privileges_sql(entries.iter().copied()).join("; ");
        if spec.on_unsupported == OnUnsupported::Warn {
            out.warnings.push(format!(
                "{what} are not carried over (on_unsupported: warn); on the source: {sql}"
            ));
        } else {
            out.refused.push(format!(
                "{what} differ on the target ({sql} on the source); hypermove carries the default privileges of the moved tables' schemas only, since a database-wide entry changes what every schema of the target grants: run it on the target yourself, or `on_unsupported: warn` to go without it"
            ));
        }
    }
}
