//! The change applier: whole source transactions in, one target transaction out.
//!
//! `batch::plan` decides what to do (skips, COPY runs, updates, moves, deletes);
//! this module does it on the target, through the moved tables' hypertable roots,
//! and records the last applied source position in `hypermove.live_position` in the
//! same target transaction, so a crash leaves the changes and the position together
//! or neither. Only after that commit may the follower confirm the position to the
//! source slot (docs/live.md, section 4).
//!
//! Identifiers reach SQL only through `quote_ident`/`QualifiedName::sql`; values
//! only as COPY data or as text-format parameters, so the target parses each value
//! with its column's own input function, exactly as COPY would.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;

use bytes::BytesMut;
use futures_util::SinkExt;
use tokio_postgres::types::{Format, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Statement};

use super::Lsn;
use super::apply_error::ApplyError;
use super::batch::{self, CopyRun, Key, NewValue, Op, Value};
use super::mapping::{Mapped, Mapping, MovedTable};
use super::pgoutput::PgOutput;
use super::shape::Relations;
use crate::pg::quote_ident;

const LIVE_POSITION: &str = include_str!("sql/live_position.sql");
const READ_POSITION: &str = include_str!("sql/read_position.sql");
const WRITE_POSITION: &str = include_str!("sql/write_position.sql");
const TEXT_SETTINGS: &str = include_str!("sql/text_settings.sql");

/// The `options` the replication connection must carry: values travel as the
/// walsender's text output and are parsed by the target's input functions, so both
/// ends use the same unambiguous forms (ISO dates whatever the server's DateStyle,
/// intervals in the `postgres` style, floats exact). `Applier::open` sets the same
/// on the target session.
pub const STREAM_OPTIONS: &str =
    "-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3";

/// Create the journal table on the target if it is missing.
pub async fn ensure_journal(target: &Client) -> Result<(), ApplyError> {
    target
        .batch_execute(LIVE_POSITION)
        .await
        .map_err(ApplyError::Target)
}

/// The applied position of a live move, for resume: `None` before its first batch.
pub async fn read_position(
    target: &Client,
    fingerprint: &str,
    slot: &str,
) -> Result<Option<Lsn>, ApplyError> {
    let row = target
        .query_opt(READ_POSITION, &[&fingerprint, &slot])
        .await
        .map_err(ApplyError::Target)?;
    Ok(match row {
        Some(row) => Some(row.get::<_, String>(0).parse()?),
        None => None,
    })
}

/// What one `Applier::apply` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Source transactions taken in this target transaction.
    pub transactions: usize,
    /// Source transactions skipped because the journal held them already.
    pub skipped: usize,
    /// Rows written by COPY.
    pub copied: usize,
    /// Update, move and delete statements run.
    pub statements: usize,
    /// Of those, updates run as DELETE + INSERT (the row may change target chunk).
    pub moves: usize,
    /// The position recorded in the journal by this call, if any.
    pub position: Option<Lsn>,
    /// Relations first described in this batch that were gone from the source when
    /// mapped (`schema.name` as the stream named them): their changes were skipped.
    /// The follower warns; cutover's checksums catch a moved table's loss.
    pub vanished: Vec<String>,
}

/// Applies batches of source transactions of one live move to the target.
#[derive(Debug)]
pub struct Applier {
    fingerprint: String,
    slot: String,
    mapping: Mapping,
    relations: Relations,
    applied: Option<Lsn>,
    /// The large source transaction being applied in parts, if any.
    part: Option<Part>,
}

impl Applier {
    /// An applier that resumes from the journal's position for this move and slot
    /// (creating the journal table if needed). `target` is the applier's own
    /// session: its text settings are set to match `STREAM_OPTIONS`.
    pub async fn open(
        target: &Client,
        fingerprint: &str,
        slot: &str,
        mapping: Mapping,
    ) -> Result<Self, ApplyError> {
        ensure_journal(target).await?;
        target
            .batch_execute(TEXT_SETTINGS)
            .await
            .map_err(ApplyError::Target)?;
        let applied = read_position(target, fingerprint, slot).await?;
        Ok(Self {
            fingerprint: fingerprint.to_string(),
            slot: slot.to_string(),
            mapping,
            relations: Relations::new(),
            applied,
            part: None,
        })
    }

