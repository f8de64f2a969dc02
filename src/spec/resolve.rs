//! Stage two: turn the decoded spec into validated types, checking every value and
//! collecting every problem, each with its `file:line:col`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use super::raw::{IntOrText, RawDefaults, RawEndpoint, RawHypertable, RawSpec, RawTable};
use super::{
    ChunkInterval, DimensionSpec, Endpoint, HypertableSpec, MAX_WORKERS, Origin, Pattern,
    Positions, Spec, SpecError, SpecErrors, TableDefaults, TableSpec, TargetShape, TimeValue,
    parse_qualified_name,
};
use crate::pg::{ConnInfo, Defaults, QualifiedName};

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

/// Replace `${VAR}` and `${VAR:-default}` with values from `env`. A missing variable
/// is an error that names the variable, never a value.
pub fn interpolate(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or("unterminated `${` (write ${NAME} or ${NAME:-default})")?;
        let body = &after[..end];
        let (name, default) = match body.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (body, None),
        };
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(format!(
                "`${{{name}}}` is not a valid environment variable name"
            ));
        }
        match env(name)
            .filter(|v| !v.is_empty())
            .or(default.map(str::to_string))
        {
            Some(v) => out.push_str(&v),
            None => {
                return Err(format!(
                    "environment variable {name} is not set (write ${{{name}:-default}} to give a default)"
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
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

    fn ok<T>(&mut self, path: &str, r: Result<T, String>) -> Option<T> {
        r.map_err(|m| self.err(path, m)).ok()
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
            let Some(table) = self.table(i, t, &schema_map, &defaults) else {
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
            on_unsupported: raw.on_unsupported.unwrap_or_default(),
            max_window_rows,
            max_window_bytes,
            schema_map,
            include,
            exclude,
            defaults,
            tables,
        })
    }

    fn endpoint(&mut self, path: &str, raw: &RawEndpoint) -> Option<Endpoint> {
        match raw {
            RawEndpoint::Database(text) => self
                .conn(path, text)
                .map(|c| Endpoint::Database(Box::new(c))),
            RawEndpoint::Directory(d) => {
                let dir_path = format!("{path}.directory");
                let expanded = self.ok(&dir_path, interpolate(&d.directory, self.env))?;
                if expanded.trim().is_empty() {
                    self.err(&dir_path, "must not be empty");
                    return None;
                }
                Some(Endpoint::Directory(PathBuf::from(expanded)))
            }
        }
    }

    fn conn(&mut self, path: &str, text: &str) -> Option<ConnInfo> {
        let env = self.env;
        let expanded = self.ok(path, interpolate(text, env))?;
        let defaults = Defaults {
            env,
            pgpass: env("PGPASSFILE")
                .map(Into::into)
                .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass"))),
        };
        self.ok(
            path,
            ConnInfo::parse_with(&expanded, &defaults).map_err(|e| e.to_string()),
        )
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

    fn interval(&mut self, path: &str, v: &Option<IntOrText>) -> Option<ChunkInterval> {
        match v {
            None => None,
            Some(IntOrText::Int(n)) => self.ok(path, ChunkInterval::integer(*n)),
            Some(IntOrText::Text(s)) => self.ok(path, ChunkInterval::parse_time(s)),
        }
    }

    fn time(&mut self, path: &str, v: &Option<IntOrText>) -> Option<TimeValue> {
        match v {
            None => None,
            Some(IntOrText::Int(n)) => Some(TimeValue::Int(*n)),
            Some(IntOrText::Text(s)) => self.ok(path, parse_time(s)),
        }
    }

    fn defaults(&mut self, d: RawDefaults) -> TableDefaults {
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

    fn check_range(&mut self, path: &str, from: Option<TimeValue>, until: Option<TimeValue>) {
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

    fn table(
        &mut self,
        i: usize,
        t: RawTable,
        schema_map: &BTreeMap<String, String>,
        defaults: &TableDefaults,
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
            origin: Origin {
                label: base.clone(),
                position: self.pos.of(&base),
            },
        })
    }

    /// The shape from a `hypertable:` block, with its own `create_default_indexes`.
    fn shape(&mut self, path: &str, h: RawHypertable) -> Option<(TargetShape, Option<bool>)> {
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

    fn partitions(&mut self, path: &str, n: i64) -> Option<i16> {
        let ok = i16::try_from(n).ok().filter(|n| *n >= 1);
        if ok.is_none() {
            self.err(path, format!("must be between 1 and 32767, not {n}"));
        }
        ok
    }
}

fn ident(s: &str) -> Result<String, String> {
    if s.is_empty() {
        Err("must not be empty".into())
    } else if s.len() > MAX_IDENT_BYTES {
        Err(format!(
            "`{s}` is longer than PostgreSQL's {MAX_IDENT_BYTES}-byte limit"
        ))
    } else {
        Ok(s.to_string())
    }
}

/// `2025-01-01`, `2025-01-01T06:00:00Z`, `2025-01-01 06:00:00+02`, `2025-01-01T06:00:00`
/// (no offset means UTC).
fn parse_time(s: &str) -> Result<TimeValue, String> {
    let s = s.trim();
    let micros = DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_micros())
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z").map(|t| t.timestamp_micros()))
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
        .map_err(|_| {
            format!("`{s}` is not a time; write e.g. `2025-01-01` or `2025-01-01T06:00:00Z`, or an integer for integer time")
        })?;
    Ok(TimeValue::Micros(micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "DB_PASSWORD" => Some("s3cret".into()),
            "USER" => Some("tester".into()),
            _ => None,
        }
    }

    fn spec(text: &str) -> Result<Spec, SpecErrors> {
        parse(Path::new("spec.yaml"), text, &env)
    }

    const BASE: &str = "version: 1\nsource: postgresql://postgres@127.0.0.1:55417/demo\ntarget: postgresql://postgres@127.0.0.1:55418/demo\n";

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
    fn interpolation_and_its_errors_never_show_values() {
        let s = spec("version: 1\nsource: postgresql://app:${DB_PASSWORD}@h/db\ntarget: postgresql://app@${TARGET_HOST:-t.example}/db\ntables: [{name: a}]\n").unwrap();
        assert!(s.source.database().unwrap().has_password());
        assert_eq!(s.target.to_string(), "app@t.example:5432/db");
        let e = spec("version: 1\nsource: postgresql://app:${DB_PASSWORD}@h/db?x=${MISSING}\ntarget: postgresql://t/db\ntables: [{name: a}]\n").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("spec.yaml:2:9: source: environment variable MISSING is not set"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
    }

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
