//! One copy window: the source's COPY output streamed into the target's COPY input.
//! Rows are never decoded; bytes pass through in buffers of about 1 MiB.

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};

use super::JournalKey;
use super::error::StepError;
use super::session::{self, Slot};
use crate::plan::CopyWindow;

/// Batch size for the target. The server sends one CopyData message per row; sending
/// them on one by one costs a syscall-sized write each, so they are gathered here.
const BUFFER: usize = 1 << 20;

/// Copy one window in one target transaction. Returns rows written and bytes moved.
/// On any error the target transaction rolls back, so a window is all or nothing.
pub async fn copy_window(
    slot: &mut Slot,
    w: &CopyWindow,
    journal: Option<&JournalKey>,
    step_id: &str,
) -> Result<(u64, u64), StepError> {
    let source = slot.source.as_ref().expect("source opened before copying");
    let tx = slot
        .target
        .transaction()
        .await
        .map_err(|e| StepError::pg("target", &e))?;
    let sink = tx
        .copy_in::<_, bytes::Bytes>(&w.target_sql)
        .await
        .map_err(|e| StepError::pg("target", &e))?;
    let stream = source
        .copy_out(&w.source_sql)
        .await
        .map_err(|e| StepError::pg("source", &e))?;
    futures_util::pin_mut!(sink);
    futures_util::pin_mut!(stream);

    let mut buf = BytesMut::with_capacity(BUFFER);
    let mut moved: u64 = 0;
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| StepError::pg("source", &e))?;
        moved += piece.len() as u64;
        buf.extend_from_slice(&piece);
        if buf.len() >= BUFFER {
            sink.send(buf.split().freeze())
                .await
                .map_err(|e| StepError::pg("target", &e))?;
        }
    }
    if !buf.is_empty() {
        sink.send(buf.split().freeze())
            .await
            .map_err(|e| StepError::pg("target", &e))?;
    }
    let rows = sink
        .finish()
        .await
        .map_err(|e| StepError::pg("target", &e))?;
    // The window's "done" row commits with its data, or neither does.
    session::step_done(&tx, journal, step_id, rows, moved).await?;
    tx.commit().await.map_err(|e| StepError::pg("target", &e))?;
    Ok((rows, moved))
}
