//! A logical replication connection (`replication=database`) on a small client of
//! our own: tokio-postgres cannot open one (rust-postgres #116, #778, #1182), and it
//! has no CopyBoth mode for START_REPLICATION.
//!
//! Only the simple query protocol is used, which is all a walsender speaks. TLS is
//! the caller's rustls configuration (the one `pg` builds for the connection's
//! `sslmode`), so certificates are checked exactly as on every other connection.

use std::sync::Arc;

use bytes::{Buf, BytesMut};
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::LiveError;
use super::Lsn;
use super::wire::{self, Frame, ReplicationData, WireError};
use crate::pg::{ConnInfo, SslMode, quote_ident, quote_literal};

/// Anything a connection can run over: TCP, TLS over TCP, or a Unix socket.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What `CREATE_REPLICATION_SLOT … (SNAPSHOT 'export')` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotCreated {
    /// The slot's name.
    pub slot_name: String,
    /// The first position the slot will stream: every transaction committed after it
    /// comes through the slot, every one before it is in the snapshot.
    pub consistent_point: Lsn,
    /// The exported snapshot, for `SET TRANSACTION SNAPSHOT` on other connections. It
    /// lives only until this connection runs its next command or closes.
    pub snapshot_name: String,
    /// The output plugin (`pgoutput`).
    pub output_plugin: String,
}

/// What `IDENTIFY_SYSTEM` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemIdentity {
    /// The cluster's system identifier (tells two servers apart).
    pub system_id: String,
    /// The current timeline.
    pub timeline: u32,
    /// The current WAL flush position: the lag of a slot is measured against it.
    pub xlogpos: Lsn,
    /// The database the connection is bound to.
    pub dbname: Option<String>,
}

/// An open replication connection, before START_REPLICATION.
pub struct ReplicationConn {
    io: Box<dyn Io>,
    buf: BytesMut,
    endpoint: String,
    server_version: Option<String>,
    streamed: bool,
}

impl std::fmt::Debug for ReplicationConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReplicationConn({})", self.endpoint)
    }
}

impl ReplicationConn {
    /// Connect to the first host of `info` with `replication=database`. `tls` is the
    /// rustls configuration for `info.sslmode` (`None` where that mode uses no TLS).
    pub async fn connect(
        info: &ConnInfo,
        tls: Option<Arc<rustls::ClientConfig>>,
        application_name: &str,
    ) -> Result<Self, LiveError> {
        let endpoint = info.to_string();
        let open = Self::open(info, tls, application_name, endpoint.clone());
        match info.connect_timeout() {
            Some(limit) => tokio::time::timeout(limit, open)
                .await
                .map_err(|_| LiveError::Timeout { endpoint })?,
            None => open.await,
        }
    }

    async fn open(
        info: &ConnInfo,
        tls: Option<Arc<rustls::ClientConfig>>,
        application_name: &str,
        endpoint: String,
    ) -> Result<Self, LiveError> {
        let hosts = info.hosts();
        let host = hosts
            .split(',')
            .next()
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost")
            .to_string();
        let port: u16 = info
            .ports()
            .split(',')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(5432);
        let io_err = |source| LiveError::Io {
            endpoint: endpoint.clone(),
            source,
        };
        #[cfg(unix)]
        if host.starts_with('/') {
            // libpq never uses TLS over a Unix socket.
            let path = format!("{host}/.s.PGSQL.{port}");
            let sock = tokio::net::UnixStream::connect(path)
                .await
                .map_err(io_err)?;
            return Self::startup(Box::new(sock), info, application_name, endpoint).await;
        }
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(io_err)?;
        tcp.set_nodelay(true).map_err(io_err)?;
        let io = negotiate_tls(tcp, &host, info.sslmode, tls, &endpoint).await?;
        Self::startup(io, info, application_name, endpoint).await
    }

