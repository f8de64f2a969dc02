//! Table entries, `defaults:`, and the `from:`/`until:` time bounds.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use super::Resolver;
use crate::pg::QualifiedName;
use crate::spec::raw::{IntOrText, RawCompression, RawDefaults, RawTable};
use crate::spec::{
    ChunkInterval, CompressionSpec, Origin, TableDefaults, TableSpec, TargetShape, Threshold,
    TimeValue, is_interval_text, parse_qualified_name,
};

impl Resolver<'_> {
    pub(super) fn interval(&mut self, path: &str, v: &Option<IntOrText>) -> Option<ChunkInterval> {
        match v {
            None => None,
            Some(IntOrText::Int(n)) => self.ok(path, ChunkInterval::integer(*n)),
            Some(IntOrText::Text(s)) => self.ok(path, ChunkInterval::parse_time(s)),
        }
    }

    /// A `compression:` block; `enabled: false` takes no other key.
    fn compression(&mut self, path: &str, c: RawCompression) -> Option<CompressionSpec> {
        if c.enabled == Some(false) {
            let other = [
                ("segment_by", c.segment_by.is_some()),
                ("order_by", c.order_by.is_some()),
                ("compress_after", c.compress_after.is_some()),
            ]
            .into_iter()
            .find(|(_, set)| *set);
            if let Some((key, _)) = other {
                self.err(
                    &format!("{path}.{key}"),
                    format!("`enabled: false` moves the table uncompressed, so `{key}` has no effect; remove one of them"),
                );
                return None;
            }
        }
        if let Some(columns) = &c.segment_by {
            if let Some(i) = columns.iter().position(|c| c.trim().is_empty()) {
                self.err(&format!("{path}.segment_by[{i}]"), "must not be empty");
                return None;
            }
        }
        if c.order_by.as_deref().is_some_and(|o| o.trim().is_empty()) {
            self.err(&format!("{path}.order_by"), "must not be empty");
            return None;
        }
        let compress_after = match &c.compress_after {
            None => None,
            Some(IntOrText::Int(n)) if *n > 0 => Some(Threshold::Integer(*n)),
            Some(IntOrText::Text(t)) if is_interval_text(t) => {
                Some(Threshold::Interval(t.trim().to_string()))
            }
            Some(_) => {
                self.err(
                    &format!("{path}.compress_after"),
                    "must be an interval such as `7 days` or `1 year`, or a positive integer for integer time",
                );
                return None;
            }
        };
        Some(CompressionSpec {
            enabled: c.enabled,
            segment_by: c.segment_by,
            order_by: c.order_by,
            compress_after,
        })
    }

    pub(super) fn time(&mut self, path: &str, v: &Option<IntOrText>) -> Option<TimeValue> {
        match v {
            None => None,
            Some(IntOrText::Int(n)) => Some(TimeValue::Int(*n)),
            Some(IntOrText::Text(s)) => self.ok(path, parse_time(s)),
        }
    }

    pub(super) fn defaults(&mut self, d: RawDefaults) -> TableDefaults {
        let out = TableDefaults {
            chunk_time_interval: self
                .interval("defaults.chunk_time_interval", &d.chunk_time_interval),
            create_default_indexes: d.create_default_indexes,
            from: self.time("defaults.from", &d.from),
            until: self.time("defaults.until", &d.until),
        };
        self.check_range("defaults", out.from, out.until);
        out
    }

    pub(super) fn check_range(
        &mut self,
        path: &str,
        from: Option<TimeValue>,
        until: Option<TimeValue>,
    ) {
        if let (Some(f), Some(u)) = (from, until) {
            let same_kind = matches!(
                (f, u),
                (TimeValue::Int(_), TimeValue::Int(_))
                    | (TimeValue::Micros(_), TimeValue::Micros(_))
            );
            if !same_kind {
                self.err(
                    &format!("{path}.until"),
                    "`from` and `until` must both be times or both integers",
                );
            } else if f >= u {
                self.err(
                    &format!("{path}.until"),
                    "`until` must be after `from` (from is inclusive, until exclusive)",
                );
            }
        }
    }

    pub(super) fn table(
        &mut self,
        i: usize,
        t: RawTable,
        schema_map: &BTreeMap<String, String>,
        defaults: &TableDefaults,
        tablespace_map: &BTreeMap<String, String>,
    ) -> Option<TableSpec> {
        let base = format!("tables[{i}]");
        let source = self.ok(&format!("{base}.name"), parse_qualified_name(&t.name));
        let target = match &t.target {
            Some(name) => self.ok(&format!("{base}.target"), parse_qualified_name(name)),
            None => source.as_ref().map(|s| {
                let schema = schema_map.get(&s.schema).unwrap_or(&s.schema);
                QualifiedName::new(schema.clone(), s.name.clone())
            }),
        };
        let hpath = format!("{base}.hypertable");
        let keep_exactly = t
            .hypertable
            .as_ref()
            .is_some_and(|h| h.keep_source_layout == Some(true));
        let shape = match t.hypertable {
            None => Some((TargetShape::Keep, None)),
            Some(h) => self.shape(&hpath, h),
        };
        let from = self
            .time(&format!("{base}.from"), &t.from)
            .or(defaults.from);
        let until = self
            .time(&format!("{base}.until"), &t.until)
            .or(defaults.until);
        self.check_range(&base, from, until);
        // The entry's own mappings over the spec's, as `target:` over `schema_map:`.
        let mut table_tablespaces = tablespace_map.clone();
        table_tablespaces
            .extend(self.tablespace_map(&format!("{base}.tablespace_map"), t.tablespace_map));
        let compression = t
            .compression
            .map(|c| self.compression(&format!("{base}.compression"), c));
        let (shape, own_default_indexes) = shape?;
        // `keep_source_layout: true` means exactly the source's layout: no defaults.
        let default_chunk_time_interval = match (&shape, own_default_indexes) {
            (TargetShape::Keep, _) if keep_exactly => None,
            _ => defaults.chunk_time_interval,
        };
        let create_default_indexes = own_default_indexes
            .or(defaults.create_default_indexes)
            .unwrap_or(true);
        Some(TableSpec {
            source: source?,
            target: target?,
            shape,
            create_default_indexes,
            default_chunk_time_interval,
            from,
            until,
            tablespace_map: table_tablespaces,
            compression: compression.flatten(),
            origin: Origin {
                label: base.clone(),
                position: self.pos.of(&base),
            },
        })
    }
}

/// Text that is not a time `from:`/`until:` accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a time; write e.g. `2025-01-01` or `2025-01-01T06:00:00Z`, or an integer for integer time"
)]
struct TimeError(String);

/// `2025-01-01`, `2025-01-01T06:00:00Z`, `2025-01-01 06:00:00+02`, `2025-01-01T06:00:00`
/// (no offset means UTC).
fn parse_time(s: &str) -> Result<TimeValue, TimeError> {
    let s = s.trim();
    let micros = DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_micros())
        .or_else(|_| {
            DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z").map(|t| t.timestamp_micros())
        })
        .or_else(|_| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
                .map(|t| t.and_utc().timestamp_micros())
        })
        .or_else(|_| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| {
                d.and_hms_opt(0, 0, 0)
                    .expect("midnight exists")
                    .and_utc()
                    .timestamp_micros()
            })
        })
        .map_err(|_| TimeError(s.to_string()))?;
    Ok(TimeValue::Micros(micros))
}
