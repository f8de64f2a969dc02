//! TimescaleDB's logical decoding markers: which changes compression and
//! decompression themselves produce, so a follower can leave them out.
//!
//! TimescaleDB (tsl/src/compression/wal_utils.h, identical in 2.19.3 and 2.29.2)
//! writes transactional logical messages with these prefixes and empty content
//! around its own row movements, when `timescaledb.enable_compression_wal_markers`
//! is on (the default; a server-wide, SIGHUP setting) and `wal_level = logical`:
//! - `tsl_compress_chunk_wrapper` (api.c): compression-start … compression-end around
//!   compressing or recompressing a chunk; a recompression nests a decompression.
//! - `decompress_chunk_impl` (api.c): decompression-start … end around
//!   `decompress_chunk`.
//! - `decompress_batches_scan` (compression_dml.c): one decompression pair per
//!   compressed batch that DML on a compressed chunk touches.
//!
//! Seen on 2.19.3: compressing streams inserts into the compressed chunk inside the
//! pair (the truncation of the uncompressed chunk is not decoded); DML decompression
//! streams the batch's rows as inserts into the uncompressed chunk inside the pair,
//! then the user's own change outside it. A DELETE whose predicates are all on
//! segmentby columns deletes whole batches without decompressing
//! (`timescaledb.enable_compressed_direct_batch_delete`, on by default): the stream
//! then holds an *empty* decompression pair and no row deletes at all, because a
//! compressed chunk has no replica identity. `Span::empty_decompression` names that
//! case so a follower can stop instead of diverging silently. On 2.29.2 the same
//! delete writes no marker at all (`decompress_batches_scan` skips them for a
//! complete batch delete), so there the stream holds no trace of it: see
//! docs/live.md, section 7.

/// The prefix of TimescaleDB's "compression starts" message.
pub const COMPRESSION_START: &str = "::timescaledb-compression-start";
/// The prefix of TimescaleDB's "compression ends" message.
pub const COMPRESSION_END: &str = "::timescaledb-compression-end";
/// The prefix of TimescaleDB's "decompression starts" message.
pub const DECOMPRESSION_START: &str = "::timescaledb-decompression-start";
/// The prefix of TimescaleDB's "decompression ends" message.
pub const DECOMPRESSION_END: &str = "::timescaledb-decompression-end";

/// What TimescaleDB is doing between a pair of markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Maintenance {
    /// Rows move from a chunk into its compressed chunk.
    Compression,
    /// Rows move from a compressed chunk back into the chunk.
    Decompression,
}

/// One TimescaleDB marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A maintenance operation starts.
    Start(Maintenance),
    /// It ends.
    End(Maintenance),
}

impl Marker {
    /// The marker a logical message's prefix names, if it is one of TimescaleDB's.
    pub fn from_prefix(prefix: &str) -> Option<Marker> {
        Some(match prefix {
            COMPRESSION_START => Marker::Start(Maintenance::Compression),
            COMPRESSION_END => Marker::End(Maintenance::Compression),
            DECOMPRESSION_START => Marker::Start(Maintenance::Decompression),
            DECOMPRESSION_END => Marker::End(Maintenance::Decompression),
            _ => return None,
        })
    }
}

/// A finished pair of markers, and how many row changes it enclosed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Which operation.
    pub kind: Maintenance,
    /// Row changes (insert, update, delete, truncate) seen between the markers,
    /// nested spans included.
    pub changes: usize,
    /// Whether it sat inside another span (a recompression's decompression).
    pub nested: bool,
}

impl Span {
    /// A top-level decompression that moved no row: TimescaleDB deleted whole
    /// compressed batches, and the rows they held vanished from the source without
    /// any change in the stream.
    pub fn empty_decompression(&self) -> bool {
        self.kind == Maintenance::Decompression && self.changes == 0 && !self.nested
    }
}

/// Markers that do not pair up inside one transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkerError {
    /// An end without its start, or the end of another operation.
    #[error("TimescaleDB marker {found:?} ends {open:?}")]
    Mismatched {
        /// The marker that came.
        found: Marker,
        /// The operation open at that point, if any.
        open: Option<Maintenance>,
    },
    /// The transaction committed with a span still open.
    #[error("a transaction committed inside a TimescaleDB {0:?} span")]
    Unclosed(Maintenance),
}