    async fn startup(
        io: Box<dyn Io>,
        info: &ConnInfo,
        application_name: &str,
        endpoint: String,
    ) -> Result<Self, LiveError> {
        let mut conn = ReplicationConn {
            io,
            buf: BytesMut::with_capacity(64 * 1024),
            endpoint,
            server_version: None,
            streamed: false,
        };
        let mut params = vec![
            ("user", info.user()),
            ("database", info.dbname()),
            ("replication", "database"),
            ("application_name", application_name),
            ("client_encoding", "UTF8"),
        ];
        if let Some(options) = info.options() {
            params.push(("options", options));
        }
        let mut out = BytesMut::new();
        frontend::startup_message(params, &mut out).map_err(|e| conn.io_err(e))?;
        conn.send(&out).await?;
        conn.authenticate(info).await?;
        loop {
            let f = conn.read_frame().await?;
            match f.tag {
                b'S' => {
                    let mut parts = f.body.split(|&b| b == 0);
                    if parts.next() == Some(b"server_version") {
                        conn.server_version = parts
                            .next()
                            .map(|v| String::from_utf8_lossy(v).into_owned());
                    }
                }
                b'K' | b'N' => {}
                b'Z' => return Ok(conn),
                b'E' => return Err(conn.server_error(&f.body)),
                other => return Err(conn.unexpected(other, "the connection start")),
            }
        }
    }

