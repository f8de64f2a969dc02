//! `verify --diff`: the rows that differ in failing windows.
//!
//! Both sides stream in one order (key, then row, by their bytes) through portals, a
//! batch at a time, and are merged as they arrive: memory holds a batch per side, the
//! rows of the key being compared and the rows listed, whatever the window's size.
//! The source reads inside the verification's snapshot, so on a live source the
//! listing shows what the verdict compared, never rows written since.

use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};

use tokio_postgres::{Portal, Row, Transaction};

use super::{Check, RowDiff, Verdict};
use crate::pg::{ConnInfo, Role, connect, describe_error, session};
use crate::plan::{Action, Plan, Probe};

/// Rows fetched per round trip from each side: with the limit, what bounds memory.
const BATCH: i32 = 10_000;

/// A probe's `key, row` query, sorted by bytes; `{rows}` is the probe's query.
const SORTED_ROWS: &str = include_str!("sql/sorted_rows.sql");

const APP: &str = "hypermove verify --diff";

/// For every failing window, list up to `limit` differing rows of each kind. The
/// source is read inside `snapshot` (the one the verdict's probes read), the target
/// as it is now; only failing windows are read, and a window's reading stops as soon
/// as every list is full and one more difference was seen.
pub async fn diff(
    plan: &Plan,
    verdict: &Verdict,
    source: &ConnInfo,
    snapshot: Option<&str>,
    target: &ConnInfo,
    limit: usize,
) -> Result<Vec<RowDiff>, DiffError> {
    let failing: Vec<&Check> = verdict.mismatches().filter(|c| c.error.is_none()).collect();
    if failing.is_empty() {
        return Ok(Vec::new());
    }
    let mut source = connect(source, Role::Source, APP)
        .await
        .map_err(DiffError::Connect)?;
    let mut target = connect(target, Role::Target, APP)
        .await
        .map_err(DiffError::Connect)?;
    let source = session::join_snapshot_tx(&mut source, snapshot)
        .await
        .map_err(DiffError::Snapshot)?;
    session::setup(&target).await.map_err(DiffError::Query)?;
    // Portals live only inside a transaction.
    let target = target
        .build_transaction()
        .read_only(true)
        .start()
        .await
        .map_err(DiffError::Query)?;
    let probes: BTreeMap<&str, &Probe> = plan
        .graph
        .node_weights()
        .filter_map(|s| match &s.action {
            Action::Probe(p) => Some((s.id.as_str(), p)),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for check in failing {
        let Some(probe) = probes.get(check.id.as_str()) else {
            continue;
        };
        let (Some(source_rows), Some(target_rows)) =
            (&probe.source_rows_sql, &probe.target_rows_sql)
        else {
            continue;
        };
        let mut s = PortalRows::open(&source, source_rows).await?;
        let mut t = PortalRows::open(&target, target_rows).await?;
        out.push(merge(&check.id, &mut s, &mut t, limit).await?);
    }
    Ok(out)
}

/// The rows of a failing window could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// A side could not be reached.
    #[error("{0}")]
    Connect(#[source] crate::pg::ConnError),
    /// The source's reader could not join the verification's snapshot.
    #[error("joining the source snapshot: {}", describe_error(.0))]
    Snapshot(#[source] tokio_postgres::Error),
    /// A side's query failed.
    #[error("{}", describe_error(.0))]
    Query(#[source] tokio_postgres::Error),
    /// A side's rows did not arrive in byte order, so no merge of them can be trusted
    /// (a server whose encoding is not UTF-8 can sort otherwise than Rust compares).
    #[error("the {side} sent the rows of {id} out of byte order; no diff was made of them")]
    Unordered {
        /// `source` or `target`.
        side: &'static str,
        /// The verify step.
        id: String,
    },
}

/// One side's `(key, row)` pairs, in byte order of the key, then of the row.
trait SortedRows {
    /// The next pair, or `None` at the end.
    async fn next(&mut self) -> Result<Option<(String, String)>, DiffError>;
}

/// A window's rows streamed from a portal, [`BATCH`] at a time.
struct PortalRows<'t, 'c> {
    tx: &'t Transaction<'c>,
    portal: Portal,
    batch: std::vec::IntoIter<Row>,
    /// The portal ran to completion: nothing is left after `batch`.
    done: bool,
}

impl<'t, 'c> PortalRows<'t, 'c> {
    async fn open(tx: &'t Transaction<'c>, rows_sql: &str) -> Result<Self, DiffError> {
        let sql = SORTED_ROWS.replace("{rows}", rows_sql);
        let portal = tx.bind(sql.as_str(), &[]).await.map_err(DiffError::Query)?;
        Ok(Self {
            tx,
            portal,
            batch: Vec::new().into_iter(),
            done: false,
        })
    }
}

impl SortedRows for PortalRows<'_, '_> {
    async fn next(&mut self) -> Result<Option<(String, String)>, DiffError> {
        loop {
            if let Some(row) = self.batch.next() {
                let key = row.try_get(0).map_err(DiffError::Query)?;
                let value = row.try_get(1).map_err(DiffError::Query)?;
                return Ok(Some((key, value)));
            }
            if self.done {
                return Ok(None);
            }
            let rows = self
                .tx
                .query_portal(&self.portal, BATCH)
                .await
                .map_err(DiffError::Query)?;
            // A short batch is the last one: the portal has run to completion.
            self.done = rows.len() < BATCH as usize;
            self.batch = rows.into_iter();
        }
    }
}

/// Merge one window's two sorted sides into its differences, as multisets grouped
/// by key: rows equal on both sides cancel; what is left of a key pairs up, in order,
/// as `changed`; the rest is missing on or extra on the target. At most `limit` of
/// each kind are listed. Reading stops once every list is full and one more difference
/// was seen, since nothing read after it could change what is shown.
async fn merge<S: SortedRows, T: SortedRows>(
    id: &str,
    source: &mut S,
    target: &mut T,
    limit: usize,
) -> Result<RowDiff, DiffError> {
    let mut lists = Lists::new(id, limit);
    let mut group = Group::default();
    // Both first reads at once: each server sorts its side before the first row.
    let (mut s, mut t) = tokio::try_join!(source.next(), target.next())?;
    while !lists.complete() {
        let order = match (&s, &t) {
            (None, None) => break,
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
        };
        match order {
            Ordering::Equal => {
                let ((key, _), _) = tokio::try_join!(
                    advance(source, &mut s, "source", id),
                    advance(target, &mut t, "target", id)
                )?;
                group.enter(key, &mut lists);
            }
            Ordering::Less => {
                let (key, row) = advance(source, &mut s, "source", id).await?;
                group.enter(key, &mut lists);
                group.source_only(row, &mut lists);
            }
            Ordering::Greater => {
                let (key, row) = advance(target, &mut t, "target", id).await?;
                group.enter(key, &mut lists);
                group.target_only(row, &mut lists);
            }
        }
    }
    group.flush(&mut lists);
    Ok(lists.diff)
}

/// Take the head row of a side and read the one after it, which must not sort before it.
async fn advance<R: SortedRows>(
    rows: &mut R,
    head: &mut Option<(String, String)>,
    side: &'static str,
    id: &str,
) -> Result<(String, String), DiffError> {
    let row = head.take().expect("a side advances only past a row it has");
    let next = rows.next().await?;
    if next.as_ref().is_some_and(|n| *n < row) {
        return Err(DiffError::Unordered {
            side,
            id: id.to_string(),
        });
    }
    *head = next;
    Ok(row)
}

/// The lists of one window, each cut at the limit.
struct Lists {
    diff: RowDiff,
    limit: usize,
}

impl Lists {
    fn new(id: &str, limit: usize) -> Self {
        Self {
            diff: RowDiff {
                id: id.to_string(),
                changed: Vec::new(),
                missing_on_target: Vec::new(),
                extra_on_target: Vec::new(),
                truncated: false,
            },
            limit,
        }
    }

    fn changed(&mut self, key: &str, source: String, target: String) {
        if self.diff.changed.len() < self.limit {
            self.diff.changed.push((key.to_string(), source, target));
        } else {
            self.diff.truncated = true;
        }
    }

    /// `copies` copies of a row only one side has.
    fn one_sided(&mut self, on_source: bool, row: String, copies: u64) {
        let list = if on_source {
            &mut self.diff.missing_on_target
        } else {
            &mut self.diff.extra_on_target
        };
        for _ in 0..copies {
            if list.len() >= self.limit {
                self.diff.truncated = true;
                return;
            }
            list.push(row.clone());
        }
    }

    /// Every list is full and a difference did not fit: nothing more can be shown.
    fn complete(&self) -> bool {
        let d = &self.diff;
        d.truncated
            && d.changed.len() >= self.limit
            && d.missing_on_target.len() >= self.limit
            && d.extra_on_target.len() >= self.limit
    }
}

/// The key being merged and its rows that one side has and the other has not (yet).
/// At most one side has pending rows: a row of the other side pairs with the first.
#[derive(Default)]
struct Group {
    key: Option<String>,
    source: Pending,
    target: Pending,
}

impl Group {
    /// Move on to `key`, settling the previous key's unpaired rows first.
    fn enter(&mut self, key: String, lists: &mut Lists) {
        if self.key.as_deref() != Some(key.as_str()) {
            self.flush(lists);
            self.key = Some(key);
        }
    }

    fn source_only(&mut self, row: String, lists: &mut Lists) {
        match self.target.pop() {
            Some(other) => lists.changed(self.key(), row, other),
            None => self.source.push(row),
        }
    }

    fn target_only(&mut self, row: String, lists: &mut Lists) {
        match self.source.pop() {
            Some(other) => lists.changed(self.key(), other, row),
            None => self.target.push(row),
        }
    }

    fn key(&self) -> &str {
        self.key.as_deref().expect("a row enters its key first")
    }

    /// The key is done: its unpaired rows are missing on or extra on the target.
    fn flush(&mut self, lists: &mut Lists) {
        for (row, copies) in self.source.0.drain(..) {
            lists.one_sided(true, row, copies);
        }
        for (row, copies) in self.target.0.drain(..) {
            lists.one_sided(false, row, copies);
        }
    }
}

/// Unpaired rows of one key, in order, as (row, copies): without a primary key the
/// row is its own key, so all of a key's rows are copies of one, and a million
/// duplicates take one entry.
#[derive(Default)]
struct Pending(VecDeque<(String, u64)>);

impl Pending {
    fn push(&mut self, row: String) {
        match self.0.back_mut() {
            Some((last, copies)) if *last == row => *copies += 1,
            _ => self.0.push_back((row, 1)),
        }
    }

    fn pop(&mut self) -> Option<String> {
        let (row, copies) = self.0.front_mut()?;
        if *copies > 1 {
            *copies -= 1;
            Some(row.clone())
        } else {
            self.0.pop_front().map(|(row, _)| row)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One side held in memory; `read` counts the rows taken, to see where a merge stopped.
    struct Rows {
        rows: VecDeque<(String, String)>,
        read: usize,
    }

    impl SortedRows for Rows {
        async fn next(&mut self) -> Result<Option<(String, String)>, DiffError> {
            let row = self.rows.pop_front();
            self.read += usize::from(row.is_some());
            Ok(row)
        }
    }

    /// A side as its server sends it: sorted by key, then row.
    fn sorted(list: &[(&str, &str)]) -> Rows {
        let mut rows: Vec<(String, String)> = list
            .iter()
            .map(|(k, r)| (k.to_string(), r.to_string()))
            .collect();
        rows.sort();
        Rows {
            rows: rows.into(),
            read: 0,
        }
    }

    async fn run(source: &mut Rows, target: &mut Rows, limit: usize) -> RowDiff {
        merge("w", source, target, limit)
            .await
            .expect("sorted sides")
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn diff_pairs_by_key_and_counts_duplicates() {
        let d = run(
            &mut sorted(&[("1", "(1,a)"), ("2", "(2,b)"), ("3", "(3,c)")]),
            &mut sorted(&[
                ("1", "(1,a)"),
                ("2", "(2,B)"),
                ("3", "(3,c)"),
                ("3", "(3,c)"),
                ("4", "(4,d)"),
            ]),
            10,
        )
        .await;
        assert_eq!(
            d.changed,
            vec![("2".into(), "(2,b)".into(), "(2,B)".into())]
        );
        assert!(d.missing_on_target.is_empty());
        assert_eq!(d.extra_on_target, strings(&["(3,c)", "(4,d)"]));
        assert!(!d.truncated);
    }

    #[tokio::test]
    async fn diff_is_limited() {
        let source: Vec<(String, String)> =
            (0..5).map(|i| (i.to_string(), format!("({i})"))).collect();
        let pairs: Vec<(&str, &str)> = source.iter().map(|(k, r)| (&**k, &**r)).collect();
        let d = run(&mut sorted(&pairs), &mut sorted(&[]), 2).await;
        assert_eq!(d.missing_on_target, strings(&["(0)", "(1)"]));
        assert!(d.truncated);
    }

    /// Without a primary key the row is its key: copies count, one side's surplus is
    /// listed once per copy, and keys on one side only never pair.
    #[tokio::test]
    async fn duplicates_and_keys_on_one_side() {
        let d = run(
            &mut sorted(&[
                ("(a)", "(a)"),
                ("(a)", "(a)"),
                ("(a)", "(a)"),
                ("(b)", "(b)"),
            ]),
            &mut sorted(&[("(a)", "(a)"), ("(c)", "(c)"), ("(c)", "(c)")]),
            10,
        )
        .await;
        assert!(d.changed.is_empty());
        assert_eq!(d.missing_on_target, strings(&["(a)", "(a)", "(b)"]));
        assert_eq!(d.extra_on_target, strings(&["(c)", "(c)"]));
        assert!(!d.truncated);
    }

    /// Several rows under one key pair up in order; the rest is missing or extra.
    #[tokio::test]
    async fn rows_of_one_key_pair_in_order() {
        let d = run(
            &mut sorted(&[("k", "a"), ("k", "c"), ("k", "e"), ("k", "x")]),
            &mut sorted(&[("k", "b"), ("k", "x")]),
            10,
        )
        .await;
        assert_eq!(d.changed, vec![("k".into(), "a".into(), "b".into())]);
        assert_eq!(d.missing_on_target, strings(&["c", "e"]));
        assert!(d.extra_on_target.is_empty());
    }

    /// One difference of each kind, then a changed row that does not fit: the merge
    /// stops there, reading nothing of the thousand rows after it.
    #[tokio::test]
    async fn a_full_diff_stops_reading() {
        let mut s = vec![("1", "s1"), ("2", "s2"), ("4", "s4")];
        let mut t = vec![("1", "t1"), ("3", "t3"), ("4", "t4")];
        let tail: Vec<String> = (0..1000).map(|i| format!("9{i:04}")).collect();
        s.extend(tail.iter().map(|k| (k.as_str(), k.as_str())));
        t.extend(tail.iter().map(|k| (k.as_str(), "other")));
        let (mut s, mut t) = (sorted(&s), sorted(&t));
        let d = run(&mut s, &mut t, 1).await;
        assert_eq!(d.changed, vec![("1".into(), "s1".into(), "t1".into())]);
        assert_eq!(d.missing_on_target, strings(&["s2"]));
        assert_eq!(d.extra_on_target, strings(&["t3"]));
        assert!(d.truncated);
        // Up to key 4 and one row past it, on each side.
        assert_eq!((s.read, t.read), (4, 4));
    }

    /// Full lists alone do not stop the merge: only a difference that does not fit says
    /// that more exist, so equal rows after it are read to the end.
    #[tokio::test]
    async fn full_lists_without_more_differences_are_not_truncated() {
        let mut s = vec![("1", "s1"), ("2", "s2")];
        let mut t = vec![("1", "t1"), ("3", "t3")];
        let tail: Vec<String> = (0..100).map(|i| format!("9{i:04}")).collect();
        s.extend(tail.iter().map(|k| (k.as_str(), k.as_str())));
        t.extend(tail.iter().map(|k| (k.as_str(), k.as_str())));
        let (mut s, mut t) = (sorted(&s), sorted(&t));
        let d = run(&mut s, &mut t, 1).await;
        assert_eq!(d.changed, vec![("1".into(), "s1".into(), "t1".into())]);
        assert_eq!(d.missing_on_target, strings(&["s2"]));
        assert_eq!(d.extra_on_target, strings(&["t3"]));
        assert!(!d.truncated);
        assert_eq!((s.read, t.read), (102, 102));
    }

    #[tokio::test]
    async fn a_side_out_of_order_is_an_error() {
        let mut s = Rows {
            rows: [("b", "b"), ("a", "a")]
                .iter()
                .map(|(k, r)| (k.to_string(), r.to_string()))
                .collect(),
            read: 0,
        };
        let err = merge("w", &mut s, &mut sorted(&[]), 5).await.unwrap_err();
        assert!(
            matches!(err, DiffError::Unordered { side: "source", .. }),
            "{err}"
        );
    }

    /// What `--diff` listed before it streamed: every row of both sides in memory,
    /// grouped by key. The merge must list exactly the same.
    fn load_everything(
        source: &[(String, String)],
        target: &[(String, String)],
        limit: usize,
    ) -> RowDiff {
        let mut by_key: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
        for (k, r) in source {
            by_key.entry(k).or_default().0.push(r);
        }
        for (k, r) in target {
            by_key.entry(k).or_default().1.push(r);
        }
        let mut lists = Lists::new("w", limit);
        for (key, (mut s, mut t)) in by_key {
            s.sort();
            t.sort();
            let (mut only_s, mut only_t) = (Vec::new(), Vec::new());
            let (mut i, mut j) = (0, 0);
            while i < s.len() || j < t.len() {
                match (s.get(i), t.get(j)) {
                    (Some(a), Some(b)) if a == b => (i, j) = (i + 1, j + 1),
                    (Some(a), Some(b)) if a < b => {
                        only_s.push(a.to_string());
                        i += 1;
                    }
                    (Some(a), None) => {
                        only_s.push(a.to_string());
                        i += 1;
                    }
                    (_, Some(b)) => {
                        only_t.push(b.to_string());
                        j += 1;
                    }
                    (None, None) => unreachable!(),
                }
            }
            let pairs = only_s.len().min(only_t.len());
            for (a, b) in only_s.drain(..pairs).zip(only_t.drain(..pairs)) {
                lists.changed(key, a, b);
            }
            for a in only_s {
                lists.one_sided(true, a, 1);
            }
            for b in only_t {
                lists.one_sided(false, b, 1);
            }
        }
        lists.diff
    }

    /// Many generated pairs of sides (few keys, few values, duplicates, keys on one side
    /// only): the streaming merge lists what loading everything listed.
    #[tokio::test]
    async fn the_merge_lists_what_loading_everything_listed() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        // Cases that paired rows, and cases cut short: both must be common.
        let (mut paired, mut cut) = (0, 0);
        for case in 0..500 {
            let mut side = |len: u64| -> Vec<(String, String)> {
                let mut rows: Vec<(String, String)> = (0..next(len))
                    .map(|_| (format!("k{}", next(6)), format!("v{}", next(4))))
                    .collect();
                rows.sort();
                rows
            };
            let (s, t) = (side(12), side(12));
            let limit = next(4) as usize;
            let expected = load_everything(&s, &t, limit);
            let rows = |v: &[(String, String)]| Rows {
                rows: v.iter().cloned().collect(),
                read: 0,
            };
            let got = run(&mut rows(&s), &mut rows(&t), limit).await;
            let what = format!("case {case}, limit {limit}:\n{s:?}\n{t:?}");
            assert_eq!(got.changed, expected.changed, "{what}");
            assert_eq!(got.missing_on_target, expected.missing_on_target, "{what}");
            assert_eq!(got.extra_on_target, expected.extra_on_target, "{what}");
            assert_eq!(got.truncated, expected.truncated, "{what}");
            paired += usize::from(!got.changed.is_empty());
            cut += usize::from(got.truncated);
        }
        assert!(
            paired > 100 && cut > 100,
            "{paired} paired, {cut} cut short"
        );
    }
}
