//! TimescaleDB compression (columnstore) through a backup: what the manifest records
//! of each hypertable at the snapshot, and how a restore turns that record back into
//! the source facts the planner compresses from.
//!
//! The catalog's `Table` travels in the manifest too, but a chunk's compressed state is
//! not part of it (it changes under a live source and stays out of fingerprints). So the
//! manifest says it in its own fields (`columnstore` per table, `source_compressed` per
//! file), and the restore sets the chunks' state from them before it plans: the restore
//! then compresses exactly as a live move from that source would, slice by slice as the
//! windows land, with the same policies, refusals and `verify:<t>:compression` check.

use super::manifest::{Columnstore, FileEntry};
use crate::catalog::Table;
use crate::plan::WindowBounds;

/// What a backup records of a table's compression: `None` for a plain table or a
/// hypertable with neither compression nor policies.
pub fn record(table: &Table) -> Option<Columnstore> {
    let h = table.hypertable.as_ref()?;
    if h.compression.is_none() && h.policies.is_empty() {
        return None;
    }
    Some(Columnstore {
        settings: h.compression.clone(),
        policies: h.policies.clone(),
        compressed_chunks: h
            .chunks
            .iter()
            .filter(|c| c.compressed)
            .map(|c| c.name.clone())
            .collect(),
    })
}

/// Whether a window was read from compressed chunks only: every source chunk that
/// overlaps it is compressed, and at least one does.
pub fn window_compressed(table: &Table, bounds: &WindowBounds) -> bool {
    let Some(h) = &table.hypertable else {
        return false;
    };
    let mut overlapping = h.chunks.iter().filter(|c| {
        let below_hi = match (c.range_start, bounds.hi) {
            (Some(start), Some(hi)) => start < hi,
            _ => true,
        };
        let above_lo = match (c.range_end, bounds.lo) {
            (Some(end), Some(lo)) => end > lo,
            _ => true,
        };
        below_hi && above_lo
    });
    let mut any = false;
    overlapping.all(|c| {
        any = true;
        c.compressed
    }) && any
}

/// Mark the files of a table whose windows were read from compressed chunks.
pub fn mark_files(table: &Table, files: &mut [FileEntry]) {
    for f in files {
        f.source_compressed = window_compressed(table, &f.bounds);
    }
}

