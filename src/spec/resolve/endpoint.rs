//! The two ends of a move: database connections and backup directories, with
//! `${VAR}` interpolation of what the spec writes for them.

use std::path::{Path, PathBuf};

use super::Resolver;
use crate::pg::{ConnInfo, Defaults};
use crate::spec::Endpoint;
use crate::spec::raw::RawEndpoint;

/// Why `${VAR}` interpolation failed. Messages name the variable, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolateError {
    /// `${` without its `}`.
    #[error("unterminated `${{` (write ${{NAME}} or ${{NAME:-default}})")]
    Unterminated,
    /// `${}` or a name with characters an environment variable cannot have.
    #[error("`${{{0}}}` is not a valid environment variable name")]
    InvalidName(String),
    /// The variable is unset or empty, and no default is given.
    #[error("environment variable {0} is not set (write ${{{0}:-default}} to give a default)")]
    Unset(String),
}

/// Replace `${VAR}` and `${VAR:-default}` with values from `env`. A missing variable
/// is an error that names the variable, never a value.
pub fn interpolate(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or(InterpolateError::Unterminated)?;
        let body = &after[..end];
        let (name, default) = match body.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (body, None),
        };
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(InterpolateError::InvalidName(name.to_string()));
        }
        match env(name)
            .filter(|v| !v.is_empty())
            .or(default.map(str::to_string))
        {
            Some(v) => out.push_str(&v),
            None => {
                return Err(InterpolateError::Unset(name.to_string()));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Resolver<'_> {
    pub(super) fn endpoint(&mut self, path: &str, raw: &RawEndpoint) -> Option<Endpoint> {
        match raw {
            RawEndpoint::Database(text) => self
                .conn(path, text)
                .map(|c| Endpoint::Database(Box::new(c))),
            RawEndpoint::Directory(d) => {
                let dir_path = format!("{path}.directory");
                let expanded = self.ok(&dir_path, interpolate(&d.directory, self.env))?;
                if expanded.trim().is_empty() {
                    self.err(&dir_path, "must not be empty");
                    return None;
                }
                Some(Endpoint::Directory(PathBuf::from(expanded)))
            }
        }
    }

    pub(super) fn conn(&mut self, path: &str, text: &str) -> Option<ConnInfo> {
        let env = self.env;
        let expanded = self.ok(path, interpolate(text, env))?;
        let defaults = Defaults {
            env,
            pgpass: env("PGPASSFILE")
                .map(Into::into)
                .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass"))),
        };
        self.ok(path, ConnInfo::parse_with(&expanded, &defaults))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::spec;

    #[test]
    fn interpolation_and_its_errors_never_show_values() {
        let s = spec("version: 1\nsource: postgresql://app:${DB_PASSWORD}@h/db\ntarget: postgresql://app@${TARGET_HOST:-t.example}/db\ntables: [{name: a}]\n").unwrap();
        assert!(s.source.database().unwrap().has_password());
        assert_eq!(s.target.to_string(), "app@t.example:5432/db");
        let e = spec("version: 1\nsource: postgresql://app:${DB_PASSWORD}@h/db?x=${MISSING}\ntarget: postgresql://t/db\ntables: [{name: a}]\n").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("spec.yaml:2:9: source: environment variable MISSING is not set"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn interpolation_messages_are_exact() {
        use super::interpolate;
        let none = |_: &str| None;
        let message = |text: &str| interpolate(text, &none).unwrap_err().to_string();
        assert_eq!(
            message("a${B"),
            "unterminated `${` (write ${NAME} or ${NAME:-default})"
        );
        assert_eq!(
            message("${1X}"),
            "`${1X}` is not a valid environment variable name"
        );
        assert_eq!(
            message("${X_1}"),
            "environment variable X_1 is not set (write ${X_1:-default} to give a default)"
        );
        assert_eq!(interpolate("${X:-d}/${X:-}", &none).unwrap(), "d/");
    }
}
