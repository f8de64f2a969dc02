//! Table names as the spec writes them: `schema.table`, with PostgreSQL's rules:
//! unquoted parts fold to lower case, double-quoted parts keep their case and may
//! contain dots, and a name without a schema lives in `public`.

use crate::pg::QualifiedName;

/// PostgreSQL truncates identifiers longer than this many bytes; we refuse them instead,
/// because a silently truncated name could collide with another.
const MAX_IDENT_BYTES: usize = 63;

/// Why text is not a table name; each message quotes the text as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// More than `schema.table`.
    #[error("`{0}` is not a table name; write `schema.table` (quote parts that contain dots)")]
    TooManyParts(String),
    /// A `"` without its closing `"`.
    #[error("`{0}`: unterminated quoted name")]
    Unterminated(String),
    /// A space or quote inside an unquoted part.
    #[error("`{text}`: unexpected `{found}`; double-quote names that contain spaces or quotes")]
    Unquoted {
        /// The name as written.
        text: String,
        /// The offending character.
        found: char,
    },
    /// `a..b`, or nothing at all.
    #[error("`{0}`: empty name part")]
    EmptyPart(String),
    /// A part PostgreSQL would truncate.
    #[error("`{text}`: `{part}` is longer than PostgreSQL's {max}-byte limit", max = MAX_IDENT_BYTES)]
    TooLong {
        /// The name as written.
        text: String,
        /// The part that is too long.
        part: String,
    },
    /// Something other than `.` after a closing quote.
    #[error("`{text}`: unexpected `{found}` after a quoted name")]
    AfterQuoted {
        /// The name as written.
        text: String,
        /// The offending character.
        found: char,
    },
}

/// Parse `schema.table`, `table` or `"My Schema"."My Table"`.
pub fn parse_qualified_name(text: &str) -> Result<QualifiedName, NameError> {
    let parts = split_parts(text)?;
    match parts.as_slice() {
        [name] => Ok(QualifiedName::new("public", name.clone())),
        [schema, name] => Ok(QualifiedName::new(schema.clone(), name.clone())),
        _ => Err(NameError::TooManyParts(text.to_string())),
    }
}

fn split_parts(text: &str) -> Result<Vec<String>, NameError> {
    let mut parts = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    Some('"') => break,
                    Some(c) => part.push(c),
                    None => return Err(NameError::Unterminated(text.to_string())),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                if c == '"' || c.is_whitespace() {
                    return Err(NameError::Unquoted {
                        text: text.to_string(),
                        found: c,
                    });
                }
                part.push(c.to_ascii_lowercase());
                chars.next();
            }
        }
        if part.is_empty() {
            return Err(NameError::EmptyPart(text.to_string()));
        }
        if part.len() > MAX_IDENT_BYTES {
            return Err(NameError::TooLong {
                text: text.to_string(),
                part,
            });
        }
        parts.push(part);
        match chars.next() {
            None => return Ok(parts),
            Some('.') => continue,
            Some(c) => {
                return Err(NameError::AfterQuoted {
                    text: text.to_string(),
                    found: c,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_and_defaults_like_postgres() {
        assert_eq!(
            parse_qualified_name("Public.Conditions").unwrap(),
            QualifiedName::new("public", "conditions")
        );
        assert_eq!(
            parse_qualified_name("devices").unwrap(),
            QualifiedName::new("public", "devices")
        );
        assert_eq!(
            parse_qualified_name("\"My Schema\".\"a.\"\"b\"").unwrap(),
            QualifiedName::new("My Schema", "a.\"b")
        );
    }

    #[test]
    fn refuses_malformed_names() {
        for bad in ["", "a.b.c", "a..b", "\"open", "has space", &"x".repeat(64)] {
            assert!(parse_qualified_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn error_messages_are_exact() {
        let message = |text: &str| parse_qualified_name(text).unwrap_err().to_string();
        assert_eq!(
            message("a.b.c"),
            "`a.b.c` is not a table name; write `schema.table` (quote parts that contain dots)"
        );
        assert_eq!(message("\"open"), "`\"open`: unterminated quoted name");
        assert_eq!(
            message("has space"),
            "`has space`: unexpected ` `; double-quote names that contain spaces or quotes"
        );
        assert_eq!(message("a..b"), "`a..b`: empty name part");
        let long = "x".repeat(64);
        assert_eq!(
            message(&long),
            format!("`{long}`: `{long}` is longer than PostgreSQL's 63-byte limit")
        );
        assert_eq!(
            message("\"a\"b"),
            "`\"a\"b`: unexpected `b` after a quoted name"
        );
    }
}