    /// The last applied source position (a commit's end LSN): what the follower
    /// confirms to the slot, and where a resume starts.
    pub fn position(&self) -> Option<Lsn> {
        self.applied
    }

    /// Apply whole source transactions (Begin … Commit, in commit order) in one
    /// target transaction. Relations new to the stream are mapped on `source` first.
    /// On error nothing of the batch is committed on the target.
    pub async fn apply(
        &mut self,
        source: &Client,
        target: &mut Client,
        msgs: &[PgOutput],
    ) -> Result<Applied, ApplyError> {
        if self.part.is_some() {
            return Err(ApplyError::Unbalanced(
                "a batch while a large transaction is being applied",
            ));
        }
        let vanished = self.resolve(source, msgs).await?;
        let planned = match batch::plan(msgs, self.applied, &mut self.relations, &self.mapping) {
            Ok(planned) => planned,
            Err(e) => return Err(self.name_tables(source, e).await),
        };
        let mut done = Applied {
            transactions: planned.taken,
            skipped: planned.skipped,
            vanished,
            ..Applied::default()
        };
        // Only transactions already applied: nothing to write, not even the journal.
        let Some(last_end) = planned.last_end else {
            return Ok(done);
        };
        // Statements by SQL text, prepared once per batch: a run of updates of one
        // table and shape then costs one round trip each instead of two.
        let mut prepared = HashMap::new();
        let written = async {
            begin(target).await?;
            run_ops(target, &mut prepared, planned.ops, &mut done).await?;
            self.commit(target, last_end).await
        }
        .await;
        if let Err(e) = written {
            rollback(target).await;
            return Err(e);
        }
        done.position = Some(last_end);
        Ok(done)
    }

    /// Apply the next part of one source transaction too large to gather whole, in
    /// a target transaction that stays open between parts: the first part starts
    /// with its Begin, the last ends with its Commit, and only then does the target
    /// commit (with the journal position), so the target still sees the source's
    /// transaction whole or not at all. Returns what the transaction came to once
    /// its last part is applied. On error the target transaction is rolled back.
    pub async fn apply_part(
        &mut self,
        source: &Client,
        target: &Client,
        msgs: &[PgOutput],
    ) -> Result<Option<Applied>, ApplyError> {
        let result = self.part_inner(source, target, msgs).await;
        if result.is_err() {
            self.abort_part(target).await;
        }
        result
    }

    async fn part_inner(
        &mut self,
        source: &Client,
        target: &Client,
        msgs: &[PgOutput],
    ) -> Result<Option<Applied>, ApplyError> {
        let vanished = self.resolve(source, msgs).await?;
        if self.part.is_none() {
            begin(target).await?;
            self.part = Some(Part::default());
        }
        let part = self.part.as_mut().expect("a part is open");
        part.done.vanished.extend(vanished);
        let mut planned = batch::Planned::default();
        if let Err(e) = part.planner.feed(
            msgs,
            self.applied,
            &mut self.relations,
            &self.mapping,
            &mut planned,
        ) {
            return Err(self.name_tables(source, e).await);
        }
        run_ops(target, &mut part.prepared, planned.ops, &mut part.done).await?;
        if part.planner.in_transaction() {
            return Ok(None);
        }
        let mut part = self.part.take().expect("a part is open");
        part.done.transactions = planned.taken;
        part.done.skipped = planned.skipped;
        match planned.last_end {
            Some(end) => {
                self.commit(target, end).await?;
                part.done.position = Some(end);
            }
            // Applied before (a resume): nothing was written.
            None => rollback(target).await,
        }
        Ok(Some(part.done))
    }

