//! `ups-emulator`: serves a `nut-hid-recording/1` as a USB HID UPS over USB/IP (see the
//! library's documentation and `docs/emulator.md`).

use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nut_hid_sim::{Clock, SystemClock, Unit};
use ups_emulator::server::{Ended, Log, Server, Shared};
use ups_emulator::vhci::{self, Vhci};
use ups_emulator::{check, ctl, Error};

/// Serve a recorded APC unit as a USB device over USB/IP (Linux vhci-hcd).
#[derive(Debug, Parser)]
#[command(name = "ups-emulator", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// Options of the unit and its logs.
#[derive(Debug, clap::Args)]
struct UnitArgs {
    /// The recording to serve (nut-hid-recording/1).
    recording: PathBuf,
    /// Log every USB/IP message received (header and data in hex, what it was, the answer).
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Log every SET_REPORT (`SET_REPORT 0xNN <hex>`) and the unit's transitions.
    #[arg(long, value_name = "FILE")]
    simlog: Option<PathBuf>,
    /// Take control commands on this Unix socket (see `ups-emulator ctl`).
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// Run the scenario clock this many times faster than real time.
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0)]
    speed: f64,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Attach the unit to vhci-hcd and serve it until SIGTERM/SIGINT (detaching first).
    Attach {
        #[command(flatten)]
        unit: UnitArgs,
        /// Where the vhci_hcd.N directories are.
        #[arg(long, value_name = "DIR", default_value = vhci::SYSFS_ROOT)]
        sysfs: PathBuf,
        /// The device id written to `attach` (busnum << 16 | devnum of the "remote" device).
        #[arg(long, default_value_t = 0x0001_0002)]
        devid: u32,
    },
    /// Serve the unit on an inherited stream socket until it closes (no kernel involved).
    Serve {
        #[command(flatten)]
        unit: UnitArgs,
        /// The socket's file descriptor.
        #[arg(long, value_name = "N")]
        fd: RawFd,
    },
    /// Check that a recording can be served, and say why not.
    Check {
        /// The recording.
        recording: PathBuf,
    },
    /// Send one command to a running emulator's control socket and print the answer.
    Ctl {
        /// The control socket (`--control` of the emulator).
        socket: PathBuf,
        /// The command: unplug, replug [serial S], stall|timeout TARGET [times N],
        /// short ID LEN [times N], error ID [times N], clear, status.
        #[arg(required = true, num_args = 1.., trailing_var_arg = true)]
        command: Vec<String>,
    },
}

/// Set by SIGTERM and SIGINT.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: nix::libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signals() {
    let stop = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe
        if let Err(e) = unsafe { sigaction(sig, &stop) } {
            eprintln!("ups-emulator: cannot set the {sig} handler: {e}");
        }
    }
}

/// The unit, its server and shared state, from the command line.
fn setup(args: &UnitArgs) -> Result<(Unit, Server, Arc<Shared>), Error> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::with_speed(args.speed));
    let unit = check::load(&args.recording, clock)?;
    if let Some(path) = &args.simlog {
        unit.lock().log_to(path).map_err(|source| Error::File {
            what: "--simlog",
            path: path.clone(),
            source,
        })?;
    }
    let shared = Shared::new();
    let log = Log::open(args.log.as_deref())?;
    if let Some(path) = &args.control {
        ctl::listen(path, unit.clone(), shared.clone())?;
    }
    Ok((unit.clone(), Server::new(unit, shared.clone(), log), shared))
}

fn attach(args: &UnitArgs, sysfs: &Path, devid: u32) -> Result<(), Error> {
    let (unit, mut server, shared) = setup(args)?;
    let vhci = Vhci::find(sysfs)?;
    install_signals();
    vhci::run(&mut server, &unit, &shared, &vhci, devid, &STOP)
}

fn serve(args: &UnitArgs, fd: RawFd) -> Result<(), Error> {
    let proc_fd = PathBuf::from(format!("/proc/self/fd/{fd}"));
    std::fs::symlink_metadata(&proc_fd).map_err(|source| Error::File {
        what: "--fd",
        path: proc_fd,
        source,
    })?;
    let (_unit, mut server, _shared) = setup(args)?;
    install_signals();
    // SAFETY: the descriptor is open (its /proc/self/fd entry exists, checked above), was handed to this process for this
    // purpose, and nothing else in the process uses or closes it.
    let mut stream = unsafe { UnixStream::from_raw_fd(fd) };
    match server.serve(&mut stream, &STOP) {
        Ok(Ended::Stopped) | Err(Error::Closed) => Ok(()),
        Ok(Ended::Unplugged) => {
            eprintln!("ups-emulator: the unit left the bus: closing the connection");
            Ok(())
        }
        Ok(Ended::Replug) => {
            eprintln!("ups-emulator: replug: closing the connection (no kernel to plug into)");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Cmd::Attach { unit, sysfs, devid } => attach(unit, sysfs, *devid),
        Cmd::Serve { unit, fd } => serve(unit, *fd),
        Cmd::Check { recording } => {
            check::load(recording, Arc::new(SystemClock::new())).map(|_| {
                println!("{}: ok", recording.display());
            })
        }
        Cmd::Ctl { socket, command } => ctl::send(socket, &command.join(" ")).map(|answer| {
            println!("{answer}");
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ups-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}
