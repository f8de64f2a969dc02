//! The compression state a target hypertable is in now, for `status`: its settings
//! and how many of its chunks are compressed. Read from the target alone.

use serde::Serialize;
use tokio_postgres::GenericClient;

use super::{CatalogError, extension_state, query_err};
use crate::pg::QualifiedName;

/// A compressed hypertable's settings and chunks, as the server has them now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompressionState {
    /// The hypertable.
    pub table: QualifiedName,
    /// `segmentby` columns, in order.
    pub segment_by: Vec<String>,
    /// `orderby` as TimescaleDB writes it (`"time" DESC`); empty when unset.
    pub order_by: String,
    /// Its chunks.
    pub chunks: i64,
    /// Of those, the compressed ones (partially compressed ones included).
    pub compressed: i64,
    /// Of those, the ones written to since their compression.
    pub partially_compressed: i64,
}

/// The compression state of the hypertables among `names` (SQL text of qualified
/// names) that have compression on, in the order given. Names that do not exist
/// (yet), plain tables, and a database without TimescaleDB give nothing.
pub async fn compression_state(
    client: &impl GenericClient,
    names: &[String],
) -> Result<Vec<CompressionState>, CatalogError> {
    if names.is_empty() || !extension_state(client, "timescaledb").await?.0 {
        return Ok(Vec::new());
    }
    let rows = client
        .query(include_str!("sql/compression_state.sql"), &[&names])
        .await
        .map_err(query_err(
            "the compression state of the target's hypertables",
        ))?;
    Ok(rows
        .iter()
        .map(|r| CompressionState {
            table: QualifiedName::new(r.get::<_, String>("schema"), r.get::<_, String>("name")),
            segment_by: r.get("segment_by"),
            order_by: r.get("order_by"),
            chunks: r.get("chunks"),
            compressed: r.get("compressed"),
            partially_compressed: r.get("partial"),
        })
        .collect())
}
