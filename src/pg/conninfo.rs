//! Connection strings read the way libpq reads them.
//!
//! tokio-postgres parses only part of libpq's syntax and none of its environment,
//! so the string is parsed here: `postgresql://` URIs and `key=value` DSNs, the
//! `PG*` environment variables for anything the string leaves out, and
//! `~/.pgpass` (or `PGPASSFILE`) for a missing password.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_postgres::Config;

/// Why a connection string could not be read. No message echoes the whole string,
/// because it may hold a password: only the key or value at fault is quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnInfoError {
    /// A `key=value` pair has no `=`.
    #[error(
        "missing `=` after `{0}` in the connection string (write key=value pairs or a postgresql:// URI)"
    )]
    MissingEquals(String),
    /// A quoted DSN value has no closing quote.
    #[error("unterminated quoted value in the connection string")]
    UnterminatedQuote,
    /// A key libpq would not know, or hypermove does not pass on.
    #[error("unknown connection option `{0}`")]
    UnknownOption(String),
    /// A `%` in the URI not followed by two hex digits.
    #[error("invalid percent-encoding in the connection URI")]
    PercentEncoding,
    /// A URI part that decodes to bytes that are not UTF-8.
    #[error("the connection URI is not valid UTF-8 once decoded")]
    NotUtf8,
    /// An IPv6 host opened with `[` and not closed.
    #[error("unterminated [ in the connection URI host")]
    UnterminatedBracket,
    /// A URI query parameter without `=`.
    #[error("connection URI parameters must be key=value")]
    UriParameter,
    /// No `user` in the string, the environment or the OS.
    #[error("no user name: give `user` in the connection string, or set PGUSER")]
    NoUser,
    /// A port that is not a number.
    #[error("invalid port `{0}`")]
    InvalidPort(String),
    /// A `connect_timeout` that is not a number of seconds.
    #[error("invalid connect_timeout `{0}`")]
    InvalidConnectTimeout(String),
    /// An `sslmode` libpq does not have.
    #[error(
        "invalid sslmode `{0}` (use disable, allow, prefer, require, verify-ca or verify-full)"
    )]
    InvalidSslMode(String),
}

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// Plain first, TLS if the server insists.
    Allow,
    /// TLS if the server offers it (libpq's default).
    Prefer,
    /// TLS, without checking the certificate.
    Require,
    /// TLS, certificate signed by a trusted CA.
    VerifyCa,
    /// TLS, trusted certificate whose name matches the host.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, ConnInfoError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => return Err(ConnInfoError::InvalidSslMode(other.to_string())),
        })
    }
}

/// A parsed connection string. It keeps the password inside and never shows it:
/// `Display` prints `user@host:port/dbname` only.
#[derive(Clone)]
pub struct ConnInfo {
    // Visible to `conn`, which connects with a copy of it.
    pub(super) config: Config,
    /// The requested TLS mode.
    pub sslmode: SslMode,
    /// `sslrootcert`, when given.
    pub sslrootcert: Option<PathBuf>,
}

/// Where a connection string looks for what it leaves out. Tests pass their own.
pub struct Defaults<'a> {
    /// Environment lookup (`PGHOST`, `PGUSER`, …).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The password file, if any.
    pub pgpass: Option<PathBuf>,
}

impl Defaults<'_> {
    /// The process environment and `PGPASSFILE` or `~/.pgpass`.
    pub fn from_process() -> Defaults<'static> {
        let pgpass = std::env::var_os("PGPASSFILE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass")));
        Defaults {
            env: &|k| std::env::var(k).ok(),
            pgpass,
        }
    }
}

const KNOWN: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "sslmode",
    "sslrootcert",
    "application_name",
    "connect_timeout",
    "options",
    "target_session_attrs",
    "keepalives",
    "keepalives_idle",
];

