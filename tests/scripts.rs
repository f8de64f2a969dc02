//! The project's own scripts: what they may and may not assume about the machine.

mod common;

use common::root;

/// The sandbox takes Debian packages from mmdebstrap's own default mirror, or the
/// one the user names in `HYPERMOVE_DEBIAN_MIRROR`; no script names a mirror host.
#[test]
fn scripts_name_no_distribution_mirror() {
    for dir in ["scripts", "bench", ".ci"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if !path.is_file() {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            for host in ["debian.org", "debian.net", "ubuntu.com"] {
                assert!(
                    !text.contains(host),
                    "{} names the mirror host {host}",
                    path.display()
                );
            }
        }
    }
    let sandbox = std::fs::read_to_string(root().join("scripts/sandbox")).unwrap();
    assert!(sandbox.contains("HYPERMOVE_DEBIAN_MIRROR"));
}

/// No file the project tracks holds a merge's conflict markers.
#[test]
fn no_tracked_file_holds_conflict_markers() {
    let out = std::process::Command::new("git")
        .args(["ls-files"])
        .current_dir(root())
        .output()
        .expect("git ls-files");
    assert!(out.status.success());
    let files = String::from_utf8(out.stdout).unwrap();
    let mut found = Vec::new();
    for file in files.lines() {
        let Ok(text) = std::fs::read_to_string(root().join(file)) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if line.starts_with("<<<<<<< ") || line.starts_with(">>>>>>> ") {
                found.push(format!("{file}:{}", i + 1));
            }
        }
    }
    assert!(found.is_empty(), "conflict markers at {found:?}");
}
