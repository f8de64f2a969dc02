//! TimescaleDB's continuous aggregates on a hypertable (see
//! `sql/continuous_aggregates.sql`): what recreating each on the target needs, its
//! materialized rows' chunks, and the state that says which buckets are
//! materialized (watermark, invalidation threshold, pending invalidations).

use serde::Serialize;
use tokio_postgres::GenericClient;

use super::model::*;
use super::{Grants, Result, columns, grants_of, indexes, query_err};
use crate::pg::QualifiedName;

/// A continuous aggregate over a moved hypertable, directly or through another
/// aggregate (hierarchical).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ContinuousAggregate {
    /// Its (user view's) name on the source.
    pub name: QualifiedName,
    /// The user view's OID on the source.
    pub oid: u32,
    /// The aggregate it reads, when it is built on another one.
    pub parent: Option<QualifiedName>,
    /// Its query as written: `pg_get_viewdef` of its direct view, names qualified.
    pub definition: String,
    /// `timescaledb.materialized_only`: false for a real-time aggregate.
    pub materialized_only: bool,
    /// Whether it is in the finalized form (every aggregate since 2.7; the only one
    /// 2.2x knows).
    pub finalized: bool,
    /// Its materialization hypertable on the source.
    pub materialization: QualifiedName,
    /// That hypertable's time column (the bucket) and its type family.
    pub time_column: String,
    /// The bucket's type family.
    pub time_type: TimeType,
    /// The materialization hypertable's chunk interval, in internal units.
    pub chunk_interval: i64,
    /// The materialization hypertable's columns, in order (they are the view's).
    pub columns: Vec<Column>,
    /// The materialization hypertable's chunks, ordered by range.
    pub chunks: Vec<Chunk>,
    /// Its compression settings, when its materialization is compressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<super::Compression>,
    /// Indexes created on the aggregate (not the ones TimescaleDB makes itself).
    pub indexes: Vec<Index>,
    /// Comments on the aggregate (column `None`) and its columns.
    pub comments: Vec<(Option<String>, String)>,
    /// Its owner and grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<Grants>,
    /// Buckets before it are materialized (internal units of the bucket).
    pub watermark: i64,
    /// The invalidation threshold of the hypertable it reads, when set.
    pub threshold: Option<i64>,
    /// Pending invalidations of the hypertable it reads, `[lo, hi]` inclusive.
    pub hypertable_invalidations: Vec<(i64, i64)>,
    /// Its own pending invalidations, `[lo, hi]` inclusive.
    pub materialization_invalidations: Vec<(i64, i64)>,
    /// Relations its query reads besides the hypertable or aggregate it is built on.
    pub other_reads: Vec<QualifiedName>,
    /// Background jobs on its materialization (its refresh policy among them).
    pub jobs: Vec<String>,
    /// The user functions its query calls, and those they call (they move with its
    /// hypertable's, before it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<UserFunction>,
}

impl ContinuousAggregate {
    /// The indexes TimescaleDB creates by itself on a materialization hypertable:
    /// the bucket descending, and each grouping column with the bucket descending.
    fn is_default_index(&self, i: &Index) -> bool {
        let prefix = format!("{}_", self.materialization.name);
        let plain = !i.body.contains(" WHERE ")
            && !i.body.contains(" INCLUDE ")
            && !i.body.contains(" WITH (");
        !i.unique
            && i.method == "btree"
            && i.name.starts_with(&prefix)
            && plain
            && i.body.ends_with(" DESC)")
            && i.key_columns.last() == Some(&Some(self.time_column.clone()))
            && i.key_columns.len() <= 2
            && i.key_columns.iter().all(Option::is_some)
    }
}