    /// An empty decompression span does not say which table it concerns: narrow
    /// `DirectBatchDelete`'s candidates (every moved table) to the moved hypertables
    /// with compression enabled on the source, when the source can say.
    async fn name_tables(&self, source: &Client, err: ApplyError) -> ApplyError {
        let ApplyError::DirectBatchDelete { lsn, tables } = err else {
            return err;
        };
        let tables = match self.mapping.compressed_targets(source).await {
            Ok(names) if !names.is_empty() => names,
            _ => tables,
        };
        ApplyError::DirectBatchDelete { lsn, tables }
    }

    /// Give up the large transaction being applied, if any: roll its target
    /// transaction back (a stop, an error, or a transaction found to commit after
    /// the fence).
    pub async fn abort_part(&mut self, target: &Client) {
        if self.part.take().is_some() {
            rollback(target).await;
        }
    }

    /// Map the relations the messages name (on `source`), returning those gone.
    async fn resolve(
        &mut self,
        source: &Client,
        msgs: &[PgOutput],
    ) -> Result<Vec<String>, ApplyError> {
        let mut vanished = Vec::new();
        for msg in msgs {
            let oids: &[u32] = match msg {
                PgOutput::Relation(r) => std::slice::from_ref(&r.oid),
                PgOutput::Truncate(t) => &t.relations,
                _ => &[],
            };
            for &oid in oids {
                let known = self.mapping.get(oid).is_some();
                let mapped = self
                    .mapping
                    .resolve(source, oid)
                    .await
                    .map_err(ApplyError::Source)?;
                if let (false, Mapped::Gone, PgOutput::Relation(r)) = (known, mapped, msg) {
                    vanished.push(format!("{}.{}", r.namespace, r.name));
                }
            }
        }
        Ok(vanished)
    }

    /// Record the position in the journal and commit the open target transaction.
    async fn commit(&mut self, target: &Client, end: Lsn) -> Result<(), ApplyError> {
        let position = end.to_string();
        target
            .execute(WRITE_POSITION, &[&self.fingerprint, &self.slot, &position])
            .await
            .map_err(ApplyError::Target)?;
        target
            .batch_execute("COMMIT")
            .await
            .map_err(ApplyError::Target)?;
        self.applied = Some(end);
        Ok(())
    }
}

/// A large source transaction being applied in parts.
#[derive(Debug, Default)]
struct Part {
    planner: batch::Planner,
    prepared: HashMap<String, Statement>,
    done: Applied,
}

/// Open the target transaction. The applier runs its transactions as statements
/// on its own session, not as a `Transaction` borrow, so one can stay open
/// between the parts of a large source transaction.
async fn begin(target: &Client) -> Result<(), ApplyError> {
    target
        .batch_execute("BEGIN")
        .await
        .map_err(ApplyError::Target)
}

/// Roll back the open target transaction. Best effort: on a broken session there
/// is nothing left to roll back, and the error that got here is the one to report.
async fn rollback(target: &Client) {
    let _ = target.batch_execute("ROLLBACK").await;
}

/// Run planned operations in the open target transaction.
async fn run_ops(
    target: &Client,
    prepared: &mut HashMap<String, Statement>,
    ops: Vec<Op>,
    done: &mut Applied,
) -> Result<(), ApplyError> {
    // Runs of updates, moves and deletes between COPY runs go out pipelined.
    let mut statements = Vec::new();
    for op in ops {
        match op {
            Op::Copy(run) => {
                let run_of = std::mem::take(&mut statements);
                done.statements += run_statements(target, prepared, run_of).await?;
                done.copied += copy(target, run).await?;
                // A test's kill -9 here leaves part of the batch in an open
                // transaction.
                crate::fault::pause(crate::fault::PAUSE_MID_BATCH).await;
            }
            op => {
                done.moves += usize::from(matches!(op, Op::Move { .. }));
                statements.push(op);
            }
        }
    }
    done.statements += run_statements(target, prepared, statements).await?;
    crate::fault::pause(crate::fault::PAUSE_MID_BATCH).await;
    Ok(())
}

