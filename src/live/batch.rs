//! Turning decoded source transactions into target operations, with no database:
//! which changes to skip, how inserts group into COPY runs, and how updates and
//! deletes find their row. `apply` runs the result in one target transaction.
//!
//! Order is never changed: operations come out in the order of the stream, and a
//! COPY run only ever grows with inserts that come right after it.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::Lsn;
use super::apply_error::ApplyError;
use super::mapping::{Mapped, Mapping, MovedTable};
use super::pgoutput::{Datum, OldTuple, PgOutput, Relation, Tuple};
use super::shape::{Relations, ShapeChange};
use super::timescale::{Marker, Markers};

/// A column value as the target receives it: `None` is SQL NULL, else the text form.
pub type Value = Option<Bytes>;

/// How an update or delete finds its target row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Columns and their old values.
    pub columns: Vec<(String, Value)>,
    /// The columns are the whole old row (REPLICA IDENTITY FULL): several target
    /// rows may match, and exactly one of them is the source's row, so the change
    /// must touch one row only.
    pub whole_row: bool,
}

/// A column of the row an update moves: the new value, or the old row's value
/// (an unchanged TOAST column, which the stream does not carry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewValue {
    /// The value the update wrote.
    Set(Value),
    /// Taken from the target's row as it is deleted.
    KeepOld,
}

/// Consecutive inserts into one target table, as COPY text-format data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRun {
    /// The target table.
    pub table: Arc<MovedTable>,
    /// The COPY column list, in the order of the rows' fields.
    pub columns: Vec<String>,
    /// The rows, each ending with a newline.
    pub data: BytesMut,
    /// How many rows.
    pub rows: usize,
}

/// One operation on the target, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `COPY table (columns) FROM STDIN`.
    Copy(CopyRun),
    /// `UPDATE table SET … WHERE key`: the row stays in its target chunk.
    Update {
        /// The target table.
        table: Arc<MovedTable>,
        /// The columns written (unchanged TOAST columns left out).
        set: Vec<(String, Value)>,
        /// The replica identity: key columns, or the whole old row.
        key: Key,
    },
    /// `DELETE … RETURNING` + `INSERT` in one statement: the update may move the
    /// row to another target chunk, which an UPDATE cannot do on a hypertable.
    Move {
        /// The target table.
        table: Arc<MovedTable>,
        /// The old row's identity.
        key: Key,
        /// Every column of the new row.
        new: Vec<(String, NewValue)>,
    },
    /// `DELETE FROM table WHERE key`.
    Delete {
        /// The target table.
        table: Arc<MovedTable>,
        /// The replica identity.
        key: Key,
    },
}

/// What a batch of source transactions comes to.
#[derive(Debug, Default)]
pub struct Planned {
    /// The operations, in stream order.
    pub ops: Vec<Op>,
    /// The end LSN of the last transaction not skipped by position: what the journal
    /// records with the operations. `None` when every transaction was skipped.
    pub last_end: Option<Lsn>,
    /// Transactions taken (their changes may all have been filtered out).
    pub taken: usize,
    /// Transactions skipped because the journal already holds them.
    pub skipped: usize,
}

/// Plan the whole transactions in `msgs`. `applied` is the journal's position: a
/// transaction whose commit lies before it was applied already (exactly once on
/// resume). `relations` lives as long as the stream (pgoutput describes a relation
/// once); `mapping` must have resolved every OID a `Relation` message names.
pub fn plan(
    msgs: &[PgOutput],
    applied: Option<Lsn>,
    relations: &mut Relations,
    mapping: &Mapping,
) -> Result<Planned, ApplyError> {
    let mut planner = Planner::default();
    let mut planned = Planned::default();
    planner.feed(msgs, applied, relations, mapping, &mut planned)?;
    if planner.in_transaction() {
        return Err(ApplyError::Unbalanced(
            "the batch ends inside a transaction",
        ));
    }
    Ok(planned)
}

/// Planning state between the parts of one transaction too large to gather whole:
/// whether it is inside a transaction (and skipped), and TimescaleDB's open spans.
#[derive(Debug, Default)]
pub struct Planner {
    markers: Markers,
    /// Some(skip) inside a transaction.
    txn: Option<bool>,
}

