//! The command line itself: completions and the manual page, generated from the
//! same definitions that parse the arguments.

mod common;

use common::hypermove;
use predicates::prelude::*;

#[test]
fn completions_know_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = hypermove()
            .args(["completions", shell])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(out).unwrap();
        for command in ["plan", "apply", "verify", "backup", "restore", "status"] {
            assert!(text.contains(command), "{shell} completions lack {command}");
        }
    }
    hypermove()
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'tcsh'"));
}

#[test]
fn the_manual_page_is_roff_and_lists_the_commands() {
    hypermove()
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::starts_with(".ie"))
        .stdout(predicate::str::contains(".TH hypermove 1"))
        .stdout(predicate::str::contains("apply"));
}
