//! PEM files, read the one way upsd (CERTFILE, CERTPATH), nut-client (CA files, client
//! certificates) and upsmon's webhooks (SSL_CERT_FILE) read them.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a PEM file gave nothing usable. Each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PemError {
    /// The file or directory could not be read.
    #[error("{}: cannot read: {message}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A `CERTIFICATE` block is not valid PEM.
    #[error("{}: bad PEM certificate: {message}", path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Not one certificate in the file (or in any file of the directory).
    #[error("{}: no certificate found", path.display())]
    NoCertificate {
        /// The file or directory.
        path: PathBuf,
    },
    /// No private key in the file.
    #[error("{}: no usable private key: {message}", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Every `CERTIFICATE` block of one PEM file, in order (other blocks are skipped); at least one.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| PemError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let certs: Vec<_> = iter
        .collect::<Result<_, _>>()
        .map_err(|e| PemError::BadCertificate {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(PemError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// CA certificates from a PEM file, or from every regular file of a directory (in name order;
/// OpenSSL's hashed-name links included, files without certificates skipped); at least one.
pub fn ca_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    if !path.is_dir() {
        return certificates(path);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| PemError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let certs: Vec<_> = files
        .iter()
        .filter_map(|f| CertificateDer::pem_file_iter(f).ok())
        .flat_map(|iter| iter.flatten())
        .collect();
    if certs.is_empty() {
        return Err(PemError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// CA certificates from the first of `files` that has any (a system bundle list), skipping
/// files that are missing or hold none.
pub fn first_bundle(files: &[PathBuf]) -> Option<Vec<CertificateDer<'static>>> {
    files.iter().find_map(|f| certificates(f).ok())
}

/// The private key of a PEM file (the first `PRIVATE KEY` block of any kind).
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, PemError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| PemError::NoKey {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_pem() -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".into()]).expect("params");
        let cert = params.self_signed(&key).expect("cert");
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn files_and_directories_of_certificates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, key) = cert_pem();
        let (b, _) = cert_pem();
        let both = dir.path().join("both.pem");
        std::fs::write(&both, format!("{a}{key}{b}")).expect("write");
        assert_eq!(certificates(&both).map(|c| c.len()).ok(), Some(2));
        assert!(private_key(&both).is_ok());

        let cadir = dir.path().join("ca");
        std::fs::create_dir(&cadir).expect("mkdir");
        std::fs::write(cadir.join("1.pem"), &a).expect("write");
        std::fs::write(cadir.join("README"), "not a certificate").expect("write");
        std::fs::write(cadir.join("2.pem"), &b).expect("write");
        assert_eq!(ca_certificates(&cadir).map(|c| c.len()).ok(), Some(2));
        assert_eq!(ca_certificates(&both).map(|c| c.len()).ok(), Some(2));

        let bundles = [dir.path().join("missing.pem"), both];
        assert_eq!(first_bundle(&bundles).map(|c| c.len()), Some(2));
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing here\n").expect("write");
        assert_eq!(
            certificates(&empty).map_err(|e| e.to_string()),
            Err(format!("{}: no certificate found", empty.display()))
        );
        assert_eq!(
            ca_certificates(dir.path()).map_err(|e| e.to_string()),
            Err(format!("{}: no certificate found", dir.path().display()))
        );
        let missing = dir.path().join("missing.pem");
        assert!(certificates(&missing)
            .map_err(|e| e.to_string())
            .is_err_and(|e| e.starts_with(&format!("{}: cannot read: ", missing.display()))));
        assert!(private_key(&empty)
            .map_err(|e| e.to_string())
            .is_err_and(|e| e.starts_with(&format!("{}: no usable private key", empty.display()))));
    }
}
