//! `tablespace_map:`, at the top level and in a table entry: source tablespace →
//! target tablespace, both PostgreSQL identifiers.

use std::collections::BTreeMap;

use super::{IdentError, Resolver, ident};
use crate::spec::SpecError;

/// Why a `tablespace_map` entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum TablespaceMapError {
    /// The name is no identifier.
    #[error("tablespace {0}")]
    Name(IdentError),
    /// `pg_default` as a source: tables in the default tablespace have no name for it.
    #[error(
        "`pg_default` cannot be mapped: tables in the source's default tablespace are created in the target's default; only named tablespaces are mapped"
    )]
    DefaultAsSource,
    /// `pg_global` on either side: it holds the shared system catalogs only.
    #[error(
        "`pg_global` holds PostgreSQL's shared catalogs only; no table is in it or can go there"
    )]
    Global,
}

fn source_name(s: &str) -> Result<String, TablespaceMapError> {
    match s {
        "pg_default" => Err(TablespaceMapError::DefaultAsSource),
        "pg_global" => Err(TablespaceMapError::Global),
        _ => ident(s).map_err(TablespaceMapError::Name),
    }
}

fn target_name(s: &str) -> Result<String, TablespaceMapError> {
    match s {
        "pg_global" => Err(TablespaceMapError::Global),
        _ => ident(s).map_err(TablespaceMapError::Name),
    }
}

impl Resolver<'_> {
    /// A `tablespace_map` block at `path` (`tablespace_map`, `tables[0].tablespace_map`);
    /// a bad source name is reported at its key, a bad target name at its value.
    pub(super) fn tablespace_map(
        &mut self,
        path: &str,
        raw: Option<BTreeMap<String, String>>,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (from, to) in raw.unwrap_or_default() {
            let at = format!("{path}.{from}");
            let from_ok = match source_name(&from) {
                Ok(name) => Some(name),
                Err(e) => {
                    self.errors.push(SpecError {
                        file: self.file.to_path_buf(),
                        position: self.pos.key(&at).or(Some((1, 1))),
                        message: format!("{at}: {e}"),
                    });
                    None
                }
            };
            let to_ok = self.ok(&at, target_name(&to));
            if let (Some(from), Some(to)) = (from_ok, to_ok) {
                out.insert(from, to);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{BASE, spec};

    #[test]
    fn a_tables_own_entries_win_over_the_top_level_ones() {
        let s = spec(&format!(
            "{BASE}tablespace_map: {{fast: ssd, slow: hdd}}\ntables:\n  - name: public.a\n    tablespace_map: {{fast: nvme, cold: pg_default}}\n  - name: public.b\n"
        ))
        .unwrap();
        let pairs = |m: &std::collections::BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| format!("{k}->{v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(pairs(&s.tablespace_map), "fast->ssd slow->hdd");
        assert_eq!(
            pairs(&s.tables[0].tablespace_map),
            "cold->pg_default fast->nvme slow->hdd"
        );
        assert_eq!(pairs(&s.tables[1].tablespace_map), "fast->ssd slow->hdd");
    }

    #[test]
    fn bad_names_are_reported_at_their_key_or_value() {
        let long = "t".repeat(64);
        let e = spec(&format!(
            "{BASE}tablespace_map:\n  pg_default: fast\n  ok: pg_global\n  other: {long}\ntables:\n  - name: public.a\n    tablespace_map: {{pg_global: x, '': y}}\n"
        ))
        .unwrap_err();
        let lines: Vec<String> = e.0.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            lines,
            [
                "spec.yaml:5:3: tablespace_map.pg_default: `pg_default` cannot be mapped: tables in the source's default tablespace are created in the target's default; only named tablespaces are mapped",
                "spec.yaml:6:7: tablespace_map.ok: `pg_global` holds PostgreSQL's shared catalogs only; no table is in it or can go there",
                format!("spec.yaml:7:10: tablespace_map.other: tablespace `{long}` is longer than PostgreSQL's 63-byte limit").as_str(),
                "spec.yaml:10:22: tables[0].tablespace_map.pg_global: `pg_global` holds PostgreSQL's shared catalogs only; no table is in it or can go there",
                "spec.yaml:10:36: tables[0].tablespace_map.: tablespace must not be empty",
            ]
        );
    }
}