/// `COPY table (cols) FROM STDIN` with one run's rows.
async fn copy(tx: &Client, run: CopyRun) -> Result<usize, ApplyError> {
    let cols: Vec<String> = run.columns.iter().map(|c| quote_ident(c)).collect();
    let sql = format!(
        "COPY {} ({}) FROM STDIN",
        run.table.target.sql(),
        cols.join(", ")
    );
    let sink = tx
        .copy_in::<_, bytes::Bytes>(&sql)
        .await
        .map_err(ApplyError::Target)?;
    futures_util::pin_mut!(sink);
    sink.send(run.data.freeze())
        .await
        .map_err(ApplyError::Target)?;
    sink.finish().await.map_err(ApplyError::Target)?;
    Ok(run.rows)
}

/// The alias of the target table in update, move and delete statements.
const ROW: &str = "hm_row";

/// How a statement reaches its one target row: a WITH item to put first (empty for
/// a key), a FROM/USING item, and the WHERE condition. A key names one row; a whole
/// old row (REPLICA IDENTITY FULL) may match duplicates, so one of them is picked by
/// `(tableoid, ctid)`: a ctid alone is only unique within one chunk.
fn locate(table: &str, key: Key, values: &mut Vec<Value>) -> (String, String, String) {
    let filter = where_clause(key.columns, values);
    if !key.whole_row {
        return (String::new(), String::new(), filter);
    }
    (
        format!(
            "hm_one AS (SELECT tableoid AS rel, ctid AS tid FROM {table} WHERE {filter} LIMIT 1)"
        ),
        "hm_one".to_string(),
        format!("{ROW}.tableoid = hm_one.rel AND {ROW}.ctid = hm_one.tid"),
    )
}

/// Statements in flight at once at most: bounds the requests and responses queued.
const PIPELINE: usize = 512;

/// One update, move or delete as SQL and its parameter values.
struct Rendered {
    table: Arc<MovedTable>,
    what: &'static str,
    sql: String,
    values: Vec<Value>,
}

/// Updates, moves and deletes, in order, with their values as parameters; a
/// statement that finds no target row means the target diverged. They are
/// pipelined: each is sent before the answer to the one before it arrives (one
/// round trip each made an update-heavy follow round-trip bound, ~10k rows/s). The
/// order is the stream's: a request is sent at its future's first poll, and the
/// first polls happen one by one in order. After an error the server answers the
/// statements already sent with errors of their own; the first one is returned and
/// the caller's transaction rolls back, as before.
async fn run_statements(
    tx: &Client,
    prepared: &mut HashMap<String, Statement>,
    ops: Vec<Op>,
) -> Result<usize, ApplyError> {
    let count = ops.len();
    let rendered: Vec<Rendered> = ops.into_iter().map(render).collect();
    for wave in rendered.chunks(PIPELINE) {
        let mut statements = Vec::with_capacity(wave.len());
        for r in wave {
            let statement = match prepared.get(&r.sql) {
                Some(statement) => statement.clone(),
                None => {
                    let statement = tx.prepare(&r.sql).await.map_err(ApplyError::Target)?;
                    prepared.insert(r.sql.clone(), statement.clone());
                    statement
                }
            };
            statements.push(statement);
        }
        let mut inflight = Vec::with_capacity(wave.len());
        for (r, statement) in wave.iter().zip(&statements) {
            let mut fut = Box::pin(execute(tx, statement, &r.values));
            let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
            inflight.push((fut, first));
        }
        for ((fut, first), r) in inflight.into_iter().zip(wave) {
            let rows = match first {
                Poll::Ready(rows) => rows,
                Poll::Pending => fut.await,
            };
            if rows.map_err(ApplyError::Target)? == 0 {
                return Err(ApplyError::RowMissing {
                    table: r.table.target.to_string(),
                    op: r.what,
                });
            }
        }
    }
    Ok(count)
}

/// One prepared statement with text-format parameters: rows affected.
async fn execute(
    tx: &Client,
    statement: &Statement,
    values: &[Value],
) -> Result<u64, tokio_postgres::Error> {
    let params: Vec<TextParam> = values.iter().map(|v| TextParam(v.as_deref())).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    tx.execute(statement, &refs).await
}

