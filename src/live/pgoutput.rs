//! The pgoutput plugin's messages (protocol version 1), decoded into plain enums.
//!
//! Column values stay as the bytes the server sent (text output, or binary when the
//! `binary` option is on): the follower hands them to the target as they are, so no
//! value is parsed here. Layouts follow PostgreSQL's "Logical Replication Message
//! Formats"; the streaming (v2), two-phase (v3) and parallel (v4) messages are refused,
//! because hypermove asks for protocol version 1 only.

use bytes::{Buf, Bytes};

use super::Lsn;

/// One decoded pgoutput message (the payload of one XLogData).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgOutput {
    /// A transaction starts; every change up to the next `Commit` belongs to it.
    Begin(Begin),
    /// The transaction ends; its `end_lsn` is what the follower confirms once applied.
    Commit(Commit),
    /// The transaction came from another node (replication origin).
    Origin(Origin),
    /// The shape of a relation, sent before its first change and again after any
    /// invalidation of its cache entry (so not only after DDL).
    Relation(Relation),
    /// A non-built-in type used by a relation's column.
    Type(TypeInfo),
    /// A row inserted.
    Insert(Insert),
    /// A row updated.
    Update(Update),
    /// A row deleted.
    Delete(Delete),
    /// Relations truncated together.
    Truncate(Truncate),
    /// A logical message (`pg_logical_emit_message`, TimescaleDB's markers); sent only
    /// when replication was started with `messages 'true'`.
    Message(LogicalMessage),
}

/// `B`: a transaction begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// The LSN of the transaction's commit record.
    pub final_lsn: Lsn,
    /// Commit time, in microseconds since 2000-01-01 UTC.
    pub commit_time: i64,
    /// The transaction id.
    pub xid: u32,
}

/// `C`: a transaction commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Unused flags (0).
    pub flags: u8,
    /// The LSN of the commit record.
    pub commit_lsn: Lsn,
    /// The end of the commit record: the position to confirm, and to restart after.
    pub end_lsn: Lsn,
    /// Commit time, in microseconds since 2000-01-01 UTC.
    pub commit_time: i64,
}

/// `O`: the transaction's replication origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The commit LSN on the origin server.
    pub commit_lsn: Lsn,
    /// The origin's name.
    pub name: String,
}

/// `R`: a relation's shape as the publisher sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The relation's OID on the source; changes name it by this OID only.
    pub oid: u32,
    /// Its schema (empty for `pg_catalog`).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `relreplident`: `d` default (primary key), `n` nothing, `f` full, `i` index.
    pub replica_identity: u8,
    /// The published columns in attribute order (dropped and generated columns left out).
    pub columns: Vec<RelationColumn>,
}

/// One column of a `Relation` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Whether the column is part of the replica identity key.
    pub key: bool,
    /// Its name.
    pub name: String,
    /// Its type's OID.
    pub type_oid: u32,
    /// Its type modifier (`atttypmod`), -1 when none.
    pub type_modifier: i32,
}

/// `Y`: a type used by a later relation, by OID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    /// The type's OID.
    pub oid: u32,
    /// Its schema (empty for `pg_catalog`).
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// One column value of a tuple, undecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datum {
    /// SQL NULL.
    Null,
    /// A TOASTed value the update did not change; the server did not send it, so an
    /// apply must leave that column as it is on the target.
    UnchangedToast,
    /// The value in the type's text output form.
    Text(Bytes),
    /// The value in the type's binary send form.
    Binary(Bytes),
}

impl Datum {
    /// The text form, if the value is text and valid UTF-8 (tests and messages use it).
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Datum::Text(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

/// The columns of one row, in the order of the relation's `Relation` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuple(pub Vec<Datum>);

/// The old row an update or delete identifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldTuple {
    /// `K`: only the replica identity key columns are set; the others are `Null`.
    Key(Tuple),
    /// `O`: the whole old row (`REPLICA IDENTITY FULL`).
    Full(Tuple),
}

impl OldTuple {
    /// The tuple, whichever kind it is.
    pub fn tuple(&self) -> &Tuple {
        match self {
            OldTuple::Key(t) | OldTuple::Full(t) => t,
        }
    }
}

/// `I`: a row inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    /// The relation's OID (see the latest `Relation` for it).
    pub relation: u32,
    /// The new row.
    pub new: Tuple,
}

