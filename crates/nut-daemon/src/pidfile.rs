//! PID files: written by a daemon at start-up, read by `-c <command>` to find it, removed at
//! exit; and the signal `-c` sends.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Why a PID file or a `-c` command could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PidError {
    /// The file could not be read.
    #[error("reading PID file {}: {source}", file.display())]
    Read {
        /// The PID file.
        file: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file holds no number.
    #[error("PID file {} holds no PID", file.display())]
    NoPid {
        /// The PID file.
        file: PathBuf,
    },
    /// The file could not be created or written.
    #[error("writing PID file {}: {source}", file.display())]
    Write {
        /// The PID file.
        file: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// `-c` named a command the program does not have.
    #[error("unknown command '{command}' for -c (use {known})")]
    UnknownCommand {
        /// What was given.
        command: String,
        /// The commands there are, for the message.
        known: String,
    },
    /// The signal could not be sent.
    #[error("signalling PID {pid}: {source}")]
    Signal {
        /// The process.
        pid: i32,
        /// What the system said.
        source: nix::Error,
    },
}

/// The PID written in `file` (surrounding white space ignored).
pub fn read_pid(file: &Path) -> Result<i32, PidError> {
    let text = std::fs::read_to_string(file).map_err(|source| PidError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    text.trim().parse().map_err(|_| PidError::NoPid {
        file: file.to_path_buf(),
    })
}

/// Whether a process with this PID exists (signal 0).
pub fn is_running(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
}

/// A daemon's own PID file. It is created (and emptied) by [`PidFile::create`], which may run
/// while the daemon still has the rights to write there, and filled by [`PidFile::write`]
/// once the daemon is ready to be signalled.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    file: File,
}

impl PidFile {
    /// Create or empty `path`.
    pub fn create(path: &Path) -> Result<PidFile, PidError> {
        let file = File::create(path).map_err(|source| PidError::Write {
            file: path.to_path_buf(),
            source,
        })?;
        Ok(PidFile {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Write this process's PID (`<pid>\n`).
    pub fn write(&mut self) -> Result<(), PidError> {
        writeln!(self.file, "{}", std::process::id()).map_err(|source| PidError::Write {
            file: self.path.clone(),
            source,
        })
    }

    /// Create `path` and write this process's PID into it.
    pub fn write_now(path: &Path) -> Result<PidFile, PidError> {
        let mut f = PidFile::create(path)?;
        f.write()?;
        Ok(f)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remove the file; a failure (the file is gone, or a process that dropped its rights
    /// may not remove it) changes nothing for the caller.
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `-c <command>`: send the signal `commands` gives for `command` to `pid`, else to the PID
/// of `pidfile`. Returns the PID signalled.
pub fn signal_command(
    command: &str,
    commands: &[(&str, Signal)],
    pidfile: &Path,
    pid: Option<i32>,
) -> Result<i32, PidError> {
    let Some(&(_, signal)) = commands.iter().find(|(name, _)| *name == command) else {
        let names: Vec<&str> = commands.iter().map(|(n, _)| *n).collect();
        let known = match names.split_last() {
            Some((last, [])) => (*last).to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        return Err(PidError::UnknownCommand {
            command: command.to_string(),
            known,
        });
    };
    let pid = match pid {
        Some(p) => p,
        None => read_pid(pidfile)?,
    };
    kill(Pid::from_raw(pid), signal).map_err(|source| PidError::Signal { pid, source })?;
    Ok(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_pid_and_names_the_file_otherwise() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.pid");
        let bad = dir.path().join("bad.pid");
        std::fs::write(&bad, "x\n").expect("write");
        let f = PidFile::write_now(&good).expect("pid file");
        assert_eq!(f.path(), good);
        assert_eq!(read_pid(&good).ok(), Some(std::process::id() as i32));
        assert_eq!(
            read_pid(&bad).map_err(|e| e.to_string()),
            Err(format!("PID file {} holds no PID", bad.display()))
        );
        assert!(read_pid(&dir.path().join("missing.pid"))
            .map_err(|e| e.to_string())
            .is_err_and(|e| e.starts_with("reading PID file ")));
        f.remove();
        assert!(!good.exists());
    }

    #[test]
    fn commands_name_the_known_ones_and_signal_the_pid_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = [("reload", Signal::SIGHUP), ("stop", Signal::SIGTERM)];
        let e = signal_command("boom", &table, &dir.path().join("x.pid"), None);
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err("unknown command 'boom' for -c (use reload or stop)".into())
        );
        let e = signal_command("stop", &table, &dir.path().join("x.pid"), None);
        assert!(matches!(e, Err(PidError::Read { .. })));
        // a child that dies of SIGTERM's default action (not SIGHUP: under nohup, as a CI
        // runner may start us, children inherit SIGHUP ignored)
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let pidfile = dir.path().join("sleep.pid");
        std::fs::write(&pidfile, format!("{}\n", child.id())).expect("write");
        assert!(is_running(child.id() as i32));
        assert_eq!(
            signal_command("stop", &table, &pidfile, None).ok(),
            Some(child.id() as i32)
        );
        let status = child.wait().expect("wait");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
    }
}
