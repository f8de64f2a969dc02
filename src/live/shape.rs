//! The relations a stream has described, and DDL seen as a change of shape.
//!
//! pgoutput sends a `Relation` message before a relation's first change and again
//! whenever its cache entry was invalidated, which happens after DDL but also after
//! harmless events. So a new `Relation` message is not DDL by itself; a different
//! shape (columns, their types, the key, the replica identity, the name) is.

use std::collections::HashMap;

use super::pgoutput::Relation;

/// What a `Relation` message tells against the one seen before for the same OID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeChange {
    /// The first description of this OID in the stream.
    New,
    /// The same shape as before.
    Unchanged,
    /// Another shape: DDL ran on the relation (ALTER TABLE on a hypertable reaches
    /// every chunk, so it shows on the chunks that get changes after it).
    Changed {
        /// The shape before.
        before: Box<Relation>,
    },
}

/// The latest `Relation` message per OID.
#[derive(Debug, Default)]
pub struct Relations {
    by_oid: HashMap<u32, Relation>,
}

impl Relations {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record a `Relation` message and say how it compares to the last one.
    pub fn observe(&mut self, rel: Relation) -> ShapeChange {
        match self.by_oid.insert(rel.oid, rel) {
            None => ShapeChange::New,
            Some(before) if before == self.by_oid[&before.oid] => ShapeChange::Unchanged,
            Some(before) => ShapeChange::Changed {
                before: Box::new(before),
            },
        }
    }

    /// The latest shape of a relation, needed to read the tuples of its changes.
    pub fn get(&self, oid: u32) -> Option<&Relation> {
        self.by_oid.get(&oid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::pgoutput::RelationColumn;

    fn rel(columns: &[(&str, u32)]) -> Relation {
        Relation {
            oid: 42,
            namespace: "_timescaledb_internal".into(),
            name: "_hyper_1_1_chunk".into(),
            replica_identity: b'd',
            columns: columns
                .iter()
                .map(|&(name, type_oid)| RelationColumn {
                    key: name == "ts",
                    name: name.into(),
                    type_oid,
                    type_modifier: -1,
                })
                .collect(),
        }
    }

    #[test]
    fn a_resent_relation_is_not_ddl_but_a_new_column_is() {
        let mut cache = Relations::new();
        assert_eq!(
            cache.observe(rel(&[("ts", 1184), ("v", 701)])),
            ShapeChange::New
        );
        assert_eq!(
            cache.observe(rel(&[("ts", 1184), ("v", 701)])),
            ShapeChange::Unchanged
        );
        let changed = cache.observe(rel(&[("ts", 1184), ("v", 701), ("note", 25)]));
        assert!(matches!(changed, ShapeChange::Changed { before } if before.columns.len() == 2));
        assert_eq!(cache.get(42).unwrap().columns.len(), 3);
        // A type change is DDL too.
        let changed = cache.observe(rel(&[("ts", 1184), ("v", 1700), ("note", 25)]));
        assert!(matches!(changed, ShapeChange::Changed { .. }));
    }
}
