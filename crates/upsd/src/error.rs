//! Why upsd cannot start, or a reload cannot take the new files. upsd prints an error with
//! its causes (`nut_daemon::cli::Chain`): `binding ::1 port 3493: Address in use (os error 98)`.

use std::path::PathBuf;

use nut_daemon::pem::PemError;

/// Why upsd cannot start, or a reload cannot take the new files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Neither /etc/nut nor /etc/ups exists and `NUT_CONFPATH` is not set.
    #[error(transparent)]
    ConfPath(#[from] nut_daemon::ConfPathError),
    /// upsd.conf, ups.conf or upsd.users could not be read or is wrong (`file:line: ...`).
    #[error(transparent)]
    Conf(#[from] nut_conf::Error),
    /// ups.conf has no UPS with both `driver` and `port`, and `ALLOW_NO_DEVICE` is off.
    #[error(
        "{}: no UPS defined (a section needs driver and port); set ALLOW_NO_DEVICE to run without one",
        file.display()
    )]
    NoUps {
        /// ups.conf.
        file: PathBuf,
    },
    /// The user to run as could not be found or become.
    #[error(transparent)]
    User(#[from] nut_daemon::PrivError),
    /// `-c`: no running upsd to signal, or an unknown command; or the PID file could not be
    /// written.
    #[error(transparent)]
    Pid(#[from] nut_daemon::PidError),
    /// `-r <dir>`: the chroot failed.
    #[error("chroot to {}", dir.display())]
    Chroot {
        /// The directory.
        dir: PathBuf,
        /// What the system said.
        source: nix::Error,
    },
    /// The chroot worked but `/` in it could not be made the working directory.
    #[error("chdir / in the chroot")]
    ChrootDir(#[source] std::io::Error),
    /// A `LISTEN` (or `LISTEN_HTTP`) address does not resolve.
    #[error("resolving {what}{addr} {port}")]
    Resolve {
        /// The directive and a space.
        what: &'static str,
        /// The address as written.
        addr: String,
        /// The port.
        port: u16,
        /// What the resolver said.
        source: std::io::Error,
    },
    /// A `LISTEN` (or `LISTEN_HTTP`) address resolves but cannot be bound.
    #[error("binding {what}{addr} port {port}")]
    Bind {
        /// Empty for LISTEN, else the directive and a space.
        what: &'static str,
        /// The address as written.
        addr: String,
        /// The port.
        port: u16,
        /// What the system said (for the last address tried).
        source: std::io::Error,
    },
    /// A `LISTEN` address resolves only to addresses of the family `-4` or `-6` excludes.
    #[error("no usable address for {what}{addr}")]
    NoAddress {
        /// Empty for LISTEN, else the directive and a space.
        what: &'static str,
        /// The address as written.
        addr: String,
    },
    /// STATEPATH, where the drivers' sockets are, cannot be listed.
    #[error("Can't access STATEPATH {}", path.display())]
    Statepath {
        /// STATEPATH.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// CERTFILE has no certificate or no key (the PEM error's text is part of this one's).
    #[error("CERTFILE {0}")]
    CertFile(PemError),
    /// CERTFILE's certificate and key do not belong together.
    #[error("CERTFILE {}: certificate and key do not match", file.display())]
    KeyMismatch {
        /// CERTFILE.
        file: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
    /// rustls refused its own default protocol versions.
    #[error("TLS protocol versions")]
    TlsVersions(#[source] rustls::Error),
    /// `CERTREQUEST` without the `CERTPATH` to check client certificates against.
    #[error("CERTREQUEST needs CERTPATH: the CA certificates that sign client certificates")]
    NoCertPath,
    /// CERTPATH could not be read (the PEM error's text is part of this one's).
    #[error("CERTPATH {0}")]
    CertPath(PemError),
    /// CERTPATH has no CA certificate.
    #[error("CERTPATH {}: no CA certificate found", path.display())]
    NoCaCertificate {
        /// CERTPATH.
        path: PathBuf,
    },
    /// A certificate of CERTPATH is not a usable CA certificate.
    #[error("CERTPATH {}: bad CA certificate", path.display())]
    BadCaCertificate {
        /// CERTPATH.
        path: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
    /// The client certificate verifier could not be built from CERTPATH's certificates (the
    /// verifier's error text is part of this one's).
    #[error("CERTPATH {}: {error}", path.display())]
    ClientVerifier {
        /// CERTPATH.
        path: PathBuf,
        /// What rustls said.
        error: rustls::server::VerifierBuilderError,
    },
    /// `daemon(3)` failed.
    #[error("going to the background")]
    Background(#[source] nix::Error),
    /// The tokio runtime could not start.
    #[error("starting the runtime")]
    Runtime(#[source] std::io::Error),
    /// A listener or a signal handler could not be handed to the runtime.
    #[error(transparent)]
    Serve(std::io::Error),
}
