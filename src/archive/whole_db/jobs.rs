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

#[cfg(test)]
mod tests {
    use super::super::manifest::{self, MANIFEST};

    /// A manifest as dump-db wrote it before next starts were recorded.
    const OLD: &str = r#"{"kind": "whole-database", "format_version": 1,
      "hypermove_version": "0.1.0", "database": "db", "dumped_at": "2026-01-01T00:00:00Z",
      "source": {"server": "u@h:1", "postgresql": "17.12", "postgresql_version_num": 170012,
                 "timescaledb": "2.19.3", "timescaledb_schema": "public", "encoding": "UTF8"},
      "pg_dump": {"program": "pg_dump", "version": "17.12", "major": 17},
      "dump": {"file": "database.dump", "format": "custom", "bytes": 1, "sha256": "00"},
      "tables": []}"#;

    #[test]
    fn manifests_without_job_starts_still_read_and_new_ones_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST), OLD).unwrap();
        let mut m = manifest::read(dir.path()).expect("an older manifest reads");
        assert!(m.job_starts.is_empty());
        m.job_starts = vec![super::JobStart {
            job_id: 1003,
            next_start: "2026-11-27T00:37:13.349731+00:00".into(),
        }];
        manifest::write(dir.path(), &m).unwrap();
        let text = std::fs::read_to_string(dir.path().join(MANIFEST)).unwrap();
        assert!(text.contains("\"job_starts\""), "{text}");
        assert_eq!(manifest::read(dir.path()).unwrap().job_starts, m.job_starts);
    }
}
