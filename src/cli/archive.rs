//! `backup`, `restore`, `dump-db` and `restore-db`.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use super::progress::Shown;
use super::run::exit_of;
use super::specs::{generated_spec, yaml_dir, yaml_text};
use super::{confirm, connect_target, load, stop_on_ctrl_c};
use crate::Error;
use crate::ops::{self, Settings};
use crate::plan;
use crate::spec::{Spec, VerifyLevel};

/// `backup`: write the spec's tables to its target directory.
pub(super) async fn cmd_backup(
    spec: &Spec,
    compression: crate::archive::manifest::Compression,
    verify: Option<VerifyLevel>,
    workers: Option<u16>,
) -> Result<u8, Error> {
    use crate::archive::backup::{self, BackupError, BackupOptions};
    let stop = stop_on_ctrl_c();
    let opts = BackupOptions {
        workers: workers.map(usize::from).unwrap_or(spec.workers),
        compression,
        verify: match verify.unwrap_or(spec.verify) {
            VerifyLevel::Checksum | VerifyLevel::ChecksumSql => VerifyLevel::Checksum,
            // Row counts are always recorded.
            _ => VerifyLevel::Count,
        },
        stop,
    };
    let started = std::time::Instant::now();
    let result = backup::backup(spec, &opts, &|f, n, total| {
        println!(
            "  ✓ {}  {} rows  {}  ({n}/{total})",
            f.path,
            f.rows,
            plan::render_bytes(f.bytes)
        );
    })
    .await;
    match result {
        Ok(summary) => {
            let m = &summary.manifest;
            let dir = spec.target.directory().expect("checked by backup");
            println!(
                "\nBackup complete: {} tables, {} rows, {} files in {} ({} written by this run, {}) in {:.1}s",
                m.tables.len(),
                m.tables.iter().map(|t| t.rows).sum::<u64>(),
                m.tables.iter().map(|t| t.files.len()).sum::<usize>(),
                dir.display(),
                summary.written,
                plan::render_bytes(summary.bytes),
                started.elapsed().as_secs_f64()
            );
            println!(
                "Restore it with: hypermove restore {} --target URL",
                dir.display()
            );
            Ok(0)
        }
        Err(e @ BackupError::Refused(_)) => Err(Error::refused(e)),
        Err(e @ BackupError::Plan(_)) => Err(Error::refused(e)),
        Err(e @ BackupError::Interrupted { .. }) => Err(Error::Interrupted(e.to_string())),
        Err(e) => Err(Error::runtime(e)),
    }
}

