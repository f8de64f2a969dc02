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