    async fn authenticate(&mut self, info: &ConnInfo) -> Result<(), LiveError> {
        let mut scram: Option<ScramSha256> = None;
        loop {
            let f = self.read_frame().await?;
            match f.tag {
                b'R' => {}
                b'E' => return Err(self.server_error(&f.body)),
                b'N' => continue,
                other => return Err(self.unexpected(other, "authentication")),
            }
            let mut body = f.body;
            if body.remaining() < 4 {
                return Err(self.wire_err(WireError::Short('R')));
            }
            let mut out = BytesMut::new();
            match body.get_i32() {
                0 => return Ok(()),
                3 => {
                    let password = self.password(info)?;
                    frontend::password_message(&password, &mut out).map_err(|e| self.io_err(e))?;
                }
                5 => {
                    if body.remaining() < 4 {
                        return Err(self.wire_err(WireError::Short('R')));
                    }
                    let salt = [body[0], body[1], body[2], body[3]];
                    let password = self.password(info)?;
                    let hash = md5_hash(info.user().as_bytes(), &password, salt);
                    frontend::password_message(hash.as_bytes(), &mut out)
                        .map_err(|e| self.io_err(e))?;
                }
                10 => {
                    let offered = body
                        .split(|&b| b == 0)
                        .any(|m| m == SCRAM_SHA_256.as_bytes());
                    if !offered {
                        return Err(LiveError::AuthMethod {
                            endpoint: self.endpoint.clone(),
                            code: 10,
                        });
                    }
                    let password = self.password(info)?;
                    // No channel binding: "n" is accepted even where the server offers
                    // SCRAM-SHA-256-PLUS, while "y" would be refused as a downgrade.
                    let s = ScramSha256::new(&password, ChannelBinding::unsupported());
                    frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut out)
                        .map_err(|e| self.io_err(e))?;
                    scram = Some(s);
                }
                code @ (11 | 12) => {
                    let Some(s) = scram.as_mut() else {
                        return Err(self.unexpected('R', "authentication (SASL without a start)"));
                    };
                    let step = if code == 11 {
                        s.update(&body)
                    } else {
                        s.finish(&body)
                    };
                    step.map_err(|source| LiveError::Auth {
                        endpoint: self.endpoint.clone(),
                        source,
                    })?;
                    if code == 12 {
                        continue;
                    }
                    frontend::sasl_response(s.message(), &mut out).map_err(|e| self.io_err(e))?;
                }
                code => {
                    return Err(LiveError::AuthMethod {
                        endpoint: self.endpoint.clone(),
                        code,
                    });
                }
            }
            self.send(&out).await?;
        }
    }

    fn password(&self, info: &ConnInfo) -> Result<Vec<u8>, LiveError> {
        info.password()
            .map(<[u8]>::to_vec)
            .ok_or_else(|| LiveError::NoPassword {
                endpoint: self.endpoint.clone(),
            })
    }

    /// The server's `server_version`, as it reported it at startup.
    pub fn server_version(&self) -> Option<&str> {
        self.server_version.as_deref()
    }

    /// Run one command with the simple query protocol and return its rows as text.
    /// Replication commands (`IDENTIFY_SYSTEM`, `DROP_REPLICATION_SLOT`) and plain SQL
    /// both work on a `replication=database` connection.
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, LiveError> {
        let mut out = BytesMut::new();
        frontend::query(sql, &mut out).map_err(|e| self.io_err(e))?;
        self.send(&out).await?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            let f = self.read_frame().await?;
            match f.tag {
                b'T' | b'C' | b'I' | b'N' | b'S' => {}
                b'D' => rows.push(wire::parse_data_row(f.body).map_err(|e| self.wire_err(e))?),
                b'E' => error = Some(self.server_error(&f.body)),
                b'Z' => return error.map_or(Ok(rows), Err),
                other => return Err(self.unexpected(other, "a query")),
            }
        }
    }

    /// `IDENTIFY_SYSTEM`: the cluster, its timeline and its current WAL position.
    pub async fn identify_system(&mut self) -> Result<SystemIdentity, LiveError> {
        let row = self.one_row("IDENTIFY_SYSTEM").await?;
        Ok(SystemIdentity {
            system_id: self.field(&row, 0, "systemid")?,
            timeline: self
                .field(&row, 1, "timeline")?
                .parse()
                .map_err(|_| self.reply("IDENTIFY_SYSTEM: timeline is not a number"))?,
            xlogpos: self.lsn_field(&row, 2, "xlogpos")?,
            dbname: row.get(3).cloned().flatten(),
        })
    }

    /// Create a logical slot on pgoutput and export its snapshot. Run nothing else on
    /// this connection until every reader has imported the snapshot (`SET TRANSACTION
    /// SNAPSHOT`): the next command ends it. `START_REPLICATION` on this same
    /// connection afterwards is the intended next command.
    pub async fn create_slot(&mut self, slot: &str) -> Result<SlotCreated, LiveError> {
        let sql = format!(
            "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput (SNAPSHOT 'export')",
            quote_ident(slot)
        );
        let row = self.one_row(&sql).await?;
        Ok(SlotCreated {
            slot_name: self.field(&row, 0, "slot_name")?,
            consistent_point: self.lsn_field(&row, 1, "consistent_point")?,
            snapshot_name: self.field(&row, 2, "snapshot_name")?,
            output_plugin: self.field(&row, 3, "output_plugin")?,
        })
    }

    /// `DROP_REPLICATION_SLOT … WAIT`: drop a slot, waiting while another connection
    /// still streams from it.
    pub async fn drop_slot(&mut self, slot: &str) -> Result<(), LiveError> {
        let sql = format!("DROP_REPLICATION_SLOT {} WAIT", quote_ident(slot));
        self.simple_query(&sql).await.map(drop)
    }

    /// Start streaming the slot from `start` (the slot's consistent point the first
    /// time, the journal's last applied commit end afterwards; the server never goes
    /// back before the slot's confirmed position). Asks for pgoutput protocol 1 and
    /// for logical messages, which carry TimescaleDB's compression markers.
    ///
    /// Once per connection: on PostgreSQL 17, a second START_REPLICATION on a
    /// connection whose logical stream ended ends at once with no data (the walsender
    /// apparently keeps its "streaming done" state). Stream again on a new connection.
    pub async fn start_replication(
        mut self,
        slot: &str,
        start: Lsn,
        publications: &[&str],
    ) -> Result<ReplicationStream, LiveError> {
        if self.streamed {
            return Err(self.reply(
                "this connection already streamed once; open a new replication connection to stream again",
            ));
        }
        self.streamed = true;
        let names: Vec<String> = publications.iter().map(|p| quote_ident(p)).collect();
        let sql = format!(
            "START_REPLICATION SLOT {} LOGICAL {start} (proto_version '1', publication_names {}, messages 'true')",
            quote_ident(slot),
            quote_literal(&names.join(","))
        );
        let mut out = BytesMut::new();
        frontend::query(&sql, &mut out).map_err(|e| self.io_err(e))?;
        self.send(&out).await?;
        loop {
            let f = self.read_frame().await?;
            match f.tag {
                b'W' => return Ok(ReplicationStream { conn: self }),
                b'N' => {}
                b'E' => {
                    let err = self.server_error(&f.body);
                    // The server follows the error with ReadyForQuery; leave the
                    // connection clean for a caller that inspects it.
                    while let Ok(f) = self.read_frame().await {
                        if f.tag == b'Z' {
                            break;
                        }
                    }
                    return Err(err);
                }
                other => return Err(self.unexpected(other, "START_REPLICATION")),
            }
        }
    }

    /// Say goodbye and close the socket (this also ends an exported snapshot).
    pub async fn close(mut self) {
        let mut out = BytesMut::new();
        frontend::terminate(&mut out);
        let _ = self.send(&out).await;
        let _ = self.io.shutdown().await;
    }

    async fn one_row(&mut self, sql: &str) -> Result<Vec<Option<String>>, LiveError> {
        let what = sql.split_whitespace().next().unwrap_or(sql).to_string();
        self.simple_query(sql)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| self.reply(&format!("{what} returned no row")))
    }

    fn field(&self, row: &[Option<String>], i: usize, name: &str) -> Result<String, LiveError> {
        row.get(i)
            .cloned()
            .flatten()
            .ok_or_else(|| self.reply(&format!("the reply has no {name}")))
    }

    fn lsn_field(&self, row: &[Option<String>], i: usize, name: &str) -> Result<Lsn, LiveError> {
        self.field(row, i, name)?
            .parse()
            .map_err(|e: super::LsnParseError| self.reply(&format!("{name}: {e}")))
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), LiveError> {
        let endpoint = &self.endpoint;
        let io_err = |source| LiveError::Io {
            endpoint: endpoint.clone(),
            source,
        };
        self.io.write_all(bytes).await.map_err(io_err)?;
        self.io.flush().await.map_err(io_err)
    }

    /// Read one whole frame. Cancel-safe: bytes read before a cancellation stay in
    /// the buffer, so this can sit in a `select!` beside a feedback timer.
    async fn read_frame(&mut self) -> Result<Frame, LiveError> {
        loop {
            match wire::parse_frame(&mut self.buf) {
                Ok(Some(frame)) => return Ok(frame),
                Ok(None) => {}
                Err(e) => return Err(self.wire_err(e)),
            }
            let n = self
                .io
                .read_buf(&mut self.buf)
                .await
                .map_err(|source| LiveError::Io {
                    endpoint: self.endpoint.clone(),
                    source,
                })?;
            if n == 0 {
                return Err(LiveError::Closed {
                    endpoint: self.endpoint.clone(),
                });
            }
        }
    }

    fn io_err(&self, source: std::io::Error) -> LiveError {
        LiveError::Io {
            endpoint: self.endpoint.clone(),
            source,
        }
    }

    fn wire_err(&self, source: WireError) -> LiveError {
        LiveError::Wire {
            endpoint: self.endpoint.clone(),
            source,
        }
    }

    fn server_error(&self, body: &[u8]) -> LiveError {
        LiveError::Server {
            endpoint: self.endpoint.clone(),
            message: Box::new(wire::parse_server_message(body)),
        }
    }

    fn unexpected(&self, tag: impl Into<char>, during: &'static str) -> LiveError {
        LiveError::Unexpected {
            endpoint: self.endpoint.clone(),
            tag: tag.into(),
            during,
        }
    }

    fn reply(&self, what: &str) -> LiveError {
        LiveError::Reply {
            endpoint: self.endpoint.clone(),
            what: what.to_string(),
        }
    }
}

