//! TLS with real certificate checks, against the sandbox's PostgreSQL 18, which
//! serves a certificate for `localhost` from the sandbox CA (scripts/sandbox).

mod common;

use std::path::PathBuf;

use common::*;
use predicates::prelude::*;

fn tls_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("HYPERMOVE_SANDBOX_DIR")
            .unwrap_or_else(|_| "/var/cache/hypermove-sandbox".into()),
    )
    .join("tls")
}

fn spec_with_target(dir: &std::path::Path, name: &str, db: &str, target: &str) -> String {
    write_spec(
        dir,
        name,
        &format!(
            "version: 1\nsource: {}\ntarget: \"{target}\"\ntables:\n  - name: public.t\n",
            url(SOURCE_PORT, db)
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

#[test]
fn sslmodes_check_certificates_for_real() {
    let db = "hm_tls";
    let mut src = fresh_db(SOURCE_PORT, db);
    src.batch_execute(
        "CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1), (2);",
    )
    .unwrap();
    fresh_db(TARGET_PORT, db);
    let ca = tls_dir().join("ca.crt");
    let other = tls_dir().join("other-ca.crt");
    assert!(
        ca.exists(),
        "the sandbox CA is missing: run scripts/sandbox up"
    );
    let dir = tempfile::tempdir().unwrap();
    let base = format!("port={TARGET_PORT} user=postgres dbname={db}");

    // verify-full with the right CA and the certificate's name: connects, encrypted.
    let ok = spec_with_target(
        dir.path(),
        "full.yaml",
        db,
        &format!(
            "{base} host=localhost sslmode=verify-full sslrootcert={}",
            ca.display()
        ),
    );
    hypermove()
        .args(["plan", &ok])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "target: postgres@localhost:{TARGET_PORT}/{db} over TLS"
        )));

    // A wrong CA is refused, and so is a host the certificate does not name.
    let wrong_ca = spec_with_target(
        dir.path(),
        "wrong-ca.yaml",
        db,
        &format!(
            "{base} host=localhost sslmode=verify-full sslrootcert={}",
            other.display()
        ),
    );
    hypermove()
        .args(["plan", &wrong_ca])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "invalid peer certificate: UnknownIssuer",
        ));
    let wrong_host = spec_with_target(
        dir.path(),
        "wrong-host.yaml",
        db,
        &format!(
            "{base} host=127.0.0.1 sslmode=verify-full sslrootcert={}",
            ca.display()
        ),
    );
    hypermove()
        .args(["plan", &wrong_host])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "certificate not valid for name \"127.0.0.1\"",
        ));
    // verify-ca checks the chain but not the name.
    let ca_only = spec_with_target(
        dir.path(),
        "verify-ca.yaml",
        db,
        &format!(
            "{base} host=127.0.0.1 sslmode=verify-ca sslrootcert={}",
            ca.display()
        ),
    );
    hypermove().args(["plan", &ca_only]).assert().success();
    // verify-full without any root is refused before connecting.
    let no_root = spec_with_target(
        dir.path(),
        "no-root.yaml",
        db,
        &format!("{base} host=localhost sslmode=verify-full"),
    );
    hypermove()
        .env("HOME", dir.path())
        .args(["plan", &no_root])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("needs a trusted root"));

    // require encrypts, and a whole move runs over it: pg_stat_ssl sees it.
    let require = spec_with_target(
        dir.path(),
        "require.yaml",
        db,
        &format!("{base} host=127.0.0.1 sslmode=require application_name=ignored"),
    );
    hypermove()
        .args(["apply", "--yes", &require])
        .assert()
        .success()
        .stdout(predicate::str::contains("over TLS"))
        .stdout(predicate::str::contains("checksum matches"));
    // The source (PostgreSQL 17) serves no TLS: require is refused, disable is plain.
    let mut no_tls = spec_with_target(dir.path(), "src-require.yaml", db, &base);
    no_tls = std::fs::read_to_string(&no_tls)
        .unwrap()
        .replace(&format!("source: {}", url(SOURCE_PORT, db)), &format!("source: \"host=127.0.0.1 port={SOURCE_PORT} user=postgres dbname={db} sslmode=require\""));
    let path = dir.path().join("src-require2.yaml");
    std::fs::write(&path, no_tls).unwrap();
    hypermove()
        .args(["plan", path.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot connect to the source"));
}
