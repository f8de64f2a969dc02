//! The dump's table of contents (`pg_restore --list`), split into the runs a
//! restore makes.
//!
//! A plain `pg_restore -j N` loses every row of a TimescaleDB database: the
//! `_timescaledb_catalog` tables have foreign keys between them, so their data must
//! be loaded serially, before everything else. And restore-db creates the extension
//! itself (in exactly the dump's version), so the dump's own entries for it are left
//! out.

use std::path::Path;

use super::Result;
use super::error::WholeDbError;
use crate::pg::tools;

/// Catalog schemas whose table data is restored serially, before everything else:
/// the catalog tables have foreign keys between them, and `_timescaledb_config.bgw_job`
/// references the catalog's hypertables.
const SERIAL_DATA_SCHEMAS: &[&str] = &["_timescaledb_catalog", "_timescaledb_config"];

/// The dump's table of contents, split into what restore-db runs when.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Toc {
    /// TimescaleDB catalog table data: restored serially, before any other data.
    catalog_data: Vec<String>,
    /// Everything else that is restored.
    rest: Vec<String>,
    /// Entries restore-db creates itself: the extension, its comment (and its schema).
    left_out: Vec<String>,
}

/// One pg_restore run.
pub(super) struct Phase {
    /// What the progress lines and errors call it.
    pub name: String,
    /// The stem of its `--use-list` file.
    pub file: &'static str,
    /// Its TOC entries, as `pg_restore --list` printed them.
    pub entries: Vec<String>,
    /// The `--section`s it restores.
    pub sections: Vec<&'static str>,
    /// Its `--jobs`.
    pub jobs: u16,
}

impl Toc {
    /// Split `pg_restore -l` output. Entry lines read
    /// `ID; TABLEOID OID DESC NAMESPACE TAG OWNER`; only fixed prefixes are matched,
    /// so a user's name can never move an entry out of the restore.
    pub(super) fn split(listing: &str, timescaledb: bool, ts_schema: &str) -> Toc {
        let mut toc = Toc::default();
        for line in listing.lines() {
            if line.trim().is_empty() || line.trim_start().starts_with(';') {
                continue;
            }
            let body = line
                .split_once("; ")
                .map(|(_, rest)| rest.splitn(3, ' ').nth(2).unwrap_or_default())
                .unwrap_or_default();
            let is = |prefix: &str| {
                body.strip_prefix(prefix)
                    .is_some_and(|after| after.is_empty() || after.starts_with(' '))
            };
            if timescaledb
                && (is("EXTENSION - timescaledb")
                    || is("COMMENT - EXTENSION timescaledb")
                    || (ts_schema != "public" && is(&format!("SCHEMA - {ts_schema}"))))
            {
                toc.left_out.push(line.to_string());
            } else if timescaledb
                && SERIAL_DATA_SCHEMAS
                    .iter()
                    .any(|s| body.starts_with(&format!("TABLE DATA {s} ")))
            {
                toc.catalog_data.push(line.to_string());
            } else {
                toc.rest.push(line.to_string());
            }
        }
        toc
    }

    /// The three runs: all definitions; the catalog's data, serially; the rest of the
    /// data and the post-data (indexes, constraints, triggers) with `jobs` jobs.
    pub(super) fn phases(&self, jobs: u16) -> Vec<Phase> {
        let all: Vec<String> = self
            .catalog_data
            .iter()
            .chain(&self.rest)
            .cloned()
            .collect();
        vec![
            Phase {
                name: "pre-data".into(),
                file: "pre-data",
                entries: all,
                sections: vec!["pre-data"],
                jobs: 1,
            },
            Phase {
                name: "TimescaleDB catalog data (serial)".into(),
                file: "catalog",
                entries: self.catalog_data.clone(),
                sections: vec!["data"],
                jobs: 1,
            },
            Phase {
                name: format!("data and post-data (--jobs {jobs})"),
                file: "rest",
                entries: self.rest.clone(),
                sections: vec!["data", "post-data"],
                jobs,
            },
        ]
    }
}

/// `pg_restore -l`: the dump's table of contents.
pub(super) async fn listing(program: &Path, shown: &str, dump: &Path) -> Result<String> {
    let mut cmd = tools::command(program, None);
    cmd.arg("--list").arg(dump);
    let out = tools::run(cmd, "pg_restore", shown).await?;
    if !out.status.success() {
        return Err(WholeDbError::Unreadable {
            file: dump.display().to_string(),
            source: tools::failure(&out, None),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = ";\n; Selected TOC Entries:\n;\n\
2; 3079 817386 EXTENSION - timescaledb \n\
4066; 0 0 COMMENT - EXTENSION timescaledb \n\
282; 1259 818147 TABLE public conditions postgres\n\
3739; 0 817408 TABLE DATA _timescaledb_catalog hypertable postgres\n\
3753; 0 817557 TABLE DATA _timescaledb_config bgw_job postgres\n\
4057; 0 818158 TABLE DATA _timescaledb_internal _hyper_1_1_chunk postgres\n\
4070; 0 0 SEQUENCE SET _timescaledb_catalog chunk_id_seq postgres\n\
9; 0 0 COMMENT - EXTENSION timescaledbx \n\
3888; 2606 818150 FK CONSTRAINT public conditions conditions_device_id_fkey postgres\n";

    #[test]
    fn toc_leaves_out_the_extension_and_serialises_the_catalog() {
        let toc = Toc::split(LISTING, true, "public");
        assert_eq!(toc.left_out.len(), 2);
        assert!(toc.left_out[0].starts_with("2;"));
        assert!(toc.left_out[1].starts_with("4066;"));
        let ids = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|l| l.split(';').next().unwrap().to_string())
                .collect()
        };
        assert_eq!(ids(&toc.catalog_data), ["3739", "3753"]);
        assert_eq!(ids(&toc.rest), ["282", "4057", "4070", "9", "3888"]);
        let phases = toc.phases(4);
        assert_eq!(phases[0].entries.len(), 7);
        assert_eq!(phases[1].jobs, 1);
        assert_eq!(phases[2].jobs, 4);
        // Without TimescaleDB, nothing is special.
        let plain = Toc::split(LISTING, false, "public");
        assert!(plain.left_out.is_empty() && plain.catalog_data.is_empty());
    }

    #[test]
    fn toc_leaves_out_a_non_public_extension_schema() {
        let listing = "5; 2615 100 SCHEMA - ts postgres\n6; 2615 101 SCHEMA - tsx postgres\n";
        let toc = Toc::split(listing, true, "ts");
        assert_eq!(toc.left_out.len(), 1);
        assert_eq!(toc.rest.len(), 1);
    }
}
