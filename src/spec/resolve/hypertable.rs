//! `hypertable:` blocks: the target's shape, in `create_hypertable`'s own terms.

use std::collections::BTreeSet;

use super::{Resolver, ident};
use crate::spec::raw::RawHypertable;
use crate::spec::{DimensionSpec, HypertableSpec, TargetShape};

impl Resolver<'_> {
    /// The shape from a `hypertable:` block, with its own `create_default_indexes`.
    pub(super) fn shape(
        &mut self,
        path: &str,
        h: RawHypertable,
    ) -> Option<(TargetShape, Option<bool>)> {
        let given: Vec<&str> = [
            ("time_column", h.time_column.is_some()),
            ("chunk_time_interval", h.chunk_time_interval.is_some()),
            ("partitioning_column", h.partitioning_column.is_some()),
            ("number_partitions", h.number_partitions.is_some()),
            ("partitioning_func", h.partitioning_func.is_some()),
            ("time_partitioning_func", h.time_partitioning_func.is_some()),
            ("associated_schema_name", h.associated_schema_name.is_some()),
            (
                "associated_table_prefix",
                h.associated_table_prefix.is_some(),
            ),
            ("create_default_indexes", h.create_default_indexes.is_some()),
            ("dimensions", h.dimensions.is_some()),
            ("integer_now_func", h.integer_now_func.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        let keep = h.keep_source_layout == Some(true);
        let plain = h.plain == Some(true);
        if keep && plain {
            self.err(
                &format!("{path}.plain"),
                "`plain: true` and `keep_source_layout: true` contradict each other",
            );
            return None;
        }
        if keep || plain {
            let key = if keep { "keep_source_layout" } else { "plain" };
            if let Some(other) = given.first() {
                self.err(
                    &format!("{path}.{other}"),
                    format!("`{key}: true` takes no other keys, but `{other}` is set"),
                );
                return None;
            }
            return Some(if keep {
                (TargetShape::Keep, None)
            } else {
                (TargetShape::Plain, None)
            });
        }
        let time_column = match h.time_column.as_deref() {
            Some(c) if !c.is_empty() => Some(c.to_string()),
            Some(_) => {
                self.err(&format!("{path}.time_column"), "must not be empty");
                None
            }
            None => {
                self.err(
                    path,
                    "time_column is required (or write `keep_source_layout: true` or `plain: true`)",
                );
                None
            }
        };
        let chunk_time_interval = self.interval(
            &format!("{path}.chunk_time_interval"),
            &h.chunk_time_interval,
        );
        let mut dimensions = Vec::new();
        match (&h.partitioning_column, h.number_partitions) {
            (None, None) => {
                if h.partitioning_func.is_some() {
                    self.err(
                        &format!("{path}.partitioning_func"),
                        "needs a partitioning_column to hash",
                    );
                }
            }
            (Some(_), None) => self.err(
                &format!("{path}.partitioning_column"),
                "needs number_partitions (at least 1)",
            ),
            (None, Some(_)) => self.err(
                &format!("{path}.number_partitions"),
                "needs a partitioning_column to hash",
            ),
            (Some(column), Some(n)) => {
                if let Some(n) = self.partitions(&format!("{path}.number_partitions"), n) {
                    dimensions.push(DimensionSpec::Hash {
                        column: column.clone(),
                        number_partitions: n,
                        partitioning_func: h.partitioning_func.clone(),
                    });
                }
            }
        }
        for (i, d) in h.dimensions.iter().flatten().enumerate() {
            let dpath = format!("{path}.dimensions[{i}]");
            if d.column.is_empty() {
                self.err(&format!("{dpath}.column"), "must not be empty");
                continue;
            }
            match (d.number_partitions, &d.chunk_time_interval) {
                (Some(n), None) => {
                    if let Some(n) = self.partitions(&format!("{dpath}.number_partitions"), n) {
                        dimensions.push(DimensionSpec::Hash {
                            column: d.column.clone(),
                            number_partitions: n,
                            partitioning_func: d.partitioning_func.clone(),
                        });
                    }
                }
                (None, Some(_)) => {
                    if d.partitioning_func.is_some() {
                        self.err(&format!("{dpath}.partitioning_func"), "only a hash dimension (number_partitions) has one");
                    }
                    if let Some(iv) = self.interval(&format!("{dpath}.chunk_time_interval"), &d.chunk_time_interval) {
                        dimensions.push(DimensionSpec::Range {
                            column: d.column.clone(),
                            chunk_time_interval: iv,
                        });
                    }
                }
                (Some(_), Some(_)) => self.err(
                    &dpath,
                    "give number_partitions (a hash dimension) or chunk_time_interval (a range dimension), not both",
                ),
                (None, None) => self.err(
                    &dpath,
                    "needs number_partitions (a hash dimension) or chunk_time_interval (a range dimension)",
                ),
            }
        }
        let mut seen = BTreeSet::new();
        if let Some(t) = &time_column {
            seen.insert(t.clone());
        }
        for d in &dimensions {
            let column = match d {
                DimensionSpec::Hash { column, .. } | DimensionSpec::Range { column, .. } => column,
            };
            if !seen.insert(column.clone()) {
                self.err(
                    &format!("{path}.dimensions"),
                    format!("column `{column}` is partitioned twice"),
                );
            }
        }
        let associated_schema_name = h
            .associated_schema_name
            .as_deref()
            .and_then(|s| self.ok(&format!("{path}.associated_schema_name"), ident(s)));
        let associated_table_prefix = h
            .associated_table_prefix
            .as_deref()
            .and_then(|s| self.ok(&format!("{path}.associated_table_prefix"), ident(s)));
        for (key, v) in [
            ("partitioning_func", &h.partitioning_func),
            ("time_partitioning_func", &h.time_partitioning_func),
            ("integer_now_func", &h.integer_now_func),
        ] {
            if v.as_deref() == Some("") {
                self.err(&format!("{path}.{key}"), "must not be empty");
            }
        }
        Some((
            TargetShape::Hypertable(HypertableSpec {
                time_column: time_column?,
                chunk_time_interval,
                time_partitioning_func: h.time_partitioning_func,
                dimensions,
                associated_schema_name,
                associated_table_prefix,
                integer_now_func: h.integer_now_func,
            }),
            h.create_default_indexes,
        ))
    }

    pub(super) fn partitions(&mut self, path: &str, n: i64) -> Option<i16> {
        let ok = i16::try_from(n).ok().filter(|n| *n >= 1);
        if ok.is_none() {
            self.err(path, format!("must be between 1 and 32767, not {n}"));
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{BASE, spec};
    use crate::spec::{ChunkInterval, TargetShape};

    #[test]
    fn shapes_keep_plain_and_dimensions() {
        let s = spec(&format!(
            "{BASE}defaults:\n  chunk_time_interval: 1 day\n  create_default_indexes: false\ntables:\n  - name: a\n  - name: b\n    hypertable: {{plain: true}}\n  - name: c\n    hypertable: {{keep_source_layout: true}}\n  - name: d\n    hypertable:\n      time_column: t\n      dimensions:\n        - {{column: x, number_partitions: 2}}\n        - {{column: y, chunk_time_interval: 1000}}\n"
        ))
        .unwrap();
        let day = ChunkInterval::parse_time("1 day").ok();
        assert_eq!(s.tables[0].shape, TargetShape::Keep);
        assert_eq!(s.tables[0].default_chunk_time_interval, day);
        assert_eq!(s.tables[1].shape, TargetShape::Plain);
        assert_eq!(s.tables[2].shape, TargetShape::Keep);
        assert_eq!(s.tables[2].default_chunk_time_interval, None);
        let TargetShape::Hypertable(h) = &s.tables[3].shape else {
            panic!()
        };
        assert_eq!(h.dimensions.len(), 2);
        assert_eq!(h.chunk_time_interval, None);
        assert_eq!(s.tables[3].default_chunk_time_interval, day);
        assert!(!s.tables[3].create_default_indexes);
        let e = spec(&format!(
            "{BASE}tables:\n  - name: b\n    hypertable: {{plain: true, time_column: t}}\n"
        ))
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("`plain: true` takes no other keys, but `time_column` is set"),
            "{e}"
        );
    }
}
