//! Which moved table each relation of the stream belongs to.
//!
//! A `FOR TABLES IN SCHEMA` publication streams every chunk of every hypertable in
//! the chunk schema, plus TimescaleDB's own tables; only the moved tables' changes
//! are applied. A relation is mapped by OID through `pg_inherits` on the source
//! (chunk → hypertable root), never by parsing its name, and the answer is cached:
//! a chunk's parent does not change while it exists. A compressed chunk has no
//! `pg_inherits` parent: TimescaleDB's `compression_settings` leads to its chunk.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_postgres::Client;

use crate::pg::QualifiedName;

const RELATION_PARENT: &str = include_str!("sql/relation_parent.sql");
const COMPRESSED_OWNER: &str = include_str!("sql/compressed_owner.sql");
const HAS_TIMESCALEDB: &str = include_str!("sql/has_timescaledb.sql");
const COMPRESSION_ENABLED: &str = include_str!("sql/compression_enabled.sql");

/// A moved table as the applier writes it on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedTable {
    /// The table (hypertable root) on the target: changes go through it, so the
    /// target's own chunk interval and partitions route the rows.
    pub target: QualifiedName,
    /// Its published columns by name (generated columns left out: pgoutput does not
    /// send them). A `Relation` message with other columns is DDL: the applier stops.
    pub columns: Vec<String>,
    /// The target's partitioning columns (time and space dimensions). An update that
    /// may change one of them can move the row to another target chunk, which
    /// TimescaleDB refuses for an UPDATE (chunk check constraints), so it becomes
    /// DELETE + INSERT.
    pub routing: Vec<String>,
}

/// What a source relation is to the live move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// The moved table itself, or one of its chunks.
    Moved(Arc<MovedTable>),
    /// A compressed chunk of a moved hypertable: its changes are TimescaleDB's own
    /// (inside markers) or direct compression; never plain rows to apply.
    Compressed(Arc<MovedTable>),
    /// Anything else in the published schemas: skipped.
    NotMoved,
    /// The relation no longer exists on the source when it is mapped (dropped while
    /// the follower lagged: a chunk dropped by retention, or any dropped table).
    /// Skipped like `NotMoved`, since nothing says whose it was without parsing its
    /// name, but reported (`Applied::vanished`): if it was a moved table's chunk,
    /// the target has diverged and the cutover's checksums will say so.
    Gone,
}

/// Source relations, by OID, resolved to moved tables.
#[derive(Debug)]
pub struct Mapping {
    /// The moved tables by their name on the source (hypertable root or table).
    by_source: HashMap<QualifiedName, Arc<MovedTable>>,
    /// Resolved OIDs.
    by_oid: HashMap<u32, Mapped>,
    /// Whether the source has TimescaleDB; `None` until first asked.
    timescaledb: Option<bool>,
}

impl Mapping {
    /// A mapping of these moved tables, keyed by their source name.
    pub fn new(moved: impl IntoIterator<Item = (QualifiedName, MovedTable)>) -> Self {
        Self {
            by_source: moved
                .into_iter()
                .map(|(source, table)| (source, Arc::new(table)))
                .collect(),
            by_oid: HashMap::new(),
            timescaledb: None,
        }
    }

    /// A mapping whose OIDs are already known (unit tests, or a follower that
    /// resolved them elsewhere).
    pub fn with_oids(oids: impl IntoIterator<Item = (u32, Mapped)>) -> Self {
        Self {
            by_source: HashMap::new(),
            by_oid: oids.into_iter().collect(),
            timescaledb: None,
        }
    }

    /// The cached answer for an OID, if it was resolved.
    pub fn get(&self, oid: u32) -> Option<&Mapped> {
        self.by_oid.get(&oid)
    }

    /// The moved tables' target names, sorted: the candidates when the stream does
    /// not say which table a change concerns (an empty decompression span).
    pub fn moved_targets(&self) -> Vec<String> {
        let resolved = self.by_oid.values().filter_map(|m| match m {
            Mapped::Moved(t) | Mapped::Compressed(t) => Some(t),
            Mapped::NotMoved | Mapped::Gone => None,
        });
        let mut names: Vec<String> = self
            .by_source
            .values()
            .chain(resolved)
            .map(|t| t.target.to_string())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Of the moved tables, the hypertables with compression enabled on the source
    /// (target names, sorted): the tables a direct batch delete can concern.
    pub async fn compressed_targets(
        &self,
        source: &Client,
    ) -> Result<Vec<String>, tokio_postgres::Error> {
        let mut names: Vec<String> = source
            .query(COMPRESSION_ENABLED, &[])
            .await?
            .iter()
            .filter_map(|row| {
                let name = QualifiedName::new(row.get::<_, String>(0), row.get::<_, String>(1));
                self.by_source.get(&name).map(|t| t.target.to_string())
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Resolve an OID on the source unless it is cached.
    pub async fn resolve(
        &mut self,
        source: &Client,
        oid: u32,
    ) -> Result<&Mapped, tokio_postgres::Error> {
        if !self.by_oid.contains_key(&oid) {
            let mapped = self.lookup(source, oid).await?;
            self.by_oid.insert(oid, mapped);
        }
        Ok(&self.by_oid[&oid])
    }

    async fn lookup(&mut self, source: &Client, oid: u32) -> Result<Mapped, tokio_postgres::Error> {
        let Some(row) = source
            .query_opt(RELATION_PARENT, &[&i64::from(oid)])
            .await?
        else {
            return Ok(Mapped::Gone);
        };
        let owner = QualifiedName::new(row.get::<_, String>(0), row.get::<_, String>(1));
        if let Some(table) = self.by_source.get(&owner) {
            return Ok(Mapped::Moved(table.clone()));
        }
        // Not moved itself: maybe a compressed chunk of a moved hypertable, which has
        // no pg_inherits parent; TimescaleDB's catalog links it to its chunk.
        if self.timescaledb.is_none() {
            let has: bool = source.query_one(HAS_TIMESCALEDB, &[]).await?.get(0);
            self.timescaledb = Some(has);
        }
        if self.timescaledb != Some(true) {
            return Ok(Mapped::NotMoved);
        }
        let Some(row) = source
            .query_opt(COMPRESSED_OWNER, &[&i64::from(oid)])
            .await?
        else {
            return Ok(Mapped::NotMoved);
        };
        let user = QualifiedName::new(row.get::<_, String>(0), row.get::<_, String>(1));
        Ok(match self.by_source.get(&user) {
            Some(table) => Mapped::Compressed(table.clone()),
            None => Mapped::NotMoved,
        })
    }
}
