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
/// A thread of the blocking pool reads, hashes and decompresses the file, 1 MiB at a
/// time, with at most two buffers in flight; this task sends them to the target.
pub async fn load_file(
    slot: &mut Slot,
    f: &LoadFile,
    journal: Option<&JournalKey>,
    step_id: &str,
    stall: Duration,
) -> Result<(u64, u64), StepError> {
    let name = f.path.display().to_string();
    let (tx_data, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(2);
    let reader = {
        let (path, zstd, name) = (f.path.clone(), f.zstd, name.clone());
        tokio::task::spawn_blocking(move || -> Result<(u64, String), String> {
            let io_err = |e: std::io::Error| format!("{name}: {e}");
            let file = std::fs::File::open(&path).map_err(io_err)?;
            let mut hashing = Hashing::new(std::io::BufReader::with_capacity(BUFFER, file));
            {
                let mut reader: Box<dyn Read + '_> = if zstd {
                    Box::new(zstd::stream::read::Decoder::new(&mut hashing).map_err(io_err)?)
                } else {
                    Box::new(&mut hashing)
                };
                loop {
                    let mut buf = vec![0u8; BUFFER];
                    let n = read_full(&mut reader, &mut buf).map_err(io_err)?;
                    if n == 0 {
                        break;
                    }
                    buf.truncate(n);
                    if tx_data.blocking_send(bytes::Bytes::from(buf)).is_err() {
                        // The load stopped: its own error says why.
                        return Ok((0, String::new()));
                    }
                }
            }
            // Hash whatever follows the compressed stream too: the file is checked whole.
            std::io::copy(&mut hashing, &mut std::io::sink()).map_err(io_err)?;
            Ok((hashing.byte_count(), hashing.sha256()))
        })
    };

    let tx = progress(stall, "target", slot.target.transaction()).await?;
    let sink = progress(
        stall,
        "target",
        tx.copy_in::<_, bytes::Bytes>(&f.target_sql),
    )
    .await?;
    futures_util::pin_mut!(sink);
    while let Some(buf) = rx.recv().await {
        progress(stall, "target", sink.send(buf)).await?;
    }
    let (bytes, sha256) = match reader.await {
        Ok(result) => result.map_err(StepError::permanent)?,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
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
    session::step_done(&tx, journal, step_id, rows, bytes, None).await?;
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