/// Ask for TLS when there is a configuration, as libpq does for the `sslmode`:
/// `prefer` falls back to plain text when the server declines, stricter modes fail.
async fn negotiate_tls(
    mut tcp: TcpStream,
    host: &str,
    mode: SslMode,
    tls: Option<Arc<rustls::ClientConfig>>,
    endpoint: &str,
) -> Result<Box<dyn Io>, LiveError> {
    let required = matches!(
        mode,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
    );
    let Some(config) = tls else {
        if required {
            return Err(LiveError::TlsRequired {
                endpoint: endpoint.to_string(),
                why: "no TLS configuration was given",
            });
        }
        return Ok(Box::new(tcp));
    };
    let io_err = |source| LiveError::Io {
        endpoint: endpoint.to_string(),
        source,
    };
    let mut out = BytesMut::new();
    frontend::ssl_request(&mut out);
    tcp.write_all(&out).await.map_err(io_err)?;
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer).await.map_err(io_err)?;
    match answer[0] {
        b'S' => {
            let tls_err = |source| LiveError::Tls {
                endpoint: endpoint.to_string(),
                source,
            };
            let name = rustls_pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| tls_err(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(tls_err)?;
            Ok(Box::new(stream))
        }
        b'N' if !required => Ok(Box::new(tcp)),
        b'N' => Err(LiveError::TlsRequired {
            endpoint: endpoint.to_string(),
            why: "the server does not accept TLS connections",
        }),
        other => Err(LiveError::Unexpected {
            endpoint: endpoint.to_string(),
            tag: other as char,
            during: "the TLS request",
        }),
    }
}