/// Environment variables for the settings a string leaves out, as libpq reads them.
const ENV: &[(&str, &str)] = &[
    ("host", "PGHOST"),
    ("port", "PGPORT"),
    ("dbname", "PGDATABASE"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("options", "PGOPTIONS"),
];

impl ConnInfo {
    /// Parse with the process environment and password file.
    pub fn parse(conninfo: &str) -> Result<Self, ConnInfoError> {
        Self::parse_with(conninfo, &Defaults::from_process())
    }

    /// Parse a `postgresql://` URI or a `key=value` DSN. Errors never echo the input,
    /// because it may hold a password.
    pub fn parse_with(conninfo: &str, defaults: &Defaults<'_>) -> Result<Self, ConnInfoError> {
        let trimmed = conninfo.trim();
        let mut params =
            if trimmed.starts_with("postgresql://") || trimmed.starts_with("postgres://") {
                parse_uri(trimmed)?
            } else {
                parse_dsn(trimmed)?
            };
        for (key, var) in ENV {
            if !params.contains_key(*key) {
                if let Some(v) = (defaults.env)(var).filter(|v| !v.is_empty()) {
                    params.insert((*key).to_string(), v);
                }
            }
        }
        if !params.contains_key("user") {
            let os_user = (defaults.env)("USER").or_else(|| (defaults.env)("LOGNAME"));
            if let Some(u) = os_user {
                params.insert("user".into(), u);
            }
        }
        let host = params
            .get("host")
            .cloned()
            .unwrap_or_else(|| "localhost".into());
        let user = params.get("user").cloned().ok_or(ConnInfoError::NoUser)?;
        let dbname = params
            .get("dbname")
            .cloned()
            .unwrap_or_else(|| user.clone());
        let port: u16 = match params.get("port") {
            None => 5432,
            Some(p) => p
                .split(',')
                .next()
                .unwrap_or_default()
                .parse()
                .map_err(|_| ConnInfoError::InvalidPort(p.clone()))?,
        };
        if !params.contains_key("password") {
            if let Some(file) = &defaults.pgpass {
                let first_host = host.split(',').next().unwrap_or_default();
                if let Some(pw) = pgpass_lookup(file, first_host, port, &dbname, &user) {
                    params.insert("password".into(), pw);
                }
            }
        }

        let mut config = Config::new();
        for h in host.split(',') {
            config.host(h);
        }
        let ports: Vec<&str> = params
            .get("port")
            .map(|p| p.split(',').collect())
            .unwrap_or_default();
        for p in ports {
            config.port(
                p.parse()
                    .map_err(|_| ConnInfoError::InvalidPort(p.to_string()))?,
            );
        }
        config.user(&user).dbname(&dbname);
        if let Some(pw) = params.get("password") {
            config.password(pw);
        }
        if let Some(app) = params.get("application_name") {
            config.application_name(app);
        }
        if let Some(o) = params.get("options") {
            config.options(o);
        }
        if let Some(t) = params.get("connect_timeout") {
            let secs: u64 = t
                .parse()
                .map_err(|_| ConnInfoError::InvalidConnectTimeout(t.clone()))?;
            if secs > 0 {
                config.connect_timeout(Duration::from_secs(secs));
            }
        }
        let sslmode = SslMode::parse(params.get("sslmode").map_or("prefer", |s| s))?;
        config.ssl_mode(match sslmode {
            SslMode::Disable | SslMode::Allow => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        Ok(Self {
            config,
            sslmode,
            sslrootcert: params.get("sslrootcert").map(PathBuf::from),
        })
    }

    /// The database name.
    pub fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or("postgres")
    }

    /// The user name.
    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("?")
    }

    /// Whether a password is known (from the string, PGPASSWORD or .pgpass).
    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }

    /// Host and port, used to tell whether two connections reach the same server.
    pub fn endpoint(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_string(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    }

    /// Every host, comma-separated, as libpq's `PGHOST` takes them.
    pub fn hosts(&self) -> String {
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(h) => h.clone(),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .collect();
        hosts.join(",")
    }

    /// Every port, comma-separated, as libpq's `PGPORT` takes them (empty: libpq's default).
    pub fn ports(&self) -> String {
        let ports: Vec<String> = self.config.get_ports().iter().map(u16::to_string).collect();
        ports.join(",")
    }

    /// The password, for handing to a libpq child process through its environment
    /// (never its command line, which `ps` shows). Never print it.
    pub fn password(&self) -> Option<&[u8]> {
        self.config.get_password()
    }

    /// The `options` setting (`-c name=value …`), if any.
    pub fn options(&self) -> Option<&str> {
        self.config.get_options()
    }

    /// The connect timeout, if any.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.config.get_connect_timeout().copied()
    }

    /// The same connection with `options` appended to its own (`-c name=value …`):
    /// the live follower's replication connection needs the stream's text formats.
    pub fn with_options(&self, options: &str) -> ConnInfo {
        let mut other = self.clone();
        let joined = match self.options() {
            Some(own) if !own.is_empty() => format!("{own} {options}"),
            _ => options.to_string(),
        };
        other.config.options(&joined);
        other
    }

    /// The same server, user, password and TLS settings, for another database
    /// (a password found in `.pgpass` for the first database is kept as it is).
    pub fn with_dbname(&self, dbname: &str) -> ConnInfo {
        let mut other = self.clone();
        other.config.dbname(dbname);
        other
    }
}

