//! The driver's configuration: its `ups.conf` section (plus globals) and the `-x key=value`
//! arguments, checked against the keys the driver knows, and published into the tree as
//! `driver.parameter.*`, `driver.flag.*`, `default.*` and `override.*` (NUT's
//! `drivers/main.c` rules).

use nut_conf::ups_conf::UpsConf;
use nut_state::Tree;

use crate::Error;

/// Keys every NUT driver core handles itself (section or global), and whether each is
/// republished (`driver.parameter.port`, `driver.flag.nolock` ...).
const CORE_KEYS: &[(&str, bool)] = &[
    ("driver", false),
    ("desc", false),
    ("sdorder", false),
    ("user", false),
    ("group", false),
    ("sddelay", false),
    ("synchronous", false),
    ("pollinterval", false),
    ("debug_min", false),
    ("maxstartdelay", false),
    ("maxretry", false),
    ("retrydelay", false),
    ("chroot", false),
    ("LIBUSB_DEBUG", false),
    ("reconnect_max_tries", false),
    ("reconnect_report_freq", false),
    ("port", true),
    ("sdcommands", true),
    ("nolock", true),
    ("ignorelb", true),
    ("allow_killpower", true),
];

/// Whether `key` is a core key that is not republished.
fn core_silent(key: &str) -> bool {
    CORE_KEYS
        .iter()
        .any(|&(k, published)| k == key && !published)
}

/// Whether an option is a flag or takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// `-x name`, a line `name` in ups.conf.
    Flag,
    /// `-x name=value`, `name = value` in ups.conf.
    Value,
}

/// One ups.conf / `-x` option of a driver: the key the configuration accepts, and what `-h`
/// and `-L` print for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverOption {
    /// The key (compared ignoring case).
    pub key: &'static str,
    /// Flag or value.
    pub kind: OptionKind,
    /// One line of help.
    pub help: &'static str,
}

impl DriverOption {
    /// A flag.
    pub const fn flag(key: &'static str, help: &'static str) -> DriverOption {
        DriverOption {
            key,
            kind: OptionKind::Flag,
            help,
        }
    }

    /// An option with a value.
    pub const fn value(key: &'static str, help: &'static str) -> DriverOption {
        DriverOption {
            key,
            kind: OptionKind::Value,
            help,
        }
    }
}

/// The options the framework adds to every driver's own (listed after them):
/// `backend = static:<file>` serves a dummy-ups-like `.dev` file ([`crate::static_dev`]), for
/// demos and tests.
pub const FRAMEWORK_OPTIONS: &[DriverOption] = &[DriverOption::value(
    "backend",
    "static:<file> serves a .dev file instead of a device",
)];

/// Default `pollinterval` in seconds.
pub const DEFAULT_POLL_INTERVAL: u64 = 2;

/// One `key = value` or `flag` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The key, as written.
    pub key: String,
    /// The value (`None` for a flag).
    pub value: Option<String>,
}

/// Everything a driver reads from `ups.conf` and its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    /// Program name (basename of argv\[0\]); names the socket `<progname>-<upsname>`.
    pub progname: String,
    /// The UPS (`-a` / `-s` name).
    pub upsname: String,
    /// The section's settings then the `-x` ones, in order (later ones win).
    pub settings: Vec<Setting>,
    /// Effective poll interval in seconds.
    pub poll_interval: u64,
    /// `yes`, `no` or `auto`.
    pub synchronous: String,
    /// Run-as user from the section or the globals (the command line `-u` wins over both).
    pub user: Option<String>,
    /// Socket group from the section or the globals.
    pub group: Option<String>,
    /// `debug_min` from the section or the globals.
    pub debug_min: Option<u32>,
}

