//! The `ERR <CODE>` vocabulary of upsd (`server/neterr.h`).

use std::fmt;

/// Error codes a NUT server sends as `ERR <CODE>`; clients match them as prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrCode {
    /// Wrong credentials, or the user lacks the permission.
    AccessDenied,
    /// No UPS of that name.
    UnknownUps,
    /// The UPS has no such variable.
    VarNotSupported,
    /// The UPS has no such instant command.
    CmdNotSupported,
    /// The words do not fit the command.
    InvalidArgument,
    /// The instant command could not be handed to the driver.
    InstcmdFailed,
    /// The SET could not be handed to the driver.
    SetFailed,
    /// The variable is not writable.
    Readonly,
    /// The value is longer than the string variable allows.
    TooLong,
    /// The server cannot do this at all (a build without TLS).
    FeatureNotSupported,
    /// The server is not set up for this (no certificate; tracking off).
    FeatureNotConfigured,
    /// STARTTLS on a connection that is already TLS.
    AlreadySslMode,
    /// upsd has no link to the UPS's driver.
    DriverNotConnected,
    /// The driver's data is stale.
    DataStale,
    /// A second LOGIN on the connection.
    AlreadyLoggedIn,
    /// The password is malformed.
    InvalidPassword,
    /// A second PASSWORD on the connection.
    AlreadySetPassword,
    /// The user name is malformed.
    InvalidUsername,
    /// A second USERNAME on the connection.
    AlreadySetUsername,
    /// The command needs USERNAME first.
    UsernameRequired,
    /// The command needs PASSWORD first.
    PasswordRequired,
    /// The first word is no command.
    UnknownCommand,
    /// The value is outside the variable's ENUM or RANGE.
    InvalidValue,
    /// Tracking result: the driver reported an unknown error (or the id is unknown).
    Unknown,
    /// Tracking result: the driver failed to carry out the request.
    Failed,
    /// nut-rs, `CLEARFSD`: another host may have acted on the FSD, so it stays.
    FsdSeen,
    /// nut-rs, `CLEARFSD`: FSD is not set on the UPS.
    FsdNotSet,
}

impl ErrCode {
    /// Every code, for parsers that map text back to a code.
    pub const ALL: [ErrCode; 27] = [
        ErrCode::AccessDenied,
        ErrCode::UnknownUps,
        ErrCode::VarNotSupported,
        ErrCode::CmdNotSupported,
        ErrCode::InvalidArgument,
        ErrCode::InstcmdFailed,
        ErrCode::SetFailed,
        ErrCode::Readonly,
        ErrCode::TooLong,
        ErrCode::FeatureNotSupported,
        ErrCode::FeatureNotConfigured,
        ErrCode::AlreadySslMode,
        ErrCode::DriverNotConnected,
        ErrCode::DataStale,
        ErrCode::AlreadyLoggedIn,
        ErrCode::InvalidPassword,
        ErrCode::AlreadySetPassword,
        ErrCode::InvalidUsername,
        ErrCode::AlreadySetUsername,
        ErrCode::UsernameRequired,
        ErrCode::PasswordRequired,
        ErrCode::UnknownCommand,
        ErrCode::InvalidValue,
        ErrCode::Unknown,
        ErrCode::Failed,
        ErrCode::FsdSeen,
        ErrCode::FsdNotSet,
    ];

    /// The code as sent on the wire, without the `ERR ` prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrCode::AccessDenied => "ACCESS-DENIED",
            ErrCode::UnknownUps => "UNKNOWN-UPS",
            ErrCode::VarNotSupported => "VAR-NOT-SUPPORTED",
            ErrCode::CmdNotSupported => "CMD-NOT-SUPPORTED",
            ErrCode::InvalidArgument => "INVALID-ARGUMENT",
            ErrCode::InstcmdFailed => "INSTCMD-FAILED",
            ErrCode::SetFailed => "SET-FAILED",
            ErrCode::Readonly => "READONLY",
            ErrCode::TooLong => "TOO-LONG",
            ErrCode::FeatureNotSupported => "FEATURE-NOT-SUPPORTED",
            ErrCode::FeatureNotConfigured => "FEATURE-NOT-CONFIGURED",
            ErrCode::AlreadySslMode => "ALREADY-SSL-MODE",
            ErrCode::DriverNotConnected => "DRIVER-NOT-CONNECTED",
            ErrCode::DataStale => "DATA-STALE",
            ErrCode::AlreadyLoggedIn => "ALREADY-LOGGED-IN",
            ErrCode::InvalidPassword => "INVALID-PASSWORD",
            ErrCode::AlreadySetPassword => "ALREADY-SET-PASSWORD",
            ErrCode::InvalidUsername => "INVALID-USERNAME",
            ErrCode::AlreadySetUsername => "ALREADY-SET-USERNAME",
            ErrCode::UsernameRequired => "USERNAME-REQUIRED",
            ErrCode::PasswordRequired => "PASSWORD-REQUIRED",
            ErrCode::UnknownCommand => "UNKNOWN-COMMAND",
            ErrCode::InvalidValue => "INVALID-VALUE",
            ErrCode::Unknown => "UNKNOWN",
            ErrCode::Failed => "FAILED",
            ErrCode::FsdSeen => "FSD-SEEN",
            ErrCode::FsdNotSet => "FSD-NOT-SET",
        }
    }

    /// Map the text after `ERR ` back to a code. Like upsclient, the code is matched as a
    /// prefix, longest first, so `ERR ACCESS-DENIED "SSL failed"` still reads as ACCESS-DENIED.
    pub fn from_reply(text: &str) -> Option<ErrCode> {
        let word = text.split_whitespace().next()?;
        ErrCode::ALL.iter().copied().find(|c| c.as_str() == word)
    }
}

impl fmt::Display for ErrCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_code() {
        for code in ErrCode::ALL {
            assert_eq!(ErrCode::from_reply(code.as_str()), Some(code));
        }
        assert_eq!(
            ErrCode::from_reply("ACCESS-DENIED \"SSL trust failed\""),
            Some(ErrCode::AccessDenied)
        );
        assert_eq!(ErrCode::from_reply("NOPE"), None);
        assert_eq!(ErrCode::DataStale.to_string(), "DATA-STALE");
    }
}
