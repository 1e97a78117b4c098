//! Log lines to syslog once a daemon runs in the background (stderr is gone then), under
//! the program's name, as NUT's daemons do.

use std::ffi::CString;
use std::io::{self, Write};

/// A `MakeWriter` for tracing-subscriber that sends each formatted event to syslog.
#[derive(Clone, Copy)]
pub struct Syslog;

impl Syslog {
    /// `openlog(ident, LOG_PID, LOG_DAEMON)`.
    pub fn open(ident: &str) -> Syslog {
        let ident = CString::new(ident.replace('\0', "")).unwrap_or_default();
        // openlog keeps the pointer: the string must live as long as the process.
        let ident: &'static std::ffi::CStr = Box::leak(ident.into_boxed_c_str());
        // SAFETY: `ident` is a NUL-terminated string that is never freed.
        unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
        Syslog
    }
}

/// One formatted event, sent when dropped.
pub struct Line(Vec<u8>);

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let text: Vec<u8> = self
            .0
            .iter()
            .copied()
            .filter(|&b| b != 0 && b != b'\n')
            .collect();
        if let Ok(msg) = CString::new(text) {
            // SAFETY: both strings are valid NUL-terminated C strings for the call.
            unsafe { libc::syslog(libc::LOG_NOTICE, c"%s".as_ptr(), msg.as_ptr()) };
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Syslog {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line(Vec::new())
    }
}