impl fmt::Display for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}/{}", self.user(), self.endpoint(), self.dbname())
    }
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnInfo({self})")
    }
}

fn percent_decode(s: &str) -> Result<String, ConnInfoError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(ConnInfoError::PercentEncoding)?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ConnInfoError::NotUtf8)
}

fn check_key(key: &str) -> Result<(), ConnInfoError> {
    if KNOWN.contains(&key) {
        Ok(())
    } else {
        Err(ConnInfoError::UnknownOption(key.to_string()))
    }
}

/// `postgresql://[user[:password]@][host[:port][,host[:port]…]][/dbname][?key=value&…]`
fn parse_uri(uri: &str) -> Result<BTreeMap<String, String>, ConnInfoError> {
    let rest = uri.split_once("://").map(|(_, r)| r).unwrap_or_default();
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (rest, None),
    };
    let mut params = BTreeMap::new();
    let hostspec = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                params.insert("user".into(), percent_decode(user)?);
            }
            if let Some(p) = password {
                params.insert("password".into(), percent_decode(p)?);
            }
            hosts
        }
        None => authority,
    };
    if !hostspec.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for part in hostspec.split(',') {
            let (h, p) = if let Some(stripped) = part.strip_prefix('[') {
                let (h, after) = stripped
                    .split_once(']')
                    .ok_or(ConnInfoError::UnterminatedBracket)?;
                (h.to_string(), after.strip_prefix(':').map(str::to_string))
            } else {
                match part.rsplit_once(':') {
                    Some((h, p)) => (h.to_string(), Some(p.to_string())),
                    None => (part.to_string(), None),
                }
            };
            if !h.is_empty() {
                hosts.push(percent_decode(&h)?);
            }
            if let Some(p) = p.filter(|p| !p.is_empty()) {
                ports.push(p);
            }
        }
        if !hosts.is_empty() {
            params.insert("host".into(), hosts.join(","));
        }
        if !ports.is_empty() {
            params.insert("port".into(), ports.join(","));
        }
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        params.insert("dbname".into(), percent_decode(db)?);
    }
    for pair in query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').ok_or(ConnInfoError::UriParameter)?;
        let k = percent_decode(k)?;
        check_key(&k)?;
        params.insert(k, percent_decode(v)?);
    }
    Ok(params)
}

/// `key=value key='quoted value' …`, as libpq reads it.
fn parse_dsn(dsn: &str) -> Result<BTreeMap<String, String>, ConnInfoError> {
    let mut params = BTreeMap::new();
    let mut chars = dsn.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(params);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(ConnInfoError::MissingEquals(key));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.push(chars.next().ok_or(ConnInfoError::UnterminatedQuote)?),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(ConnInfoError::UnterminatedQuote),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    chars.next();
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                    continue;
                }
                value.push(c);
                chars.next();
            }
        }
        check_key(&key)?;
        params.insert(key, value);
    }
}

