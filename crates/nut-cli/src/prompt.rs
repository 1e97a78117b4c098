//! Questions on the terminal when upsrw or upscmd lack `-u`, `-p` or a value, asked as
//! stock asks them: the user name and value prompts on stdout read from stdin (`fgets`),
//! the password as glibc's `getpass` does (on `/dev/tty` without echo, else prompt on
//! stderr and read stdin).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};

use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};

/// `fgets` into stock's 512-byte buffer: at most this many bytes of a line.
const LINE_MAX: usize = 511;

/// Print `prompt` on stdout and read a line from stdin as `fgets` does: `None` at end of
/// input with nothing read, else the bytes read (newline included when there was one).
pub(crate) fn ask_line(prompt: &str) -> Option<String> {
    print!("{prompt}");
    let _ = std::io::stdout().flush();
    fgets(&mut std::io::stdin().lock())
}

fn fgets(input: &mut impl BufRead) -> Option<String> {
    let mut line = Vec::new();
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if buf.is_empty() {
            break;
        }
        let room = LINE_MAX - line.len();
        let take = buf.iter().take(room).position(|&b| b == b'\n');
        let n = take.map_or(buf.len().min(room), |i| i + 1);
        line.extend_from_slice(&buf[..n]);
        input.consume(n);
        if take.is_some() || line.len() >= LINE_MAX {
            break;
        }
    }
    if line.is_empty() {
        return None;
    }
    Some(String::from_utf8_lossy(&line).into_owned())
}

/// Stock's "deal with that pesky newline": drop the last character of a line longer than one.
pub(crate) fn chop(line: &str) -> Option<String> {
    if line.len() > 1 {
        let mut s = line.to_owned();
        s.pop();
        Some(s)
    } else {
        None
    }
}

/// The name of the user running the tool (`getpwuid(getuid())`).
pub(crate) fn login_name() -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// `Username (<login>): ` (or `Username: `), and the answer: the line without its last
/// character, the login name for an empty line. `Err(())` when nothing was read or no name
/// is known; the caller words the failure as its stock tool does.
pub(crate) fn ask_username() -> (Option<String>, Option<String>) {
    let login = login_name();
    let prompt = match &login {
        Some(name) => format!("Username ({name}): "),
        None => "Username: ".to_owned(),
    };
    let line = ask_line(&prompt);
    (line, login)
}

/// glibc's `getpass(prompt)`: on the controlling terminal with echo off when there is one,
/// else prompt on stderr and read stdin. The line comes back without its newline; end of
/// input gives an empty password.
pub(crate) fn getpass(prompt: &str) -> String {
    match OpenOptions::new().read(true).write(true).open("/dev/tty") {
        Ok(tty) => tty_password(tty, prompt),
        Err(_) => {
            eprint!("{prompt}");
            let line = fgets_unbounded(&mut std::io::stdin().lock());
            line.strip_suffix('\n').unwrap_or(&line).to_owned()
        }
    }
}

fn fgets_unbounded(input: &mut impl BufRead) -> String {
    let mut line = Vec::new();
    let _ = input.read_until(b'\n', &mut line);
    String::from_utf8_lossy(&line).into_owned()
}

fn tty_password(mut tty: File, prompt: &str) -> String {
    let saved = tcgetattr(&tty).ok();
    if let Some(saved) = &saved {
        let mut quiet = saved.clone();
        quiet
            .local_flags
            .remove(LocalFlags::ECHO | LocalFlags::ISIG);
        let _ = tcsetattr(&tty, SetArg::TCSAFLUSH, &quiet);
    }
    let _ = tty.write_all(prompt.as_bytes());
    let _ = tty.flush();
    let line = match tty.try_clone() {
        Ok(reader) => fgets_unbounded(&mut BufReader::new(reader)),
        Err(_) => String::new(),
    };
    if let Some(saved) = &saved {
        let _ = tcsetattr(&tty, SetArg::TCSAFLUSH, saved);
    }
    match line.strip_suffix('\n') {
        Some(password) => {
            if saved.is_some() {
                // the newline that was not echoed
                let _ = tty.write_all(b"\n");
            }
            password.to_owned()
        }
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fgets_reads_one_line_at_most_511_bytes() {
        let mut input: &[u8] = b"admin\nsecret";
        assert_eq!(fgets(&mut input).as_deref(), Some("admin\n"));
        assert_eq!(fgets(&mut input).as_deref(), Some("secret"));
        assert_eq!(fgets(&mut input), None);
        let long = vec![b'a'; 600];
        let mut input: &[u8] = &long;
        assert_eq!(fgets(&mut input).map(|l| l.len()), Some(511));
    }

    #[test]
    fn chop_drops_the_last_character_of_lines_longer_than_one() {
        assert_eq!(chop("admin\n").as_deref(), Some("admin"));
        assert_eq!(chop("admin").as_deref(), Some("admi"));
        assert_eq!(chop("\n"), None);
    }
}
