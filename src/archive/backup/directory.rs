//! The backup directory's own records: `backup.json` (the running backup's plan) and
//! `files.jsonl` (the files finished so far), read when a backup starts or resumes.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{BackupError, io};
use crate::archive::manifest::{self, Compression, FILES, FileEntry, STATE};
use crate::spec::VerifyLevel;

/// The running backup's plan, kept in `backup.json` so a resumed run can check it
/// continues the same backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct State {
    pub(super) source_fingerprint: String,
    pub(super) compression: Compression,
    pub(super) verify: VerifyLevel,
    pub(super) snapshot_time: String,
    pub(super) resumed_snapshots: Vec<String>,
    pub(super) windows: Vec<String>,
}

/// A finished file, as one line of `files.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Done {
    pub(super) table: usize,
    #[serde(flatten)]
    pub(super) file: FileEntry,
}

/// A backup directory opened for writing: its state, the files an earlier run
/// finished, and `files.jsonl` open for appending.
pub(super) struct Opened {
    pub(super) state: State,
    pub(super) done: BTreeMap<String, Done>,
    pub(super) journal: std::fs::File,
}

/// Start a backup in `dir`, or resume the same one (blocking file work).
pub(super) fn open_directory(
    dir: &Path,
    fingerprint: &str,
    windows: Vec<String>,
    compression: Compression,
    verify: VerifyLevel,
    snapshot_time: String,
) -> Result<Opened, BackupError> {
    let state_path = dir.join(STATE);
    let state = match std::fs::read_to_string(&state_path) {
        Ok(text) => {
            let mut state: State = serde_json::from_str(&text).map_err(|e| {
                BackupError::Refused(format!("{}: unreadable ({e})", state_path.display()))
            })?;
            if state.source_fingerprint != fingerprint || state.windows != windows {
                return Err(BackupError::Refused(format!(
                    "{} holds an interrupted backup of a different source state (tables, columns or chunks changed); back up into a new directory",
                    dir.display()
                )));
            }
            if state.compression != compression || state.verify != verify {
                return Err(BackupError::Refused(format!(
                    "{} holds an interrupted backup made with --compression {:?} and --verify {}; resume it with the same options",
                    dir.display(),
                    state.compression,
                    state.verify.label()
                )));
            }
            state.resumed_snapshots.push(snapshot_time);
            state
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
                return Err(BackupError::Refused(format!(
                    "{} is not empty and holds no backup; choose an empty or new directory",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            State {
                source_fingerprint: fingerprint.to_string(),
                compression,
                verify,
                snapshot_time,
                resumed_snapshots: Vec::new(),
                windows,
            }
        }
        Err(e) => return Err(io(&state_path, e)),
    };
    manifest::write_atomically(
        &state_path,
        serde_json::to_string_pretty(&state)
            .expect("state serializes")
            .as_bytes(),
    )
    .map_err(|e| io(&state_path, e))?;

    // Files finished earlier: listed in files.jsonl, and still there at full size.
    let files_path = dir.join(FILES);
    let mut done: BTreeMap<String, Done> = BTreeMap::new();
    if let Ok(f) = std::fs::File::open(&files_path) {
        for line in std::io::BufReader::new(f).lines() {
            let Ok(line) = line else { break };
            // A line cut short by a crash is not an entry.
            let Ok(entry) = serde_json::from_str::<Done>(&line) else {
                continue;
            };
            let size = std::fs::metadata(dir.join(&entry.file.path)).map(|m| m.len());
            if size.is_ok_and(|s| s == entry.file.bytes) {
                done.insert(entry.file.window.clone(), entry);
            }
        }
    }
    let journal = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&files_path)
        .map_err(|e| io(&files_path, e))?;
    Ok(Opened {
        state,
        done,
        journal,
    })
}
