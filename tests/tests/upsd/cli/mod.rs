//! Our CLI tools (crate `nut-cli`: upsc, upsrw, upscmd, upslog) against stock NUT 2.8.0's,
//! byte for byte: every case runs the stock tool and ours with the same arguments, the same
//! stdin and the same environment, one after the other, against the same server, and
//! compares stdout, stderr and the exit code. Each test runs twice (`both_upsd!`): against
//! stock upsd and against ours, each fed by stock dummy-ups (`ups`, `second`) and the scripted
//! driver (`fake`: ENUM and RANGE variables, tracked results).
//!
//! Normalised in our output, and nothing else: our version `nut-rs <version>` becomes stock's
//! `2.8.0` (the banners of `-h`, `-V` and upslog's first line name the implementation).
//! Both tools run as `argv[0]` = the tool's bare name, so getopt's messages name it alike,
//! and in a session of their own (no controlling terminal), so a password prompt reads
//! stdin as it does under a service manager, never the developer's terminal.

mod tls;
mod upsc;
mod upscmd;
mod upslog;
mod upsrw;
mod wire;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nut_test_support::{free_port, our_bin, stock_nut, Impl, NutDirOptions, Rig, UpsSpec};

/// The version our banners show where stock's show `2.8.0`.
pub(super) const OUR_VERSION: &str = concat!("nut-rs ", env!("CARGO_PKG_VERSION"));

/// What a run printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Outcome {
    pub(super) code: Option<i32>,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl Outcome {
    /// Our version text replaced by stock's (the only normalisation).
    pub(super) fn normalised(mut self) -> Outcome {
        self.stdout = self.stdout.replace(OUR_VERSION, "2.8.0");
        self.stderr = self.stderr.replace(OUR_VERSION, "2.8.0");
        self
    }
}

/// A rig (`ups`, `second`, `fake`) and where the stock tools are.
pub(super) struct Cli {
    pub(super) rig: Rig,
    /// A port nothing listens on.
    pub(super) closed_port: u16,
}

impl Cli {
    /// Drivers and the upsd `which`; `None` when stock NUT is not installed (skip).
    pub(super) fn start(which: Impl) -> Option<Cli> {
        let mut opts = NutDirOptions::default();
        opts.upses.push(UpsSpec::fake());
        Cli::start_with(which, opts)
    }

    /// Drivers and the upsd `which` for `opts`.
    pub(super) fn start_with(which: Impl, opts: NutDirOptions) -> Option<Cli> {
        let stock = stock_nut()?;
        let rig = Rig::start(&stock, which, opts);
        Some(Cli {
            rig,
            closed_port: free_port(),
        })
    }

    /// `$H` → `127.0.0.1:<upsd's port>`, `$CLOSED` → `127.0.0.1:<a closed port>`,
    /// `$DIR` → the test directory.
    pub(super) fn expand(&self, arg: &str) -> String {
        arg.replace("$H", &format!("127.0.0.1:{}", self.rig.port()))
            .replace("$CLOSED", &format!("127.0.0.1:{}", self.closed_port))
            .replace("$DIR", &self.rig.dir.path().display().to_string())
    }

    /// The stock program `tool`.
    pub(super) fn stock_tool(&self, tool: &str) -> PathBuf {
        let s = &self.rig.stock;
        match tool {
            "upsc" => s.upsc.clone(),
            "upsrw" => s.upsrw.clone(),
            "upscmd" => s.upscmd.clone(),
            "upslog" => s.upslog.clone(),
            other => panic!("no stock tool {other}"),
        }
    }

    /// A command for `program` run as `tool`, with the rig's environment, in a new session.
    pub(super) fn command(&self, program: &Path, tool: &str, args: &[String]) -> Command {
        let mut cmd = Command::new(program);
        cmd.arg0(tool).args(args);
        for (k, v) in self.rig.dir.env() {
            cmd.env(k, v);
        }
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        cmd
    }

    /// Run `program` as `tool` with `args` (already expanded) and `stdin`, within 30 s.
    pub(super) fn run(
        &self,
        program: &Path,
        tool: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> Outcome {
        let mut cmd = self.command(program, tool, args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // The tool may exit before reading it all.
            let _ = pipe.write_all(text.as_bytes());
        }
        let out = nut_test_support::daemon::output_within(
            child,
            Duration::from_secs(30),
            &format!("{tool} {args:?}"),
        );
        Outcome {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Run stock's `tool` and ours with the same arguments and stdin: (stock, ours
    /// normalised).
    pub(super) fn both(
        &self,
        tool: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> (Outcome, Outcome) {
        let args: Vec<String> = args.iter().map(|a| self.expand(a)).collect();
        let stock = self.run(&self.stock_tool(tool), tool, &args, stdin);
        let ours = self.run(&our_bin(tool), tool, &args, stdin).normalised();
        (stock, ours)
    }

    /// One byte-for-byte case: the outcomes must be identical; stock's is returned so the
    /// case can also check it says what the case is about.
    pub(super) fn same(&self, tool: &str, args: &[&str], stdin: Option<&str>) -> Outcome {
        let (stock, ours) = self.both(tool, args, stdin);
        assert_eq!(
            ours, stock,
            "{tool} {args:?} (stdin {stdin:?}) differs from stock's (left: ours, right: stock)"
        );
        stock
    }

    /// [`Cli::same`], and stock's stdout or stderr holds `expect` (what the case is about):
    /// stock's outcome.
    pub(super) fn same_saying(
        &self,
        tool: &str,
        args: &[&str],
        stdin: Option<&str>,
        expect: &str,
    ) -> Outcome {
        let stock = self.same(tool, args, stdin);
        assert!(
            stock.stdout.contains(expect) || stock.stderr.contains(expect),
            "stock {tool} {args:?} did not say {expect:?}: {stock:?}"
        );
        stock
    }
}
