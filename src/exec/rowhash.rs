//! Row hashes of a COPY stream, taken as the bytes pass through, without decoding a
//! value.
//!
//! A binary COPY row is a field count and, per field, a length (-1 for NULL) and
//! the value's send-format bytes: the row's bytes are its canonical encoding, so the
//! hash of those bytes tells rows apart exactly as the values differ (`-0.0` from
//! `0.0`, `1.0` from `1.00`, NaN from NULL, NFC from NFD). A text COPY row is one
//! line; under the fixed session settings (`pg::session::SETUP`) equal values print
//! equal text on every supported server.
//!
//! The rows of a window are combined order-independently: the 128-bit XXH3 hash of
//! each row, summed modulo 2^128. A sum, unlike an XOR, keeps duplicates (two copies
//! of a row do not cancel), and sums of windows add up, so the hash of a range does
//! not depend on how its rows were split or ordered.

/// What a stream of COPY rows comes to: how many rows and their combined hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Digest {
    /// Rows seen.
    pub rows: u64,
    /// The sum of the rows' 128-bit hashes, wrapping.
    pub sum: u128,
}

impl Digest {
    /// The hash as it is written in reports and the journal: 32 hex digits.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.sum)
    }

    fn add(&mut self, row: &[u8]) {
        self.rows += 1;
        self.sum = self.sum.wrapping_add(xxhash_rust::xxh3::xxh3_128(row));
    }
}

/// The COPY formats a hasher reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `FORMAT binary`.
    Binary,
    /// `FORMAT text`.
    Text,
}

impl Format {
    /// The format a COPY statement names (`… (FORMAT binary)`); text otherwise.
    pub fn of(copy_sql: &str) -> Self {
        if copy_sql.contains("(FORMAT binary)") {
            Format::Binary
        } else {
            Format::Text
        }
    }
}

/// A malformed stream: the server sent what a COPY of that format never holds.
#[derive(Debug, thiserror::Error)]
#[error("the COPY stream is not valid {format:?} COPY data: {what}")]
pub struct StreamError {
    format: Format,
    what: &'static str,
}

/// The 11-byte signature every binary COPY stream starts with.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Hashes the rows of one COPY stream, fed in pieces of any size.
#[derive(Debug)]
pub struct RowHasher {
    format: Format,
    digest: Digest,
    /// The start of a row (or the header) that the pieces so far cut off.
    carry: Vec<u8>,
    /// The binary header was read.
    header_done: bool,
    /// The binary trailer was read: nothing may follow.
    ended: bool,
}

impl RowHasher {
    /// A hasher for a stream of the given format.
    pub fn new(format: Format) -> Self {
        Self {
            format,
            digest: Digest::default(),
            carry: Vec::new(),
            header_done: format == Format::Text,
            ended: false,
        }
    }

    /// Take the next piece of the stream.
    pub fn feed(&mut self, piece: &[u8]) -> Result<(), StreamError> {
        if self.carry.is_empty() {
            let used = self.consume(piece)?;
            self.carry.extend_from_slice(&piece[used..]);
        } else {
            // Rare: a row cut across pieces. Join them and go on from the join.
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(piece);
            let used = self.consume(&joined)?;
            joined.drain(..used);
            self.carry = joined;
        }
        Ok(())
    }

    /// The stream ended: its digest, or an error if it stopped mid-row.
    pub fn finish(self) -> Result<Digest, StreamError> {
        let complete = match self.format {
            Format::Binary => self.ended && self.carry.is_empty(),
            Format::Text => self.carry.is_empty(),
        };
        if complete {
            Ok(self.digest)
        } else {
            Err(self.error("it ends inside a row"))
        }
    }

    fn error(&self, what: &'static str) -> StreamError {
        StreamError {
            format: self.format,
            what,
        }
    }

    /// Hash every whole row at the start of `buf`; returns the bytes used.
    fn consume(&mut self, buf: &[u8]) -> Result<usize, StreamError> {
        match self.format {
            Format::Text => Ok(self.consume_text(buf)),
            Format::Binary => self.consume_binary(buf),
        }
    }

    fn consume_text(&mut self, buf: &[u8]) -> usize {
        let mut at = 0;
        // A text row ends at its newline: newlines inside values are escaped.
        while let Some(n) = buf[at..].iter().position(|&b| b == b'\n') {
            self.digest.add(&buf[at..at + n]);
            at += n + 1;
        }
        at
    }

    fn consume_binary(&mut self, buf: &[u8]) -> Result<usize, StreamError> {
        let mut at = 0;
        if !self.header_done {
            // Signature, flags (int32), header extension length (int32), extension.
            if buf.len() < SIGNATURE.len() + 8 {
                return Ok(0);
            }
            if &buf[..SIGNATURE.len()] != SIGNATURE {
                return Err(self.error("its signature is wrong"));
            }
            let ext = i32_at(buf, SIGNATURE.len() + 4);
            let Ok(ext) = usize::try_from(ext) else {
                return Err(self.error("its header extension has a negative length"));
            };
            let end = SIGNATURE.len() + 8 + ext;
            if buf.len() < end {
                return Ok(0);
            }
            at = end;
            self.header_done = true;
        }
        while at < buf.len() {
            if self.ended {
                return Err(self.error("data follows its trailer"));
            }
            let Some(len) = self.binary_row_len(&buf[at..])? else {
                break;
            };
            match len {
                RowLen::Trailer => {
                    self.ended = true;
                    at += 2;
                }
                RowLen::Row(n) => {
                    self.digest.add(&buf[at..at + n]);
                    at += n;
                }
            }
        }
        Ok(at)
    }

