//! The shape a table takes on the target: plain, or a hypertable with these
//! dimensions; decided from the spec, or kept from the source's own layout.

use super::{Inputs, Layout};
use crate::catalog::{DimensionKind, Hypertable, Table, TimeType};
use crate::spec::{ChunkInterval, DimensionSpec, TableSpec, TargetShape};

/// The shape a table will have on the target.
#[derive(Debug, Clone)]
pub(super) enum Shape {
    Plain,
    Hypertable {
        time_column: String,
        time_type: TimeType,
        /// `None` takes TimescaleDB's default.
        interval: Option<ChunkInterval>,
        extra: Vec<Extra>,
        time_partitioning_func: Option<String>,
        associated_schema_name: Option<String>,
        associated_table_prefix: Option<String>,
        /// Carried only when the function exists on the target or the plan creates it.
        integer_now_func: Option<String>,
    },
}

/// A dimension beyond the primary time dimension.
#[derive(Debug, Clone)]
pub(super) enum Extra {
    Hash {
        column: String,
        partitions: i16,
        func: Option<String>,
    },
    Range {
        column: String,
        interval: ChunkInterval,
    },
}

/// Decide the target shape from the spec, or keep the source's.
pub(super) fn shape_of(t: &TableSpec, table: &Table, inputs: &Inputs) -> Result<Shape, String> {
    let h = match &t.shape {
        TargetShape::Plain => return Ok(Shape::Plain),
        TargetShape::Keep => {
            return Ok(match &table.hypertable {
                None => Shape::Plain,
                Some(src) => keep_layout(table, src, t.default_chunk_time_interval, inputs)?,
            });
        }
        TargetShape::Hypertable(h) => h,
    };
    let col = table.column(&h.time_column).ok_or_else(|| {
        format!(
            "time_column `{}` is not a column of {}",
            h.time_column, table.name
        )
    })?;
    let time_type = TimeType::from_oid(col.type_oid).ok_or_else(|| {
        format!(
            "time_column `{}` has type {}; a hypertable needs timestamptz, timestamp, date or an integer type",
            h.time_column, col.type_sql
        )
    })?;
    // Without an interval: the spec's default if it fits the column, else the
    // source hypertable's own (on the same column), else TimescaleDB's.
    let fits = |i: &ChunkInterval| {
        matches!(i, ChunkInterval::Integer(_)) == (time_type == TimeType::Integer)
    };
    let interval = h
        .chunk_time_interval
        .or(t.default_chunk_time_interval.filter(fits))
        .or_else(|| {
            let src = table.hypertable.as_ref()?.dimensions.first()?;
            match src.kind {
                DimensionKind::Range { width, integer, .. } if src.column == h.time_column => {
                    Some(if integer {
                        ChunkInterval::Integer(width)
                    } else {
                        ChunkInterval::Time { micros: width }
                    })
                }
                _ => None,
            }
        });
    match (time_type, interval) {
        (TimeType::Integer, Some(ChunkInterval::Time { .. })) => {
            return Err(format!(
                "time_column `{}` is an integer; give chunk_time_interval as an integer in the column's units",
                h.time_column
            ));
        }
        (TimeType::Integer, None) => {
            return Err(format!(
                "time_column `{}` is an integer; chunk_time_interval is required",
                h.time_column
            ));
        }
        (
            TimeType::TimestampTz | TimeType::Timestamp | TimeType::Date,
            Some(ChunkInterval::Integer(_)),
        ) => {
            return Err(format!(
                "time_column `{}` is {}; give chunk_time_interval as an interval such as `7 days`",
                h.time_column, col.type_sql
            ));
        }
        _ => {}
    }
    if h.integer_now_func.is_some() && time_type != TimeType::Integer {
        return Err(format!(
            "integer_now_func applies to integer time columns; `{}` is {}",
            h.time_column, col.type_sql
        ));
    }
    let needs = |f: &Option<String>| -> Result<(), String> {
        match f {
            Some(f)
                if !inputs.target_functions.contains(f) && !super::functions::carried(f, table) =>
            {
                Err(format!(
                    "function {f} does not exist on the target; create it there first"
                ))
            }
            _ => Ok(()),
        }
    };
    needs(&h.time_partitioning_func)?;
    needs(&h.integer_now_func)?;
    let mut extra = Vec::new();
    for d in &h.dimensions {
        let (column, e) = match d {
            DimensionSpec::Hash {
                column,
                number_partitions,
                partitioning_func,
            } => {
                needs(partitioning_func)?;
                (
                    column,
                    Extra::Hash {
                        column: column.clone(),
                        partitions: *number_partitions,
                        func: partitioning_func.clone(),
                    },
                )
            }
            DimensionSpec::Range {
                column,
                chunk_time_interval,
            } => (
                column,
                Extra::Range {
                    column: column.clone(),
                    interval: *chunk_time_interval,
                },
            ),
        };
        if table.column(column).is_none() {
            return Err(format!(
                "partitioning column `{column}` is not a column of {}",
                table.name
            ));
        }
        if *column == h.time_column {
            return Err(format!(
                "`{column}` is the time_column; it cannot be partitioned again"
            ));
        }
        extra.push(e);
    }
    Ok(Shape::Hypertable {
        time_column: h.time_column.clone(),
        time_type,
        interval,
        extra,
        time_partitioning_func: h.time_partitioning_func.clone(),
        associated_schema_name: h.associated_schema_name.clone(),
        associated_table_prefix: h.associated_table_prefix.clone(),
        integer_now_func: h.integer_now_func.clone(),
    })
}

