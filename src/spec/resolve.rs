//! Stage two: turn the decoded spec into validated types, checking every value and
//! collecting every problem, each with its `file:line:col`.
//!
//! The resolver is split by what it resolves: this file holds the whole spec and the
//! error collection; `endpoint` the connections, directories and `${VAR}`
//! interpolation; `table` the table entries, `defaults:` and time bounds;
//! `hypertable` the `hypertable:` blocks.

mod endpoint;
mod hypertable;
mod table;
mod tablespace;

use std::collections::BTreeMap;
use std::path::Path;

use super::raw::RawSpec;
use super::{Endpoint, MAX_WORKERS, Pattern, Positions, Spec, SpecError, SpecErrors};
use crate::pg::QualifiedName;

pub use endpoint::{InterpolateError, interpolate};

/// PostgreSQL's identifier length limit, in bytes.
const MAX_IDENT_BYTES: usize = 63;

/// Parse and resolve spec text. `env` answers `${VAR}` and the PG* variables.
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Spec, SpecErrors> {
    let raw: RawSpec = serde_yaml::from_str(text).map_err(|e| {
        let mut message = e.to_string();
        // The crate appends " at line L column C"; the position goes up front instead.
        if let Some(idx) = message.rfind(" at line ") {
            message.truncate(idx);
        }
        // serde reports a duplicate key without a position; find the second one.
        let duplicate = message
            .split("duplicate field `")
            .nth(1)
            .and_then(|rest| rest.split('`').next())
            .and_then(|name| Positions::index(text).duplicate(name));
        SpecErrors(vec![SpecError {
            file: path.to_path_buf(),
            position: duplicate.or(e.location().map(|l| (l.line(), l.column()))),
            message: suggest(&message),
        }])
    })?;
    let mut r = Resolver {
        file: path,
        pos: Positions::index(text),
        errors: Vec::new(),
        env,
    };
    let spec = r.spec(raw);
    if r.errors.is_empty() {
        Ok(spec.expect("no errors means a spec"))
    } else {
        r.errors
            .sort_by(|a, b| a.position.cmp(&b.position).then(a.message.cmp(&b.message)));
        r.errors.dedup();
        Err(SpecErrors(r.errors))
    }
}