/// The source table as a restore plans it: its compression, policies and compressed
/// chunks as the manifest's record says. Without a record (a format-1 manifest), the
/// table restores uncompressed and without policies, as before format 2; when the
/// embedded catalog shows it had some, the returned warning says they are not
/// restored. A record naming a chunk the catalog does not list is an inconsistent
/// manifest: refused.
pub fn restore_table(
    table: &mut Table,
    record: Option<&Columnstore>,
) -> Result<Option<String>, String> {
    let name = table.name.clone();
    let Some(h) = table.hypertable.as_mut() else {
        return match record {
            Some(_) => Err(format!(
                "the manifest records compression for {name}, which its catalog says is a plain table"
            )),
            None => Ok(None),
        };
    };
    let Some(record) = record else {
        let had = h.compression.is_some() || !h.policies.is_empty();
        h.compression = None;
        h.policies.clear();
        for c in &mut h.chunks {
            c.compressed = false;
        }
        return Ok(had.then(|| {
            format!(
                "{name}: restored uncompressed and without its policies: the backup's manifest does not record which chunks were compressed (a backup by an older hypermove); a `compression:` block in the restore spec compresses it with the settings it gives"
            )
        }));
    };
    if let Some(missing) = record
        .compressed_chunks
        .iter()
        .find(|n| !h.chunks.iter().any(|c| &c.name == *n))
    {
        return Err(format!(
            "the manifest records {missing} of {name} as compressed, but its catalog does not list that chunk"
        ));
    }
    h.compression = record.settings.clone();
    h.policies = record.policies.clone();
    for c in &mut h.chunks {
        c.compressed = record.compressed_chunks.contains(&c.name);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Compression, JobPolicy, JobPolicyAfter, JobPolicyKind};
    use crate::plan::StepKind;
    use crate::plan::testkit::*;

    const T: &str =
        "  - name: public.t\n    hypertable: {time_column: time, chunk_time_interval: 7 days}\n";

    /// `public.t`: 10 daily chunks from 2025-01-01, the first 8 compressed, segmented
    /// by `device`, with a compression policy.
    fn source() -> Table {
        let mut t = hyper("public.t", 1, 10);
        t.columns.push(column("device", 23, "integer"));
        let h = t.hypertable.as_mut().unwrap();
        for c in h.chunks.iter_mut().take(8) {
            c.compressed = true;
        }
        h.compression = Some(Compression {
            segment_by: vec!["device".into()],
            order_by: "\"time\" DESC".into(),
            chunk_interval: None,
        });
        h.policies = vec![JobPolicy {
            kind: JobPolicyKind::Compression,
            job_id: 1000,
            after: JobPolicyAfter::Interval("100 years".into()),
            schedule_interval: "06:00:00".into(),
            scheduled: true,
            other_settings: Vec::new(),
        }];
        t
    }

    /// The table as the manifest's catalog carries it: the chunks' state is not there.
    fn from_manifest(t: &Table) -> Table {
        serde_json::from_value(serde_json::to_value(t).unwrap()).unwrap()
    }

    fn plan_of(t: Table) -> crate::plan::Plan {
        let s = spec("verify: checksum\n", T);
        let mut i = inputs(&s, vec![t]);
        i.target_server.timescaledb_license = Some("timescale".into());
        i.target_server.timescaledb = Some("2.29.2".into());
        plan(&s, &i)
    }

    #[test]
    fn the_record_names_the_settings_policies_and_compressed_chunks() {
        let t = source();
        let r = record(&t).unwrap();
        assert_eq!(r.settings.as_ref().unwrap().segment_by, ["device"]);
        assert_eq!(r.policies.len(), 1);
        let names: Vec<String> = r.compressed_chunks.iter().map(|n| n.to_string()).collect();
        assert_eq!(names.len(), 8);
        assert_eq!(names[0], "_timescaledb_internal._hyper_1_0_chunk");
        // Nothing to record for a table without compression or policies.
        assert!(record(&hyper("public.u", 2, 3)).is_none());
        assert!(record(&plain("public.p", 3)).is_none());
    }

    #[test]
    fn a_backup_is_format_2_only_when_it_records_compression() {
        let entry = |t: &Table| crate::archive::manifest::TableEntry {
            name: t.name.clone(),
            layout: String::new(),
            columns: Vec::new(),
            header: Vec::new(),
            rows: 0,
            files: Vec::new(),
            columnstore: record(t),
        };
        use crate::archive::manifest::format_version_for;
        let plain_only = [
            entry(&plain("public.p", 3)),
            entry(&hyper("public.u", 2, 3)),
        ];
        assert_eq!(format_version_for(&plain_only), 1);
        assert_eq!(format_version_for(&[entry(&source())]), 2);
    }

    #[test]
    fn a_window_is_compressed_when_every_chunk_it_reads_is() {
        let t = source();
        let day = 86_400_000_000i64;
        let jan1 = t.hypertable.as_ref().unwrap().chunks[0]
            .range_start
            .unwrap();
        let w = |lo: i64, hi: i64| WindowBounds {
            time: None,
            lo: Some(jan1 + lo * day),
            hi: Some(jan1 + hi * day),
        };
        assert!(window_compressed(&t, &w(0, 1)));
        assert!(window_compressed(&t, &w(3, 8)));
        assert!(!window_compressed(&t, &w(7, 9)), "day 9 is not compressed");
        assert!(!window_compressed(&t, &w(20, 21)), "no chunk there");
        assert!(
            !window_compressed(&t, &WindowBounds::default()),
            "the whole table"
        );
    }

    #[test]
    fn a_restore_compresses_as_the_record_says_and_a_format_1_manifest_does_not() {
        let live = plan_of(source());
        let compress = live.count(StepKind::Compress);
        assert!(compress > 0);

        // Through the manifest the chunks' state is lost, and the record brings it back.
        let r = record(&source());
        let mut restored = from_manifest(&source());
        assert!(
            restored
                .hypertable
                .as_ref()
                .unwrap()
                .chunks
                .iter()
                .all(|c| !c.compressed),
            "the catalog in the manifest does not carry the chunks' state"
        );
        assert_eq!(restore_table(&mut restored, r.as_ref()), Ok(None));
        let p = plan_of(restored);
        assert_eq!(p.count(StepKind::Compress), compress);
        assert_eq!(p.count(StepKind::Policy), 1);
        assert!(ids(&p, StepKind::Verify).contains(&"verify:public.t:compression".to_string()));

        // Without a record: uncompressed, no policies, no compression check, and said.
        let mut old = from_manifest(&source());
        let warning = restore_table(&mut old, None).unwrap().unwrap();
        assert!(
            warning.contains("public.t: restored uncompressed"),
            "{warning}"
        );
        let p = plan_of(old);
        assert_eq!(p.count(StepKind::Compress), 0);
        assert_eq!(p.count(StepKind::Compression), 0);
        assert_eq!(p.count(StepKind::Policy), 0);
        // A table that never had any says nothing.
        let mut plain_old = hyper("public.t", 1, 3);
        assert_eq!(restore_table(&mut plain_old, None), Ok(None));
    }

    #[test]
    fn a_record_that_its_catalog_contradicts_is_refused() {
        let mut r = record(&source()).unwrap();
        r.compressed_chunks
            .push(qn("_timescaledb_internal._hyper_9_9_chunk"));
        let err = restore_table(&mut from_manifest(&source()), Some(&r)).unwrap_err();
        assert!(err.contains("_hyper_9_9_chunk"), "{err}");
        let err = restore_table(&mut plain("public.p", 3), Some(&r)).unwrap_err();
        assert!(err.contains("plain table"), "{err}");
    }
}
