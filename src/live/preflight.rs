//! The checks a live move must pass on the source before anything starts.
//!
//! A live move creates a publication and a logical slot on the source and keeps them
//! for hours; a missing right or setting found half-way means a slot retaining WAL, a
//! half-made publication, or (worse) an application whose UPDATEs start failing. So
//! every problem is found first and reported together, each naming the object and
//! the remedy: *refusals* stop the move, *warnings* are risks the user accepts.
//!
//! The publication is the one docs/live.md (section 5) recommends: the moved tables
//! as a `FOR TABLE` list (needs their ownership) plus the chunk schemas of the moved
//! hypertables `FOR TABLES IN SCHEMA` (needs superuser), because chunks created after
//! the slot join no `FOR TABLE` list before TimescaleDB 2.25.
//!
//! Facts are read in a few queries (`sql/preflight_*.sql`), then judged by a pure
//! function, so the wording and order are unit-tested without a server.

use std::fmt;

use tokio_postgres::{Client, Row};

use crate::pg::{QualifiedName, display_ident, quote_ident, quote_literal};
use crate::spec::OnUnsupported;

const SERVER: &str = include_str!("sql/preflight_server.sql");
const TABLES: &str = include_str!("sql/preflight_tables.sql");
const HYPERTABLES: &str = include_str!("sql/preflight_hypertables.sql");
const SCHEMA_IDENTITY: &str = include_str!("sql/preflight_schema_identity.sql");
const HAS_TIMESCALEDB: &str = include_str!("sql/has_timescaledb.sql");

/// The TimescaleDB setting (2.19 and 2.29: `PGC_USERSET`, default on) under which a
/// DELETE filtering on segmentby columns only removes whole compressed batches
/// without any decodable row change.
pub const DIRECT_BATCH_DELETE: &str = "timescaledb.enable_compressed_direct_batch_delete";

/// The names the live move will create on the source; taken names are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveNames {
    /// The logical replication slot (cluster-wide).
    pub slot: String,
    /// The publication (per database).
    pub publication: String,
}

/// Everything found, in a deterministic order (server, role, rights, then tables by
/// name). The move may start only when `refusals` is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preflight {
    /// Problems that stop the move, each naming the object and what to do.
    pub refusals: Vec<String>,
    /// Risks the move runs with, each naming the object and what to do about it.
    pub warnings: Vec<String>,
}

impl Preflight {
    /// Whether nothing stops the move.
    pub fn passed(&self) -> bool {
        self.refusals.is_empty()
    }
}

/// One line per problem, refusals first.
impl fmt::Display for Preflight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for refusal in &self.refusals {
            writeln!(f, "refused: {refusal}")?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}

/// Check the source for a live move of `tables` (hypertable roots or plain tables,
/// by their source names) that will create `names`. Every problem is returned, not
/// only the first; an error means a query failed, not that a check did. Direct
/// batch deletes left on for a compressed hypertable are refused (`check_with`
/// with `OnUnsupported::Warn` lists them as warnings instead).
pub async fn check(
    source: &Client,
    tables: &[QualifiedName],
    names: &LiveNames,
) -> Result<Preflight, tokio_postgres::Error> {
    check_with(source, tables, names, OnUnsupported::Refuse).await
}

/// `check`, with the spec's `on_unsupported`: `Warn` turns the refusal of a
/// compressed hypertable whose direct batch deletes are on into a warning (the
/// cutover's checksums are then what catches a lost delete).
pub async fn check_with(
    source: &Client,
    tables: &[QualifiedName],
    names: &LiveNames,
    unsupported: OnUnsupported,
) -> Result<Preflight, tokio_postgres::Error> {
    let mut facts = read(source, tables, names).await?;
    facts.unsupported = unsupported;
    Ok(judge(&facts))
}

/// Server-wide facts (`sql/preflight_server.sql`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Server {
    wal_level: String,
    max_slots: i32,
    used_slots: i32,
    max_senders: i32,
    used_senders: i32,
    keep_size: String,
    role: String,
    superuser: bool,
    replication: bool,
    database: String,
    create_on_database: bool,
    slot_taken: bool,
    publication_taken: bool,
    /// `None` where TimescaleDB (or its TSL module) does not register the setting.
    direct_batch_delete: Option<String>,
    wal_markers: Option<String>,
    /// The database-level value of `DIRECT_BATCH_DELETE` (`ALTER DATABASE … SET`),
    /// what new sessions start with; `None` when not set.
    db_direct_batch_delete: Option<String>,
    /// `role=value` for each role-level setting of it (beats the database's).
    role_direct_batch_delete: Vec<String>,
}

