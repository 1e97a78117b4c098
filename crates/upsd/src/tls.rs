//! STARTTLS: the rustls server configuration from upsd.conf's CERTFILE (a PEM file with the
//! certificate chain and its private key, as OpenSSL builds of NUT read it), and client
//! certificates as NUT 2.8.5+ checks them: `CERTREQUEST REQUEST` asks for one and verifies it
//! if given, `CERTREQUEST REQUIRE` refuses a client without a valid one; either way against
//! the CA certificates of `CERTPATH` (a PEM file, or a directory of them).

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use nut_conf::upsd_conf::CertRequest;
use nut_daemon::pem::{self, PemError};
use tokio_rustls::TlsAcceptor;

/// Build the acceptor for CERTFILE, asking for client certificates as `request` says.
pub(crate) fn acceptor(
    certfile: &Path,
    request: CertRequest,
    certpath: Option<&Path>,
) -> Result<TlsAcceptor> {
    let certs = pem::certificates(certfile).map_err(|e| anyhow!("CERTFILE {e}"))?;
    let key = pem::private_key(certfile).map_err(|e| anyhow!("CERTFILE {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match request {
        CertRequest::No => builder.with_no_client_auth(),
        CertRequest::Request | CertRequest::Require => {
            let Some(certpath) = certpath else {
                bail!(
                    "CERTREQUEST needs CERTPATH: the CA certificates that sign client certificates"
                );
            };
            let roots = client_roots(certpath)?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let verifier = match request {
                CertRequest::Request => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|e| anyhow!("CERTPATH {}: {e}", certpath.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key).with_context(|| {
        format!(
            "CERTFILE {}: certificate and key do not match",
            certfile.display()
        )
    })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The CA certificates of CERTPATH: a PEM file, or every PEM file of a directory (OpenSSL's
/// hashed-name links included).
fn client_roots(certpath: &Path) -> Result<rustls::RootCertStore> {
    let certs = pem::ca_certificates(certpath).map_err(|e| match e {
        PemError::NoCertificate { path } => {
            anyhow!("CERTPATH {}: no CA certificate found", path.display())
        }
        other => anyhow!("CERTPATH {other}"),
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .with_context(|| format!("CERTPATH {}: bad CA certificate", certpath.display()))?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certrequest_without_certpath_is_refused() {
        let e = acceptor(Path::new("/nonexistent.pem"), CertRequest::Require, None)
            .map(|_| ())
            .unwrap_err();
        // the CERTFILE is read first
        assert!(
            e.to_string().starts_with("CERTFILE /nonexistent.pem"),
            "{e}"
        );
    }

    #[test]
    fn an_empty_certpath_is_an_error_naming_it() {
        let d = tempfile::tempdir().expect("tempdir");
        let e = client_roots(d.path()).map(|_| ()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("CERTPATH {}: no CA certificate found", d.path().display())
        );
    }
}