/// Turn serde's `unknown field `x`, expected one of `a`, `b`` into a suggestion.
fn suggest(message: &str) -> String {
    let Some(start) = message.find("unknown field `") else {
        return message.to_string();
    };
    let prefix = &message[..start];
    let rest = &message[start + "unknown field `".len()..];
    let Some(end) = rest.find('`') else {
        return message.to_string();
    };
    let unknown = &rest[..end];
    let expected: Vec<&str> = rest[end + 1..].split('`').skip(1).step_by(2).collect();
    let nearest = expected
        .iter()
        .map(|k| (strsim::levenshtein(unknown, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2) || k.contains(unknown) || unknown.contains(k))
        .min();
    match nearest {
        Some((_, k)) => format!("{prefix}unknown key `{unknown}`, did you mean `{k}`?"),
        None if expected.is_empty() => format!("{prefix}unknown key `{unknown}`"),
        None => format!(
            "{prefix}unknown key `{unknown}` (expected one of: {})",
            expected.join(", ")
        ),
    }
}

struct Resolver<'a> {
    file: &'a Path,
    pos: Positions,
    errors: Vec<SpecError>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Resolver<'_> {
    fn err(&mut self, path: &str, message: impl Into<String>) {
        let message = message.into();
        let message = if path.is_empty() {
            message
        } else {
            format!("{path}: {message}")
        };
        self.errors.push(SpecError {
            file: self.file.to_path_buf(),
            position: self.pos.of(path).or(Some((1, 1))),
            message,
        });
    }

    /// The value, or `None` with the error's message recorded at `path`.
    fn ok<T, E: std::fmt::Display>(&mut self, path: &str, r: Result<T, E>) -> Option<T> {
        r.map_err(|e| self.err(path, e.to_string())).ok()
    }

    fn spec(&mut self, raw: RawSpec) -> Option<Spec> {
        if raw.version != 1 {
            self.err(
                "version",
                format!(
                    "unsupported spec version {}; this hypermove reads version 1",
                    raw.version
                ),
            );
        }
        let source = self.endpoint("source", &raw.source);
        let target = self.endpoint("target", &raw.target);
        if let (Some(Endpoint::Directory(_)), Some(Endpoint::Directory(_))) = (&source, &target) {
            self.err(
                "target",
                "source and target are both directories; one of them must be a database",
            );
        }
        let workers = match raw.workers {
            None => Some(4),
            Some(n) if (1..=MAX_WORKERS as i64).contains(&n) => Some(n as usize),
            Some(n) => {
                self.err(
                    "workers",
                    format!("must be between 1 and {MAX_WORKERS}, not {n}"),
                );
                None
            }
        };
        let max_window_rows = self.positive("max_window_rows", raw.max_window_rows);
        let max_window_bytes = self.positive("max_window_bytes", raw.max_window_bytes);

        let mut schema_map = BTreeMap::new();
        for (from, to) in raw.schema_map.unwrap_or_default() {
            let path = format!("schema_map.{from}");
            if let Some(to) = self.ok(&path, ident(&to)) {
                schema_map.insert(from, to);
            }
        }
        let tablespace_map = self.tablespace_map("tablespace_map", raw.tablespace_map);
        let defaults = self.defaults(raw.defaults.unwrap_or_default());
        let include_given = raw.include.as_ref().is_some_and(|i| !i.is_empty());
        let include = self.patterns("include", raw.include.unwrap_or_default());
        let exclude = self.patterns("exclude", raw.exclude.unwrap_or_default());
        if !exclude.is_empty() && !include_given {
            self.err(
                "exclude",
                "`exclude:` only narrows `include:`; add an `include:` pattern",
            );
        }
        let raw_tables = raw.tables.unwrap_or_default();
        if raw_tables.is_empty() && !include_given {
            self.err(
                "",
                "no tables: list them under `tables:`, or select them with `include:`",
            );
        }

        let mut tables = Vec::with_capacity(raw_tables.len());
        let mut by_source: BTreeMap<QualifiedName, usize> = BTreeMap::new();
        let mut by_target: BTreeMap<QualifiedName, usize> = BTreeMap::new();
        for (i, t) in raw_tables.into_iter().enumerate() {
            let Some(table) = self.table(i, t, &schema_map, &defaults, &tablespace_map) else {
                continue;
            };
            if let Some(first) = by_source.insert(table.source.clone(), i) {
                self.err(
                    &format!("tables[{i}].name"),
                    format!("{} is listed twice (also tables[{first}])", table.source),
                );
            } else if let Some(first) = by_target.insert(table.target.clone(), i) {
                self.err(
                    &format!("tables[{i}]"),
                    format!(
                        "target {} is already the target of tables[{first}]",
                        table.target
                    ),
                );
            }
            tables.push(table);
        }
        if !self.errors.is_empty() {
            return None;
        }
        Some(Spec {
            path: self.file.to_path_buf(),
            source: source?,
            target: target?,
            workers: workers?,
            verify: raw.verify.unwrap_or_default(),
            grants: raw.grants.unwrap_or(false),
            grants_given: raw.grants.is_some(),
            on_unsupported: raw.on_unsupported.unwrap_or_default(),
            jobs: raw.jobs.unwrap_or_default(),
            max_window_rows,
            max_window_bytes,
            schema_map,
            tablespace_map,
            include,
            exclude,
            defaults,
            tables,
        })
    }

    fn positive(&mut self, path: &str, v: Option<i64>) -> Option<u64> {
        match v {
            Some(n) if n >= 1 => Some(n as u64),
            Some(n) => {
                self.err(path, format!("must be at least 1, not {n}"));
                None
            }
            None => None,
        }
    }

    fn patterns(&mut self, path: &str, list: Vec<String>) -> Vec<Pattern> {
        let mut out = Vec::new();
        for (i, text) in list.into_iter().enumerate() {
            if let Some(p) = self.ok(&format!("{path}[{i}]"), Pattern::new(&text)) {
                out.push(p);
            }
        }
        out
    }
}

/// Why a schema name or prefix is not a PostgreSQL identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum IdentError {
    #[error("must not be empty")]
    Empty,
    #[error("`{0}` is longer than PostgreSQL's {max}-byte limit", max = MAX_IDENT_BYTES)]
    TooLong(String),
}

