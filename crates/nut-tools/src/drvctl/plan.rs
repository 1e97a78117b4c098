//! `upsdrvctl` planning: the settings upsdrvctl reads from ups.conf and the command lines it
//! runs for `start`, `stop` and `shutdown` ([`Planner`]), as plain functions of the parsed
//! ups.conf.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nut_conf::ups_conf::{Setting, UpsConf, UpsSection};

use crate::Error;

/// upsdrvctl's global settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globals {
    /// Where driver binaries are.
    pub driverpath: PathBuf,
    /// How long `start` waits for a driver to go to the background.
    pub maxstartdelay: Duration,
    /// Start attempts per driver.
    pub maxretry: u32,
    /// Pause between attempts.
    pub retrydelay: Duration,
    /// `nowait`: do not wait for drivers at all.
    pub nowait: bool,
}

fn value<'a>(s: &'a [Setting], key: &str) -> Option<&'a str> {
    s.iter()
        .rev()
        .find(|x| x.key.eq_ignore_ascii_case(key))
        .and_then(|x| x.value.as_deref())
}

fn secs(v: Option<&str>, default: u64) -> Duration {
    Duration::from_secs(v.and_then(|v| v.trim().parse().ok()).unwrap_or(default))
}

impl Globals {
    /// Read the globals; `default_driverpath` applies when ups.conf has no `driverpath`.
    pub fn from_conf(conf: &UpsConf, default_driverpath: &Path) -> Globals {
        let g = &conf.globals;
        Globals {
            driverpath: value(g, "driverpath")
                .map(PathBuf::from)
                .unwrap_or_else(|| default_driverpath.to_path_buf()),
            maxstartdelay: secs(value(g, "maxstartdelay"), 45),
            maxretry: value(g, "maxretry")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(1)
                .max(1),
            retrydelay: secs(value(g, "retrydelay"), 5),
            nowait: g.iter().any(|s| s.key == "nowait" && s.value.is_none()),
        }
    }
}

/// Options that are passed on to drivers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassOn {
    /// `-r <dir>`.
    pub chroot: Option<String>,
    /// `-u <user>`.
    pub user: Option<String>,
    /// `-F` count: the drivers stay in the foreground (`-F`), and write their PID files
    /// (`-FF`). Passed on as that many `-F`.
    pub foreground: u8,
    /// `-B`: passed on as `-B` (the drivers go to the background even when debugging).
    pub background: bool,
    /// `-d`: pass this many `-D` to the driver.
    pub debug: u8,
}

/// One driver to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The UPS (section name).
    pub ups: String,
    /// Its driver.
    pub driver: String,
    /// The full command line, program first.
    pub argv: Vec<String>,
    /// `maxstartdelay` of the section, else the global one.
    pub maxstartdelay: Duration,
    /// PID file of the driver (`stop`).
    pub pidfile: PathBuf,
}

/// The sections to act on: all (file order), or the named one.
pub fn select<'a>(conf: &'a UpsConf, ups: Option<&str>) -> Result<Vec<&'a UpsSection>, Error> {
    if conf.sections.is_empty() {
        return Err(Error::NoUps);
    }
    match ups {
        None => Ok(conf.sections.iter().collect()),
        Some(name) => conf
            .sections
            .iter()
            .find(|s| s.name == name)
            .map(|s| vec![s])
            .ok_or_else(|| Error::NotFound(name.to_string())),
    }
}

/// What the plans are made from: ups.conf, its globals, what is passed on to the drivers and
/// where their PID files are.
#[derive(Debug, Clone, Copy)]
pub struct Planner<'a> {
    /// The parsed ups.conf.
    pub conf: &'a UpsConf,
    /// Its global settings.
    pub globals: &'a Globals,
    /// Options for the drivers.
    pub pass: &'a PassOn,
    /// Where the drivers write their PID files.
    pub pidpath: &'a Path,
}

