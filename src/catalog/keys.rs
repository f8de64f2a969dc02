//! The range of a plain table's integer primary key, for cutting its verification
//! into key ranges that run in parallel.

use tokio_postgres::GenericClient;

use super::{Result, query_err};
use crate::pg::{QualifiedName, quote_ident};

/// The smallest and largest value of `column`, an integer primary key column of
/// `table`; `None` when the table is empty. Two index probes, no scan.
pub async fn key_range(
    client: &impl GenericClient,
    table: &QualifiedName,
    column: &str,
) -> Result<Option<(i64, i64)>> {
    let col = quote_ident(column);
    let sql = format!(
        "SELECT min({col})::int8, max({col})::int8 FROM ONLY {}",
        table.sql()
    );
    let row = client
        .query_one(&sql, &[])
        .await
        .map_err(query_err(format!("key range of {table}")))?;
    let min: Option<i64> = row.get(0);
    let max: Option<i64> = row.get(1);
    Ok(min.zip(max))
}
