//! `upsrw`: list a UPS's writable variables with their descriptions, types, allowed values
//! and current values, or set one (`-s var=value`) as a user (`-u`, `-p`, asked for when
//! missing), optionally waiting for the driver's result (`-w`, `-t`).

use std::ffi::OsString;
use std::process::ExitCode;

use crate::conn::{atoi, parse_timeout, split_name, strtol, Conn, Tls};
use crate::prompt::{ask_line, ask_username, chop, getpass};
use crate::upsc::too_old;
use crate::{prog_name, run_tool, Error, Result, VERSION};
use nut_daemon::getopt::{Getopt, Opt};

/// `DEFAULT_TRACKING_TIMEOUT` of NUT 2.8.0, in seconds.
pub(crate) const TRACKING_TIMEOUT: u32 = 10;

fn usage(prog: &str) {
    print!(
        "Network UPS Tools {prog} {VERSION}

usage: {prog} [-h]
       {prog} [-s <variable>] [-u <username>] [-p <password>] [-w] [-t <timeout>] <ups>

Demo program to set variables within UPS hardware.

  -h            display this help text
  -s <variable>\tspecify variable to be changed
\t\tuse -s VAR=VALUE to avoid prompting for value
  -l            show all possible read/write variables.
  -u <username> set username for command authentication
  -p <password> set password for command authentication
  -w            wait for the completion of setting by the driver
                and return its actual result from the device
  -t <timeout>\tset a timeout when using -w (in seconds, default: {TRACKING_TIMEOUT})

  <ups>         UPS identifier - <upsname>[@<hostname>[:<port>]]

Call without -s to show all possible read/write variables (same as -l).
"
    );
}

/// The options of a run.
#[derive(Debug, Default)]
struct Options {
    setvar: Option<String>,
    user: Option<String>,
    password: Option<String>,
    tracking: bool,
    timeout: Option<u32>,
}

/// Run `upsrw` with this `argv`; the exit status.
pub fn main(argv: Vec<OsString>) -> ExitCode {
    run_tool(upsrw(argv))
}

fn text(arg: Option<OsString>) -> Option<String> {
    arg.map(|a| a.to_string_lossy().into_owned())
}