/// The source hypertable's own layout, dimension for dimension; `interval`, when
/// given (from `defaults:`) and of the column's kind, replaces the primary chunk width.
fn keep_layout(
    table: &Table,
    src: &Hypertable,
    interval: Option<ChunkInterval>,
    inputs: &Inputs,
) -> Result<Shape, String> {
    let mut dims = src.dimensions.iter();
    let first = dims
        .next()
        .ok_or("the source hypertable has no dimensions")?;
    let DimensionKind::Range {
        width,
        integer,
        integer_now_func,
    } = &first.kind
    else {
        return Err("the source hypertable's first dimension is not a range".into());
    };
    let col = table
        .column(&first.column)
        .ok_or_else(|| format!("dimension column `{}` is missing", first.column))?;
    let time_type = TimeType::from_oid(col.type_oid).ok_or_else(|| {
        format!(
            "dimension column `{}` has unsupported type {}",
            first.column, col.type_sql
        )
    })?;
    let own = |width: i64, integer: bool| {
        if integer {
            ChunkInterval::Integer(width)
        } else {
            ChunkInterval::Time { micros: width }
        }
    };
    // A default interval of the other kind (time vs integer) does not apply here.
    let interval = interval
        .filter(|i| matches!(i, ChunkInterval::Integer(_)) == *integer)
        .unwrap_or_else(|| own(*width, *integer));
    let extra = dims
        .map(|d| match &d.kind {
            DimensionKind::Hash { partitions } => Extra::Hash {
                column: d.column.clone(),
                partitions: *partitions,
                func: None,
            },
            DimensionKind::Range { width, integer, .. } => Extra::Range {
                column: d.column.clone(),
                interval: own(*width, *integer),
            },
        })
        .collect();
    Ok(Shape::Hypertable {
        time_column: first.column.clone(),
        time_type,
        interval: Some(interval),
        extra,
        time_partitioning_func: None,
        associated_schema_name: None,
        associated_table_prefix: None,
        // Carried when the target has the function or the plan creates it (see
        // `functions`); otherwise the plan warns.
        integer_now_func: integer_now_func
            .clone()
            .filter(|f| inputs.target_functions.contains(f) || super::functions::carried(f, table)),
    })
}

