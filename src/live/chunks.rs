//! Chunks dropped during a live move.
//!
//! `drop_chunks` (by hand or by a retention policy), `merge_chunks` and a TRUNCATE
//! of a hypertable drop chunk tables, and dropping a table streams no row change: the follower cannot see the
//! rows go, and the target would keep them. So the move watches the chunks
//! themselves: every chunk of a moved hypertable it has seen on the source is
//! remembered on the target (`hypermove.live_chunk`), and one that is no longer
//! there stops the follow with an error naming it. The decision is to refuse, not to
//! replay the drop: the target is re-chunked, so a source chunk's rows are no target
//! chunk, and the drop has no position in the stream to order it against later
//! inserts into the same range.

use std::collections::HashMap;

use tokio_postgres::Client;

use crate::pg::QualifiedName;

const LIVE_CHUNK: &str = include_str!("sql/live_chunk.sql");
const KNOWN: &str = include_str!("sql/known_chunks.sql");
const REMEMBER: &str = include_str!("sql/remember_chunks.sql");
const SOURCE_CHUNKS: &str = include_str!("sql/source_chunks.sql");

/// Errors of the chunk watch.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// A chunk seen earlier is gone from the source.
    #[error(
        "chunk {chunk} of {hypertable} was dropped on the source during the live move \
         (drop_chunks, a retention policy, merge_chunks, or a TRUNCATE of the hypertable): a \
         dropped chunk streams no row changes, so the target still holds its rows. The follow stops here; pause \
         retention for the move and run `hypermove apply --follow --restart` to copy again"
    )]
    Dropped {
        /// The chunk, as `schema.name`.
        chunk: String,
        /// Its hypertable on the source.
        hypertable: String,
    },
    /// The source refused the query.
    #[error("reading the source's chunks: {0}")]
    Source(#[source] tokio_postgres::Error),
    /// The target refused the query.
    #[error("remembering the source's chunks on the target: {0}")]
    Target(#[source] tokio_postgres::Error),
}

/// The chunks one live move has seen, and the check that none went away.
#[derive(Debug)]
pub struct ChunkWatch {
    fingerprint: String,
    slot: String,
    /// The moved tables on the source, quoted (for the query) and shown.
    roots: (Vec<String>, Vec<String>),
    /// Source chunk OIDs seen, with their names and hypertables.
    known: HashMap<i64, (String, String)>,
}

impl ChunkWatch {
    /// The watch of one live move, with what the target remembers of it (creating
    /// the table if needed).
    pub async fn open(
        target: &Client,
        fingerprint: &str,
        slot: &str,
        roots: &[QualifiedName],
    ) -> Result<Self, ChunkError> {
        target
            .batch_execute(LIVE_CHUNK)
            .await
            .map_err(ChunkError::Target)?;
        let known = target
            .query(KNOWN, &[&fingerprint, &slot])
            .await
            .map_err(ChunkError::Target)?
            .into_iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();
        Ok(Self {
            fingerprint: fingerprint.to_string(),
            slot: slot.to_string(),
            roots: (
                roots.iter().map(QualifiedName::sql).collect(),
                roots.iter().map(ToString::to_string).collect(),
            ),
            known,
        })
    }

    /// Compare the source's chunks with those seen: a chunk gone is an error; new
    /// chunks are remembered on the target.
    pub async fn check(&mut self, source: &Client, target: &Client) -> Result<(), ChunkError> {
        let rows = source
            .query(SOURCE_CHUNKS, &[&self.roots.0, &self.roots.1])
            .await
            .map_err(ChunkError::Source)?;
        let now: HashMap<i64, (String, String)> = rows
            .into_iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();
        // The first gone, in OID order, so the message is the same on every run.
        let mut gone: Vec<(&i64, &(String, String))> = self
            .known
            .iter()
            .filter(|(oid, _)| !now.contains_key(oid))
            .collect();
        gone.sort();
        if let Some((_, (chunk, hypertable))) = gone.first() {
            return Err(ChunkError::Dropped {
                chunk: chunk.clone(),
                hypertable: hypertable.clone(),
            });
        }
        let new: Vec<(i64, String, String)> = now
            .into_iter()
            .filter(|(oid, _)| !self.known.contains_key(oid))
            .map(|(oid, (c, h))| (oid, c, h))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let oids: Vec<i64> = new.iter().map(|n| n.0).collect();
        let chunks: Vec<&str> = new.iter().map(|n| n.1.as_str()).collect();
        let tables: Vec<&str> = new.iter().map(|n| n.2.as_str()).collect();
        target
            .execute(
                REMEMBER,
                &[&self.fingerprint, &self.slot, &oids, &chunks, &tables],
            )
            .await
            .map_err(ChunkError::Target)?;
        for (oid, c, h) in new {
            self.known.insert(oid, (c, h));
        }
        Ok(())
    }
}
