//! The `ERR <CODE>` vocabulary of upsd (`server/neterr.h`).

use std::fmt;

/// Error codes a NUT server sends as `ERR <CODE>`; clients match them as prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrCode {
    AccessDenied,
    UnknownUps,
    VarNotSupported,
    CmdNotSupported,
    InvalidArgument,
    InstcmdFailed,
    SetFailed,
    Readonly,
    TooLong,
    FeatureNotSupported,
    FeatureNotConfigured,
    AlreadySslMode,
    DriverNotConnected,
    DataStale,
    AlreadyLoggedIn,
    InvalidPassword,
    AlreadySetPassword,
    InvalidUsername,
    AlreadySetUsername,
    UsernameRequired,
    PasswordRequired,
    UnknownCommand,
    InvalidValue,
    /// Tracking result: the driver reported an unknown error (or the id is unknown).
    Unknown,
    /// Tracking result: the driver failed to carry out the request.
    Failed,
}

impl ErrCode {
    /// Every code, for parsers that map text back to a code.
    pub const ALL: [ErrCode; 25] = [
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
