//! A table's storage settings carried to the target: reloptions (fillfactor,
//! autovacuum, `toast.*`) and per-column storage, compression and statistics target
//! in a `settings:<table>` step before the data (so the rows are laid out, compressed
//! and vacuumed as on the source), and `REPLICA IDENTITY` in a
//! `replica_identity:<table>` step once the table's indexes exist. On a hypertable
//! target they are set on the hypertable, which passes them on to its chunks.
//! Extended statistics objects are created after the data, each in its own
//! `statistics:<schema.name>` step, in the table's target schema and on its target name.

use crate::catalog::{ExtendedStatistics, ReplicaIdentity, TableSettings};
use crate::pg::{QualifiedName, quote_ident, quote_literal};

/// The statements of the settings step, on the target name; empty when the table has
/// only a replica identity to set.
pub(super) fn settings_sql(target: &QualifiedName, settings: &TableSettings) -> Vec<String> {
    let table = target.sql();
    let mut sql = Vec::new();
    let options: Vec<String> = settings.reloptions.iter().map(|o| reloption(o)).collect();
    if !options.is_empty() {
        sql.push(format!("ALTER TABLE {table} SET ({})", options.join(", ")));
    }
    for c in &settings.columns {
        let column = quote_ident(&c.name);
        let storage = c.storage.and_then(|s| match s {
            'p' => Some("PLAIN"),
            'e' => Some("EXTERNAL"),
            'm' => Some("MAIN"),
            'x' => Some("EXTENDED"),
            _ => None,
        });
        if let Some(storage) = storage {
            sql.push(format!(
                "ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE {storage}"
            ));
        }
        let compression = c.compression.and_then(|m| match m {
            'p' => Some("pglz"),
            'l' => Some("lz4"),
            _ => None,
        });
        if let Some(method) = compression {
            sql.push(format!(
                "ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}"
            ));
        }
        if let Some(n) = c.statistics {
            sql.push(format!(
                "ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS {n}"
            ));
        }
    }
    sql
}

/// `name = 'value'` from the catalog's `name=value` (`toast.name=value` for the TOAST
/// table's), every part quoted.
pub(super) fn reloption(option: &str) -> String {
    let (name, value) = option.split_once('=').unwrap_or((option, "true"));
    let name: Vec<String> = name.split('.').map(quote_ident).collect();
    format!("{} = {}", name.join("."), quote_literal(value))
}

/// `ALTER TABLE … REPLICA IDENTITY …`, on the target name.
pub(super) fn replica_identity_sql(target: &QualifiedName, identity: &ReplicaIdentity) -> String {
    let how = match identity {
        ReplicaIdentity::Full => "FULL".to_string(),
        ReplicaIdentity::Nothing => "NOTHING".to_string(),
        // Index names are kept on the target (in the table's target schema).
        ReplicaIdentity::Index(index) => format!("USING INDEX {}", quote_ident(index)),
    };
    format!("ALTER TABLE {} REPLICA IDENTITY {how}", target.sql())
}

/// `CREATE STATISTICS` on the target name (and its statistics target, when set).
pub(super) fn statistics_sql(target: &QualifiedName, st: &ExtendedStatistics) -> Vec<String> {
    let name = QualifiedName::new(target.schema.clone(), st.name.clone()).sql();
    let kinds: Vec<&str> = st
        .kinds
        .iter()
        .filter_map(|k| match k {
            'd' => Some("ndistinct"),
            'f' => Some("dependencies"),
            'm' => Some("mcv"),
            _ => None,
        })
        .collect();
    // A single expression takes no kinds; otherwise they are written out, so the
    // target's kinds are the source's whatever the server's default.
    let kinds = if kinds.is_empty() {
        String::new()
    } else {
        format!(" ({})", kinds.join(", "))
    };
    let mut sql = vec![format!(
        "CREATE STATISTICS {name}{kinds} ON {} FROM {}",
        st.columns,
        target.sql()
    )];
    if let Some(n) = st.target {
        sql.push(format!("ALTER STATISTICS {name} SET STATISTICS {n}"));
    }
    sql
}
