//! Running the outside world's programs: NOTIFYCMD, `wall` and SHUTDOWNCMD.
//!
//! NOTIFYCMD runs as NUT 2.8.0 runs it: through `/bin/sh -c '<NOTIFYCMD> "<message>"'` with
//! `UPSNAME` and `NOTIFYTYPE` in the environment. Each notification runs in its own process,
//! watched by its own task: a NOTIFYCMD that hangs is killed after [`NOTIFY_TIMEOUT`] and
//! never blocks the monitor loop.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// How long a NOTIFYCMD or `wall` may run before it is killed.
pub(crate) const NOTIFY_TIMEOUT: Duration = Duration::from_secs(60);

/// The shell command line NUT 2.8.0 builds for a notification.
pub(crate) fn notify_command_line(notifycmd: &str, message: &str) -> String {
    format!("{notifycmd} \"{message}\"")
}

/// Run NOTIFYCMD for one notification, in the background.
pub(crate) fn spawn_notifycmd(notifycmd: &str, message: &str, upsname: &str, notifytype: &str) {
    let line = notify_command_line(notifycmd, message);
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(&line)
        .env("UPSNAME", upsname)
        .env("NOTIFYTYPE", notifytype)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .process_group(0);
    let what = format!("NOTIFYCMD for {notifytype}");
    run_in_background(cmd, what, None);
}

/// Send `message` to every terminal with `wall`, in the background.
pub(crate) fn spawn_wall(message: &str) {
    let mut cmd = Command::new("wall");
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .process_group(0);
    run_in_background(cmd, "wall".into(), Some(format!("{message}\n")));
}

fn run_in_background(mut cmd: Command, what: String, stdin: Option<String>) {
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{what}: can't run: {e}");
            return;
        }
    };
    tokio::spawn(async move {
        if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
            let _ = input.write_all(text.as_bytes()).await;
        }
        let pgid = child.id();
        match tokio::time::timeout(NOTIFY_TIMEOUT, child.wait()).await {
            Ok(Ok(st)) if st.success() => tracing::debug!("{what} finished"),
            Ok(Ok(st)) => tracing::warn!("{what} failed: {st}"),
            Ok(Err(e)) => tracing::warn!("{what}: {e}"),
            Err(_) => {
                tracing::warn!("{what} still running after {NOTIFY_TIMEOUT:?}: killed");
                if let Some(pid) = pgid {
                    // the whole process group: the shell and what it started
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                let _ = child.wait().await;
            }
        }
    });
}

/// Run SHUTDOWNCMD through the shell and wait for it (NUT uses `system()`).
pub(crate) fn run_shutdowncmd(cmdline: &str) {
    tracing::info!("Executing SHUTDOWNCMD");
    match std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmdline)
        .stdin(Stdio::null())
        .status()
    {
        Ok(st) if st.success() => {}
        Ok(st) => tracing::error!("SHUTDOWNCMD failed: {st}"),
        Err(e) => tracing::error!("Unable to call shutdown command: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_what_nut_2_8_0_builds() {
        assert_eq!(
            notify_command_line("/usr/sbin/upssched", "UPS ups@localhost on battery"),
            "/usr/sbin/upssched \"UPS ups@localhost on battery\""
        );
    }
}
