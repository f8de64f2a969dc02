//! Opening sessions the one way every hypermove session is opened: fixed settings,
//! and, on the source, one snapshot exported by a coordinator and imported by every
//! reader, so every window of a move sees one instant.

use tokio_postgres::{Client, IsolationLevel, Transaction};

use super::{ConnInfo, Role, connect, describe_error, quote_literal};

/// Why the coordinator's snapshot could not be opened on the source.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Applying [`SETUP`] failed.
    #[error("setting up the source session: {}", describe_error(.0))]
    Setup(#[source] tokio_postgres::Error),
    /// The `REPEATABLE READ READ ONLY` transaction could not start.
    #[error("starting the source snapshot: {}", describe_error(.0))]
    Begin(#[source] tokio_postgres::Error),
    /// `pg_export_snapshot()` failed.
    #[error(
        "exporting the source snapshot: {} (--no-snapshot does without one)",
        describe_error(.0)
    )]
    Export(#[source] tokio_postgres::Error),
    /// The server could not be reached.
    #[error("{0}")]
    Connect(#[source] super::ConnError),
    /// Applying [`SETUP`] to a new session failed.
    #[error("setting up the session: {}", describe_error(.0))]
    Open(#[source] tokio_postgres::Error),
}

/// Settings every hypermove session uses, on both servers: fixed text forms, and
/// reads that see every row (compressed ones included) or fail. See the file for why.
/// It ends with a newline, so it can be followed by `; more statements`.
pub const SETUP: &str = include_str!("sql/session_setup.sql");

/// Apply [`SETUP`] to a session. It ends in a query, so it must come before any
/// transaction whose snapshot is imported or exported: those need to be first.
pub async fn setup(client: &Client) -> Result<(), tokio_postgres::Error> {
    client.batch_execute(SETUP).await
}

/// Connect and apply [`SETUP`]: a session ready to read catalogs or compare rows.
pub async fn open(info: &ConnInfo, role: Role, app: &str) -> Result<Client, SessionError> {
    let client = connect(info, role, app)
        .await
        .map_err(SessionError::Connect)?;
    setup(&client).await.map_err(SessionError::Open)?;
    Ok(client)
}

/// Set the session up, then open the coordinator's `REPEATABLE READ READ ONLY`
/// transaction and, when `export` is set, export its snapshot. Keep the transaction
/// open until every window has been read: the snapshot lives only as long as it does.
pub async fn begin_snapshot(
    client: &mut Client,
    export: bool,
) -> Result<(Transaction<'_>, Option<String>), SessionError> {
    setup(client).await.map_err(SessionError::Setup)?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(SessionError::Begin)?;
    if !export {
        return Ok((tx, None));
    }
    let row = tx
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .map_err(SessionError::Export)?;
    Ok((tx, Some(row.get(0))))
}

/// Set a reader's session up and open its `REPEATABLE READ READ ONLY` transaction,
/// inside the coordinator's exported snapshot when there is one. The transaction stays
/// open for the session's life: every window it reads sees the same instant.
pub async fn join_snapshot(
    client: &Client,
    snapshot: Option<&str>,
) -> Result<(), tokio_postgres::Error> {
    // Two round trips: the settings end in a query, and a snapshot can be imported
    // only before a transaction's first query.
    setup(client).await?;
    let mut begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY".to_string();
    if let Some(snapshot) = snapshot {
        begin.push_str(&format!(
            "; SET TRANSACTION SNAPSHOT {}",
            quote_literal(snapshot)
        ));
    }
    client.batch_execute(&begin).await
}

/// [`join_snapshot`] as a [`Transaction`], for readers that stream through portals,
/// which tokio-postgres binds only inside one: the same settings, the same
/// `REPEATABLE READ READ ONLY` transaction, the same snapshot when there is one.
pub async fn join_snapshot_tx<'a>(
    client: &'a mut Client,
    snapshot: Option<&str>,
) -> Result<Transaction<'a>, tokio_postgres::Error> {
    setup(client).await?;
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    if let Some(snapshot) = snapshot {
        // Still before the transaction's first query, where an import must come.
        tx.batch_execute(&format!(
            "SET TRANSACTION SNAPSHOT {}",
            quote_literal(snapshot)
        ))
        .await?;
    }
    Ok(tx)
}
