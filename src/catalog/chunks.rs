//! A hypertable's chunks, with their ranges on the time dimension (see `sql/chunks.sql`).

use tokio_postgres::GenericClient;

use super::model::Chunk;
use super::{Result, estimate, query_err};
use crate::pg::QualifiedName;

/// The chunks of a hypertable (a user's, or a continuous aggregate's
/// materialization), ordered by range start.
pub(super) async fn hypertable_chunks(
    client: &impl GenericClient,
    name: &QualifiedName,
) -> Result<Vec<Chunk>> {
    Ok(client
        .query(include_str!("sql/chunks.sql"), &[&name.schema, &name.name])
        .await
        .map_err(query_err(format!("chunks of {name}")))?
        .iter()
        .map(|r| Chunk {
            name: QualifiedName::new(
                r.get::<_, String>("chunk_schema"),
                r.get::<_, String>("chunk_name"),
            ),
            range_start: r
                .get::<_, Option<i64>>("range_start")
                .filter(|v| *v != i64::MIN),
            range_end: r
                .get::<_, Option<i64>>("range_end")
                .filter(|v| *v != i64::MAX),
            est_rows: estimate(r.get("reltuples")),
            est_bytes: r.get::<_, i64>("est_bytes").max(0) as u64,
            compressed: r.get::<_, Option<bool>>("is_compressed").unwrap_or(false),
        })
        .collect())
}