/// One moved table (`sql/preflight_tables.sql`, `sql/preflight_hypertables.sql`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Table {
    name: QualifiedName,
    found: bool,
    owned: bool,
    /// `pg_class.relreplident`: d(efault), n(othing), f(ull), i(ndex).
    replident: String,
    has_pk: bool,
    identity_ok: bool,
    /// Publications that already stream the table or one of its chunks.
    publications: Vec<String>,
    hypertable: Option<Hypertable>,
}

/// What only a hypertable has.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hypertable {
    chunk_schemas: Vec<String>,
    compressed: bool,
    /// The job of a scheduled retention policy.
    retention_job: Option<i32>,
}

/// A table with relations in a chunk schema whose replica identity is unusable
/// (`sql/preflight_schema_identity.sql`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Unidentified {
    table: QualifiedName,
    relations: i32,
    example: String,
}

/// All facts the judgement needs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Facts {
    names: LiveNames,
    server: Server,
    /// Sorted by name, without duplicates.
    tables: Vec<Table>,
    /// Sorted by table name.
    unidentified: Vec<Unidentified>,
    /// The spec's `on_unsupported`: whether direct batch deletes left on refuse.
    unsupported: OnUnsupported,
}

async fn read(
    source: &Client,
    tables: &[QualifiedName],
    names: &LiveNames,
) -> Result<Facts, tokio_postgres::Error> {
    let row = source
        .query_one(SERVER, &[&names.slot, &names.publication])
        .await?;
    let server = server(&row);

    let mut sorted = tables.to_vec();
    sorted.sort();
    sorted.dedup();
    let schemas: Vec<&str> = sorted.iter().map(|t| t.schema.as_str()).collect();
    let relnames: Vec<&str> = sorted.iter().map(|t| t.name.as_str()).collect();
    let mut moved: Vec<Table> = source
        .query(TABLES, &[&schemas, &relnames])
        .await?
        .iter()
        .map(table)
        .collect();

    let mut unidentified = Vec::new();
    // The catalog queries name TimescaleDB's tables: on plain PostgreSQL they would
    // fail, and there is nothing to ask anyway.
    let has_timescaledb: bool = source.query_one(HAS_TIMESCALEDB, &[]).await?.get(0);
    if has_timescaledb {
        for row in source.query(HYPERTABLES, &[&schemas, &relnames]).await? {
            let name = QualifiedName::new(row.get::<_, String>(0), row.get::<_, String>(1));
            if let Some(t) = moved.iter_mut().find(|t| t.name == name) {
                t.hypertable = Some(Hypertable {
                    chunk_schemas: row.get(2),
                    compressed: row.get(3),
                    retention_job: row.get(4),
                });
            }
        }
        let chunk_schemas = published_schemas(&moved);
        if !chunk_schemas.is_empty() {
            unidentified = source
                .query(SCHEMA_IDENTITY, &[&chunk_schemas])
                .await?
                .iter()
                .map(|row| Unidentified {
                    table: QualifiedName::new(row.get::<_, String>(0), row.get::<_, String>(1)),
                    relations: row.get(2),
                    example: row.get(3),
                })
                .collect();
        }
    }
    Ok(Facts {
        names: names.clone(),
        server,
        tables: moved,
        unidentified,
        unsupported: OnUnsupported::Refuse,
    })
}

fn server(row: &Row) -> Server {
    Server {
        wal_level: row.get("wal_level"),
        max_slots: row.get("max_slots"),
        used_slots: row.get("used_slots"),
        max_senders: row.get("max_senders"),
        used_senders: row.get("used_senders"),
        keep_size: row.get("keep_size"),
        role: row.get("role_name"),
        superuser: row.get("superuser"),
        replication: row.get("replication"),
        database: row.get("database"),
        create_on_database: row.get("create_on_database"),
        slot_taken: row.get("slot_taken"),
        publication_taken: row.get("publication_taken"),
        direct_batch_delete: row.get("direct_batch_delete"),
        wal_markers: row.get("wal_markers"),
        db_direct_batch_delete: row.get("db_direct_batch_delete"),
        role_direct_batch_delete: row.get("role_direct_batch_delete"),
    }
}

fn table(row: &Row) -> Table {
    Table {
        name: QualifiedName::new(
            row.get::<_, String>("schema_name"),
            row.get::<_, String>("table_name"),
        ),
        found: row.get("found"),
        owned: row.get("owned"),
        replident: row.get("replident"),
        has_pk: row.get("has_pk"),
        identity_ok: row.get("identity_ok"),
        publications: row.get("publications"),
        hypertable: None,
    }
}

