//! Where each value of a YAML document is, by path (`tables[1].hypertable.time_column`),
//! so that checks made after decoding can still point at `file:line:col`.
//!
//! serde decodes the document; this pass only reads its events and their spans.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use saphyr_parser::{Event, Parser};

/// Line and column (both 1-based) of every value and key in a document.
#[derive(Debug, Default, Clone)]
pub struct Positions {
    values: HashMap<String, (usize, usize)>,
    keys: HashMap<String, (usize, usize)>,
    /// Keys written a second time in the same mapping, with where.
    duplicates: Vec<(String, (usize, usize))>,
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, index: usize },
}

fn child(frame: &Frame) -> Option<String> {
    match frame {
        Frame::Map { path, key: Some(k) } if path.is_empty() => Some(k.clone()),
        Frame::Map { path, key: Some(k) } => Some(format!("{path}.{k}")),
        Frame::Map { key: None, .. } => None,
        Frame::Seq { path, index } => Some(format!("{path}[{index}]")),
    }
}

/// A value has ended: the parent moves on to its next key or element.
fn advance(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map { key, .. }) => *key = None,
        Some(Frame::Seq { index, .. }) => *index += 1,
        None => {}
    }
}

impl Positions {
    /// Index a document. Syntax errors end the walk quietly: the decoder reports them.
    pub fn index(text: &str) -> Self {
        let mut out = Positions::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let pos = (span.start.line(), span.start.col() + 1);
            match event {
                Event::Scalar(value, ..) => match stack.last_mut() {
                    Some(Frame::Map {
                        path,
                        key: key @ None,
                    }) => {
                        let full = if path.is_empty() {
                            value.to_string()
                        } else {
                            format!("{path}.{value}")
                        };
                        match out.keys.entry(full) {
                            Entry::Occupied(e) => out.duplicates.push((e.key().clone(), pos)),
                            Entry::Vacant(e) => {
                                e.insert(pos);
                            }
                        }
                        *key = Some(value.to_string());
                    }
                    Some(frame) => {
                        if let Some(p) = child(frame) {
                            out.values.entry(p).or_insert(pos);
                        }
                        advance(&mut stack);
                    }
                    None => {}
                },
                Event::Alias(_) => {
                    if let Some(p) = stack.last().and_then(child) {
                        out.values.entry(p).or_insert(pos);
                    }
                    advance(&mut stack);
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let path = match stack.last() {
                        None => String::new(),
                        // A mapping used as a key: give it a placeholder name.
                        Some(Frame::Map { key: None, .. }) => "?".to_string(),
                        Some(frame) => child(frame).unwrap_or_default(),
                    };
                    out.values.entry(path.clone()).or_insert(pos);
                    stack.push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Map { path, key: None }
                    } else {
                        Frame::Seq { path, index: 0 }
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    advance(&mut stack);
                }
                _ => {}
            }
        }
        out
    }

    /// The position of the value at `path`, else of its key, else of the nearest
    /// enclosing value that has one.
    pub fn of(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(pos) = self.values.get(p).or_else(|| self.keys.get(p)) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    /// Where a key named `name` is written a second time, if anywhere.
    pub fn duplicate(&self, name: &str) -> Option<(usize, usize)> {
        self.duplicates
            .iter()
            .find(|(path, _)| path.rsplit('.').next() == Some(name))
            .map(|(_, pos)| *pos)
    }

    /// The position of the key at `path` (where `key:` is written).
    pub fn key(&self, path: &str) -> Option<(usize, usize)> {
        self.keys.get(path).copied().or_else(|| self.of(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_keys_and_parents() {
        let p = Positions::index(
            "version: 1\ntables:\n  - name: a\n  - name: b\n    hypertable:\n      time_column: t\n",
        );
        assert_eq!(p.of("version"), Some((1, 10)));
        assert_eq!(p.of("tables[1].name"), Some((4, 11)));
        assert_eq!(p.key("tables[1].hypertable.time_column"), Some((6, 7)));
        assert_eq!(p.of("tables[1].hypertable.time_column"), Some((6, 20)));
        assert_eq!(p.of("tables[1].hypertable.missing"), Some((6, 7)));
    }
}
