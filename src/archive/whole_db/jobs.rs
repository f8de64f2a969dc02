//! TimescaleDB jobs' next start times, carried from the dump's snapshot to the
//! restored database.
//!
//! The jobs themselves (`_timescaledb_config.bgw_job`) are in the dump, but their
//! statistics table, which holds each job's next start, is not: TimescaleDB does not
//! mark it for pg_dump. Without it the restored scheduler treats every job as due and
//! runs them all the moment `timescaledb_post_restore()` restarts it, a user job
//! whose `initial_start` lies days ahead included (measured on 2.19.3). So dump-db
//! records each job's next start in the manifest, and restore-db sets it again with
//! `alter_job` before leaving restore mode.

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use super::error::WholeDbError;
use super::{Result, fill};
use crate::pg::quote_ident;

/// One job's next start in the dump's snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStart {
    /// The job's id (kept by the restore: the dump carries `bgw_job` with its ids).
    pub job_id: i32,
    /// When the source's scheduler would next have run it (ISO 8601, with offset).
    pub next_start: String,
}

/// Every job's finite next start, read in the dump's snapshot.
pub(super) async fn read(client: &impl GenericClient) -> Result<Vec<JobStart>> {
    let rows = client
        .query(include_str!("sql/job_starts.sql"), &[])
        .await
        .map_err(WholeDbError::query("reading the jobs' next start"))?;
    Ok(rows
        .iter()
        .map(|r| JobStart {
            job_id: r.get("job_id"),
            next_start: r.get("next_start"),
        })
        .collect())
}

/// Set each recorded job's next start on the restored database, still in restore
/// mode. Returns how many jobs were set.
pub(super) async fn restore(
    client: &impl GenericClient,
    schema: &str,
    starts: &[JobStart],
) -> std::result::Result<i64, tokio_postgres::Error> {
    let sql = fill(
        include_str!("sql/set_job_starts.sql"),
        &[("schema", &quote_ident(schema))],
    );
    let ids: Vec<i32> = starts.iter().map(|s| s.job_id).collect();
    let at: Vec<&str> = starts.iter().map(|s| s.next_start.as_str()).collect();
    let row = client.query_one(&sql, &[&ids, &at]).await?;
    Ok(row.get("altered"))
}