fn ident(s: &str) -> Result<String, IdentError> {
    if s.is_empty() {
        Err(IdentError::Empty)
    } else if s.len() > MAX_IDENT_BYTES {
        Err(IdentError::TooLong(s.to_string()))
    } else {
        Ok(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{DimensionSpec, TargetShape};

    pub(super) fn env(k: &str) -> Option<String> {
        match k {
            "DB_PASSWORD" => Some("s3cret".into()),
            "USER" => Some("tester".into()),
            _ => None,
        }
    }

    pub(super) fn spec(text: &str) -> Result<Spec, SpecErrors> {
        parse(Path::new("spec.yaml"), text, &env)
    }

    pub(super) const BASE: &str = "version: 1\nsource: postgresql://postgres@127.0.0.1:55417/demo\ntarget: postgresql://postgres@127.0.0.1:55418/demo\n";

    #[test]
    fn reads_the_minimal_spec() {
        let s = spec(&format!(
            "{BASE}workers: 4\ntables:\n  - name: public.devices\n  - name: public.conditions\n    target: metrics.conditions\n    hypertable:\n      time_column: time\n      chunk_time_interval: 7 days\n      partitioning_column: device_id\n      number_partitions: 4\n"
        ))
        .unwrap();
        assert_eq!(s.workers, 4);
        assert_eq!(s.tables[0].shape, TargetShape::Keep);
        let TargetShape::Hypertable(h) = &s.tables[1].shape else {
            panic!()
        };
        assert_eq!(h.chunk_time_interval.unwrap().to_string(), "7 days");
        assert_eq!(
            h.dimensions,
            vec![DimensionSpec::Hash {
                column: "device_id".into(),
                number_partitions: 4,
                partitioning_func: None
            }]
        );
        assert_eq!(
            s.tables[1].target,
            QualifiedName::new("metrics", "conditions")
        );
        assert_eq!(s.tables[1].origin.position, Some((7, 5)));
    }

    #[test]
    fn unknown_key_suggests_the_nearest() {
        let e = spec(&format!(
            "{BASE}tables:\n  - name: public.conditions\n    hypertable:\n      time_column: time\n      chunk_interval: 7 days\n"
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "spec.yaml:8:7: tables[0].hypertable: unknown key `chunk_interval`, did you mean `chunk_time_interval`?"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_position() {
        let e = spec(&format!(
            "{BASE}workers: 0\ntables:\n  - name: public.a\n    hypertable:\n      time_column: t\n      chunk_time_interval: 0 days\n      number_partitions: 4\n  - name: public.b\n    target: public.a\n    from: 2025-02-01\n    until: 2025-01-01\n"
        ))
        .unwrap_err();
        let lines: Vec<String> = e.0.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            lines,
            [
                "spec.yaml:4:10: workers: must be between 1 and 64, not 0",
                "spec.yaml:9:28: tables[0].hypertable.chunk_time_interval: interval `0 days` must be positive",
                "spec.yaml:10:26: tables[0].hypertable.number_partitions: needs a partitioning_column to hash",
                "spec.yaml:11:5: tables[1]: target public.a is already the target of tables[0]",
                "spec.yaml:14:12: tables[1].until: `until` must be after `from` (from is inclusive, until exclusive)",
            ]
        );
    }

    #[test]
    fn schema_map_and_include_patterns() {
        let s = spec(&format!(
            "{BASE}schema_map: {{public: metrics}}\ninclude: ['public.*']\nexclude: ['public.tmp_*']\ntables:\n  - name: public.a\n  - name: public.b\n    target: other.b\n"
        ))
        .unwrap();
        assert_eq!(s.tables[0].target, QualifiedName::new("metrics", "a"));
        assert_eq!(s.tables[1].target, QualifiedName::new("other", "b"));
        assert!(s.include[0].matches(&QualifiedName::new("public", "x")));
        assert!(s.exclude[0].matches(&QualifiedName::new("public", "tmp_1")));
        assert!(!s.exclude[0].matches(&QualifiedName::new("public", "x")));
        let e = spec(&format!("{BASE}include: ['public.[']\n")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("spec.yaml:4:11: include[0]: invalid pattern `public.[`"),
            "{e}"
        );
    }
}
