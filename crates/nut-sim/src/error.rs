//! Why a scenario could not be set up (the built-in recording, configurations or unit).

/// Why a scenario could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The built-in recording does not parse.
    #[error("the built-in recording: {0}")]
    Recording(#[source] nut_hid_recording::RecordingError),
    /// The simulated unit could not be built from it.
    #[error("the simulated unit: {0}")]
    Unit(#[source] usbhid_ups::Error),
    /// The built-in upsd.users or a generated upsmon.conf does not parse.
    #[error("{0}")]
    Conf(#[source] nut_conf::ConfError),
    /// The built-in driver configuration does not build.
    #[error("the driver configuration: {0}")]
    Driver(#[source] nut_driver::Error),
}