/// The schemas the publication must cover `FOR TABLES IN SCHEMA`: where the moved
/// hypertables' chunks are and will be created. Sorted, without duplicates.
fn published_schemas(tables: &[Table]) -> Vec<String> {
    let mut schemas: Vec<String> = tables
        .iter()
        .filter_map(|t| t.hypertable.as_ref())
        .flat_map(|h| h.chunk_schemas.iter().cloned())
        .collect();
    schemas.sort();
    schemas.dedup();
    schemas
}

/// The judgement: facts in, problems out, no database.
fn judge(facts: &Facts) -> Preflight {
    let mut out = Preflight::default();
    server_checks(facts, &mut out);
    rights_checks(facts, &mut out);
    for table in &facts.tables {
        table_checks(table, facts.unsupported, &mut out);
        compressed::direct_batch_delete(table, facts, &mut out);
    }
    schema_checks(facts, &mut out);
    out
}

fn server_checks(facts: &Facts, out: &mut Preflight) {
    let s = &facts.server;
    if s.wal_level != "logical" {
        out.refusals.push(format!(
            "wal_level is `{}`: logical decoding needs `logical`; run \
             `ALTER SYSTEM SET wal_level = logical` and restart the source server",
            s.wal_level
        ));
    }
    if s.used_slots >= s.max_slots {
        out.refusals.push(format!(
            "no free replication slot: {} of max_replication_slots = {} are in use; \
             drop an unused slot (pg_replication_slots) or raise max_replication_slots \
             (needs a restart)",
            s.used_slots, s.max_slots
        ));
    }
    if s.used_senders >= s.max_senders {
        out.refusals.push(format!(
            "no free WAL sender: {} of max_wal_senders = {} are in use; raise \
             max_wal_senders (needs a restart) or stop a replication client",
            s.used_senders, s.max_senders
        ));
    }
    if !s.replication && !s.superuser {
        out.refusals.push(format!(
            "role {} has neither REPLICATION nor superuser: a replication connection \
             needs one; run `ALTER ROLE {} REPLICATION`",
            display_ident(&s.role),
            quote_ident(&s.role)
        ));
    }
    if s.slot_taken {
        out.refusals.push(format!(
            "replication slot {} already exists: another or an abandoned live move \
             holds it; `hypermove clean` it or pick another run name",
            quote_literal(&facts.names.slot)
        ));
    }
    if s.publication_taken {
        out.refusals.push(format!(
            "publication {} already exists in database {}: drop it or pick another \
             run name",
            display_ident(&facts.names.publication),
            display_ident(&s.database)
        ));
    }
    // With the markers off, TimescaleDB's decompression of a batch streams as plain
    // inserts into the chunk: the follower would apply them as duplicates.
    if s.wal_markers.as_deref() == Some("off") {
        out.refusals.push(
            "timescaledb.enable_compression_wal_markers is off: (de)compression would \
             stream as user rows; set it on (ALTER SYSTEM SET \
             timescaledb.enable_compression_wal_markers = on; SELECT pg_reload_conf())"
                .to_owned(),
        );
    }
    if s.keep_size.trim() == "-1" {
        out.warnings.push(
            "max_slot_wal_keep_size = -1 (unlimited): while the follower is down or \
             behind, the slot keeps every WAL segment on the source, until its disk \
             fills; set a bound (a slot past it is invalidated and the move restarts) \
             or watch `hypermove status`"
                .to_owned(),
        );
    }
}

