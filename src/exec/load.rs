//! One backup file loaded into the target: read (and decompress) the file, stream
//! it into `COPY … FROM STDIN (FORMAT csv)`, and commit only if the file's SHA-256,
//! size and row count are the manifest's.

use std::io::Read;
use std::time::Duration;

use futures_util::SinkExt;

use super::JournalKey;
use super::copy::progress;
use super::error::StepError;
use super::session::{self, Slot};
use crate::datafile::Hashing;
use crate::plan::LoadFile;

/// Read size; also the size of each message to the target.
const BUFFER: usize = 1 << 20;

/// Load one file in one target transaction. Returns rows written and bytes read.
pub async fn load_file(
    slot: &mut Slot,
    f: &LoadFile,
    journal: Option<&JournalKey>,
    step_id: &str,
    stall: Duration,
) -> Result<(u64, u64), StepError> {
    let name = f.path.display().to_string();
    let io_err = |e: std::io::Error| StepError::permanent(format!("{name}: {e}"));
    let file = std::fs::File::open(&f.path).map_err(io_err)?;
    let mut hashing = Hashing::new(std::io::BufReader::with_capacity(BUFFER, file));

    let tx = progress(stall, "target", slot.target.transaction()).await?;
    let sink = progress(
        stall,
        "target",
        tx.copy_in::<_, bytes::Bytes>(&f.target_sql),
    )
    .await?;
    futures_util::pin_mut!(sink);
    {
        let mut reader: Box<dyn Read + Send + '_> = if f.zstd {
            Box::new(zstd::stream::read::Decoder::new(&mut hashing).map_err(io_err)?)
        } else {
            Box::new(&mut hashing)
        };
        loop {
            let mut buf = vec![0u8; BUFFER];
            // Reading and decompressing block this worker thread briefly; the
            // runtime is told so, and its other tasks move on.
            let n =
                tokio::task::block_in_place(|| read_full(&mut reader, &mut buf)).map_err(io_err)?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            progress(stall, "target", sink.send(bytes::Bytes::from(buf))).await?;
        }
    }
    tokio::task::block_in_place(|| std::io::copy(&mut hashing, &mut std::io::sink()))
        .map_err(io_err)?;
    let (bytes, sha256) = (hashing.byte_count(), hashing.sha256());
    if bytes != f.bytes || sha256 != f.sha256 {
        // Dropping the transaction rolls the rows back.
        return Err(StepError::permanent(format!(
            "{name} changed since it was checked: {bytes} bytes with SHA-256 {sha256}, the manifest says {} bytes with {}",
            f.bytes, f.sha256
        )));
    }
    let rows = progress(stall, "target", sink.finish()).await?;
    if rows != f.rows {
        return Err(StepError::permanent(format!(
            "{name}: loaded {rows} rows, the manifest says {}",
            f.rows
        )));
    }
    session::step_done(&tx, journal, step_id, rows, bytes).await?;
    progress(stall, "target", tx.commit()).await?;
    Ok((rows, bytes))
}

/// Fill `buf` as far as the reader allows; 0 only at the end.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
