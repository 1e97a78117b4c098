//! STARTTLS: the rustls server configuration from upsd.conf's CERTFILE (a PEM file with the
//! certificate chain and its private key, as OpenSSL builds of NUT read it).

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Build the acceptor for CERTFILE.
pub fn acceptor(certfile: &Path) -> Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certfile)
        .with_context(|| format!("CERTFILE {}: cannot read", certfile.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("CERTFILE {}: bad PEM certificate", certfile.display()))?;
    if certs.is_empty() {
        bail!(
            "CERTFILE {}: no certificate in the file",
            certfile.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(certfile)
        .with_context(|| format!("CERTFILE {}: no usable private key", certfile.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .with_context(|| {
        format!(
            "CERTFILE {}: certificate and key do not match",
            certfile.display()
        )
    })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
