//! The rule for direct batch deletes (docs/live.md, sections 7 and 10, question 2).
//!
//! With `timescaledb.enable_compressed_direct_batch_delete` on (the default), a
//! DELETE that covers whole compressed batches removes them from the compressed
//! chunk without a decodable row change: 2.19 streams an empty decompression span
//! (the follower stops on it), 2.29 streams nothing at all (*observed* for a
//! segmentby-only filter and for a time range covering whole batches), so the target
//! would silently keep the rows. The setting is `PGC_USERSET`: only a database-level
//! default (`ALTER DATABASE … SET`) reaches every new session of the application, and
//! sessions opened before keep their value, so the remedy names both. A role-level
//! setting beats the database's for that role's sessions: one that is not off is
//! named too.

use super::{DIRECT_BATCH_DELETE, Facts, Preflight, Table};
use crate::pg::{display_ident, quote_ident};
use crate::spec::OnUnsupported;

/// Whether a stored setting value means off (PostgreSQL's boolean spellings).
fn is_off(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "off" | "of" | "false" | "fals" | "fal" | "fa" | "f" | "no" | "n" | "0"
    )
}

/// Refuse (or, with `on_unsupported: warn`, warn about) a compressed hypertable
/// whose source database lets sessions delete compressed batches directly.
pub(super) fn direct_batch_delete(t: &Table, facts: &Facts, out: &mut Preflight) {
    let s = &facts.server;
    let compressed = t.found && t.hypertable.as_ref().is_some_and(|h| h.compressed);
    // Not registered (a TimescaleDB without its TSL module): nothing compresses.
    if !compressed || s.direct_batch_delete.is_none() {
        return;
    }
    let db_off = s.db_direct_batch_delete.as_deref().is_some_and(is_off);
    let roles: Vec<&String> = s
        .role_direct_batch_delete
        .iter()
        .filter(|r| !r.split_once('=').is_some_and(|(_, v)| is_off(v)))
        .collect();
    if db_off && roles.is_empty() {
        return;
    }
    let mut remedy = Vec::new();
    if !db_off {
        remedy.push(format!(
            "run `ALTER DATABASE {} SET {DIRECT_BATCH_DELETE} = off` on the source, then \
             reconnect every session already open (the application's pool too): the \
             setting reaches only new sessions",
            quote_ident(&s.database)
        ));
    }
    if !roles.is_empty() {
        remedy.push(format!(
            "reset the role-level setting(s) that beat the database's ({}): `ALTER ROLE \
             … [IN DATABASE {}] RESET {DIRECT_BATCH_DELETE}`",
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            quote_ident(&s.database)
        ));
    }
    let state = if db_off {
        "is off for database ".to_owned() + &display_ident(&s.database) + " but not for every role"
    } else {
        "is not off for database ".to_owned() + &display_ident(&s.database)
    };
    let body = format!(
        "hypertable {} is compressed and {DIRECT_BATCH_DELETE} {state}: a DELETE that \
         covers whole compressed batches (a filter on segmentby columns only; on \
         TimescaleDB 2.29 also a time range) removes them without streaming a row \
         delete, so the target would keep those rows (2.19: the follower stops; 2.29: \
         only the cutover's checksums notice); {}",
        t.name,
        remedy.join("; and ")
    );
    match facts.unsupported {
        OnUnsupported::Refuse => out.refusals.push(format!(
            "{body} (or `on_unsupported: warn` to move with the risk)"
        )),
        OnUnsupported::Warn => out.warnings.push(format!(
            "{body} (on_unsupported: warn: moving with the risk)"
        )),
    }
}