/// The column a table's windows are cut on, and its type family. A hypertable source
/// is cut on its own primary dimension, the one its chunks' ranges are on, whatever
/// the target partitions by: a range on any other column would leave out the chunk's
/// rows that fall outside it. A plain source is cut on the target's time column.
pub(super) fn time_of(table: &Table, shape: &Shape) -> Option<(String, TimeType)> {
    if let Some(h) = &table.hypertable {
        let first = h.dimensions.first()?;
        let tt = TimeType::from_oid(table.column(&first.column)?.type_oid)?;
        return Some((first.column.clone(), tt));
    }
    match shape {
        Shape::Hypertable {
            time_column,
            time_type,
            ..
        } => Some((time_column.clone(), *time_type)),
        Shape::Plain => None,
    }
}

/// How the source table looks, for the before → after summary.
pub(super) fn source_layout(table: &Table) -> Layout {
    let (chunk_interval, hash_partitions) = match &table.hypertable {
        None => (None, 0),
        Some(h) => {
            let interval = h.dimensions.iter().find_map(|d| match d.kind {
                DimensionKind::Range { width, integer, .. } => Some(if integer {
                    ChunkInterval::Integer(width).to_string()
                } else {
                    ChunkInterval::Time { micros: width }.to_string()
                }),
                DimensionKind::Hash { .. } => None,
            });
            let hash = h
                .dimensions
                .iter()
                .map(|d| match d.kind {
                    DimensionKind::Hash { partitions } => partitions as u32,
                    DimensionKind::Range { .. } => 0,
                })
                .sum();
            (interval, hash)
        }
    };
    Layout {
        description: describe_source(table),
        chunks: table.hypertable.as_ref().map(|h| h.chunks.len()),
        compressed_chunks: table
            .hypertable
            .as_ref()
            .map_or(0, |h| h.chunks.iter().filter(|c| c.compressed).count()),
        chunk_interval,
        hash_partitions,
    }
}

/// `plain table`, or the source hypertable's dimensions.
fn describe_source(table: &Table) -> String {
    match &table.hypertable {
        None => "plain table".into(),
        Some(h) => {
            let dims: Vec<String> = h
                .dimensions
                .iter()
                .map(|d| match &d.kind {
                    DimensionKind::Range { width, integer, .. } => {
                        let i = if *integer {
                            ChunkInterval::Integer(*width)
                        } else {
                            ChunkInterval::Time { micros: *width }
                        };
                        format!("{} every {i}", d.column)
                    }
                    DimensionKind::Hash { partitions } => {
                        format!("{} in {partitions} hash partitions", d.column)
                    }
                })
                .collect();
            format!("hypertable: {}", dims.join(", "))
        }
    }
}

/// `plain table`, or the target hypertable's dimensions.
fn describe_shape(shape: &Shape) -> String {
    match shape {
        Shape::Plain => "plain table".into(),
        Shape::Hypertable {
            time_column,
            interval,
            extra,
            ..
        } => {
            let mut dims = vec![match interval {
                Some(i) => format!("{time_column} every {i}"),
                None => format!("{time_column} every 7 days (TimescaleDB default)"),
            }];
            for e in extra {
                dims.push(match e {
                    Extra::Hash {
                        column, partitions, ..
                    } => {
                        format!("{column} in {partitions} hash partitions")
                    }
                    Extra::Range { column, interval } => format!("{column} every {interval}"),
                });
            }
            format!("hypertable: {}", dims.join(", "))
        }
    }
}

/// How the target table will look, for the before → after summary. It has no
/// chunks yet; TimescaleDB's default chunk interval is 7 days.
pub(super) fn target_layout(shape: &Shape) -> Layout {
    Layout {
        description: describe_shape(shape),
        chunks: None,
        compressed_chunks: 0,
        chunk_interval: match shape {
            Shape::Plain => None,
            Shape::Hypertable { interval, .. } => Some(
                interval
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "7 days".into()),
            ),
        },
        hash_partitions: match shape {
            Shape::Plain => 0,
            Shape::Hypertable { extra, .. } => extra
                .iter()
                .map(|e| match e {
                    Extra::Hash { partitions, .. } => *partitions as u32,
                    Extra::Range { .. } => 0,
                })
                .sum(),
        },
    }
}