/// Look a password up in a libpq password file: `host:port:database:user:password`,
/// `*` matching anything, `\` escaping `:` and `\`. Like libpq, a file that others
/// can read is ignored (with a warning).
fn pgpass_lookup(file: &Path, host: &str, port: u16, dbname: &str, user: &str) -> Option<String> {
    let meta = std::fs::metadata(file).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                "password file {} has group or world access; ignoring it (chmod 0600 it)",
                file.display()
            );
            return None;
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(file).ok()?;
    let port = port.to_string();
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::with_capacity(5);
        let mut field = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        field.push(n);
                    }
                }
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
                _ => field.push(c),
            }
        }
        fields.push(field);
        if fields.len() != 5 {
            continue;
        }
        let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        if matches(&fields[0], host)
            && matches(&fields[1], &port)
            && matches(&fields[2], dbname)
            && matches(&fields[3], user)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(
        s: &str,
        env: &[(&str, &str)],
        pgpass: Option<PathBuf>,
    ) -> Result<ConnInfo, ConnInfoError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        ConnInfo::parse_with(
            s,
            &Defaults {
                env: &lookup,
                pgpass,
            },
        )
    }

    #[test]
    fn uri_and_dsn_forms() {
        let c = parse("postgresql://alice:p%40ss@db.example:6543/sales?sslmode=verify-full&sslrootcert=/ca.pem", &[], None).unwrap();
        assert_eq!(c.to_string(), "alice@db.example:6543/sales");
        assert_eq!(c.sslmode, SslMode::VerifyFull);
        assert_eq!(c.config.get_password(), Some(&b"p@ss"[..]));
        let c = parse(
            "host=h port=7 dbname='my db' user=bob password='it''s' sslmode=disable",
            &[],
            None,
        );
        assert!(
            c.is_err(),
            "libpq escapes quotes with a backslash, not by doubling"
        );
        let c = parse(
            "host=h port=7 dbname='my db' user=bob password='it\\'s'",
            &[],
            None,
        )
        .unwrap();
        assert_eq!(c.to_string(), "bob@h:7/my db");
        assert_eq!(c.config.get_password(), Some(&b"it's"[..]));
    }

    #[test]
    fn environment_fills_the_gaps() {
        let c = parse(
            "dbname=x",
            &[
                ("PGHOST", "envhost"),
                ("PGPORT", "5555"),
                ("PGUSER", "carol"),
                ("PGSSLMODE", "require"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(c.to_string(), "carol@envhost:5555/x");
        assert_eq!(c.sslmode, SslMode::Require);
        // The string wins over the environment.
        let c = parse("postgresql://dave@h/y", &[("PGUSER", "carol")], None).unwrap();
        assert_eq!(c.user(), "dave");
    }

    #[test]
    fn pgpass_supplies_a_missing_password() {
        let dir = std::env::temp_dir().join(format!("hm-pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:*:*:*:nope\nh:5432:*:erin:from\\:file\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let c = parse("postgresql://erin@h/db", &[], Some(file.clone())).unwrap();
        assert_eq!(c.config.get_password(), Some(&b"from:file"[..]));
        assert!(
            parse("postgresql://erin:given@h/db", &[], Some(file.clone()))
                .unwrap()
                .config
                .get_password()
                == Some(&b"given"[..])
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(
                !parse("postgresql://erin@h/db", &[], Some(file))
                    .unwrap()
                    .has_password()
            );
        }
    }

    #[test]
    fn messages_keep_their_wording() {
        let msg = |s: &str| parse(s, &[], None).unwrap_err().to_string();
        assert_eq!(
            msg("host=x bogus"),
            "missing `=` after `bogus` in the connection string (write key=value pairs or a postgresql:// URI)"
        );
        assert_eq!(msg("host=x user=u port=abc"), "invalid port `abc`");
        assert_eq!(
            msg("user=u sslmode=sometimes"),
            "invalid sslmode `sometimes` (use disable, allow, prefer, require, verify-ca or verify-full)"
        );
        assert_eq!(
            msg("postgresql://u@h/db?nonsense=1"),
            "unknown connection option `nonsense`"
        );
        assert_eq!(
            msg("postgresql://u@h/%zz"),
            "invalid percent-encoding in the connection URI"
        );
        assert_eq!(
            msg("host=x"),
            "no user name: give `user` in the connection string, or set PGUSER"
        );
    }

    #[test]
    fn errors_never_echo_the_string() {
        for bad in [
            "host=x password=hunter2 bogus",
            "host=x password=hunter2 sslmode=sometimes",
            "postgresql://u:hunter2@h/db?nonsense=1",
            "host=x password='hunter2",
        ] {
            let e = parse(bad, &[], None).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{e}");
        }
    }
}
