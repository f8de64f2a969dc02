//! The SQL of a continuous aggregate's own steps: its creation (`cagg:<view>`) and
//! its state (`cagg:<view>:watermark`). Pure.

use std::collections::BTreeSet;

use super::{Placed, time_type, windows};
use crate::catalog::{ContinuousAggregate, TimeType};
use crate::pg::{QualifiedName, quote_ident, quote_literal};
use crate::plan::views::Rename;
use crate::plan::window;
use crate::spec::ChunkInterval;

/// `public."m_hourly"` as a SQL string literal's content pair: (schema, name) literals.
pub(super) fn view_literals(name: &QualifiedName) -> (String, String) {
    (quote_literal(&name.schema), quote_literal(&name.name))
}

/// The statements of an aggregate's `cagg:` step: its source names for what it reads
/// (in `temporary_schemas` made for the moment), `CREATE MATERIALIZED VIEW … WITH
/// (timescaledb.continuous, …) AS <query> WITH NO DATA` (which refreshes nothing), the
/// target names back, its materialization's chunk interval and compression, its
/// indexes and comments. The first lines say what happens to its buckets.
pub(in crate::plan) fn create_sql(
    p: &Placed<'_>,
    temporary_schemas: &BTreeSet<String>,
    ts_schema: &str,
) -> Vec<String> {
    let c = p.cagg;
    let target = p.target.sql();
    let mut sql: Vec<String> = temporary_schemas
        .iter()
        .map(|s| format!("CREATE SCHEMA {}", quote_ident(s)))
        .collect();
    sql.extend(p.renames.iter().flat_map(Rename::to_source));
    let definition = c.definition.trim().trim_end_matches(';');
    sql.push(format!(
        "{}CREATE MATERIALIZED VIEW {target} WITH (timescaledb.continuous, timescaledb.materialized_only = {}) AS\n{definition}\nWITH NO DATA",
        describe(p),
        c.materialized_only
    ));
    sql.extend(p.renames.iter().rev().flat_map(Rename::to_target));
    sql.extend(
        temporary_schemas
            .iter()
            .map(|s| format!("DROP SCHEMA {}", quote_ident(s))),
    );
    let interval = if c.time_type == TimeType::Integer {
        ChunkInterval::Integer(c.chunk_interval)
    } else {
        ChunkInterval::Time {
            micros: c.chunk_interval,
        }
    };
    sql.push(format!(
        "SELECT {}.set_chunk_time_interval({}, {})",
        quote_ident(ts_schema),
        quote_literal(&target),
        interval.sql()
    ));
    if let Some(z) = &c.compression {
        let mut options = vec!["timescaledb.compress = true".to_string()];
        options.push(format!(
            "timescaledb.compress_segmentby = {}",
            quote_literal(
                &z.segment_by
                    .iter()
                    .map(|s| quote_ident(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        ));
        if !z.order_by.is_empty() {
            options.push(format!(
                "timescaledb.compress_orderby = {}",
                quote_literal(&z.order_by)
            ));
        }
        sql.push(format!(
            "ALTER MATERIALIZED VIEW {target} SET ({})",
            options.join(", ")
        ));
    }
    for i in &c.indexes {
        sql.push(format!(
            "CREATE {}INDEX {} ON {target} USING {} {}",
            if i.unique { "UNIQUE " } else { "" },
            quote_ident(&i.name),
            i.method,
            i.body
        ));
    }
    for (column, comment) in &c.comments {
        sql.push(match column {
            // The aggregate is a view to PostgreSQL: COMMENT ON MATERIALIZED VIEW
            // refuses it.
            None => format!("COMMENT ON VIEW {target} IS {}", quote_literal(comment)),
            Some(col) => format!(
                "COMMENT ON COLUMN {target}.{} IS {}",
                quote_ident(col),
                quote_literal(comment)
            ),
        });
    }
    sql
}

/// The plan's words on an aggregate's buckets, as SQL comment lines.
fn describe(p: &Placed<'_>) -> String {
    let c = p.cagg;
    let tt = time_type(c);
    let windows = windows(c);
    let copied = match (windows.first(), windows.last()) {
        (Some(first), Some(last)) => format!(
            "copied: its materialized buckets, {} window{} over the source's materialization chunks {}..{} (≈ {} rows)",
            windows.len(),
            if windows.len() == 1 { "" } else { "s" },
            window::label(first.lo, tt, "-inf"),
            window::label(last.hi, tt, "+inf"),
            windows.iter().map(|w| w.est_rows.unwrap_or(0)).sum::<u64>()
        ),
        _ => "copied: nothing, the source has no materialized bucket".to_string(),
    };
    let compressed = compressed_ranges(c).len();
    let copied = if compressed > 0 {
        format!(
            "{copied}, compressed where the source's are ({} range{})",
            compressed,
            if compressed == 1 { "" } else { "s" }
        )
    } else {
        copied
    };
    let after = if c.materialized_only {
        "materialized only"
    } else {
        "real-time above it"
    };
    format!(
        "-- continuous aggregate {} ({after})\n-- {copied}; refreshed: none\n-- then its watermark {} and invalidation threshold {} are set as the source's\n",
        c.name,
        window::label(Some(c.watermark), tt, "-inf"),
        window::label(c.threshold, tt, "unset"),
    )
}

/// The statements of an aggregate's `cagg:<view>:watermark` step, once its rows (and
/// those of what it reads) are on the target: its watermark, the invalidation
/// threshold of the hypertable it reads, and the pending invalidations of both, as
/// the source has them; then, with `grants: true`, its owner and grants. Rows are
/// found through the aggregate's target name, so the text is the same on any target.
pub(in crate::plan) fn state_sql(p: &Placed<'_>, grants: bool, ts_schema: &str) -> Vec<String> {
    let c = p.cagg;
    let (schema, name) = view_literals(&p.target);
    let agg = format!(
        "FROM _timescaledb_catalog.continuous_agg a WHERE a.user_view_schema = {schema} AND a.user_view_name = {name}"
    );
    let mut sql = vec![
        format!(
            "INSERT INTO _timescaledb_catalog.continuous_aggs_watermark (mat_hypertable_id, watermark) SELECT a.mat_hypertable_id, ({})::int8 {agg} ON CONFLICT (mat_hypertable_id) DO UPDATE SET watermark = excluded.watermark",
            c.watermark
        ),
        format!(
            "DELETE FROM _timescaledb_catalog.continuous_aggs_materialization_invalidation_log l USING _timescaledb_catalog.continuous_agg a WHERE a.user_view_schema = {schema} AND a.user_view_name = {name} AND l.materialization_id = a.mat_hypertable_id"
        ),
    ];
    if !c.materialization_invalidations.is_empty() {
        sql.push(format!(
            "INSERT INTO _timescaledb_catalog.continuous_aggs_materialization_invalidation_log (materialization_id, lowest_modified_value, greatest_modified_value) SELECT a.mat_hypertable_id, v.lo, v.hi FROM _timescaledb_catalog.continuous_agg a, (VALUES {}) AS v(lo, hi) WHERE a.user_view_schema = {schema} AND a.user_view_name = {name}",
            values(&c.materialization_invalidations)
        ));
    }
    match c.threshold {
        Some(threshold) => sql.push(format!(
            "INSERT INTO _timescaledb_catalog.continuous_aggs_invalidation_threshold (hypertable_id, watermark) SELECT a.raw_hypertable_id, ({threshold})::int8 {agg} ON CONFLICT (hypertable_id) DO UPDATE SET watermark = excluded.watermark"
        )),
        None => sql.push(format!(
            "DELETE FROM _timescaledb_catalog.continuous_aggs_invalidation_threshold t USING _timescaledb_catalog.continuous_agg a WHERE a.user_view_schema = {schema} AND a.user_view_name = {name} AND t.hypertable_id = a.raw_hypertable_id"
        )),
    }
    sql.push(format!(
        "DELETE FROM _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log l USING _timescaledb_catalog.continuous_agg a WHERE a.user_view_schema = {schema} AND a.user_view_name = {name} AND l.hypertable_id = a.raw_hypertable_id"
    ));
    if !c.hypertable_invalidations.is_empty() {
        sql.push(format!(
            "INSERT INTO _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log (hypertable_id, lowest_modified_value, greatest_modified_value) SELECT a.raw_hypertable_id, v.lo, v.hi FROM _timescaledb_catalog.continuous_agg a, (VALUES {}) AS v(lo, hi) WHERE a.user_view_schema = {schema} AND a.user_view_name = {name}",
            values(&c.hypertable_invalidations)
        ));
    }
    sql.extend(compress_sql(p, ts_schema));
    if grants {
        if let Some(g) = &c.grants {
            let target = p.target.sql();
            sql.push(format!(
                "ALTER MATERIALIZED VIEW {target} OWNER TO {}",
                quote_ident(&g.owner)
            ));
            for (grantee, privilege, grantable) in &g.grants {
                sql.push(format!(
                    "GRANT {privilege} ON {target} TO {}{}",
                    grantee.as_deref().map_or("PUBLIC".to_string(), quote_ident),
                    if *grantable { " WITH GRANT OPTION" } else { "" }
                ));
            }
        }
    }
    sql
}

/// The source's compressed materialization chunks, as ranges: the target compresses
/// its chunks wholly inside them once the rows are in (its materialization has the
/// source's chunk interval, so they are the same chunks). Only for a compressed
/// aggregate bucketed on `timestamptz` or an integer (show_chunks' own argument
/// types); other chunks are left to the aggregate's compression policy.
fn compressed_ranges(c: &ContinuousAggregate) -> Vec<(i64, i64)> {
    if c.compression.is_none() || !matches!(c.time_type, TimeType::TimestampTz | TimeType::Integer)
    {
        return Vec::new();
    }
    let mut out: Vec<(i64, i64)> = Vec::new();
    for ch in c.chunks.iter().filter(|ch| ch.compressed) {
        let (Some(lo), Some(hi)) = (ch.range_start, ch.range_end) else {
            continue;
        };
        match out.last_mut() {
            Some(last) if last.1 == lo => last.1 = hi,
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// `compress_chunk` for the target's chunks inside the source's compressed ranges.
fn compress_sql(p: &Placed<'_>, ts_schema: &str) -> Vec<String> {
    let ts = quote_ident(ts_schema);
    let tt = time_type(p.cagg);
    compressed_ranges(p.cagg)
        .into_iter()
        .map(|(lo, hi)| {
            format!(
                "SELECT count({ts}.compress_chunk(c, true)) FROM {ts}.show_chunks({}, older_than => {}, newer_than => {}) c",
                quote_literal(&p.target.sql()),
                window::literal(hi, tt),
                window::literal(lo, tt)
            )
        })
        .collect()
}

/// `(lo, hi), …` for a VALUES list of int8 pairs.
fn values(pairs: &[(i64, i64)]) -> String {
    pairs
        .iter()
        // Parenthesized: `-9223372036854775808::int8` casts before it negates.
        .map(|(lo, hi)| format!("(({lo})::int8, ({hi})::int8)"))
        .collect::<Vec<_>>()
        .join(", ")
}
