//! The TLS pieces the mock and the stock tests share: a fresh test PKI (a CA, and a server
//! certificate it signs for `localhost` and `127.0.0.1`), and the check that a failed
//! handshake closes the connection.

use std::sync::Arc;

use nut_client::{Client, Error, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A CA and one server certificate it signed.
pub(crate) struct TestPki {
    /// The CA certificate (PEM): what a client trusts.
    pub(crate) ca_pem: String,
    /// The server certificate (PEM).
    pub(crate) cert_pem: String,
    /// The server certificate's private key (PEM).
    pub(crate) key_pem: String,
    cert: CertificateDer<'static>,
    key_pkcs8: Vec<u8>,
}

impl TestPki {
    /// A new CA and a server certificate for `localhost` and `127.0.0.1` whose common name is
    /// `server_cn`.
    pub(crate) fn new(server_cn: &str) -> TestPki {
        let ca_key = KeyPair::generate().expect("key pair");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "nut-client test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().expect("key pair");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server parameters");
        params
            .distinguished_name
            .push(DnType::CommonName, server_cn);
        let cert = params.signed_by(&key, &issuer).expect("server certificate");
        TestPki {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert: cert.der().clone(),
            key_pkcs8: key.serialize_der(),
        }
    }

    /// A rustls server presenting the server certificate.
    pub(crate) fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let key = PrivateKeyDer::Pkcs8(self.key_pkcs8.clone().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![self.cert.clone()], key)
        .expect("certificate and key");
        Arc::new(config)
    }
}

/// STARTTLS with `tls` must fail the handshake, and the connection is gone after it.
pub(crate) async fn assert_handshake_fails(c: &mut Client, tls: &TlsConfig) {
    let e = c.starttls(tls).await.expect_err("the handshake must fail");
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    assert!(!c.is_open());
}
