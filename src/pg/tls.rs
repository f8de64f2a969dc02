//! TLS for connections, with libpq's `sslmode` meanings and real certificate checks.
//!
//! - `disable`, `allow`: no TLS.
//! - `prefer`, `require`: TLS without checking the certificate (libpq's meaning);
//!   `require` with an `sslrootcert` checks the chain, as libpq does.
//! - `verify-ca`: the chain must lead to a trusted root; the host name is not checked.
//! - `verify-full`: the chain must lead to a trusted root and name the host.
//!
//! Roots come from `sslrootcert`, else `~/.postgresql/root.crt`, as in libpq.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{VerifierBuilderError, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::SslMode;

/// Why no TLS configuration could be built for a connection.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The `sslrootcert` file could not be opened or read.
    #[error("cannot read sslrootcert {}: {source}", .path.display())]
    ReadRoot {
        /// The file.
        path: PathBuf,
        /// What reading it said.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A PEM block in the `sslrootcert` file is not a certificate that parses.
    #[error("sslrootcert {}: {source}", .path.display())]
    BadRoot {
        /// The file.
        path: PathBuf,
        /// What parsing it said.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A certificate in the `sslrootcert` file cannot serve as a trusted root.
    #[error("sslrootcert {}: {source}", .path.display())]
    RejectedRoot {
        /// The file.
        path: PathBuf,
        /// Why rustls refused it.
        #[source]
        source: rustls::Error,
    },
    /// The `sslrootcert` file holds no certificate at all.
    #[error("sslrootcert {} holds no certificate", .0.display())]
    NoRoot(PathBuf),
    /// `verify-ca`/`verify-full` without any root to verify against.
    #[error(
        "sslmode=verify-ca/verify-full needs a trusted root: give sslrootcert, or put it in ~/.postgresql/root.crt"
    )]
    NoTrustedRoot,
    /// rustls refused the protocol versions.
    #[error("TLS setup: {0}")]
    Protocols(#[source] rustls::Error),
    /// rustls could not build the certificate verifier from the roots.
    #[error("TLS setup: {0}")]
    Verifier(#[source] VerifierBuilderError),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn default_root() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".postgresql/root.crt"))
}

fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|source| TlsError::ReadRoot {
        path: path.to_path_buf(),
        source,
    })?;
    for cert in certs {
        let cert = cert.map_err(|source| TlsError::BadRoot {
            path: path.to_path_buf(),
            source,
        })?;
        store.add(cert).map_err(|source| TlsError::RejectedRoot {
            path: path.to_path_buf(),
            source,
        })?;
    }
    if store.is_empty() {
        return Err(TlsError::NoRoot(path.to_path_buf()));
    }
    Ok(store)
}

/// The rustls configuration for a mode, or `None` when the mode uses no TLS.
pub fn client_config(
    mode: SslMode,
    rootcert: Option<&Path>,
) -> Result<Option<ClientConfig>, TlsError> {
    let given = rootcert.map(Path::to_path_buf);
    let found = given
        .clone()
        .or_else(|| default_root().filter(|p| p.exists()));
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::Disable | SslMode::Allow => return Ok(None),
        SslMode::Prefer => Arc::new(NoVerification(provider())),
        SslMode::Require => match &given {
            Some(path) => Arc::new(ChainOnly(webpki(path)?)),
            None => Arc::new(NoVerification(provider())),
        },
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let path = found.ok_or(TlsError::NoTrustedRoot)?;
            let full = webpki(&path)?;
            if mode == SslMode::VerifyFull {
                full
            } else {
                Arc::new(ChainOnly(full))
            }
        }
    };
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Protocols)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(config))
}

fn webpki(path: &Path) -> Result<Arc<WebPkiServerVerifier>, TlsError> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots(path)?), provider())
        .build()
        .map_err(TlsError::Verifier)
}

/// `verify-ca`: the full check, except that the certificate need not name the host.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer`/`require` without a root: encryption without authentication, as libpq
/// does it. The handshake signatures are still checked.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
