//! A hypertable's compression (columnstore) settings and its compression and
//! retention policies: what a move carries so that the target compresses and
//! expires its chunks as the source does.

use serde::Serialize;
use tokio_postgres::GenericClient;

use super::{CatalogError, query_err};
use crate::pg::QualifiedName;

/// Compression (columnstore) settings of a hypertable.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Compression {
    /// `segmentby` columns, in order.
    pub segment_by: Vec<String>,
    /// `orderby` as TimescaleDB writes it (`"time" DESC`); empty when unset.
    pub order_by: String,
    /// `compress_chunk_time_interval`, when set: TimescaleDB's text of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_interval: Option<String>,
}

/// Which policy a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobPolicyKind {
    /// `add_compression_policy` / `add_columnstore_policy`: compress chunks older than `after`.
    Compression,
    /// `add_retention_policy`: drop chunks older than `after`.
    Retention,
}

/// A compression or retention policy of a hypertable.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct JobPolicy {
    /// Which one.
    pub kind: JobPolicyKind,
    /// Its job ID on the source (for messages only).
    pub job_id: i32,
    /// The threshold: an interval's text (`7 days`), or an integer for integer time.
    pub after: JobPolicyAfter,
    /// How often the job runs, as an interval's text.
    pub schedule_interval: String,
    /// Whether the job is scheduled (a paused job stays paused).
    pub scheduled: bool,
    /// Settings of its config beyond the threshold: a policy with any is not carried
    /// (the plan says so), since recreating it without them would change what it does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_settings: Vec<String>,
}

/// A policy's threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobPolicyAfter {
    /// An interval, as its text.
    Interval(String),
    /// An integer, for integer time.
    Integer(i64),
}

/// The compression settings of a hypertable, `None` when compression is off.
pub async fn compression(
    client: &impl GenericClient,
    name: &QualifiedName,
) -> Result<Option<Compression>, CatalogError> {
    let row = client
        .query_opt(
            include_str!("sql/compression.sql"),
            &[&name.schema, &name.name],
        )
        .await
        .map_err(query_err(format!("compression settings of {name}")))?;
    Ok(row.map(|r| Compression {
        segment_by: r.get("segment_by"),
        order_by: r.get::<_, Option<String>>("order_by").unwrap_or_default(),
        chunk_interval: r.get("chunk_interval"),
    }))
}

/// The compression and retention policies of a hypertable.
pub async fn policies(
    client: &impl GenericClient,
    name: &QualifiedName,
) -> Result<Vec<JobPolicy>, CatalogError> {
    let rows = client
        .query(
            include_str!("sql/policies_of.sql"),
            &[&name.schema, &name.name],
        )
        .await
        .map_err(query_err(format!("policies of {name}")))?;
    let mut out = Vec::new();
    for r in rows {
        let kind = match r.get::<_, &str>("kind") {
            "policy_compression" => JobPolicyKind::Compression,
            _ => JobPolicyKind::Retention,
        };
        let text: Option<String> = r.get("after");
        let is_number = r.get::<_, Option<&str>>("after_type") == Some("number");
        let Some(text) = text else {
            // A policy by creation time (compress_created_before) has no threshold on
            // the time column: reported with its settings, and not carried.
            out.push(JobPolicy {
                kind,
                job_id: r.get("job_id"),
                after: JobPolicyAfter::Interval(String::new()),
                schedule_interval: r.get("schedule_interval"),
                scheduled: r.get("scheduled"),
                other_settings: r.get("other_keys"),
            });
            continue;
        };
        let after = match (is_number, text.parse::<i64>()) {
            (true, Ok(n)) => JobPolicyAfter::Integer(n),
            _ => JobPolicyAfter::Interval(text),
        };
        out.push(JobPolicy {
            kind,
            job_id: r.get("job_id"),
            after,
            schedule_interval: r.get("schedule_interval"),
            scheduled: r.get("scheduled"),
            other_settings: r.get("other_keys"),
        });
    }
    Ok(out)
}

/// The license TimescaleDB would have in this database once created, for a database
/// that does not have the extension yet: its library, and so `timescaledb.license`,
/// loads only with the extension. Read by creating the extension in a transaction
/// that is always rolled back, so nothing is written; `None` when that is not possible
/// (the role may not create it).
pub async fn license_once_created(client: &impl GenericClient) -> Option<String> {
    client.batch_execute("BEGIN").await.ok()?;
    let probe = async {
        client
            .batch_execute(include_str!("sql/license_probe.sql"))
            .await
            .ok()?;
        client
            .query_one("SELECT current_setting('timescaledb.license', true)", &[])
            .await
            .ok()?
            .get::<_, Option<String>>(0)
    };
    let license = probe.await;
    // Whatever happened above, the transaction is undone.
    client.batch_execute("ROLLBACK").await.ok()?;
    license
}