/// Follows the markers of one transaction at a time.
#[derive(Debug, Default)]
pub struct Markers {
    open: Vec<(Maintenance, usize)>,
}

impl Markers {
    /// A fresh tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the change that comes now is TimescaleDB's own row movement.
    pub fn inside(&self) -> bool {
        !self.open.is_empty()
    }

    /// Count a row change; returns `true` when it lies inside a span (skip it).
    pub fn change(&mut self) -> bool {
        for (_, n) in &mut self.open {
            *n += 1;
        }
        self.inside()
    }

    /// Take a marker; an end returns the span it closes.
    pub fn marker(&mut self, marker: Marker) -> Result<Option<Span>, MarkerError> {
        match marker {
            Marker::Start(kind) => {
                self.open.push((kind, 0));
                Ok(None)
            }
            Marker::End(kind) => match self.open.last() {
                Some(&(open, changes)) if open == kind => {
                    self.open.pop();
                    Ok(Some(Span {
                        kind,
                        changes,
                        nested: !self.open.is_empty(),
                    }))
                }
                other => Err(MarkerError::Mismatched {
                    found: marker,
                    open: other.map(|(k, _)| *k),
                }),
            },
        }
    }

    /// The transaction commits: no span may stay open.
    pub fn commit(&mut self) -> Result<(), MarkerError> {
        match self.open.first() {
            Some(&(kind, _)) => {
                self.open.clear();
                Err(MarkerError::Unclosed(kind))
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use Maintenance::{Compression, Decompression};

    #[test]
    fn prefixes_name_the_markers() {
        assert_eq!(
            Marker::from_prefix("::timescaledb-compression-start"),
            Some(Marker::Start(Compression))
        );
        assert_eq!(
            Marker::from_prefix("::timescaledb-decompression-end"),
            Some(Marker::End(Decompression))
        );
        assert_eq!(Marker::from_prefix("hypermove-fence"), None);
    }

    #[test]
    fn changes_inside_spans_are_maintenance() {
        let mut m = Markers::new();
        assert!(!m.change(), "a user insert");
        m.marker(Marker::Start(Decompression)).unwrap();
        assert!(m.change() && m.change(), "decompressed rows");
        let span = m.marker(Marker::End(Decompression)).unwrap().unwrap();
        assert_eq!((span.changes, span.empty_decompression()), (2, false));
        assert!(!m.change(), "the user's update after the decompression");
        m.commit().unwrap();
    }

    #[test]
    fn a_recompression_nests_a_decompression() {
        let mut m = Markers::new();
        m.marker(Marker::Start(Compression)).unwrap();
        m.marker(Marker::Start(Decompression)).unwrap();
        let inner = m.marker(Marker::End(Decompression)).unwrap().unwrap();
        assert!(inner.nested && !inner.empty_decompression());
        assert!(m.change());
        let outer = m.marker(Marker::End(Compression)).unwrap().unwrap();
        assert_eq!(outer.changes, 1);
        assert!(!outer.nested);
    }

    #[test]
    fn an_empty_decompression_is_a_direct_batch_delete() {
        let mut m = Markers::new();
        m.marker(Marker::Start(Decompression)).unwrap();
        let span = m.marker(Marker::End(Decompression)).unwrap().unwrap();
        assert!(span.empty_decompression());
    }

    #[test]
    fn unpaired_markers_are_errors() {
        let mut m = Markers::new();
        assert!(m.marker(Marker::End(Compression)).is_err());
        m.marker(Marker::Start(Compression)).unwrap();
        assert_eq!(
            m.marker(Marker::End(Decompression)),
            Err(MarkerError::Mismatched {
                found: Marker::End(Decompression),
                open: Some(Compression)
            })
        );
        assert_eq!(m.commit(), Err(MarkerError::Unclosed(Compression)));
        assert!(!m.inside(), "commit resets the tracker");
    }
}
