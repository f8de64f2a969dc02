//! `validate` and `init`: specs checked and written.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::pg::{Role, connect};
use crate::plan;
use crate::spec::{self, Spec};

/// `validate`: every spec, every error; exit 1 if any spec is invalid.
pub(super) async fn cmd_validate(paths: &[PathBuf], online: bool) -> Result<u8, Error> {
    let mut invalid = 0;
    for path in paths {
        let spec = match spec::load(path) {
            Ok(spec) => spec,
            Err(errors) => {
                for e in &errors.0 {
                    eprintln!("{e}");
                }
                invalid += 1;
                continue;
            }
        };
        if online {
            let checked = async {
                let mut source = connect(
                    spec.source_db().map_err(Error::refused)?,
                    Role::Source,
                    "hypermove validate",
                )
                .await
                .map_err(Error::runtime)?;
                let (tx, _) = crate::pg::session::begin_snapshot(&mut source, false)
                    .await
                    .map_err(Error::runtime)?;
                let inputs = plan::gather_source_only(&spec, &tx).await?;
                plan::build(&spec, &inputs)?;
                Ok::<(), Error>(())
            }
            .await;
            if let Err(f) = checked {
                eprintln!("{f}");
                invalid += 1;
                continue;
            }
        }
        println!(
            "{}: valid{}",
            path.display(),
            if online {
                " (checked against the source)"
            } else {
                ""
            }
        );
    }
    Ok(if invalid == 0 { 0 } else { 1 })
}

/// `init`: a spec from a live source, on stdout.
pub(super) async fn cmd_init(source: &str, target: &str, include: &[String]) -> Result<u8, Error> {
    let info = crate::pg::ConnInfo::parse(source).map_err(Error::refused)?;
    let patterns = include
        .iter()
        .map(|p| spec::Pattern::new(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::refused)?;
    let mut client = connect(&info, Role::Source, "hypermove init")
        .await
        .map_err(Error::runtime)?;
    let (tx, _) = crate::pg::session::begin_snapshot(&mut client, false)
        .await
        .map_err(Error::runtime)?;
    let text = plan::init_spec(&tx, &info, target, &patterns).await?;
    print!("{text}");
    Ok(0)
}

/// A YAML scalar holding `text` exactly (JSON strings are YAML).
pub(super) fn yaml_text(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// `{directory: PATH}` as YAML.
pub(super) fn yaml_dir(path: &Path) -> String {
    format!("{{directory: {}}}", yaml_text(&path.to_string_lossy()))
}

/// A spec made from command-line arguments, through the same parser and checks as
/// a spec file.
pub(super) fn generated_spec(
    source: &str,
    target: &str,
    include: &[String],
    exclude: &[String],
) -> Result<Spec, Error> {
    let list = |items: &[String]| {
        format!(
            "[{}]",
            items
                .iter()
                .map(|i| yaml_text(i))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let include = if include.is_empty() {
        vec!["*.*".to_string()]
    } else {
        include.to_vec()
    };
    let mut text = format!(
        "version: 1\nsource: {source}\ntarget: {target}\ninclude: {}\n",
        list(&include)
    );
    if !exclude.is_empty() {
        text.push_str(&format!("exclude: {}\n", list(exclude)));
    }
    spec::parse(Path::new("(command line)"), &text).map_err(Error::refused)
}
