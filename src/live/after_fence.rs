//! Writes after the fence: what the source committed on the moved tables after the
//! cutover's fence.
//!
//! The user stops the application's writes before a cutover; `cutover` does not,
//! but it must say when they did not stop. The follower applies everything before
//! the fence and leaves the rest in the slot unconfirmed, so the slot holds exactly
//! the transactions committed after it. Peeking at them (without consuming) names
//! the tables still written to. Once the slot is dropped those writes would exist
//! only on the source: a cutover that finds any fails, and the move goes on
//! following.

use std::collections::BTreeMap;

use bytes::Bytes;
use tokio_postgres::Client;

use super::Lsn;
use super::mapping::{Mapped, Mapping};
use super::pgoutput::{self, PgOutput};
use super::timescale::{Marker, Markers};
use crate::pg::{QualifiedName, quote_ident};

const PEEK: &str = include_str!("sql/peek_changes.sql");

/// At most this many changes are decoded: enough to name every table written to
/// while the application has not stopped, bounded so a busy source does not make
/// the cutover decode gigabytes to say so.
const PEEK_LIMIT: i32 = 100_000;

/// What the source committed on moved tables after the fence.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LateWrites {
    /// Row changes (inserts, updates, deletes, truncates) per moved table, by its
    /// target name.
    pub changes: BTreeMap<QualifiedName, u64>,
    /// The first such transaction's commit position.
    pub first_commit: Option<Lsn>,
    /// Transactions with at least one such change.
    pub transactions: u64,
    /// The peek stopped at its bound: there may be more.
    pub at_least: bool,
}

impl LateWrites {
    /// Nothing was written to a moved table after the fence.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// One line for the operator: how many changes, to which tables, from where.
    pub fn describe(&self, fence: Lsn) -> String {
        let tables: Vec<String> = self
            .changes
            .iter()
            .map(|(t, n)| format!("{t} ({n} change{})", if *n == 1 { "" } else { "s" }))
            .collect();
        format!(
            "{}{} transaction{} committed on the source after the fence {fence}{}: {}",
            if self.at_least { "at least " } else { "" },
            self.transactions,
            if self.transactions == 1 { "" } else { "s" },
            self.first_commit
                .map(|l| format!(" (the first at {l})"))
                .unwrap_or_default(),
            tables.join(", ")
        )
    }
}

/// Errors reading the slot.
#[derive(Debug, thiserror::Error)]
pub enum LateError {
    /// The server refused the peek.
    #[error("peeking at the slot's changes: {0}")]
    Source(#[from] tokio_postgres::Error),
    /// A message did not decode.
    #[error("decoding the slot's changes: {0}")]
    Decode(#[from] pgoutput::DecodeError),
}

/// The slot's unconsumed changes to moved tables. The slot must be free (its
/// follower stopped at the fence); changes inside TimescaleDB's compression spans
/// are its own maintenance (a policy compressing a chunk), not the application's.
pub async fn writes_after_fence(
    source: &Client,
    slot: &str,
    publication: &str,
    mapping: &mut Mapping,
) -> Result<LateWrites, LateError> {
    let rows = source
        .query(PEEK, &[&slot, &PEEK_LIMIT, &quote_ident(publication)])
        .await?;
    let at_least = rows.len() >= PEEK_LIMIT as usize;
    let mut late = LateWrites {
        at_least,
        ..LateWrites::default()
    };
    let mut markers = Markers::new();
    // Changes of the open transaction: counted only once it is known to commit
    // (peek returns committed transactions only, but a bound may cut the last one).
    let mut open: BTreeMap<QualifiedName, u64> = BTreeMap::new();
    for row in rows {
        let data: Vec<u8> = row.get(0);
        let relations = match pgoutput::decode(Bytes::from(data))? {
            PgOutput::Begin(_) => {
                open.clear();
                markers = Markers::new();
                continue;
            }
            PgOutput::Commit(commit) => {
                if !open.is_empty() {
                    late.transactions += 1;
                    late.first_commit.get_or_insert(commit.commit_lsn);
                    for (table, n) in std::mem::take(&mut open) {
                        *late.changes.entry(table).or_default() += n;
                    }
                }
                continue;
            }
            PgOutput::Message(m) => {
                if let Some(marker) = Marker::from_prefix(&m.prefix) {
                    // A mismatched marker is the follower's concern; here it only
                    // means "not inside a span" from then on.
                    if markers.marker(marker).is_err() {
                        markers = Markers::new();
                    }
                }
                continue;
            }
            PgOutput::Insert(c) => vec![c.relation],
            PgOutput::Update(c) => vec![c.relation],
            PgOutput::Delete(c) => vec![c.relation],
            PgOutput::Truncate(t) => t.relations,
            _ => continue,
        };
        if markers.change() {
            continue;
        }
        for oid in relations {
            match mapping.resolve(source, oid).await? {
                Mapped::Moved(t) | Mapped::Compressed(t) => {
                    *open.entry(t.target.clone()).or_default() += 1;
                }
                Mapped::NotMoved | Mapped::Gone => {}
            }
        }
    }
    Ok(late)
}