async fn upsrw(argv: Vec<OsString>) -> Result<ExitCode> {
    let prog = prog_name(&argv, "upsrw");
    let mut o = Options::default();
    let mut opts = Getopt::new(&argv, "hls:p:t:u:wV");
    for opt in opts.by_ref() {
        match opt {
            Opt::Flag(b's', arg) => o.setvar = text(arg),
            Opt::Flag(b'l', _) => {
                if o.setvar.take().is_some() {
                    eprintln!("Listing mode requested, overriding setvar specified earlier!");
                }
            }
            Opt::Flag(b'p', arg) => o.password = text(arg),
            Opt::Flag(b't', arg) => {
                o.timeout = Some(parse_timeout(&text(arg).unwrap_or_default())?);
            }
            Opt::Flag(b'u', arg) => o.user = text(arg),
            Opt::Flag(b'w', _) => o.tracking = true,
            Opt::Flag(b'V', _) => {
                println!("Network UPS Tools {prog} {VERSION}");
                return Ok(ExitCode::SUCCESS);
            }
            _ => {
                usage(&prog);
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    let Some(target) = opts.operands().first() else {
        usage(&prog);
        return Ok(ExitCode::SUCCESS);
    };
    let target = split_name(Some(&target.to_string_lossy())).map_err(|()| {
        Error::fatal("Error: invalid UPS definition.  Required format: upsname[@hostname[:port]]")
    })?;
    let mut conn = Conn::connect(&target.host, target.port, Tls::No)
        .await
        .map_err(|e| Error::fatal(format!("Error: {}", e.0)))?;
    let res = match o.setvar.take() {
        Some(setvar) => set(&mut conn, &target.ups, &setvar, o).await,
        None => list(&mut conn, &target.ups).await,
    };
    conn.disconnect().await;
    res.map(|()| ExitCode::SUCCESS)
}

/// `-s`: ask for what is missing, log in, set, report.
async fn set(conn: &mut Conn, ups: &str, setvar: &str, o: Options) -> Result<()> {
    let user = match o.user {
        Some(user) => user,
        None => {
            let (line, login) = ask_username();
            match line.as_deref().and_then(chop).or(login) {
                Some(user) => user,
                None => return Err(Error::fatal("No username available - even tried getpwuid")),
            }
        }
    };
    let password = match o.password {
        Some(password) => password,
        None => getpass("Password: "),
    };
    let (var, value) = match setvar.split_once('=') {
        Some((var, value)) => (var.to_owned(), value.to_owned()),
        None => {
            let mut line = ask_line(&format!("Enter new value for {setvar}: ")).unwrap_or_default();
            line.pop();
            (setvar.to_owned(), line)
        }
    };
    conn.authenticate(&user, &password).await?;
    if !var.contains('.') {
        return Err(Error::fatal("Error: old variable names are not supported"));
    }
    if o.tracking {
        conn.enable_tracking("set variable").await?;
    }
    let request = nut_proto::Request::SetVar {
        ups: ups.to_owned(),
        var,
        value,
    };
    let reply = conn
        .raw(&request, "Can't set variable: ", "Set variable failed: ")
        .await?;
    conn.report(reply, o.tracking, o.timeout.unwrap_or(TRACKING_TIMEOUT))
        .await
}

/// No `-s`: every writable variable, described.
async fn list(conn: &mut Conn, ups: &str) -> Result<()> {
    let vars = conn
        .client
        .list_rw(ups)
        .await
        .map_err(|e| too_old(e, "Error: upsd is too old to support this query"))?;
    for (var, _) in vars {
        println!("[{var}]");
        match conn.client.get_desc(ups, &var).await {
            Ok(desc) => println!("{desc}"),
            Err(_) => println!("Description unavailable"),
        }
        show_type(conn, ups, &var).await?;
        println!();
    }
    Ok(())
}

/// What an ENUM holds, for its `Type:` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EnumOf {
    String(i64),
    Number,
    /// An old upsd that does not say.
    Unsaid,
}

/// stock's `do_type`: walk the words of `GET TYPE`.
async fn show_type(conn: &mut Conn, ups: &str, var: &str) -> Result<()> {
    let Ok(words) = conn.client.get_type(ups, var).await else {
        println!("Unknown type");
        return Ok(());
    };
    let mut is_enum = false;
    for word in &words {
        let upper = word.to_ascii_uppercase();
        if upper == "ENUM" {
            is_enum = true;
        } else if upper == "RANGE" {
            return show_range(conn, ups, var).await;
        } else if let Some(len) = upper.strip_prefix("STRING:") {
            let len = strtol(len);
            return if is_enum {
                show_enum(conn, ups, var, EnumOf::String(len)).await
            } else {
                let value = current(conn, ups, var, "do_string").await?;
                println!("Type: STRING\nMaximum length: {len}\nValue: {value}");
                Ok(())
            };
        } else if upper == "NUMBER" {
            return if is_enum {
                show_enum(conn, ups, var, EnumOf::Number).await
            } else {
                let value = current(conn, ups, var, "do_number").await?;
                println!("Type: NUMBER\nValue: {value}");
                Ok(())
            };
        } else if upper != "RW" {
            println!("Type: {word} (unrecognized)");
        }
    }
    if is_enum {
        show_enum(conn, ups, var, EnumOf::Unsaid).await?;
    }
    Ok(())
}

/// The current value, or `<function>: can't get current value of <var>`.
async fn current(conn: &mut Conn, ups: &str, var: &str, function: &str) -> Result<String> {
    conn.client
        .get_var(ups, var)
        .await
        .map_err(|_| Error::fatal(format!("{function}: can't get current value of {var}")))
}

async fn show_enum(conn: &mut Conn, ups: &str, var: &str, of: EnumOf) -> Result<()> {
    let value = current(conn, ups, var, "do_enum").await?;
    let options = conn
        .client
        .list_enum(ups, var)
        .await
        .map_err(|e| Error::client("Error: ", e))?;
    match of {
        EnumOf::String(len) => println!("Type: ENUM STRING\nMaximum length: {len}"),
        EnumOf::Number => println!("Type: ENUM NUMBER"),
        EnumOf::Unsaid => println!("Type: ENUM"),
    }
    for option in options {
        let selected = if option == value { " SELECTED" } else { "" };
        println!("Option: \"{option}\"{selected}");
    }
    Ok(())
}

async fn show_range(conn: &mut Conn, ups: &str, var: &str) -> Result<()> {
    let value = atoi(&current(conn, ups, var, "do_range").await?);
    let ranges = conn
        .client
        .list_range(ups, var)
        .await
        .map_err(|e| Error::client("Error: ", e))?;
    println!("Type: RANGE NUMBER");
    for (min, max) in ranges {
        let (min, max) = (atoi(&min), atoi(&max));
        let selected = if (min..=max).contains(&value) {
            " SELECTED"
        } else {
            ""
        };
        println!("Option: \"{min}-{max}\"{selected}");
    }
    Ok(())
}
