//! POWERDOWNFLAG: the file the late shutdown hook checks with `upsmon -K` before it tells the
//! UPS to cut power. It holds NUT's magic text, with no newline.

use std::io;
use std::path::Path;

/// NUT's `SDMAGIC`.
pub(crate) const MAGIC: &str = "upsmon-shutdown-file";

/// True when `path` exists and starts with the magic text (`upsmon -K`).
pub(crate) fn is_set(path: &Path) -> bool {
    std::fs::read(path)
        .map(|b| b.starts_with(MAGIC.as_bytes()))
        .unwrap_or(false)
}

/// Write the flag file.
pub(crate) fn set(path: &Path) -> io::Result<()> {
    std::fs::write(path, MAGIC)
}

/// At start-up: remove a flag left by an earlier shutdown. A file there without the magic
/// text is not ours: it is left alone and the flag is disabled (returns false).
pub(crate) fn clear_at_start(path: &Path) -> bool {
    match std::fs::read(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(e) => {
            tracing::error!("POWERDOWNFLAG {}: {e}", path.display());
            true
        }
        Ok(b) if b.starts_with(MAGIC.as_bytes()) => {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::error!("removing POWERDOWNFLAG {}: {e}", path.display());
            }
            true
        }
        Ok(_) => {
            tracing::error!(
                "{} doesn't contain the magic string - disabling POWERDOWNFLAG!",
                path.display()
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_check_clear() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("killpower");
        assert!(!is_set(&p));
        set(&p).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), MAGIC);
        assert!(is_set(&p));
        assert!(clear_at_start(&p));
        assert!(!p.exists());
        std::fs::write(&p, "something else").unwrap();
        assert!(!is_set(&p));
        assert!(!clear_at_start(&p));
        assert!(p.exists());
    }
}
