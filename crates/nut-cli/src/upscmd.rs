//! `upscmd`: list a UPS's instant commands with their descriptions (`-l`), or run one, with
//! an optional value, as a user (`-u`, `-p`, asked for when missing), optionally waiting for
//! the driver's result (`-w`, `-t`).

use std::ffi::OsString;
use std::process::ExitCode;

use crate::conn::{parse_timeout, split_name, Conn, Tls};
use crate::prompt::{ask_username, chop, getpass};
use crate::upsc::too_old;
use crate::upsrw::TRACKING_TIMEOUT;
use crate::{prog_name, run_tool, Error, Result, VERSION};
use nut_daemon::getopt::{Getopt, Opt};

fn usage(prog: &str) {
    print!(
        "Network UPS Tools upscmd {VERSION}

usage: {prog} [-h]
       {prog} [-l <ups>]
       {prog} [-u <username>] [-p <password>] [-w] [-t <timeout>] <ups> <command> [<value>]

Administration program to initiate instant commands on UPS hardware.

  -h\t\tdisplay this help text
  -l <ups>\tshow available commands on UPS <ups>
  -u <username>\tset username for command authentication
  -p <password>\tset password for command authentication
  -w            wait for the completion of command by the driver
                and return its actual result from the device
  -t <timeout>\tset a timeout when using -w (in seconds, default: {TRACKING_TIMEOUT})

  <ups>\t\tUPS identifier - <upsname>[@<hostname>[:<port>]]
  <command>\tValid instant command - test.panel.start, etc.
  [<value>]\tAdditional data for command - number of seconds, etc.
"
    );
}

/// Run `upscmd` with this `argv`; the exit status.
pub fn main(argv: Vec<OsString>) -> ExitCode {
    run_tool(upscmd(argv))
}

/// The options of a run.
#[derive(Debug, Default)]
struct Options {
    list: bool,
    user: Option<String>,
    password: Option<String>,
    tracking: bool,
    timeout: Option<u32>,
}

async fn upscmd(argv: Vec<OsString>) -> Result<ExitCode> {
    let prog = prog_name(&argv, "upscmd");
    let text = |a: Option<OsString>| a.map(|a| a.to_string_lossy().into_owned());
    let mut o = Options::default();
    let mut opts = Getopt::new(&argv, "lhu:p:t:wV");
    for opt in opts.by_ref() {
        match opt {
            Opt::Flag(b'l', _) => o.list = true,
            Opt::Flag(b'u', arg) => o.user = text(arg),
            Opt::Flag(b'p', arg) => o.password = text(arg),
            Opt::Flag(b't', arg) => {
                o.timeout = Some(parse_timeout(&text(arg).unwrap_or_default())?);
            }
            Opt::Flag(b'w', _) => o.tracking = true,
            Opt::Flag(b'V', _) => {
                eprintln!("Network UPS Tools upscmd {VERSION}");
                return Ok(ExitCode::SUCCESS);
            }
            _ => {
                usage(&prog);
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    let operands = opts.operand_strings();
    let Some(target) = operands.first() else {
        usage(&prog);
        return Ok(ExitCode::SUCCESS);
    };
    let target = split_name(Some(target)).map_err(|()| {
        Error::fatal("Error: invalid UPS definition.  Required format: upsname[@hostname[:port]]")
    })?;
    let mut conn = Conn::connect(&target.host, target.port, Tls::No)
        .await
        .map_err(|e| Error::fatal(format!("Error: {}", e.0)))?;
    let res = if o.list {
        list(&mut conn, &target.ups).await
    } else if operands.len() < 2 {
        usage(&prog);
        Ok(())
    } else {
        run(&mut conn, &target.ups, &operands[1..], o).await
    };
    conn.disconnect().await;
    res.map(|()| ExitCode::SUCCESS)
}

/// `-l`: the commands, then a description for each.
async fn list(conn: &mut Conn, ups: &str) -> Result<()> {
    let cmds = conn
        .client
        .list_cmd(ups)
        .await
        .map_err(|e| too_old(e, "Error: upsd is too old to support this query"))?;
    println!("Instant commands supported on UPS [{ups}]:\n");
    for cmd in cmds {
        match conn.client.get_cmddesc(ups, &cmd).await {
            Ok(desc) => println!("{cmd} - {desc}"),
            Err(_) => println!("{cmd}"),
        }
    }
    Ok(())
}

/// `<ups> <command> [<value>]`: ask for what is missing, log in, run, report.
async fn run(conn: &mut Conn, ups: &str, args: &[String], o: Options) -> Result<()> {
    let cmd = &args[0];
    if !cmd.contains('.') {
        return Err(Error::fatal("Error: old command names are not supported"));
    }
    let user = match o.user {
        Some(user) => user,
        None => {
            let (line, login) = ask_username();
            let line = line.ok_or_else(|| Error::fatal("Error reading from stdin!"))?;
            match chop(&line).or(login) {
                Some(user) => user,
                None => return Err(Error::fatal("No username available - even tried getpwuid")),
            }
        }
    };
    let password = match o.password {
        Some(password) => password,
        None => getpass("Password: "),
    };
    conn.authenticate(&user, &password).await?;
    if o.tracking {
        conn.enable_tracking("command").await?;
    }
    let request = nut_proto::Request::InstCmd {
        ups: ups.to_owned(),
        cmd: cmd.clone(),
        param: args.get(1).cloned(),
    };
    let reply = conn
        .raw(
            &request,
            "Can't send instant command: ",
            "Instant command failed: ",
        )
        .await?;
    conn.report(reply, o.tracking, o.timeout.unwrap_or(TRACKING_TIMEOUT))
        .await
}