impl DriverConfig {
    /// The last value of `key` (compared ignoring case, as drivers look their options up).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .rev()
            .find(|s| s.key.eq_ignore_ascii_case(key))
            .and_then(|s| s.value.as_deref())
    }

    /// Whether `key` is set at all (as a flag or with a value).
    pub fn has(&self, key: &str) -> bool {
        self.settings
            .iter()
            .any(|s| s.key.eq_ignore_ascii_case(key))
    }

    /// `port`, which every NUT driver needs (USB drivers ignore its value).
    pub fn port(&self) -> Option<&str> {
        self.get("port")
    }

    /// Build the configuration of `upsname` from a parsed ups.conf (`None` for `-s`) and the
    /// `-x` arguments. `options` are the options this driver accepts beyond the core ones (and
    /// [`FRAMEWORK_OPTIONS`]).
    pub fn build(
        progname: &str,
        upsname: &str,
        conf: Option<&UpsConf>,
        xargs: &[Setting],
        options: &[DriverOption],
    ) -> Result<DriverConfig, Error> {
        let mut cfg = DriverConfig {
            progname: progname.to_string(),
            upsname: upsname.to_string(),
            settings: Vec::new(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            synchronous: "auto".into(),
            user: None,
            group: None,
            debug_min: None,
        };
        let mut all: Vec<Setting> = Vec::new();
        if let Some(conf) = conf {
            for g in &conf.globals {
                cfg.read_core(&g.key, g.value.as_deref())?;
            }
            let section = conf
                .sections
                .iter()
                .find(|s| s.name == upsname)
                .ok_or_else(|| Error::SectionNotFound(upsname.to_string()))?;
            if let Some(d) = &section.driver {
                if d != progname && d.strip_prefix("lt-") != Some(progname) {
                    return Err(Error::WrongDriver {
                        ups: upsname.to_string(),
                        driver: d.clone(),
                        me: progname.to_string(),
                    });
                }
            }
            all.extend(section.settings.iter().map(|s| Setting {
                key: s.key.clone(),
                value: s.value.clone(),
            }));
        }
        all.extend(xargs.iter().cloned());
        for s in all {
            let key = s.key.as_str();
            let known = CORE_KEYS.iter().any(|&(k, _)| k == key)
                || is_prefixed(key, "override.")
                || is_prefixed(key, "default.")
                || options
                    .iter()
                    .chain(FRAMEWORK_OPTIONS)
                    .any(|o| o.key.eq_ignore_ascii_case(key));
            if !known {
                return Err(Error::NotValid {
                    name: s.key.clone(),
                    flag: s.value.is_none(),
                });
            }
            cfg.read_core(key, s.value.as_deref())?;
            cfg.settings.push(s);
        }
        Ok(cfg)
    }

    /// The core keys with a field of their own, from the globals or the section.
    fn read_core(&mut self, key: &str, v: Option<&str>) -> Result<(), Error> {
        match key {
            "pollinterval" => self.poll_interval = poll_interval(v)?,
            "synchronous" => self.synchronous = synchronous(v),
            "user" => self.user = v.map(String::from),
            "group" => self.group = v.map(String::from),
            "debug_min" => self.debug_min = v.and_then(|v| v.parse().ok()),
            _ => {}
        }
        Ok(())
    }

    /// Publish the configuration as NUT's core does while reading it: `driver.parameter.<key>`
    /// for each republished key with a value, `driver.flag.<flag> = enabled` for each flag,
    /// `default.<var>` values and immutable `override.<var>` values, the effective
    /// `pollinterval` and `synchronous`, and `driver.flag.allow_killpower` (0/1, RW NUMBER).
    pub fn publish(&self, tree: &mut Tree) {
        // Overrides are applied last, once per variable (the last one wins), so that a device
        // value, a `default.*` or an earlier override never gets in their way.
        let mut overrides: Vec<(&str, &str)> = Vec::new();
        for s in &self.settings {
            let key = s.key.as_str();
            if core_silent(key) || key == "allow_killpower" {
                continue;
            }
            match &s.value {
                None => {
                    tree.set_info(&format!("driver.flag.{key}"), "enabled");
                }
                Some(v) => {
                    if let Some(var) = strip_prefix_ci(key, "override.") {
                        overrides.retain(|(o, _)| !o.eq_ignore_ascii_case(var));
                        overrides.push((var, v));
                    } else if let Some(var) = strip_prefix_ci(key, "default.") {
                        tree.set_info(var, v);
                    }
                    tree.set_info(&format!("driver.parameter.{key}"), v);
                }
            }
        }
        for (var, v) in overrides {
            if tree.get(var).is_some_and(|x| x.flags.immutable) {
                // Already fixed by an earlier publish (a reload): it cannot change at run time.
                continue;
            }
            tree.set_info(var, v);
            tree.set_immutable(var);
        }
        tree.set_info(
            "driver.parameter.pollinterval",
            &self.poll_interval.to_string(),
        );
        tree.set_info("driver.parameter.synchronous", &self.synchronous);
        let allow = if self.has("allow_killpower") {
            "1"
        } else {
            "0"
        };
        if tree.get("driver.flag.allow_killpower").is_none() {
            tree.set_info("driver.flag.allow_killpower", allow);
            tree.set_flags("driver.flag.allow_killpower", &["RW", "NUMBER"]);
        }
    }
}

fn is_prefixed(key: &str, prefix: &str) -> bool {
    strip_prefix_ci(key, prefix).is_some_and(|rest| !rest.is_empty())
}

fn strip_prefix_ci<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let head = key.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &key[prefix.len()..])
}

fn poll_interval(v: Option<&str>) -> Result<u64, Error> {
    let v = v.unwrap_or("");
    match nut_state::atoi(v) {
        n if n > 0 => Ok(n as u64),
        _ => Err(Error::BadPollInterval(v.to_string())),
    }
}

fn synchronous(v: Option<&str>) -> String {
    match v {
        Some("yes") => "yes",
        Some("auto") => "auto",
        _ => "no",
    }
    .to_string()
}