impl Planner<'_> {
    /// `start`: one job per selected section, in file order.
    pub fn start(&self, ups: Option<&str>) -> Result<Vec<Job>, Error> {
        select(self.conf, ups)?
            .into_iter()
            .map(|s| self.job(s, false))
            .collect()
    }

    /// `stop`: like start, without the options for the drivers (the jobs' PID files are what
    /// matters).
    pub fn stop(&self, ups: Option<&str>) -> Result<Vec<Job>, Error> {
        Planner {
            pass: &PassOn::default(),
            ..*self
        }
        .start(ups)
    }

    /// `-c <command>`: `<driver> -a <ups> -c <command>` for each selected section, in file
    /// order.
    pub fn command(&self, ups: Option<&str>, command: &str) -> Result<Vec<Job>, Error> {
        select(self.conf, ups)?
            .into_iter()
            .map(|s| {
                let mut job = Planner {
                    pass: &PassOn::default(),
                    ..*self
                }
                .job(s, false)?;
                job.argv.extend(["-c".to_string(), command.to_string()]);
                Ok(job)
            })
            .collect()
    }

    /// `prepare` (a nut-rs addition): `<driver> -a <ups> --prepare` for each selected
    /// section, in file order; of the options for the drivers only `-d`'s `-D` (the driver
    /// stays root and in the foreground, and exits once prepared).
    pub fn prepare(&self, ups: Option<&str>) -> Result<Vec<Job>, Error> {
        let pass = PassOn {
            debug: self.pass.debug,
            ..PassOn::default()
        };
        select(self.conf, ups)?
            .into_iter()
            .map(|s| {
                let mut job = Planner {
                    pass: &pass,
                    ..*self
                }
                .job(s, false)?;
                job.argv.push("--prepare".to_string());
                Ok(job)
            })
            .collect()
    }

    /// `shutdown`: `<driver> -a <ups> -k` jobs by `sdorder` (0 first, then 1, ...; sections
    /// with a negative sdorder are skipped; a named UPS is always shut down).
    pub fn shutdown(&self, ups: Option<&str>) -> Result<Vec<Job>, Error> {
        let mut secs: Vec<(i64, &UpsSection)> = select(self.conf, ups)?
            .into_iter()
            .map(|s| {
                let order = value(&s.settings, "sdorder")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                (order, s)
            })
            .filter(|(o, _)| ups.is_some() || *o >= 0)
            .collect();
        secs.sort_by_key(|(o, _)| *o);
        secs.into_iter().map(|(_, s)| self.job(s, true)).collect()
    }

    fn job(&self, s: &UpsSection, kill: bool) -> Result<Job, Error> {
        let (g, pass) = (self.globals, self.pass);
        let driver = s
            .driver
            .clone()
            .ok_or_else(|| Error::NoDriver(s.name.clone()))?;
        let mut argv = vec![g.driverpath.join(&driver).display().to_string()];
        if !kill {
            for _ in 0..pass.debug {
                argv.push("-D".into());
            }
            for _ in 0..pass.foreground {
                argv.push("-F".into());
            }
            if pass.background {
                argv.push("-B".into());
            }
        }
        argv.push("-a".into());
        argv.push(s.name.clone());
        if kill {
            argv.push("-k".into());
        }
        if let Some(r) = &pass.chroot {
            argv.push("-r".into());
            argv.push(r.clone());
        }
        if let Some(u) = &pass.user {
            argv.push("-u".into());
            argv.push(u.clone());
        }
        let maxstartdelay = value(&s.settings, "maxstartdelay")
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(g.maxstartdelay);
        Ok(Job {
            pidfile: self.pidpath.join(format!("{driver}-{}.pid", s.name)),
            ups: s.name.clone(),
            driver,
            argv,
            maxstartdelay,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(t: &str) -> UpsConf {
        nut_conf::ups_conf::parse(t.as_bytes(), Path::new("ups.conf")).unwrap()
    }

    const CONF: &str = "driverpath = /opt/drv\nmaxretry = 3\nnowait\n\
        [a]\ndriver = usbhid-ups\nport = auto\nsdorder = 2\n\
        [b]\ndriver = dummy-ups\nport = x.dev\nmaxstartdelay = 7\n\
        [c]\ndriver = dummy-ups\nport = y.dev\nsdorder = -1\n";

    #[test]
    fn globals_and_defaults() {
        let g = Globals::from_conf(&conf(CONF), Path::new("/lib/nut"));
        assert_eq!(g.driverpath, PathBuf::from("/opt/drv"));
        assert_eq!(g.maxretry, 3);
        assert!(g.nowait);
        assert_eq!(g.maxstartdelay, Duration::from_secs(45));
        let g = Globals::from_conf(&conf("[a]\ndriver=x\n"), Path::new("/lib/nut"));
        assert_eq!(g.driverpath, PathBuf::from("/lib/nut"));
        assert_eq!((g.maxretry, g.retrydelay.as_secs()), (1, 5));
    }

    #[test]
    fn start_and_shutdown_plans() {
        let c = conf(CONF);
        let g = Globals::from_conf(&c, Path::new("/lib/nut"));
        let pass = PassOn {
            user: Some("root".into()),
            debug: 1,
            ..PassOn::default()
        };
        let plan = |pass, pidpath| Planner {
            conf: &c,
            globals: &g,
            pass,
            pidpath: Path::new(pidpath),
        };
        let jobs = plan(&pass, "/run/nut").start(None).unwrap();
        assert_eq!(
            jobs[0].argv,
            ["/opt/drv/usbhid-ups", "-D", "-a", "a", "-u", "root"]
        );
        assert_eq!(jobs[1].maxstartdelay, Duration::from_secs(7));
        assert_eq!(jobs[1].pidfile, PathBuf::from("/run/nut/dummy-ups-b.pid"));
        let plain = PassOn::default();
        let sd = plan(&plain, "/run").shutdown(None).unwrap();
        let names: Vec<_> = sd.iter().map(|j| j.ups.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(sd[1].argv, ["/opt/drv/usbhid-ups", "-a", "a", "-k"]);
        let sd = plan(&plain, "/run").shutdown(Some("c")).unwrap();
        assert_eq!(sd.len(), 1);
        assert!(matches!(
            plan(&pass, "/").start(Some("zz")),
            Err(Error::NotFound(ups)) if ups == "zz"
        ));
        assert!(matches!(
            Planner {
                conf: &conf(""),
                ..plan(&pass, "/")
            }
            .start(None),
            Err(Error::NoUps)
        ));
    }

    #[test]
    fn foreground_and_command_plans() {
        let c = conf(CONF);
        let g = Globals::from_conf(&c, Path::new("/lib/nut"));
        let pass = PassOn {
            foreground: 2,
            user: Some("nut".into()),
            ..PassOn::default()
        };
        let plan = Planner {
            conf: &c,
            globals: &g,
            pass: &pass,
            pidpath: Path::new("/run/nut"),
        };
        assert_eq!(
            plan.start(Some("b")).unwrap()[0].argv,
            ["/opt/drv/dummy-ups", "-F", "-F", "-a", "b", "-u", "nut"]
        );
        let bg = PassOn {
            background: true,
            ..PassOn::default()
        };
        assert_eq!(
            Planner { pass: &bg, ..plan }.start(Some("a")).unwrap()[0].argv,
            ["/opt/drv/usbhid-ups", "-B", "-a", "a"]
        );
        // (-k and -c never get the foreground flags)
        assert_eq!(
            plan.shutdown(Some("a")).unwrap()[0].argv,
            ["/opt/drv/usbhid-ups", "-a", "a", "-k", "-u", "nut"]
        );
        // prepare: the debug level only, never the user, chroot or foreground flags
        let debug = PassOn {
            debug: 2,
            ..pass.clone()
        };
        let prep: Vec<_> = Planner {
            pass: &debug,
            ..plan
        }
        .prepare(None)
        .unwrap()
        .into_iter()
        .map(|j| j.argv.join(" "))
        .collect();
        assert_eq!(
            prep,
            [
                "/opt/drv/usbhid-ups -D -D -a a --prepare",
                "/opt/drv/dummy-ups -D -D -a b --prepare",
                "/opt/drv/dummy-ups -D -D -a c --prepare"
            ]
        );
        assert_eq!(
            plan.prepare(Some("a")).unwrap()[0].argv,
            ["/opt/drv/usbhid-ups", "-a", "a", "--prepare"]
        );
        assert!(matches!(
            plan.prepare(Some("zz")),
            Err(Error::NotFound(ups)) if ups == "zz"
        ));
        let all: Vec<_> = plan
            .command(None, "reload")
            .unwrap()
            .into_iter()
            .map(|j| j.argv.join(" "))
            .collect();
        assert_eq!(
            all,
            [
                "/opt/drv/usbhid-ups -a a -c reload",
                "/opt/drv/dummy-ups -a b -c reload",
                "/opt/drv/dummy-ups -a c -c reload"
            ]
        );
    }
}