/// Creating the publication: CREATE on the database, ownership of each listed table,
/// superuser for the chunk schemas (`FOR TABLES IN SCHEMA`, PostgreSQL 15–18).
fn rights_checks(facts: &Facts, out: &mut Preflight) {
    let s = &facts.server;
    if s.superuser {
        return;
    }
    let role = display_ident(&s.role);
    if !s.create_on_database {
        out.refusals.push(format!(
            "role {role} lacks CREATE on database {}: CREATE PUBLICATION needs it; \
             run `GRANT CREATE ON DATABASE {} TO {}`",
            display_ident(&s.database),
            quote_ident(&s.database),
            quote_ident(&s.role)
        ));
    }
    for t in facts.tables.iter().filter(|t| t.found && !t.owned) {
        out.refusals.push(format!(
            "role {role} does not own table {}: a publication FOR TABLE needs its \
             owner; run the move as the owner (or a member of the owning role)",
            t.name
        ));
    }
    let schemas = published_schemas(&facts.tables);
    if !schemas.is_empty() {
        out.refusals.push(format!(
            "role {role} is not superuser: publishing the chunk schema(s) {} FOR \
             TABLES IN SCHEMA needs superuser (chunks created after the slot join no \
             FOR TABLE list before TimescaleDB 2.25); run the move as a superuser",
            schemas
                .iter()
                .map(|s| display_ident(s))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

fn table_checks(t: &Table, unsupported: OnUnsupported, out: &mut Preflight) {
    if !t.found {
        out.refusals
            .push(format!("table {} does not exist on the source", t.name));
        return;
    }
    if !t.identity_ok {
        out.refusals.push(identity_refusal(t));
    }
    if !t.publications.is_empty() {
        out.refusals.push(format!(
            "table {} (or one of its chunks) is already in publication(s) {}: another \
             replication of it is running or was left behind; drop it from there \
             (ALTER PUBLICATION … DROP TABLE) or drop the publication",
            t.name,
            t.publications
                .iter()
                .map(|p| display_ident(p))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let Some(h) = &t.hypertable else {
        return;
    };
    // drop_chunks drops tables; dropping a table streams no row change, and the
    // follow stops on a dropped chunk (live::chunks): a policy that would drop one
    // during the move is paused first, or the user accepts the risk.
    if let Some(job) = h.retention_job {
        let body = format!(
            "hypertable {} has a scheduled retention policy (job {job}): a chunk it drops during the follow streams no row change, so the follow would stop there (a dropped chunk is refused); pause it for the move with SELECT alter_job({job}, scheduled => false) and resume it after the cutover",
            t.name
        );
        match unsupported {
            OnUnsupported::Refuse => out.refusals.push(format!(
                "{body} (or `on_unsupported: warn` to move with the risk)"
            )),
            OnUnsupported::Warn => out.warnings.push(format!(
                "{body} (on_unsupported: warn: moving with the risk)"
            )),
        }
    }
}

fn identity_refusal(t: &Table) -> String {
    let remedy = format!("ALTER TABLE {} REPLICA IDENTITY FULL", t.name.sql());
    // TimescaleDB applies the hypertable's replica identity to every chunk, existing
    // and new (observed on 2.19.3 and 2.29.2), so the root is the one place to fix.
    let chunks = if t.hypertable.is_some() {
        " (TimescaleDB applies it to every chunk, existing and new)"
    } else {
        ""
    };
    match t.replident.as_str() {
        "n" => format!(
            "table {} has REPLICA IDENTITY NOTHING: its UPDATEs and DELETEs cannot be \
             streamed; run `ALTER TABLE {} REPLICA IDENTITY {}`{chunks}",
            t.name,
            t.name.sql(),
            if t.has_pk { "DEFAULT" } else { "FULL" }
        ),
        "i" => format!(
            "table {} has REPLICA IDENTITY USING INDEX but the index is gone: its \
             UPDATEs and DELETEs cannot be streamed; run `{remedy}`{chunks}",
            t.name
        ),
        _ => format!(
            "table {} has no primary key and no replica identity: its UPDATEs and \
             DELETEs cannot be streamed; run `{remedy}`{chunks}",
            t.name
        ),
    }
}

/// The chunk schemas go into the publication whole: every table in them without a
/// usable replica identity, moved or not, then fails on UPDATE and DELETE.
fn schema_checks(facts: &Facts, out: &mut Preflight) {
    for u in &facts.unidentified {
        let moved = facts.tables.iter().find(|t| t.name == u.table);
        match moved {
            // Already refused on its own.
            Some(t) if !t.identity_ok => {}
            Some(t) => out.refusals.push(format!(
                "{} chunk(s) of table {} (e.g. {}) have no usable replica identity \
                 although the table has one: their UPDATEs and DELETEs cannot be \
                 streamed; run `ALTER TABLE {} REPLICA IDENTITY …` again so TimescaleDB \
                 sets it on every chunk",
                u.relations,
                t.name,
                u.example,
                t.name.sql()
            )),
            None => out.refusals.push(format!(
                "table {} is not moved, but {} of its relations (e.g. {}) are in a chunk \
                 schema the publication covers whole and have no primary key or replica \
                 identity: every UPDATE and DELETE on it would fail on the source while \
                 the move runs; run `ALTER TABLE {} REPLICA IDENTITY FULL`",
                u.table,
                u.relations,
                u.example,
                u.table.sql()
            )),
        }
    }
}

#[path = "preflight_compressed.rs"]
mod compressed;

#[cfg(test)]
#[path = "preflight_tests.rs"]
mod tests;
