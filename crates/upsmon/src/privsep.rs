//! The split of NUT's default process model: a root parent that can only do one thing
//! (write POWERDOWNFLAG and run SHUTDOWNCMD when asked), and an unprivileged child that does
//! all the monitoring, talks to the network and runs NOTIFYCMD.
//!
//! They share one pipe. The child writes the byte `0x01` to ask for the shutdown; the parent
//! sees end-of-file when the child exits and then exits too. The child notices a dead parent
//! because its end of the pipe reports an error ([`ParentLink::parent_alive`]).
//!
//! Beyond NUT: SIGTERM, SIGINT or SIGQUIT sent to the parent is passed on to the child, so
//! stopping either process stops upsmon cleanly instead of leaving a monitor that can no
//! longer shut the machine down; and the parent's exit status is the child's.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, pipe2, ForkResult, Pid};
use nut_conf::upsmon_conf::ShutdownExit;

use crate::{exec, powerdown, Error};

/// The byte that asks the parent for the shutdown (as in NUT).
const SHUTDOWN_REQUEST: u8 = 1;

/// What the parent does when asked; fixed at start (the parent never re-reads upsmon.conf).
pub(crate) struct ParentPlan {
    /// POWERDOWNFLAG, if enabled.
    pub(crate) powerdownflag: Option<PathBuf>,
    /// SHUTDOWNCMD.
    pub(crate) shutdowncmd: Option<String>,
    /// SHUTDOWNEXIT: how long to wait for the child after SHUTDOWNCMD.
    pub(crate) shutdownexit: ShutdownExit,
}

/// The child's end of the pipe.
pub(crate) struct ParentLink {
    fd: OwnedFd,
}

/// Which side of the fork this process is on.
pub(crate) enum Side {
    /// The root parent ran to its end; exit with this code.
    Parent(ExitCode),
    /// The monitoring child.
    Child(ParentLink),
}

/// Fork into the parent and the child. Must be called while the process has one thread
/// (before the async runtime starts).
pub(crate) fn split(plan: ParentPlan) -> Result<Side, Error> {
    let (read_end, write_end) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::system("pipe creation failed", e))?;
    // SAFETY: upsmon has a single thread here (the runtime is built after the split), so the
    // child may run any code.
    match unsafe { fork() }.map_err(|e| Error::system("fork failed", e))? {
        ForkResult::Parent { child } => {
            drop(write_end);
            tracing::debug!("forked a child ({child}) to run the main loop");
            Ok(Side::Parent(run_parent(read_end, child, plan)))
        }
        ForkResult::Child => {
            drop(read_end);
            Ok(Side::Child(ParentLink { fd: write_end }))
        }
    }
}

impl ParentLink {
    /// Ask the parent to shut the machine down.
    pub(crate) fn request_shutdown(&self) -> Result<(), Errno> {
        match nix::unistd::write(self.fd.as_fd(), &[SHUTDOWN_REQUEST])? {
            1 => Ok(()),
            _ => Err(Errno::EIO),
        }
    }

    /// False once the parent has gone (its end of the pipe is closed).
    pub(crate) fn parent_alive(&self) -> bool {
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLOUT)];
        match nix::poll::poll(&mut fds, PollTimeout::ZERO) {
            Ok(_) => !fds[0]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP)),
            Err(_) => true,
        }
    }
}

/// The child the parent passes stop signals to.
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn pass_on(sig: nix::libc::c_int) {
    let child = CHILD.load(Ordering::Relaxed);
    if child > 0 {
        // SAFETY: kill(2) is async-signal-safe and takes no pointers
        unsafe { nix::libc::kill(child, sig) };
    }
}

fn install_parent_signals(child: Pid) {
    CHILD.store(child.as_raw(), Ordering::Relaxed);
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    let forward = SigAction::new(
        SigHandler::Handler(pass_on),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for (sig, action) in [
        // reloads and FSD requests are the child's business (its PID is in the PID file)
        (Signal::SIGHUP, &ignore),
        (Signal::SIGUSR1, &ignore),
        (Signal::SIGUSR2, &ignore),
        (Signal::SIGTERM, &forward),
        (Signal::SIGINT, &forward),
        (Signal::SIGQUIT, &forward),
    ] {
        // SAFETY: the handlers only call kill(2)
        if let Err(e) = unsafe { sigaction(sig, action) } {
            tracing::warn!("upsmon parent: can't set the {sig} handler: {e}");
        }
    }
}

/// Wait for the child's request or its exit.
fn run_parent(fd: OwnedFd, child: Pid, plan: ParentPlan) -> ExitCode {
    install_parent_signals(child);
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(fd.as_fd(), &mut byte) {
            Ok(0) => {
                let code = child_exit_code(child, None);
                tracing::info!("upsmon parent: exiting (child exited)");
                return code;
            }
            Ok(_) if byte[0] == SHUTDOWN_REQUEST => break,
            Ok(_) => {
                tracing::error!("upsmon parent: got bogus pipe command {}", byte[0]);
                return ExitCode::FAILURE;
            }
            Err(Errno::EINTR) => continue,
            Err(e) => {
                tracing::error!("upsmon parent: read: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(f) = &plan.powerdownflag {
        if let Err(e) = powerdown::set(f) {
            tracing::error!("Failed to create power down flag {}: {e}", f.display());
        }
    }
    match &plan.shutdowncmd {
        Some(cmd) => exec::run_shutdowncmd(cmd),
        None => tracing::error!("upsmon parent: Unable to call shutdown command: no SHUTDOWNCMD"),
    }
    // SHUTDOWNEXIT: the child stays connected a while; wait for it (or the time) here too
    let deadline = match plan.shutdownexit {
        ShutdownExit::Yes => Some(Duration::ZERO),
        ShutdownExit::No => None,
        ShutdownExit::After(s) => Some(Duration::from_secs(s)),
    };
    child_exit_code(child, deadline);
    tracing::warn!("upsmon parent: Exiting after calling the shutdown command");
    ExitCode::SUCCESS
}

/// Reap the child, waiting at most `deadline` (`None`: as long as it takes); its exit status
/// as ours.
fn child_exit_code(child: Pid, deadline: Option<Duration>) -> ExitCode {
    let start = Instant::now();
    loop {
        match waitpid(child, deadline.map(|_| WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, 0)) => return ExitCode::SUCCESS,
            Ok(WaitStatus::Exited(_, c)) => return ExitCode::from(c.clamp(1, 255) as u8),
            Ok(WaitStatus::Signaled(_, Signal::SIGTERM, _)) => return ExitCode::SUCCESS,
            Ok(WaitStatus::Signaled(..)) => return ExitCode::FAILURE,
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => return ExitCode::SUCCESS,
        }
        match deadline {
            Some(d) if start.elapsed() >= d => return ExitCode::SUCCESS,
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Whether this process runs as root (for the "shutdown may fail" warning).
pub(crate) fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}
