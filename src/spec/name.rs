//! Table names as the spec writes them: `schema.table`, with PostgreSQL's rules:
//! unquoted parts fold to lower case, double-quoted parts keep their case and may
//! contain dots, and a name without a schema lives in `public`.

use crate::pg::QualifiedName;

/// PostgreSQL truncates identifiers longer than this many bytes; we refuse them instead,
/// because a silently truncated name could collide with another.
const MAX_IDENT_BYTES: usize = 63;

/// Parse `schema.table`, `table` or `"My Schema"."My Table"`.
pub fn parse_qualified_name(text: &str) -> Result<QualifiedName, String> {
    let parts = split_parts(text)?;
    match parts.as_slice() {
        [name] => Ok(QualifiedName::new("public", name.clone())),
        [schema, name] => Ok(QualifiedName::new(schema.clone(), name.clone())),
        _ => Err(format!(
            "`{text}` is not a table name; write `schema.table` (quote parts that contain dots)"
        )),
    }
}

fn split_parts(text: &str) -> Result<Vec<String>, String> {
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
                    None => return Err(format!("`{text}`: unterminated quoted name")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                if c == '"' || c.is_whitespace() {
                    return Err(format!(
                        "`{text}`: unexpected `{c}`; double-quote names that contain spaces or quotes"
                    ));
                }
                part.push(c.to_ascii_lowercase());
                chars.next();
            }
        }
        if part.is_empty() {
            return Err(format!("`{text}`: empty name part"));
        }
        if part.len() > MAX_IDENT_BYTES {
            return Err(format!(
                "`{text}`: `{part}` is longer than PostgreSQL's {MAX_IDENT_BYTES}-byte limit"
            ));
        }
        parts.push(part);
        match chars.next() {
            None => return Ok(parts),
            Some('.') => continue,
            Some(c) => return Err(format!("`{text}`: unexpected `{c}` after a quoted name")),
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
}
