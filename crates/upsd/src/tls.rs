//! STARTTLS: the rustls server configuration from upsd.conf's CERTFILE (a PEM file with the
//! certificate chain and its private key, as OpenSSL builds of NUT read it), and client
//! certificates as NUT 2.8.5+ checks them: `CERTREQUEST REQUEST` asks for one and verifies it
//! if given, `CERTREQUEST REQUIRE` refuses a client without a valid one; either way against
//! the CA certificates of `CERTPATH` (a PEM file, or a directory of them).

use std::path::Path;
use std::sync::Arc;

use nut_conf::upsd_conf::CertRequest;
use nut_daemon::pem::{self, PemError};
use tokio_rustls::TlsAcceptor;

use crate::Error;

/// Build the acceptor for CERTFILE, asking for client certificates as `request` says.
pub(crate) fn acceptor(
    certfile: &Path,
    request: CertRequest,
    certpath: Option<&Path>,
) -> Result<TlsAcceptor, Error> {
    let certs = pem::certificates(certfile).map_err(Error::CertFile)?;
    let key = pem::private_key(certfile).map_err(Error::CertFile)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(Error::TlsVersions)?;
    let builder = match request {
        CertRequest::No => builder.with_no_client_auth(),
        CertRequest::Request | CertRequest::Require => {
            let Some(certpath) = certpath else {
                return Err(Error::NoCertPath);
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
            let verifier = verifier.build().map_err(|error| Error::ClientVerifier {
                path: certpath.to_path_buf(),
                error,
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|source| Error::KeyMismatch {
            file: certfile.to_path_buf(),
            source,
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The CA certificates of CERTPATH: a PEM file, or every PEM file of a directory (OpenSSL's
/// hashed-name links included).
fn client_roots(certpath: &Path) -> Result<rustls::RootCertStore, Error> {
    let certs = pem::ca_certificates(certpath).map_err(|e| match e {
        PemError::NoCertificate { path } => Error::NoCaCertificate { path },
        other => Error::CertPath(other),
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|source| Error::BadCaCertificate {
            path: certpath.to_path_buf(),
            source,
        })?;
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