impl Planner {
    /// Between a Begin and its Commit.
    pub fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    /// Plan the next messages of the stream into `planned` (see `plan`); they may
    /// end inside a transaction, which the next call continues.
    pub fn feed(
        &mut self,
        msgs: &[PgOutput],
        applied: Option<Lsn>,
        relations: &mut Relations,
        mapping: &Mapping,
        planned: &mut Planned,
    ) -> Result<(), ApplyError> {
        let markers = &mut self.markers;
        let txn = &mut self.txn;
        for msg in msgs {
            match msg {
                PgOutput::Begin(b) => {
                    if txn.is_some() {
                        return Err(ApplyError::Unbalanced("Begin inside a transaction"));
                    }
                    // The journal holds a commit's end; a transaction whose commit
                    // record starts before that end is that one or an earlier one.
                    *txn = Some(applied.is_some_and(|a| b.final_lsn < a));
                }
                PgOutput::Commit(c) => {
                    let skip = txn
                        .take()
                        .ok_or(ApplyError::Unbalanced("Commit outside a transaction"))?;
                    markers.commit()?;
                    if skip {
                        planned.skipped += 1;
                    } else {
                        planned.taken += 1;
                        planned.last_end = Some(c.end_lsn);
                    }
                }
                PgOutput::Relation(rel) => describe(rel, relations, mapping)?,
                PgOutput::Type(_) | PgOutput::Origin(_) => {}
                PgOutput::Message(m) => {
                    let Some(marker) = Marker::from_prefix(&m.prefix) else {
                        continue;
                    };
                    let span = markers.marker(marker)?;
                    // Whole compressed batches vanished without a row in the stream.
                    if span.is_some_and(|s| s.empty_decompression()) && *txn == Some(false) {
                        return Err(ApplyError::DirectBatchDelete {
                            lsn: m.lsn,
                            tables: mapping.moved_targets(),
                        });
                    }
                }
                change => {
                    let skip =
                        txn.ok_or(ApplyError::Unbalanced("a change outside a transaction"))?;
                    // Count every change, so spans know whether they were empty.
                    let maintenance = markers.change();
                    if !skip && !maintenance {
                        plan_change(change, relations, mapping, &mut planned.ops)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Record a relation's shape; for a moved table, check it against the plan.
fn describe(
    rel: &Relation,
    relations: &mut Relations,
    mapping: &Mapping,
) -> Result<(), ApplyError> {
    let mapped = mapping
        .get(rel.oid)
        .ok_or(ApplyError::UnknownRelation { oid: rel.oid })?;
    let seen = relations.observe(rel.clone());
    let Mapped::Moved(table) = mapped else {
        return Ok(());
    };
    let names = |r: &Relation| {
        r.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let relation = format!("{}.{}", rel.namespace, rel.name);
    match seen {
        ShapeChange::Changed { before } => Err(ApplyError::ShapeChanged {
            table: table.target.to_string(),
            relation,
            detail: format!(
                "columns were [{}] (identity {}), now [{}] (identity {})",
                names(&before),
                before.replica_identity as char,
                names(rel),
                rel.replica_identity as char
            ),
        }),
        ShapeChange::New | ShapeChange::Unchanged => {
            // Matched by name, never by position: chunks made before and after a
            // dropped column differ physically.
            let mut found: Vec<&str> = rel.columns.iter().map(|c| c.name.as_str()).collect();
            let mut planned: Vec<&str> = table.columns.iter().map(String::as_str).collect();
            found.sort_unstable();
            planned.sort_unstable();
            if found != planned {
                return Err(ApplyError::ColumnsDiffer {
                    table: table.target.to_string(),
                    relation,
                    found: names(rel),
                    planned: table.columns.join(", "),
                });
            }
            Ok(())
        }
    }
}

/// The moved table a change belongs to, with the relation that reads its tuples;
/// `None` for relations that are not moved.
fn target<'a>(
    oid: u32,
    relations: &'a Relations,
    mapping: &Mapping,
) -> Result<Option<(Arc<MovedTable>, &'a Relation)>, ApplyError> {
    match mapping.get(oid) {
        None => Err(ApplyError::UnknownRelation { oid }),
        Some(Mapped::NotMoved | Mapped::Gone) => Ok(None),
        Some(Mapped::Compressed(table)) => Err(ApplyError::CompressedChunkChange {
            table: table.target.to_string(),
            relation: relations.get(oid).map_or_else(
                || format!("OID {oid}"),
                |r| format!("{}.{}", r.namespace, r.name),
            ),
        }),
        Some(Mapped::Moved(table)) => {
            let rel = relations
                .get(oid)
                .ok_or(ApplyError::UnknownRelation { oid })?;
            Ok(Some((table.clone(), rel)))
        }
    }
}

fn plan_change(
    change: &PgOutput,
    relations: &Relations,
    mapping: &Mapping,
    ops: &mut Vec<Op>,
) -> Result<(), ApplyError> {
    match change {
        PgOutput::Insert(i) => {
            if let Some((table, rel)) = target(i.relation, relations, mapping)? {
                push_insert(ops, table, rel, &i.new)?;
            }
        }
        PgOutput::Update(u) => {
            if let Some((table, rel)) = target(u.relation, relations, mapping)? {
                ops.extend(plan_update(table, rel, u.old.as_ref(), &u.new)?);
            }
        }
        PgOutput::Delete(d) => {
            if let Some((table, rel)) = target(d.relation, relations, mapping)? {
                let key = identity(&table, rel, &d.old)?;
                ops.push(Op::Delete { table, key });
            }
        }
        PgOutput::Truncate(t) => {
            for &oid in &t.relations {
                match mapping.get(oid) {
                    None => return Err(ApplyError::UnknownRelation { oid }),
                    Some(Mapped::NotMoved | Mapped::Gone) => {}
                    Some(Mapped::Moved(table) | Mapped::Compressed(table)) => {
                        return Err(ApplyError::Truncate {
                            table: table.target.to_string(),
                        });
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Append an insert to the COPY run it continues, or start a run.
fn push_insert(
    ops: &mut Vec<Op>,
    table: Arc<MovedTable>,
    rel: &Relation,
    row: &Tuple,
) -> Result<(), ApplyError> {
    let continues = matches!(ops.last(), Some(Op::Copy(run))
        if Arc::ptr_eq(&run.table, &table)
            && run.columns.len() == rel.columns.len()
            && run.columns.iter().zip(&rel.columns).all(|(a, b)| *a == b.name));
    if !continues {
        ops.push(Op::Copy(CopyRun {
            table: table.clone(),
            columns: rel.columns.iter().map(|c| c.name.clone()).collect(),
            data: BytesMut::new(),
            rows: 0,
        }));
    }
    let Some(Op::Copy(run)) = ops.last_mut() else {
        unreachable!("a COPY run was just ensured");
    };
    copy_text_row(&mut run.data, &row.0).map_err(|bad| match bad {
        BadDatum::Binary => ApplyError::BinaryValue {
            table: table.target.to_string(),
        },
        BadDatum::Toast => ApplyError::ToastInInsert {
            table: table.target.to_string(),
        },
    })?;
    run.rows += 1;
    Ok(())
}

/// A datum COPY text format cannot carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadDatum {
    /// A binary-form value.
    Binary,
    /// An unchanged TOAST value (no value at all).
    Toast,
}

/// Append one row in COPY text format: tab-separated, `\N` for NULL, backslash,
/// tab, newline and carriage return escaped, a newline at the end.
pub fn copy_text_row(out: &mut BytesMut, row: &[Datum]) -> Result<(), BadDatum> {
    for (i, datum) in row.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\t");
        }
        match datum {
            Datum::Null => out.extend_from_slice(b"\\N"),
            Datum::Text(text) => escape_copy_text(out, text),
            Datum::Binary(_) => return Err(BadDatum::Binary),
            Datum::UnchangedToast => return Err(BadDatum::Toast),
        }
    }
    out.extend_from_slice(b"\n");
    Ok(())
}

/// COPY text escaping of one value. Other bytes pass as they are: the stream and
/// the target session are both UTF-8, and a backslash before anything else would
/// change the value (`\.` too is harmless once its backslash is doubled).
fn escape_copy_text(out: &mut BytesMut, text: &[u8]) {
    out.reserve(text.len());
    for &b in text {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.extend_from_slice(&[b]),
        }
    }
}

fn value(table: &MovedTable, d: &Datum) -> Result<Value, ApplyError> {
    match d {
        Datum::Null => Ok(None),
        Datum::Text(b) => Ok(Some(b.clone())),
        Datum::Binary(_) => Err(ApplyError::BinaryValue {
            table: table.target.to_string(),
        }),
        // Callers leave unchanged TOAST out of SET lists and new rows; here it can
        // only be a key column the update did not change and did not send.
        Datum::UnchangedToast => Err(ApplyError::ToastKey {
            table: table.target.to_string(),
        }),
    }
}

/// The indexes of the relation's replica identity key columns.
fn key_columns(rel: &Relation) -> Vec<usize> {
    (0..rel.columns.len())
        .filter(|&i| rel.columns[i].key)
        .collect()
}

/// The columns and values that identify the old row: the key columns of a `K`
/// tuple, or every column of an `O` (REPLICA IDENTITY FULL) tuple that has a value.
fn identity(table: &MovedTable, rel: &Relation, old: &OldTuple) -> Result<Key, ApplyError> {
    let cols: Vec<usize> = match old {
        OldTuple::Key(_) => key_columns(rel),
        OldTuple::Full(t) => (0..t.0.len())
            .filter(|&i| t.0[i] != Datum::UnchangedToast)
            .collect(),
    };
    Ok(Key {
        columns: pick(table, rel, old.tuple(), &cols)?,
        whole_row: matches!(old, OldTuple::Full(_)),
    })
}

fn pick(
    table: &MovedTable,
    rel: &Relation,
    tuple: &Tuple,
    cols: &[usize],
) -> Result<Vec<(String, Value)>, ApplyError> {
    if cols.is_empty() {
        return Err(ApplyError::NoKey {
            table: table.target.to_string(),
        });
    }
    cols.iter()
        .map(|&i| {
            let d = tuple
                .0
                .get(i)
                .ok_or(ApplyError::UnknownRelation { oid: rel.oid })?;
            Ok((rel.columns[i].name.clone(), value(table, d)?))
        })
        .collect()
}

/// An update becomes an UPDATE when the row surely stays in its target chunk, and
/// a move (DELETE + INSERT) when its key changed or a routing column may have.
fn plan_update(
    table: Arc<MovedTable>,
    rel: &Relation,
    old: Option<&OldTuple>,
    new: &Tuple,
) -> Result<Option<Op>, ApplyError> {
    let keys = key_columns(rel);
    let key = match old {
        Some(o) => identity(&table, rel, o)?,
        // No old tuple: the key did not change, the new row's key finds the row.
        None => Key {
            columns: pick(&table, rel, new, &keys)?,
            whole_row: false,
        },
    };
    let position = |name: &str| rel.columns.iter().position(|c| c.name == name);
    let moving = match old {
        // pgoutput sends the old key only when the key changed.
        Some(OldTuple::Key(_)) => true,
        Some(OldTuple::Full(o)) => table.routing.iter().any(|r| match position(r) {
            Some(i) => new.0[i] != Datum::UnchangedToast && o.0.get(i) != new.0.get(i),
            None => true,
        }),
        // Key unchanged: a routing column in the key kept its value; one outside it
        // may have changed, and its old value is unknown, so assume it moves.
        None => table.routing.iter().any(|r| match position(r) {
            Some(i) => !keys.contains(&i),
            None => true,
        }),
    };
    if moving {
        let new = rel
            .columns
            .iter()
            .zip(&new.0)
            .map(|(c, d)| {
                Ok((
                    c.name.clone(),
                    match d {
                        Datum::UnchangedToast => NewValue::KeepOld,
                        d => NewValue::Set(value(&table, d)?),
                    },
                ))
            })
            .collect::<Result<_, ApplyError>>()?;
        return Ok(Some(Op::Move { table, key, new }));
    }
    let set: Vec<(String, Value)> = rel
        .columns
        .iter()
        .enumerate()
        .zip(&new.0)
        // Unchanged TOAST: leave the column as it is. Without an old tuple the key
        // columns are unchanged: setting them would be a no-op.
        .filter(|((i, _), d)| **d != Datum::UnchangedToast && (old.is_some() || !keys.contains(i)))
        .map(|((_, c), d)| Ok((c.name.clone(), value(&table, d)?)))
        .collect::<Result<_, ApplyError>>()?;
    if set.is_empty() {
        return Ok(None);
    }
    Ok(Some(Op::Update { table, set, key }))
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
