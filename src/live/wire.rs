//! The byte level of a replication connection: backend message frames, the
//! replication messages inside CopyData, and the standby status update.
//!
//! postgres-protocol writes the frontend messages, but its backend parser does not
//! know `CopyBothResponse` (`W`), which START_REPLICATION answers with; so frames
//! are cut here, and only the few message bodies a walsender sends are read.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::Lsn;

/// Seconds from the Unix epoch to PostgreSQL's epoch, 2000-01-01 UTC.
const PG_EPOCH_OFFSET: Duration = Duration::from_secs(946_684_800);

/// The largest backend message accepted (a guard against a corrupt length).
const MAX_FRAME: usize = 1 << 30;

/// One backend message: its tag and its body, without the length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message type byte (`R`, `E`, `d`, `W`, `Z`, …).
    pub tag: u8,
    /// The body after the length word.
    pub body: Bytes,
}

/// Why bytes from the server could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A length word below 4 or above the guard.
    #[error("invalid message length {len} for message {tag:?}")]
    Length {
        /// The message tag.
        tag: char,
        /// The length word read.
        len: u32,
    },
    /// A message body shorter than its fields.
    #[error("message {0:?} is shorter than its fields")]
    Short(char),
    /// A CopyData payload that is neither XLogData nor a keepalive.
    #[error("unknown replication message {0:?} inside CopyData")]
    UnknownCopyData(char),
}

/// Cut one complete frame off the front of `buf`, or `None` if more bytes are needed.
pub fn parse_frame(buf: &mut BytesMut) -> Result<Option<Frame>, WireError> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let tag = buf[0];
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
    if len < 4 || len as usize > MAX_FRAME {
        return Err(WireError::Length {
            tag: tag as char,
            len,
        });
    }
    let total = 1 + len as usize;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    let mut frame = buf.split_to(total).freeze();
    frame.advance(5);
    Ok(Some(Frame { tag, body: frame }))
}

/// What the walsender sends inside CopyData while streaming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationData {
    /// `w`: one pgoutput message.
    XLogData {
        /// Where the data starts in the WAL (0 inside a transaction for some messages).
        wal_start: Lsn,
        /// The server's current end of WAL.
        wal_end: Lsn,
        /// The server's clock, microseconds since 2000-01-01 UTC.
        server_time: i64,
        /// The pgoutput payload; see `pgoutput::decode`.
        data: Bytes,
    },
    /// `k`: the server is alive; when `reply_requested`, answer with a status update
    /// soon or `wal_sender_timeout` ends the connection.
    Keepalive {
        /// The server's current end of WAL.
        wal_end: Lsn,
        /// The server's clock, microseconds since 2000-01-01 UTC.
        server_time: i64,
        /// Whether the server asks for a status update now.
        reply_requested: bool,
    },
}

/// Read a CopyData body sent during START_REPLICATION.
pub fn parse_replication_data(mut body: Bytes) -> Result<ReplicationData, WireError> {
    if body.is_empty() {
        return Err(WireError::Short('d'));
    }
    match body.get_u8() {
        b'w' => {
            if body.remaining() < 24 {
                return Err(WireError::Short('w'));
            }
            Ok(ReplicationData::XLogData {
                wal_start: Lsn(body.get_u64()),
                wal_end: Lsn(body.get_u64()),
                server_time: body.get_i64(),
                data: body,
            })
        }
        b'k' => {
            if body.remaining() < 17 {
                return Err(WireError::Short('k'));
            }
            Ok(ReplicationData::Keepalive {
                wal_end: Lsn(body.get_u64()),
                server_time: body.get_i64(),
                reply_requested: body.get_u8() == 1,
            })
        }
        other => Err(WireError::UnknownCopyData(other as char)),
    }
}

/// The CopyData payload of a standby status update (`r`). Positions are "the last
/// byte + 1" already processed: for a logical slot, `flushed` becomes the slot's
/// `confirmed_flush_lsn`, so it must never pass what the target has durably applied.
pub fn standby_status_update(
    written: Lsn,
    flushed: Lsn,
    applied: Lsn,
    now: i64,
    reply: bool,
) -> Bytes {
    let mut b = BytesMut::with_capacity(34);
    b.put_u8(b'r');
    b.put_u64(written.0);
    b.put_u64(flushed.0);
    b.put_u64(applied.0);
    b.put_i64(now);
    b.put_u8(u8::from(reply));
    b.freeze()
}

/// Now, in microseconds since 2000-01-01 UTC, as the protocol counts time.
pub fn pg_now() -> i64 {
    let since_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since_unix
        .checked_sub(PG_EPOCH_OFFSET)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The fields of an ErrorResponse or NoticeResponse that make a useful line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerMessage {
    /// Severity (`ERROR`, `FATAL`, `NOTICE`, …), untranslated when the server sent it.
    pub severity: String,
    /// SQLSTATE.
    pub code: String,
    /// The primary message.
    pub message: String,
    /// The detail, if any.
    pub detail: Option<String>,
    /// The hint, if any.
    pub hint: Option<String>,
}

impl std::fmt::Display for ServerMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)?;
        if let Some(d) = &self.detail {
            write!(f, "; {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "; hint: {h}")?;
        }
        Ok(())
    }
}