    /// The length of the binary row at the start of `buf`, if it is all there.
    fn binary_row_len(&self, buf: &[u8]) -> Result<Option<RowLen>, StreamError> {
        if buf.len() < 2 {
            return Ok(None);
        }
        let fields = i16::from_be_bytes([buf[0], buf[1]]);
        if fields == -1 {
            return Ok(Some(RowLen::Trailer));
        }
        if fields < 0 {
            return Err(self.error("a row has a negative field count"));
        }
        let mut at = 2;
        for _ in 0..fields {
            if buf.len() < at + 4 {
                return Ok(None);
            }
            let len = i32_at(buf, at);
            at += 4;
            match len {
                -1 => {}
                n if n < 0 => return Err(self.error("a field has a negative length")),
                n => {
                    at += n as usize;
                    if buf.len() < at {
                        return Ok(None);
                    }
                }
            }
        }
        Ok(Some(RowLen::Row(at)))
    }
}

enum RowLen {
    Trailer,
    Row(usize),
}

fn i32_at(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary COPY stream of rows given as fields (`None` = NULL).
    fn binary(rows: &[Vec<Option<&[u8]>>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        for row in rows {
            out.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for f in row {
                match f {
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(v) => {
                        out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                        out.extend_from_slice(v);
                    }
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    fn digest(format: Format, stream: &[u8], piece: usize) -> Digest {
        let mut h = RowHasher::new(format);
        for p in stream.chunks(piece.max(1)) {
            h.feed(p).unwrap();
        }
        h.finish().unwrap()
    }

    #[test]
    fn any_split_of_the_stream_gives_the_same_digest() {
        let stream = binary(&[
            vec![Some(b"abc"), None, Some(&[0, 0, 0, 1])],
            vec![Some(b""), Some(b"x"), None],
            vec![None, None, None],
        ]);
        let whole = digest(Format::Binary, &stream, stream.len());
        assert_eq!(whole.rows, 3);
        for piece in 1..stream.len() {
            assert_eq!(
                digest(Format::Binary, &stream, piece),
                whole,
                "piece {piece}"
            );
        }
        let text = b"1\tabc\n2\t\\N\n3\tx\\ny\n";
        let whole = digest(Format::Text, text, text.len());
        assert_eq!(whole.rows, 3);
        for piece in 1..text.len() {
            assert_eq!(digest(Format::Text, text, piece), whole);
        }
    }

    #[test]
    fn order_does_not_matter_but_every_byte_and_every_copy_does() {
        let a: &[u8] = b"a";
        let b: &[u8] = b"b";
        let ab = digest(Format::Binary, &binary(&[vec![Some(a)], vec![Some(b)]]), 7);
        let ba = digest(Format::Binary, &binary(&[vec![Some(b)], vec![Some(a)]]), 7);
        assert_eq!(ab, ba);
        // A duplicate does not cancel out, as it would with XOR.
        let aab = digest(
            Format::Binary,
            &binary(&[vec![Some(a)], vec![Some(a)], vec![Some(b)]]),
            7,
        );
        assert_ne!(aab.sum, ab.sum);
        let aa = digest(Format::Binary, &binary(&[vec![Some(a)], vec![Some(a)]]), 7);
        assert_ne!(aa.sum, 0);
        // NULL against an empty value, and a value moved between fields.
        let null = digest(Format::Binary, &binary(&[vec![None, Some(a)]]), 64);
        let empty = digest(Format::Binary, &binary(&[vec![Some(b""), Some(a)]]), 64);
        let moved = digest(Format::Binary, &binary(&[vec![Some(a), None]]), 64);
        assert_ne!(null, empty);
        assert_ne!(null, moved);
    }

    #[test]
    fn a_cut_or_garbled_stream_is_an_error() {
        let stream = binary(&[vec![Some(b"abc")]]);
        let mut h = RowHasher::new(Format::Binary);
        h.feed(&stream[..stream.len() - 3]).unwrap();
        assert!(h.finish().is_err());
        let mut h = RowHasher::new(Format::Binary);
        assert!(h.feed(b"NOTCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0").is_err());
        let mut h = RowHasher::new(Format::Binary);
        let mut more = stream.clone();
        more.extend_from_slice(&[0, 1]);
        assert!(h.feed(&more).is_err());
        let mut h = RowHasher::new(Format::Text);
        h.feed(b"1\tno newline").unwrap();
        assert!(h.finish().is_err());
    }

    #[test]
    fn the_format_is_read_from_the_statement() {
        assert_eq!(
            Format::of("COPY (SELECT 1) TO STDOUT (FORMAT binary)"),
            Format::Binary
        );
        assert_eq!(
            Format::of("COPY (SELECT 1) TO STDOUT (FORMAT text)"),
            Format::Text
        );
    }
}