/// The SQL of one update, move or delete, and its parameter values.
fn render(op: Op) -> Rendered {
    let mut values: Vec<Value> = Vec::new();
    let (table, what, sql) = match op {
        Op::Copy(_) => unreachable!("COPY runs go through copy()"),
        Op::Update { table, set, key } => {
            let name = table.target.sql();
            let (with, from, filter) = locate(&name, key, &mut values);
            let assignments: Vec<String> = set
                .into_iter()
                .map(|(col, v)| {
                    values.push(v);
                    format!("{} = ${}", quote_ident(&col), values.len())
                })
                .collect();
            let sql = format!(
                "{}UPDATE {name} AS {ROW} SET {}{} WHERE {filter}",
                with_clause(&with),
                assignments.join(", "),
                if from.is_empty() {
                    String::new()
                } else {
                    format!(" FROM {from}")
                }
            );
            (table, "update", sql)
        }
        Op::Delete { table, key } => {
            let name = table.target.sql();
            let (with, using, filter) = locate(&name, key, &mut values);
            let sql = format!(
                "{}DELETE FROM {name} AS {ROW}{} WHERE {filter}",
                with_clause(&with),
                if using.is_empty() {
                    String::new()
                } else {
                    format!(" USING {using}")
                }
            );
            (table, "delete", sql)
        }
        Op::Move { table, key, new } => {
            let name = table.target.sql();
            let (with, using, filter) = locate(&name, key, &mut values);
            let mut cols = Vec::with_capacity(new.len());
            let mut exprs = Vec::with_capacity(new.len());
            for (col, v) in new {
                let col = quote_ident(&col);
                exprs.push(match v {
                    NewValue::Set(v) => {
                        values.push(v);
                        format!("${}", values.len())
                    }
                    // Unchanged TOAST: the value the deleted target row held.
                    NewValue::KeepOld => format!("hm_old.{col}"),
                });
                cols.push(col);
            }
            // One statement: the INSERT reads what the DELETE removed, and inserts
            // nothing when it removed nothing (caught below). The parameters take
            // their types from the INSERT's columns.
            let first = if with.is_empty() {
                String::new()
            } else {
                format!("{with}, ")
            };
            let sql = format!(
                "WITH {first}hm_old AS (DELETE FROM {name} AS {ROW}{} WHERE {filter} RETURNING {ROW}.*) \
                 INSERT INTO {name} ({}) SELECT {} FROM hm_old",
                if using.is_empty() {
                    String::new()
                } else {
                    format!(" USING {using}")
                },
                cols.join(", "),
                exprs.join(", ")
            );
            (table, "update (moved)", sql)
        }
    };
    Rendered {
        table,
        what,
        sql,
        values,
    }
}

fn with_clause(item: &str) -> String {
    if item.is_empty() {
        String::new()
    } else {
        format!("WITH {item} ")
    }
}

/// `a = $1 AND b IS NULL …`: NULL only matches through IS NULL (possible with
/// REPLICA IDENTITY FULL), and `=` keeps the primary key index usable.
fn where_clause(key: Vec<(String, Value)>, values: &mut Vec<Value>) -> String {
    let terms: Vec<String> = key
        .into_iter()
        .map(|(col, v)| match v {
            None => format!("{} IS NULL", quote_ident(&col)),
            Some(v) => {
                values.push(Some(v));
                format!("{} = ${}", quote_ident(&col), values.len())
            }
        })
        .collect();
    terms.join(" AND ")
}

/// A parameter sent in text format, whatever the column's type: the bytes are the
/// source's text output, and the target's input function parses them (the same
/// route as COPY text), so no value is converted on the client.
#[derive(Debug)]
struct TextParam<'a>(Option<&'a [u8]>);

impl ToSql for TextParam<'_> {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self.0 {
            None => Ok(IsNull::Yes),
            Some(text) => {
                out.extend_from_slice(text);
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}
