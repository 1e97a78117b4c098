//! `upsc`: list the UPSes of a server (`-l`, `-L` with descriptions), the variables of a
//! UPS or one of them, or the clients logged in to a UPS (`-c`). Tries `STARTTLS` first and
//! goes on in clear text when the server has no TLS, as stock's does.

use std::ffi::OsString;
use std::process::ExitCode;

use crate::conn::{split_addr, split_name, Conn, Tls};
use crate::{prog_name, run_tool, Error, Result, VERSION};
use nut_daemon::getopt::{Getopt, Opt};

fn usage(prog: &str) {
    print!(
        "Network UPS Tools upsc {VERSION}

usage: {prog} -l | -L [<hostname>[:port]]
       {prog} <ups> [<variable>]
       {prog} -c <ups>

Demo program to display UPS variables.

First form (lists UPSes):
  -l         - lists each UPS on <hostname>, one per line.
  -L         - lists each UPS followed by its description (from ups.conf).
               Default hostname: localhost

Second form (lists variables and values):
  <ups>      - upsd server, <upsname>[@<hostname>[:<port>]] form
  <variable> - optional, display this variable only.
               Default: list all variables for <host>

Third form (lists clients connected to a device):
  -c         - lists each client connected on <ups>, one per line.
  <ups>      - upsd server, <upsname>[@<hostname>[:<port>]] form
"
    );
}

/// What to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Upses { verbose: bool },
    Clients,
    Vars,
}

/// Run `upsc` with this `argv`; the exit status.
pub fn main(argv: Vec<OsString>) -> ExitCode {
    run_tool(upsc(argv))
}

async fn upsc(argv: Vec<OsString>) -> Result<ExitCode> {
    let prog = prog_name(&argv, "upsc");
    let (mut list_upses, mut clients, mut verbose) = (false, false, false);
    let mut opts = Getopt::new(&argv, "hlLcV");
    for opt in opts.by_ref() {
        match opt {
            Opt::Flag(b'L', _) => {
                verbose = true;
                list_upses = true;
            }
            Opt::Flag(b'l', _) => list_upses = true,
            Opt::Flag(b'c', _) => clients = true,
            Opt::Flag(b'V', _) => {
                eprintln!("Network UPS Tools upsc {VERSION}");
                return Ok(ExitCode::SUCCESS);
            }
            _ => {
                usage(&prog);
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    let operands = opts.operand_strings();
    let first = operands.first().map(String::as_str);
    let (ups, host, port) = if list_upses {
        let (host, port) = split_addr(first.unwrap_or("localhost")).map_err(|()| {
            Error::fatal("Error: invalid hostname.\nRequired format: [hostname[:port]]")
        })?;
        (String::new(), host, port)
    } else {
        let t = split_name(first).map_err(|()| {
            Error::fatal(
                "Error: invalid UPS definition.\nRequired format: upsname[@hostname[:port]]",
            )
        })?;
        (t.ups, t.host, t.port)
    };
    let mode = match (list_upses, clients) {
        (true, _) => Mode::Upses { verbose },
        (false, true) => Mode::Clients,
        (false, false) => Mode::Vars,
    };
    let mut conn = Conn::connect(&host, port, Tls::Try)
        .await
        .map_err(|e| Error::fatal(format!("Error: {}", e.0)))?;
    let res = show(&mut conn, mode, &ups, operands.get(1).map(String::as_str)).await;
    conn.disconnect().await;
    res.map(|()| ExitCode::SUCCESS)
}

async fn show(conn: &mut Conn, mode: Mode, ups: &str, var: Option<&str>) -> Result<()> {
    let client = &mut conn.client;
    let failed = |e| too_old(e, "Error: upsd is too old to support this query");
    match mode {
        Mode::Upses { verbose } => {
            for (name, desc) in client.list_ups().await.map_err(failed)? {
                if verbose {
                    println!("{name}: {desc}");
                } else {
                    println!("{name}");
                }
            }
        }
        Mode::Clients => {
            for addr in client.list_client(ups).await.map_err(failed)? {
                println!("{addr}");
            }
        }
        Mode::Vars => match var {
            Some(var) => {
                if !var.contains('.') {
                    return Err(Error::fatal(
                        "Error: old-style variable names are not supported",
                    ));
                }
                let value = client
                    .get_var(ups, var)
                    .await
                    .map_err(|e| too_old(e, "Error: variable unknown (old upsd detected)"))?;
                println!("{value}");
            }
            None => {
                for (name, value) in client.list_var(ups).await.map_err(failed)? {
                    println!("{name}: {value}");
                }
            }
        },
    }
    Ok(())
}

/// `Error: <text>`, or `old` when upsd did not know the command (a pre-2.0 upsd).
pub(crate) fn too_old(e: nut_client::Error, old: &str) -> Error {
    if e.code() == Some(nut_client::ErrCode::UnknownCommand) {
        Error::fatal(old)
    } else {
        Error::client("Error: ", e)
    }
}