/// `restore`: a backup directory into a database, checked, planned, confirmed, run.
pub(super) async fn cmd_restore(
    path: &Path,
    target: Option<&str>,
    yes: bool,
    workers: Option<u16>,
    verify: Option<VerifyLevel>,
) -> Result<u8, Error> {
    use crate::archive::{manifest::Manifest, restore};
    let mut spec = if path.is_dir() {
        let target = target.ok_or_else(|| {
            Error::refused(
                "restore DIR needs --target URL (or give a spec whose source is the directory)",
            )
        })?;
        generated_spec(&yaml_dir(path), &yaml_text(target), &[], &[])?
    } else {
        if target.is_some() {
            return Err(Error::refused(
                "--target goes with a backup directory; a spec names its own target",
            ));
        }
        load(path)?
    };
    if let Some(v) = verify {
        spec.verify = v;
    }
    let dir = spec
        .source
        .directory()
        .ok_or_else(|| {
            Error::refused(format!(
                "{}: the source is a database; `hypermove restore` reads `source: {{directory: PATH}}` (use `hypermove apply` to move between databases)",
                spec.path.display()
            ))
        })?
        .to_path_buf();
    let target_info = spec.target_db().map_err(Error::refused)?.clone();
    let manifest = Manifest::read(&dir).map_err(Error::refused)?;
    let chosen = restore::selection(&spec, &manifest).map_err(Error::refused)?;

    // Every file is checked before anything is written.
    let started = std::time::Instant::now();
    let tables: Vec<usize> = chosen.iter().map(|(_, i)| *i).collect();
    restore::check_files(&dir, &manifest, &tables).map_err(Error::refused)?;
    let files: usize = tables.iter().map(|&t| manifest.tables[t].files.len()).sum();
    let bytes: u64 = tables
        .iter()
        .flat_map(|&t| manifest.tables[t].files.iter().map(|f| f.bytes))
        .sum();
    eprintln!(
        "hypermove: checked {files} files ({}) against the manifest in {:.1}s",
        plan::render_bytes(bytes),
        started.elapsed().as_secs_f64()
    );

    let target = connect_target(&target_info, "hypermove restore").await?;
    let prepared = restore::inputs(&spec, &dir, &manifest, chosen, &target)
        .await
        .map_err(|e| match e {
            restore::RestoreError::Plan(p) => Error::from(p),
            e => Error::refused(e),
        })?;
    let plan = prepared.plan(&spec)?;
    print!("{}", plan::render_text(&plan, false));
    if !plan.has_changes() {
        println!("Nothing to do.");
        return Ok(0);
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::refused(
                "refusing to restore without confirmation: standard input is not a terminal; review the plan above, then pass --yes",
            ));
        }
        if !confirm(
            "\nDo you want to restore into this target? Only 'yes' will be accepted: ",
            "yes",
        )? {
            return Err(Error::runtime("restore cancelled; nothing was written"));
        }
    }
    // The rows come from the files: there is no source snapshot to share.
    let settings = Settings::resolve(&spec, workers, Duration::from_secs(300), true);
    let stop = stop_on_ctrl_c();
    let end = ops::apply::run(
        &target_info,
        None,
        &plan,
        None,
        target,
        None,
        &settings,
        stop,
        &Shown::default(),
    )
    .await?;
    exit_of(end)
}

/// `dump-db`: pg_dump of a whole database plus its manifest.
pub(super) async fn cmd_dump_db(source: &str, dir: &Path, pg_dump: &Path) -> Result<u8, Error> {
    use crate::archive::whole_db;
    let opts = whole_db::DumpOptions {
        source: crate::pg::ConnInfo::parse(source).map_err(Error::refused)?,
        dir: dir.to_path_buf(),
        pg_dump: pg_dump.to_path_buf(),
    };
    let manifest = whole_db::dump(&opts, &|line| eprintln!("hypermove: {line}"))
        .await
        .map_err(whole_db_error)?;
    print!("{}", whole_db::render_dump(&manifest, dir));
    Ok(0)
}

/// `restore-db`: a dump-db directory into a new database, verified against the manifest.
pub(super) async fn cmd_restore_db(
    dir: &Path,
    target: &str,
    pg_restore: &Path,
    jobs: u16,
    no_owner: bool,
) -> Result<u8, Error> {
    use crate::archive::whole_db;
    let opts = whole_db::RestoreOptions {
        dir: dir.to_path_buf(),
        target: crate::pg::ConnInfo::parse(target).map_err(Error::refused)?,
        pg_restore: pg_restore.to_path_buf(),
        jobs,
        no_owner,
    };
    let report = whole_db::restore(&opts, &|line| eprintln!("hypermove: {line}"))
        .await
        .map_err(whole_db_error)?;
    print!("{}", whole_db::render_restore(&report, dir));
    if !report.ok() {
        return Err(Error::Mismatch(
            "verification failed: the restored database does not match the dump".into(),
        ));
    }
    Ok(0)
}

/// A whole-database error as the CLI reports it, with the exit code it means.
fn whole_db_error(e: crate::archive::whole_db::WholeDbError) -> Error {
    match e.exit_code() {
        1 => Error::runtime(e),
        _ => Error::refused(e),
    }
}