/// Split a `-x key=value` argument (`-x flag` has no value).
pub fn split_xarg(arg: &str) -> Setting {
    match arg.split_once('=') {
        Some((k, v)) => Setting {
            key: k.to_string(),
            value: Some(v.to_string()),
        },
        None => Setting {
            key: arg.to_string(),
            value: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn conf(text: &str) -> UpsConf {
        nut_conf::ups_conf::parse(text.as_bytes(), Path::new("ups.conf")).expect("parses")
    }

    /// A few options of usbhid-ups.
    const OPTIONS: &[DriverOption] = &[
        DriverOption::value("vendorid", ""),
        DriverOption::value("serial", ""),
        DriverOption::flag("pollonly", ""),
    ];

    fn build(text: &str, x: &[&str]) -> Result<DriverConfig, Error> {
        let xs: Vec<Setting> = x.iter().map(|a| split_xarg(a)).collect();
        DriverConfig::build("usbhid-ups", "apc", Some(&conf(text)), &xs, OPTIONS)
    }

    fn lines(t: &Tree) -> Vec<String> {
        t.dump().iter().map(|m| m.to_line()).collect()
    }

    #[test]
    fn publishes_parameters_flags_defaults_and_overrides() {
        let cfg = build(
            "pollinterval = 5\nuser = nut\n[apc]\ndriver = usbhid-ups\nport = auto\n\
             desc = \"Rack\"\nvendorid = 051D\npollonly\noverride.battery.charge.low = 30\n\
             default.ups.id = x\nsdorder = 1\n",
            &["serial=AB1", "pollinterval=3"],
        )
        .unwrap();
        assert_eq!(cfg.poll_interval, 3);
        assert_eq!(cfg.user.as_deref(), Some("nut"));
        assert_eq!(cfg.get("VENDORID"), Some("051D"));
        let mut t = Tree::new();
        cfg.publish(&mut t);
        assert_eq!(
            lines(&t),
            [
                "SETINFO battery.charge.low \"30\"",
                "SETINFO driver.flag.allow_killpower \"0\"",
                "SETFLAGS driver.flag.allow_killpower RW NUMBER",
                "SETINFO driver.flag.pollonly \"enabled\"",
                "SETINFO driver.parameter.default.ups.id \"x\"",
                "SETINFO driver.parameter.override.battery.charge.low \"30\"",
                "SETINFO driver.parameter.pollinterval \"3\"",
                "SETINFO driver.parameter.port \"auto\"",
                "SETINFO driver.parameter.serial \"AB1\"",
                "SETINFO driver.parameter.synchronous \"auto\"",
                "SETINFO driver.parameter.vendorid \"051D\"",
                "SETINFO ups.id \"x\"",
            ]
        );
        assert!(
            !t.set_info("battery.charge.low", "10"),
            "override is immutable"
        );
        assert!(t.set_info("ups.id", "device"), "default is not");
    }

    #[test]
    fn later_override_replaces_earlier() {
        let cfg = build(
            "[apc]\nport = auto\noverride.ups.id = a\n",
            &["override.ups.id=b"],
        )
        .unwrap();
        let mut t = Tree::new();
        cfg.publish(&mut t);
        assert_eq!(t.get("ups.id").map(|v| v.raw()), Some("b"));
        assert!(!t.set_info("ups.id", "c"));
    }

    #[test]
    fn unknown_keys_and_other_errors_use_stock_messages() {
        let e = build("[apc]\nport = auto\nbogus = 1\n", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Fatal error: 'bogus' is not a valid variable name for this driver."
        );
        let e = build("[apc]\nport = auto\n", &["weird"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Fatal error: 'weird' is not a valid flag for this driver."
        );
        let e = build("[apc]\ndriver = dummy-ups\nport = x\n", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error: UPS [apc] is for driver dummy-ups, but I'm usbhid-ups!"
        );
        let e = build("[other]\nport = x\n", &[]).unwrap_err();
        assert_eq!(e.to_string(), "Error: Section apc not found in ups.conf");
        let e = build("[apc]\npollinterval = 0\n", &[]).unwrap_err();
        assert_eq!(e.to_string(), "Error: invalid pollinterval: 0");
    }

    #[test]
    fn command_line_only() {
        let cfg = DriverConfig::build(
            "usbhid-ups",
            "x",
            None,
            &[split_xarg("port=auto"), split_xarg("allow_killpower")],
            OPTIONS,
        )
        .unwrap();
        let mut t = Tree::new();
        cfg.publish(&mut t);
        assert_eq!(
            t.get("driver.flag.allow_killpower").map(|v| v.raw()),
            Some("1")
        );
        assert_eq!(
            t.get("driver.parameter.port").map(|v| v.raw()),
            Some("auto")
        );
    }
}
