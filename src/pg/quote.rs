//! Quoting of identifiers and literals. Every name that reaches SQL goes through here.

use std::fmt;

use serde::Serialize;

/// Quote an identifier for SQL, always with double quotes.
///
/// Always quoting (rather than only when needed) means no keyword list has to be
/// kept in sync with the server, and a name can never be read as SQL.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Quote a string literal for SQL (standard_conforming_strings is assumed, as on
/// every supported server). NUL cannot appear in a PostgreSQL string, so it is dropped.
pub fn quote_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\0' => {}
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A schema-qualified relation name, as the catalog stores it (no quotes, exact case).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct QualifiedName {
    /// Schema (namespace) name.
    pub schema: String,
    /// Relation name within the schema.
    pub name: String,
}

impl QualifiedName {
    /// Build a name from its two parts.
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// The name as quoted SQL: `"schema"."name"`.
    pub fn sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

/// Humans and step IDs see `schema.name`, quoting a part only when it would be
/// ambiguous (it contains a dot, a quote, or characters PostgreSQL would fold).
impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}",
            display_ident(&self.schema),
            display_ident(&self.name)
        )
    }
}

/// An identifier as humans and step IDs see it: bare when PostgreSQL would read it
/// back unchanged, double-quoted otherwise.
pub fn display_ident(part: &str) -> String {
    let plain = !part.is_empty()
        && part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !part.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        part.to_string()
    } else {
        quote_ident(part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_always_quoted_and_escaped() {
        assert_eq!(quote_ident("time"), "\"time\"");
        assert_eq!(
            quote_ident("x\"; DROP TABLE devices; --"),
            "\"x\"\"; DROP TABLE devices; --\""
        );
    }

    #[test]
    fn literals_double_single_quotes() {
        assert_eq!(
            quote_literal("'); SELECT pg_sleep(10); --"),
            "'''); SELECT pg_sleep(10); --'"
        );
    }

    #[test]
    fn display_quotes_only_ambiguous_parts() {
        assert_eq!(
            QualifiedName::new("public", "conditions").to_string(),
            "public.conditions"
        );
        assert_eq!(
            QualifiedName::new("My Schema", "a.b").to_string(),
            "\"My Schema\".\"a.b\""
        );
    }
}