/// `U`: a row updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The relation's OID.
    pub relation: u32,
    /// The old key or row; absent when the key did not change (then the new row's key
    /// columns identify the row).
    pub old: Option<OldTuple>,
    /// The new row; `UnchangedToast` columns keep their old value.
    pub new: Tuple,
}

/// `D`: a row deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// The relation's OID.
    pub relation: u32,
    /// The old key or row.
    pub old: OldTuple,
}

/// `T`: relations truncated by one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    /// `TRUNCATE … CASCADE`.
    pub cascade: bool,
    /// `TRUNCATE … RESTART IDENTITY`.
    pub restart_identity: bool,
    /// The relations' OIDs.
    pub relations: Vec<u32>,
}

/// `M`: a logical decoding message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalMessage {
    /// Written inside a transaction (delivered in commit order with its changes).
    pub transactional: bool,
    /// The message's own LSN.
    pub lsn: Lsn,
    /// The prefix the writer chose (TimescaleDB's start with `::timescaledb-`).
    pub prefix: String,
    /// The content, possibly empty.
    pub content: Bytes,
}

/// Why a pgoutput payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload ended before a field.
    #[error("pgoutput message `{tag}` ends early, in {field}")]
    Truncated {
        /// The message tag.
        tag: char,
        /// The field that was cut off.
        field: &'static str,
    },
    /// A message tag this decoder does not know (or a v2+ streaming message).
    #[error("unknown pgoutput message tag {0:?}")]
    UnknownTag(char),
    /// A tuple column kind other than `n`, `u`, `t`, `b`.
    #[error("unknown tuple column kind {0:?}")]
    ColumnKind(char),
    /// An update/delete old-tuple marker other than `K`, `O` (or `N` for the new row).
    #[error("pgoutput message `{tag}`: unexpected tuple marker {marker:?}")]
    TupleMarker {
        /// The message tag.
        tag: char,
        /// The marker found.
        marker: char,
    },
    /// A name that is not UTF-8.
    #[error("pgoutput message `{0}`: a name is not valid UTF-8")]
    NotUtf8(char),
    /// Bytes left over after the message.
    #[error("pgoutput message `{tag}` has {extra} trailing bytes")]
    Trailing {
        /// The message tag.
        tag: char,
        /// How many bytes were left.
        extra: usize,
    },
    /// An empty payload.
    #[error("empty pgoutput message")]
    Empty,
}

/// Decode one pgoutput payload (protocol version 1, no streaming).
pub fn decode(payload: Bytes) -> Result<PgOutput, DecodeError> {
    let mut r = Reader {
        buf: payload,
        tag: '?',
    };
    let tag = r.u8("tag").map_err(|_| DecodeError::Empty)?;
    r.tag = tag as char;
    let msg = match tag {
        b'B' => PgOutput::Begin(Begin {
            final_lsn: r.lsn("final_lsn")?,
            commit_time: r.i64("commit_time")?,
            xid: r.u32("xid")?,
        }),
        b'C' => PgOutput::Commit(Commit {
            flags: r.u8("flags")?,
            commit_lsn: r.lsn("commit_lsn")?,
            end_lsn: r.lsn("end_lsn")?,
            commit_time: r.i64("commit_time")?,
        }),
        b'O' => PgOutput::Origin(Origin {
            commit_lsn: r.lsn("commit_lsn")?,
            name: r.cstr("name")?,
        }),
        b'R' => {
            let oid = r.u32("oid")?;
            let namespace = r.cstr("namespace")?;
            let name = r.cstr("name")?;
            let replica_identity = r.u8("replica_identity")?;
            let n = r.i16("ncolumns")?.max(0) as usize;
            let mut columns = Vec::with_capacity(n);
            for _ in 0..n {
                columns.push(RelationColumn {
                    key: r.u8("column flags")? & 1 == 1,
                    name: r.cstr("column name")?,
                    type_oid: r.u32("column type")?,
                    type_modifier: r.i32("column typmod")?,
                });
            }
            PgOutput::Relation(Relation {
                oid,
                namespace,
                name,
                replica_identity,
                columns,
            })
        }
        b'Y' => PgOutput::Type(TypeInfo {
            oid: r.u32("oid")?,
            namespace: r.cstr("namespace")?,
            name: r.cstr("name")?,
        }),
        b'I' => {
            let relation = r.u32("relation")?;
            r.expect_marker(b'N')?;
            PgOutput::Insert(Insert {
                relation,
                new: r.tuple()?,
            })
        }
        b'U' => {
            let relation = r.u32("relation")?;
            let old = match r.u8("tuple marker")? {
                b'N' => None,
                marker => {
                    let old = r.old_tuple(marker)?;
                    r.expect_marker(b'N')?;
                    Some(old)
                }
            };
            PgOutput::Update(Update {
                relation,
                old,
                new: r.tuple()?,
            })
        }
        b'D' => {
            let relation = r.u32("relation")?;
            let marker = r.u8("tuple marker")?;
            PgOutput::Delete(Delete {
                relation,
                old: r.old_tuple(marker)?,
            })
        }
        b'T' => {
            let n = r.u32("nrelations")? as usize;
            let options = r.u8("options")?;
            let mut relations = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                relations.push(r.u32("relation")?);
            }
            PgOutput::Truncate(Truncate {
                cascade: options & 1 != 0,
                restart_identity: options & 2 != 0,
                relations,
            })
        }
        b'M' => {
            let flags = r.u8("flags")?;
            let lsn = r.lsn("lsn")?;
            let prefix = r.cstr("prefix")?;
            let len = r.u32("content length")? as usize;
            PgOutput::Message(LogicalMessage {
                transactional: flags & 1 == 1,
                lsn,
                prefix,
                content: r.bytes(len, "content")?,
            })
        }
        other => return Err(DecodeError::UnknownTag(other as char)),
    };
    if r.buf.has_remaining() {
        return Err(DecodeError::Trailing {
            tag: r.tag,
            extra: r.buf.remaining(),
        });
    }
    Ok(msg)
}