/// Every continuous aggregate on this hypertable, those on them after them.
pub async fn continuous_aggregates(
    client: &impl GenericClient,
    hypertable: &QualifiedName,
) -> Result<Vec<ContinuousAggregate>> {
    let rows = client
        .query(
            include_str!("sql/continuous_aggregates.sql"),
            &[&hypertable.schema, &hypertable.name],
        )
        .await
        .map_err(query_err(format!("continuous aggregates on {hypertable}")))?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let name = QualifiedName::new(r.get::<_, String>("schema"), r.get::<_, String>("name"));
        let oid: u32 = r.get("oid");
        let materialization = QualifiedName::new(
            r.get::<_, String>("mat_schema"),
            r.get::<_, String>("mat_name"),
        );
        let mat_oid: u32 = r.get("mat_oid");
        let parent = r
            .get::<_, Option<String>>("parent_name")
            .map(|n| QualifiedName::new(r.get::<_, String>("parent_schema"), n));
        let pairs = |lo: &str, hi: &str| -> Vec<(i64, i64)> {
            r.get::<_, Vec<i64>>(lo)
                .into_iter()
                .zip(r.get::<_, Vec<i64>>(hi))
                .collect()
        };
        let chunks = super::chunks::hypertable_chunks(client, &materialization).await?;
        let comments = client
            .query(include_str!("sql/comments.sql"), &[&oid])
            .await
            .map_err(query_err(format!("comments of {name}")))?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut cagg = ContinuousAggregate {
            definition: r.get("definition"),
            materialized_only: r.get("materialized_only"),
            finalized: r.get("finalized"),
            time_column: r.get("time_column"),
            time_type: TimeType::from_oid(r.get("time_type")).unwrap_or(TimeType::Integer),
            chunk_interval: r.get("chunk_interval"),
            columns: columns(client, &materialization, mat_oid).await?,
            chunks,
            compression: client
                .query_opt(include_str!("sql/cagg_compression.sql"), &[&mat_oid])
                .await
                .map_err(query_err(format!("compression settings of {name}")))?
                .map(|r| super::Compression {
                    segment_by: r.get("segment_by"),
                    order_by: r.get::<_, Option<String>>("order_by").unwrap_or_default(),
                    chunk_interval: r.get("chunk_interval"),
                }),
            indexes: indexes(client, &materialization, mat_oid).await?,
            comments,
            grants: Some(grants_of(client, &name, oid).await?),
            watermark: r.get("watermark"),
            threshold: r.get("threshold"),
            hypertable_invalidations: pairs("raw_lo", "raw_hi"),
            materialization_invalidations: pairs("mat_lo", "mat_hi"),
            other_reads: r
                .get::<_, Vec<String>>("other_read_schemas")
                .into_iter()
                .zip(r.get::<_, Vec<String>>("other_read_names"))
                .map(|(s, n)| QualifiedName::new(s, n))
                .collect(),
            jobs: r.get("jobs"),
            functions: super::around::functions_query(
                client,
                r.get("direct_oid"),
                &[],
                &format!("functions of {name}"),
            )
            .await?,
            name,
            oid,
            parent,
            materialization,
        };
        let user: Vec<Index> = cagg
            .indexes
            .iter()
            .filter(|i| !cagg.is_default_index(i))
            .cloned()
            .collect();
        cagg.indexes = user;
        out.push(cagg);
    }
    Ok(out)
}

/// The functions a hypertable's continuous aggregates call join those it needs.
pub(super) fn add_functions(h: Option<&Hypertable>, functions: &mut Vec<UserFunction>) {
    for f in h
        .iter()
        .flat_map(|h| &h.continuous_aggregates)
        .flat_map(|c| &c.functions)
    {
        if !functions.iter().any(|o| o.signature() == f.signature()) {
            functions.push(f.clone());
        }
    }
}

/// The jobs on the aggregates that do not move, named as the hypertable's features:
/// every one but the refresh, compression and retention policies, which move with
/// their aggregate (plan/jobs.rs).
pub(super) fn jobs_not_carried(caggs: &[ContinuousAggregate]) -> Vec<String> {
    const CARRIED: [&str; 3] = [
        "policy_refresh_continuous_aggregate (",
        "policy_compression (",
        "policy_retention (",
    ];
    caggs
        .iter()
        .flat_map(|c| {
            c.jobs
                .iter()
                .filter(|job| !CARRIED.iter().any(|p| job.starts_with(p)))
                .map(move |job| {
                    format!(
                        "background job {job} of continuous aggregate {} runs on it",
                        c.name
                    )
                })
        })
        .collect()
}
