//! Backup data files as bytes: hashing while reading or writing, counting CSV rows
//! without decoding them, and optional zstd compression. Used by `backup` to write
//! files, by `restore` to check them, and by the executor to load them.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

/// Passes bytes through, hashing and counting them.
pub struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    bytes: u64,
}

impl<T> Hashing<T> {
    /// Wrap a reader or writer.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Bytes seen so far.
    pub fn byte_count(&self) -> u64 {
        self.bytes
    }

    /// The hex SHA-256 of the bytes seen so far.
    pub fn sha256(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }

    /// The wrapped reader or writer.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwrap.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hex SHA-256 of a file's bytes.
pub fn sha256_of_file(path: &std::path::Path) -> io::Result<String> {
    let mut h = Hashing::new(std::fs::File::open(path)?);
    io::copy(&mut h, &mut io::sink())?;
    Ok(h.sha256())
}

/// Counts the records of PostgreSQL's CSV output as it streams by. A record ends at
/// a newline outside quotes; PostgreSQL quotes every value that holds a newline or
/// a quote and doubles inner quotes, so toggling on each quote is exact. Nothing is
/// decoded.
#[derive(Debug, Default, Clone)]
pub struct RowCounter {
    in_quotes: bool,
    lines: u64,
}

impl RowCounter {
    /// Feed the next bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        let mut in_quotes = self.in_quotes;
        let mut lines = 0;
        for &b in bytes {
            match b {
                b'"' => in_quotes = !in_quotes,
                b'\n' if !in_quotes => lines += 1,
                _ => {}
            }
        }
        self.in_quotes = in_quotes;
        self.lines += lines;
    }

    /// Data rows, not counting the header line.
    pub fn rows(&self) -> u64 {
        self.lines.saturating_sub(1)
    }

    /// Whether the bytes so far end inside a quoted value (a truncated file).
    pub fn open_quote(&self) -> bool {
        self.in_quotes
    }
}

/// What reading a whole file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    /// Bytes as stored.
    pub bytes: u64,
    /// SHA-256 as stored.
    pub sha256: String,
    /// CSV data rows (after decompression).
    pub rows: u64,
    /// The header's column names.
    pub header: Vec<String>,
}

/// Read a whole data file: hash it as stored, decompress it, read its header with
/// the csv crate, and count its rows. A truncated or corrupted zstd stream is an
/// error here.
pub fn inspect(path: &std::path::Path, zstd: bool) -> io::Result<FileFacts> {
    let file = std::fs::File::open(path)?;
    let mut hashing = Hashing::new(io::BufReader::with_capacity(1 << 20, file));
    let (rows, header) = {
        let reader: Box<dyn Read + '_> = if zstd {
            Box::new(zstd::stream::read::Decoder::new(&mut hashing)?)
        } else {
            Box::new(&mut hashing)
        };
        count_csv(reader)?
    };
    // Whatever follows the compressed frame still counts toward the file's hash.
    io::copy(&mut hashing, &mut io::sink())?;
    Ok(FileFacts {
        bytes: hashing.byte_count(),
        sha256: hashing.sha256(),
        rows,
        header,
    })
}

/// Count rows and read the header of a CSV stream.
fn count_csv(mut reader: impl Read) -> io::Result<(u64, Vec<String>)> {
    let mut counter = RowCounter::default();
    let mut buf = vec![0u8; 1 << 20];
    let mut first = Vec::new();
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if first.len() < 1 << 16 {
            first.extend_from_slice(&buf[..n.min((1 << 16) - first.len())]);
        }
        counter.feed(&buf[..n]);
    }
    if counter.open_quote() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the file ends inside a quoted value",
        ));
    }
    Ok((counter.rows(), header_of(&first)?))
}

/// The column names of a CSV header line, read with the csv crate (names may be
/// quoted and hold commas).
pub fn header_of(start: &[u8]) -> io::Result<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(start);
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => Ok(record.iter().map(str::to_string).collect()),
        Ok(false) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the file is empty",
        )),
        Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rows_across_quoted_newlines_and_chunk_boundaries() {
        let csv = b"a,b\n1,\"x\ny\"\n2,\"he said \"\"hi\"\"\"\n3,\n";
        for split in 0..csv.len() {
            let mut c = RowCounter::default();
            c.feed(&csv[..split]);
            c.feed(&csv[split..]);
            assert_eq!(c.rows(), 3, "split at {split}");
            assert!(!c.open_quote());
        }
        let mut c = RowCounter::default();
        c.feed(b"a\n\"cut");
        assert!(c.open_quote());
    }

    #[test]
    fn header_names_may_be_quoted() {
        assert_eq!(
            header_of(b"time,\"we,ird\"\"name\",x\n1,2,3\n").unwrap(),
            vec!["time", "we,ird\"name", "x"]
        );
    }
}
