//! The file side of one window: a thread of the blocking pool takes the CSV in
//! buffers, compresses, hashes and writes it under its `.partial` name, and syncs it.

use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc::Receiver;

use super::WindowError;
use crate::archive::manifest::Compression;
use crate::datafile::Hashing;

/// Write the buffers from `rx` to `partial` (blocking), creating `path`'s directory
/// first; the byte count and SHA-256 of what is on disk, once it is synced.
pub(super) fn write_partial(
    path: &Path,
    partial: PathBuf,
    compression: Compression,
    mut rx: Receiver<Vec<u8>>,
) -> Result<(u64, String), WindowError> {
    let err = |source: std::io::Error| WindowError::File {
        path: partial.clone(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| WindowError::File {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let file = std::fs::File::create(&partial).map_err(err)?;
    let hashing = Hashing::new(std::io::BufWriter::with_capacity(1 << 20, file));
    let mut out: Box<dyn WriteFinish + Send> = match compression {
        Compression::Zstd => Box::new(zstd::stream::write::Encoder::new(hashing, 3).map_err(err)?),
        Compression::None => Box::new(hashing),
    };
    while let Some(buf) = rx.blocking_recv() {
        out.write_all(&buf).map_err(err)?;
    }
    let hashing = out.finish().map_err(err)?;
    let (bytes, sha256) = (hashing.byte_count(), hashing.sha256());
    let file = hashing
        .into_inner()
        .into_inner()
        .map_err(|e| err(e.into_error()))?;
    file.sync_all().map_err(err)?;
    Ok((bytes, sha256))
}

/// A writer that may need finishing (a compressor), giving back the hashing layer.
trait WriteFinish: Write {
    fn finish(self: Box<Self>) -> std::io::Result<Hashing<std::io::BufWriter<std::fs::File>>>;
}

impl WriteFinish for Hashing<std::io::BufWriter<std::fs::File>> {
    fn finish(mut self: Box<Self>) -> std::io::Result<Hashing<std::io::BufWriter<std::fs::File>>> {
        self.flush()?;
        Ok(*self)
    }
}

impl WriteFinish
    for zstd::stream::write::Encoder<'static, Hashing<std::io::BufWriter<std::fs::File>>>
{
    fn finish(self: Box<Self>) -> std::io::Result<Hashing<std::io::BufWriter<std::fs::File>>> {
        let mut inner = (*self).finish()?;
        inner.flush()?;
        Ok(inner)
    }
}