/// Read the fields of an ErrorResponse/NoticeResponse body.
pub fn parse_server_message(body: &[u8]) -> ServerMessage {
    let mut out = ServerMessage::default();
    let mut rest = body;
    while let Some((&kind, tail)) = rest.split_first() {
        if kind == 0 {
            break;
        }
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        let value = String::from_utf8_lossy(&tail[..end]).into_owned();
        rest = tail.get(end + 1..).unwrap_or(&[]);
        match kind {
            b'V' => out.severity = value,
            b'S' if out.severity.is_empty() => out.severity = value,
            b'C' => out.code = value,
            b'M' => out.message = value,
            b'D' => out.detail = Some(value),
            b'H' => out.hint = Some(value),
            _ => {}
        }
    }
    out
}

/// Read a DataRow body as text columns (`None` for NULL). Replication commands and
/// the simple query protocol answer in text.
pub fn parse_data_row(mut body: Bytes) -> Result<Vec<Option<String>>, WireError> {
    if body.remaining() < 2 {
        return Err(WireError::Short('D'));
    }
    let n = body.get_i16().max(0) as usize;
    let mut row = Vec::with_capacity(n);
    for _ in 0..n {
        if body.remaining() < 4 {
            return Err(WireError::Short('D'));
        }
        let len = body.get_i32();
        if len < 0 {
            row.push(None);
            continue;
        }
        let len = len as usize;
        if body.remaining() < len {
            return Err(WireError::Short('D'));
        }
        row.push(Some(
            String::from_utf8_lossy(&body.split_to(len)).into_owned(),
        ));
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_only_when_complete() {
        let mut buf = BytesMut::from(&b"Z\0\0\0\x05Id\0\0\0"[..]);
        let f = parse_frame(&mut buf).unwrap().unwrap();
        assert_eq!((f.tag, &f.body[..]), (b'Z', &b"I"[..]));
        assert_eq!(parse_frame(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"\x06hi");
        let f = parse_frame(&mut buf).unwrap().unwrap();
        assert_eq!((f.tag, &f.body[..]), (b'd', &b"hi"[..]));
        assert!(buf.is_empty());
        let mut bad = BytesMut::from(&b"E\0\0\0\x02"[..]);
        assert!(matches!(
            parse_frame(&mut bad),
            Err(WireError::Length { tag: 'E', len: 2 })
        ));
    }

    #[test]
    fn xlogdata_and_keepalive() {
        let mut w = vec![b'w'];
        w.extend_from_slice(&1u64.to_be_bytes());
        w.extend_from_slice(&2u64.to_be_bytes());
        w.extend_from_slice(&3i64.to_be_bytes());
        w.extend_from_slice(b"B...");
        assert_eq!(
            parse_replication_data(Bytes::from(w)).unwrap(),
            ReplicationData::XLogData {
                wal_start: Lsn(1),
                wal_end: Lsn(2),
                server_time: 3,
                data: Bytes::from_static(b"B..."),
            }
        );
        let mut k = vec![b'k'];
        k.extend_from_slice(&0x5_a4b5_9fa8u64.to_be_bytes());
        k.extend_from_slice(&7i64.to_be_bytes());
        k.push(1);
        assert_eq!(
            parse_replication_data(Bytes::from(k)).unwrap(),
            ReplicationData::Keepalive {
                wal_end: Lsn(0x5_a4b5_9fa8),
                server_time: 7,
                reply_requested: true,
            }
        );
        assert_eq!(
            parse_replication_data(Bytes::from_static(b"k\0")),
            Err(WireError::Short('k'))
        );
        assert_eq!(
            parse_replication_data(Bytes::from_static(b"x")),
            Err(WireError::UnknownCopyData('x'))
        );
    }

    #[test]
    fn status_update_layout() {
        let b = standby_status_update(Lsn(1), Lsn(2), Lsn(3), 4, true);
        assert_eq!(b.len(), 34);
        assert_eq!(b[0], b'r');
        assert_eq!(&b[1..9], &1u64.to_be_bytes());
        assert_eq!(&b[9..17], &2u64.to_be_bytes());
        assert_eq!(&b[17..25], &3u64.to_be_bytes());
        assert_eq!(&b[25..33], &4i64.to_be_bytes());
        assert_eq!(b[33], 1);
        // 2026 is about 26 years after the PostgreSQL epoch.
        let years = pg_now() / 1_000_000 / 86_400 / 365;
        assert!((20..200).contains(&years), "{years}");
    }

    #[test]
    fn server_messages_and_rows() {
        let body =
            b"SERROR\0VERROR\0C42704\0Mreplication slot \"x\" does not exist\0Hcreate it\0\0";
        let m = parse_server_message(body);
        assert_eq!(m.severity, "ERROR");
        assert_eq!(m.code, "42704");
        assert_eq!(
            m.to_string(),
            "replication slot \"x\" does not exist (42704); hint: create it"
        );
        let mut row = vec![0, 2];
        row.extend_from_slice(&2i32.to_be_bytes());
        row.extend_from_slice(b"ab");
        row.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            parse_data_row(Bytes::from(row)).unwrap(),
            vec![Some("ab".to_string()), None]
        );
        assert_eq!(
            parse_data_row(Bytes::from_static(&[0, 1, 0, 0, 0, 9])),
            Err(WireError::Short('D'))
        );
    }
}
