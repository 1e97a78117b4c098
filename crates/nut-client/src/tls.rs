//! TLS settings for `STARTTLS`: which server certificates to trust and the name to check.

use std::path::Path;
use std::sync::Arc;

use nut_daemon::pem;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::{Error, Result};

/// How [`Client::starttls`](crate::Client::starttls) sets up TLS. Cheap to clone.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A PEM file that gave nothing usable.
fn pem_error(e: pem::PemError) -> Error {
    Error::Tls(e.to_string())
}

fn parse_name(server_name: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(server_name.to_owned())
        .map_err(|e| Error::Tls(format!("invalid server name {server_name:?}: {e}")))
}

impl TlsConfig {
    /// Trust the certificates in a PEM file (one or more `CERTIFICATE` blocks; other blocks
    /// are ignored) and require the server certificate to be valid for `server_name` (a DNS
    /// name or an IP address literal, usually the host the client connected to).
    pub fn from_ca_file(ca_file: impl AsRef<Path>, server_name: &str) -> Result<TlsConfig> {
        let certs = pem::certificates(ca_file.as_ref()).map_err(pem_error)?;
        TlsConfig::from_ca_certs(certs, server_name)
    }

    /// Like [`TlsConfig::from_ca_file`], but `path` may also be a directory (upsmon's
    /// `CERTPATH` in OpenSSL builds): every regular file in it that holds PEM certificates
    /// is loaded, other files are skipped. (An NSS certificate database is not readable.)
    pub fn from_ca_path(path: impl AsRef<Path>, server_name: &str) -> Result<TlsConfig> {
        let certs = pem::ca_certificates(path.as_ref()).map_err(pem_error)?;
        TlsConfig::from_ca_certs(certs, server_name)
    }

    /// Trust the given certificates (DER) and require the server certificate to be valid for
    /// `server_name`.
    pub fn from_ca_certs(
        certs: impl IntoIterator<Item = CertificateDer<'static>>,
        server_name: &str,
    ) -> Result<TlsConfig> {
        let mut roots = RootCertStore::empty();
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| Error::Tls(format!("unusable CA certificate: {e}")))?;
        }
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsConfig {
            config: Arc::new(config),
            server_name: parse_name(server_name)?,
        })
    }

    /// **Dangerous:** encrypt, but accept any server certificate without checking who signed
    /// it, its validity dates or its name. This is what NUT's `CERTVERIFY 0` (the default)
    /// means: it protects against passive eavesdropping only, not against an active
    /// man-in-the-middle. The handshake signatures are still verified, so the server must
    /// hold the private key of the certificate it presents. `server_name` is sent as SNI when
    /// it is a DNS name.
    pub fn dangerous_no_verify(server_name: &str) -> Result<TlsConfig> {
        let provider = provider();
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth();
        Ok(TlsConfig {
            config: Arc::new(config),
            server_name: parse_name(server_name)?,
        })
    }

    /// Build from a caller-made rustls configuration (client certificates, custom roots...).
    pub fn from_rustls(config: Arc<ClientConfig>, server_name: &str) -> Result<TlsConfig> {
        Ok(TlsConfig {
            config,
            server_name: parse_name(server_name)?,
        })
    }

    /// Also present a client certificate when the server asks for one (upsd's
    /// `CERTREQUEST`): the chain and private key of a PEM file, client certificate first and
    /// the key last, as upsmon's `CERTFILE` in NUT 2.8.6+.
    pub fn with_client_cert_file(self, pem_file: impl AsRef<Path>) -> Result<TlsConfig> {
        let path = pem_file.as_ref();
        let certs = pem::certificates(path).map_err(pem_error)?;
        let key = pem::private_key(path).map_err(pem_error)?;
        let key = rustls::sign::CertifiedKey::from_der(certs, key, &provider())
            .map_err(|e| Error::Tls(format!("{}: {e}", path.display())))?;
        let mut config = (*self.config).clone();
        config.client_auth_cert_resolver = Arc::new(rustls::sign::SingleCertAndKey::from(key));
        Ok(TlsConfig {
            config: Arc::new(config),
            server_name: self.server_name,
        })
    }

    /// The name the server certificate is checked against (and sent as SNI).
    pub fn server_name(&self) -> &ServerName<'static> {
        &self.server_name
    }
}

/// Accepts every certificate but still checks handshake signatures (see
/// [`TlsConfig::dangerous_no_verify`]).
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
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
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
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