/// A cursor over one payload that turns every short read into `Truncated`.
struct Reader {
    buf: Bytes,
    tag: char,
}

impl Reader {
    fn need(&self, n: usize, field: &'static str) -> Result<(), DecodeError> {
        if self.buf.remaining() < n {
            return Err(DecodeError::Truncated {
                tag: self.tag,
                field,
            });
        }
        Ok(())
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        self.need(1, field)?;
        Ok(self.buf.get_u8())
    }

    fn i16(&mut self, field: &'static str) -> Result<i16, DecodeError> {
        self.need(2, field)?;
        Ok(self.buf.get_i16())
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        self.need(4, field)?;
        Ok(self.buf.get_i32())
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.need(4, field)?;
        Ok(self.buf.get_u32())
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        self.need(8, field)?;
        Ok(self.buf.get_i64())
    }

    fn lsn(&mut self, field: &'static str) -> Result<Lsn, DecodeError> {
        self.need(8, field)?;
        Ok(Lsn(self.buf.get_u64()))
    }

    fn bytes(&mut self, n: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        self.need(n, field)?;
        Ok(self.buf.split_to(n))
    }

    fn cstr(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let end = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .ok_or(DecodeError::Truncated {
                tag: self.tag,
                field,
            })?;
        let s = self.buf.split_to(end);
        self.buf.advance(1);
        String::from_utf8(s.to_vec()).map_err(|_| DecodeError::NotUtf8(self.tag))
    }

    fn expect_marker(&mut self, want: u8) -> Result<(), DecodeError> {
        match self.u8("tuple marker")? {
            m if m == want => Ok(()),
            m => Err(DecodeError::TupleMarker {
                tag: self.tag,
                marker: m as char,
            }),
        }
    }

    fn old_tuple(&mut self, marker: u8) -> Result<OldTuple, DecodeError> {
        match marker {
            b'K' => Ok(OldTuple::Key(self.tuple()?)),
            b'O' => Ok(OldTuple::Full(self.tuple()?)),
            m => Err(DecodeError::TupleMarker {
                tag: self.tag,
                marker: m as char,
            }),
        }
    }

    fn tuple(&mut self) -> Result<Tuple, DecodeError> {
        let n = self.i16("tuple ncolumns")?.max(0) as usize;
        let mut cols = Vec::with_capacity(n);
        for _ in 0..n {
            cols.push(match self.u8("column kind")? {
                b'n' => Datum::Null,
                b'u' => Datum::UnchangedToast,
                b't' => {
                    let len = self.u32("column length")? as usize;
                    Datum::Text(self.bytes(len, "column value")?)
                }
                b'b' => {
                    let len = self.u32("column length")? as usize;
                    Datum::Binary(self.bytes(len, "column value")?)
                }
                k => return Err(DecodeError::ColumnKind(k as char)),
            });
        }
        Ok(Tuple(cols))
    }
}

#[cfg(test)]
#[path = "pgoutput_tests.rs"]
mod tests;
