//! PID files: how `-c <command>` finds the running daemon to signal.

use std::path::{Path, PathBuf};

/// Why a PID file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PidError {
    #[error("reading PID file {}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("PID file {} holds no PID", file.display())]
    NoPid { file: PathBuf },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_pid_and_names_the_file_otherwise() {
        let dir = std::env::temp_dir().join(format!("nut-daemon-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let good = dir.join("good.pid");
        let bad = dir.join("bad.pid");
        std::fs::write(&good, "1234\n").unwrap_or_default();
        std::fs::write(&bad, "x\n").unwrap_or_default();
        assert_eq!(read_pid(&good).ok(), Some(1234));
        assert_eq!(
            read_pid(&bad).map_err(|e| e.to_string()),
            Err(format!("PID file {} holds no PID", bad.display()))
        );
        assert!(read_pid(&dir.join("missing.pid"))
            .map_err(|e| e.to_string())
            .is_err_and(|e| e.starts_with("reading PID file ")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