/// A slot being streamed: CopyBoth mode, after START_REPLICATION.
#[derive(Debug)]
pub struct ReplicationStream {
    conn: ReplicationConn,
}

impl ReplicationStream {
    /// The next XLogData or keepalive; `None` when the server ended the stream.
    /// Cancel-safe, so it can wait in a `select!` beside a feedback timer.
    pub async fn recv(&mut self) -> Result<Option<ReplicationData>, LiveError> {
        loop {
            let f = self.conn.read_frame().await?;
            match f.tag {
                b'd' => {
                    return wire::parse_replication_data(f.body)
                        .map(Some)
                        .map_err(|e| self.conn.wire_err(e));
                }
                // CopyDone, or CommandComplete when the server ended the copy without one.
                b'c' | b'C' => return Ok(None),
                b'N' => {}
                b'E' => return Err(self.conn.server_error(&f.body)),
                other => return Err(self.conn.unexpected(other, "streaming")),
            }
        }
    }

    /// Send a standby status update: everything up to `flushed` is durably applied
    /// on the target (its journal says so), so the slot may release that WAL. With
    /// `reply`, the server answers with a keepalive at once.
    pub async fn send_status(&mut self, flushed: Lsn, reply: bool) -> Result<(), LiveError> {
        let payload = wire::standby_status_update(flushed, flushed, flushed, wire::pg_now(), reply);
        let mut out = BytesMut::new();
        frontend::CopyData::new(payload)
            .map_err(|e| self.conn.io_err(e))?
            .write(&mut out);
        self.conn.send(&out).await
    }

    /// End the stream (CopyDone) and wait until the connection takes commands again
    /// (`DROP_REPLICATION_SLOT`, SQL; not another START_REPLICATION). Data the server
    /// sent before it saw the CopyDone is discarded: a caller that confirmed nothing
    /// past its journal loses nothing by that.
    pub async fn finish(mut self) -> Result<ReplicationConn, LiveError> {
        let mut out = BytesMut::new();
        frontend::copy_done(&mut out);
        self.conn.send(&out).await?;
        loop {
            let f = self.conn.read_frame().await?;
            match f.tag {
                b'd' | b'c' | b'C' | b'N' | b'T' | b'D' => {}
                b'E' => return Err(self.conn.server_error(&f.body)),
                b'Z' => return Ok(self.conn),
                other => return Err(self.conn.unexpected(other, "the end of streaming")),
            }
        }
    }
}
