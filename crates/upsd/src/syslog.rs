//! Log lines to syslog once upsd runs in the background (stderr is gone then).

use std::ffi::CString;
use std::io::{self, Write};

/// A `MakeWriter` for tracing-subscriber that sends each formatted event to syslog.
#[derive(Clone, Copy)]
pub struct Syslog;

impl Syslog {
    pub fn open() -> Syslog {
        static IDENT: &[u8] = b"upsd\0";
        // SAFETY: IDENT is a static NUL-terminated string that outlives the process' use of it.
        unsafe { libc::openlog(IDENT.as_ptr().cast(), libc::LOG_PID, libc::LOG_DAEMON) };
        Syslog
    }
}

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
