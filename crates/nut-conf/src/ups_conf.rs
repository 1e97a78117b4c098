//! `ups.conf`: global driver settings, then one `[upsname]` section per UPS.
//!
//! Inside a section a line is `key = value` or a one-word `flag`. upsd only needs `driver`,
//! `port` and `desc` (case-sensitive keys); drivers read every setting, so all are kept in
//! order in [`UpsSection::settings`].

use std::path::Path;

use crate::file::{each_parseconf_line, load_with, Warnings};
use crate::{section_header, ConfError, Error};

/// One `key = value` or `flag` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The key as written.
    pub key: String,
    /// The value; `None` for a flag.
    pub value: Option<String>,
    /// Line number where it was set.
    pub line: usize,
}

/// One `[upsname]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsSection {
    /// The UPS name, as written between the brackets.
    pub name: String,
    /// Line number of the header.
    pub line: usize,
    /// Last `driver = ...` value (exact key, as upsd reads it).
    pub driver: Option<String>,
    /// Last `port = ...` value.
    pub port: Option<String>,
    /// Last `desc = ...` value.
    pub desc: Option<String>,
    /// Every setting of the section in file order, `driver`, `port` and `desc` included.
    pub settings: Vec<Setting>,
}

impl UpsSection {
    /// upsd serves a UPS only if its section names both a driver and a port.
    pub fn is_complete(&self) -> bool {
        self.driver.is_some() && self.port.is_some()
    }

    /// The last setting whose key matches `key` case-insensitively (drivers look their own
    /// options up that way).
    pub fn get(&self, key: &str) -> Option<&Setting> {
        find(&self.settings, key)
    }

    /// The socket name upsd and the driver agree on: `<driver>-<upsname>`.
    pub fn socket_name(&self) -> Option<String> {
        self.driver.as_ref().map(|d| format!("{d}-{}", self.name))
    }
}

/// A parsed `ups.conf`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsConf {
    /// Settings before the first section (`statepath`, `pollinterval`, `maxretry`, ...).
    pub globals: Vec<Setting>,
    /// The UPS sections in file order; names are unique ignoring case.
    pub sections: Vec<UpsSection>,
    /// Lines that were accepted but probably not meant as written (`file:line: ...`).
    pub warnings: Vec<String>,
}

impl UpsConf {
    /// The section named `name`, compared case-insensitively as upsd does.
    pub fn section(&self, name: &str) -> Option<&UpsSection> {
        self.sections
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// The last global setting whose key matches `key` case-insensitively.
    pub fn global(&self, key: &str) -> Option<&Setting> {
        find(&self.globals, key)
    }
}

fn find<'a>(settings: &'a [Setting], key: &str) -> Option<&'a Setting> {
    settings
        .iter()
        .rev()
        .find(|s| s.key.eq_ignore_ascii_case(key))
}

/// Parse the bytes of a `ups.conf`; `file` is only used in messages.
pub fn parse(text: &[u8], file: &Path) -> Result<UpsConf, ConfError> {
    let mut conf = UpsConf::default();
    conf.warnings = each_parseconf_line(text, file, |words, n, warn| {
        apply(&mut conf, words, n, warn)
    })?;
    Ok(conf)
}

/// Read and parse a `ups.conf`.
pub fn load(path: &Path) -> Result<UpsConf, Error> {
    load_with(path, parse)
}

/// Take in one line: a section header or a setting.
fn apply(
    conf: &mut UpsConf,
    words: Vec<String>,
    n: usize,
    warn: &mut Warnings<'_>,
) -> Result<(), String> {
    if let Some(name) = section_header(&words, "empty section name []; expected [upsname]")? {
        if let Some(prev) = conf.section(name) {
            return Err(format!(
                "duplicate UPS [{name}]: already defined at line {} as [{}] (UPS names are case-insensitive)",
                prev.line, prev.name
            ));
        }
        conf.sections.push(UpsSection {
            name: name.to_string(),
            line: n,
            driver: None,
            port: None,
            desc: None,
            settings: Vec::new(),
        });
        return Ok(());
    }
    let split_header = words[0].starts_with('[')
        && !words[0].contains(']')
        && words.last().is_some_and(|w| w.ends_with(']'));
    if split_header {
        return Err(format!(
            "section header \"{}\" is split into several words; quote a name with spaces, e.g. \"[my ups]\"",
            words.join(" ")
        ));
    }
    let setting = match words.as_slice() {
        [flag] if flag != "=" => Setting {
            key: flag.clone(),
            value: None,
            line: n,
        },
        [key, eq, value, rest @ ..] if eq == "=" && key != "=" => {
            if !rest.is_empty() {
                warn.push(format!(
                    "only the first word after \"=\" is used ({value:?}); quote values with spaces"
                ));
            }
            Setting {
                key: key.clone(),
                value: Some(value.clone()),
                line: n,
            }
        }
        [key, eq] if eq == "=" => {
            return Err(format!(
                "\"{key} =\" has no value; write {key} = \"\" for an empty value"
            ));
        }
        _ => {
            return Err(format!(
                "expected \"key = value\", a one-word flag or a [upsname] header, got \"{}\"",
                words.join(" ")
            ));
        }
    };
    match conf.sections.last_mut() {
        None => conf.globals.push(setting),
        Some(section) => {
            if let Some(value) = &setting.value {
                // upsd compares these keys exactly; the last one wins.
                match setting.key.as_str() {
                    "driver" => section.driver = Some(value.clone()),
                    "port" => section.port = Some(value.clone()),
                    "desc" => section.desc = Some(value.clone()),
                    _ => {}
                }
            }
            section.settings.push(setting);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    parse_helpers!("ups.conf", UpsConf);

    /// The value of the last `key` setting of `u`.
    fn value<'a>(u: &'a UpsSection, key: &str) -> Option<&'a str> {
        u.get(key).and_then(|s| s.value.as_deref())
    }

    fn set(key: &str, value: Option<&str>, line: usize) -> Setting {
        Setting {
            key: key.into(),
            value: value.map(Into::into),
            line,
        }
    }

    #[test]
    fn spec_example_apc_back_ups() {
        let conf = ok(r#"maxretry = 3
pollinterval = 2
nowait

[apc]
    driver = usbhid-ups
    port = auto
    vendorid = 051d
    productid = 0002
    serial = "5B0811T33088"
    pollinterval = 2
    pollfreq = 30
    offdelay = 60
    ondelay = 120
    desc = "Rack UPS"
    override.battery.charge.low = 30
    pollonly
"#);
        assert_eq!(
            conf.globals,
            vec![
                set("maxretry", Some("3"), 1),
                set("pollinterval", Some("2"), 2),
                set("nowait", None, 3)
            ]
        );
        assert_eq!(conf.sections.len(), 1);
        let apc = &conf.sections[0];
        assert_eq!(apc.name, "apc");
        assert_eq!(apc.line, 5);
        assert_eq!(apc.driver.as_deref(), Some("usbhid-ups"));
        assert_eq!(apc.port.as_deref(), Some("auto"));
        assert_eq!(apc.desc.as_deref(), Some("Rack UPS"));
        assert!(apc.is_complete());
        assert_eq!(apc.socket_name().as_deref(), Some("usbhid-ups-apc"));
        assert_eq!(apc.settings.len(), 12);
        assert_eq!(apc.settings[4], set("serial", Some("5B0811T33088"), 10));
        assert_eq!(
            apc.get("OVERRIDE.battery.charge.low"),
            Some(&set("override.battery.charge.low", Some("30"), 16))
        );
        assert_eq!(apc.get("pollonly"), Some(&set("pollonly", None, 17)));
        assert_eq!(apc.get("nope"), None);
        assert_eq!(
            conf.global("POLLINTERVAL").and_then(|s| s.value.as_deref()),
            Some("2")
        );
        assert!(conf.section("APC").is_some());
        assert!(conf.warnings.is_empty());
    }

    #[test]
    fn all_equals_spacings_and_last_value_wins() {
        let conf = ok("[u]\ndriver=dummy-ups\nport =a\nport= b.dev\ndesc =\"x y\"\n");
        let u = &conf.sections[0];
        assert_eq!(u.driver.as_deref(), Some("dummy-ups"));
        assert_eq!(u.port.as_deref(), Some("b.dev"));
        assert_eq!(u.desc.as_deref(), Some("x y"));
        assert_eq!(u.get("port"), Some(&set("port", Some("b.dev"), 4)));
    }

    #[test]
    fn quoting_escaping_and_comments() {
        let conf = ok(
            "[u]\ndesc = \"Rack \\\"A\\\"\"\nserial = ab#cd\nx = \"\"\n\"[not a header]x\" = 1\n",
        );
        let u = &conf.sections[0];
        assert_eq!(u.desc.as_deref(), Some("Rack \"A\""));
        assert_eq!(value(u, "serial"), Some("ab"));
        assert_eq!(value(u, "x"), Some(""));
        assert_eq!(value(u, "[not a header]x"), Some("1"));
    }

    #[test]
    fn keys_used_by_upsd_are_case_sensitive() {
        let conf = ok("[u]\nDriver = dummy-ups\nport = x\n");
        let u = &conf.sections[0];
        assert_eq!(u.driver, None);
        assert!(!u.is_complete());
        assert_eq!(value(u, "driver"), Some("dummy-ups"));
    }

    #[test]
    fn quoted_header_with_spaces() {
        let conf = ok("\"[my ups]\"\ndriver = d\n");
        assert_eq!(conf.sections[0].name, "my ups");
        assert_eq!(conf.sections[0].driver.as_deref(), Some("d"));
    }

    #[test]
    fn extra_words_after_value_warn() {
        let conf = ok("[u]\ndesc = Rack UPS\n");
        assert_eq!(conf.sections[0].desc.as_deref(), Some("Rack"));
        assert_eq!(
            conf.warnings,
            vec!["ups.conf:2: only the first word after \"=\" is used (\"Rack\"); quote values with spaces"]
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(
            fail("[apc]\ndriver = a\n\n[APC]\n"),
            "ups.conf:4: duplicate UPS [APC]: already defined at line 1 as [apc] (UPS names are case-insensitive)"
        );
        assert_eq!(
            fail("[my ups]\n"),
            "ups.conf:1: section header \"[my ups]\" is split into several words; quote a name with spaces, e.g. \"[my ups]\""
        );
        assert_eq!(
            fail("[a] x\n"),
            "ups.conf:1: section header [a] must be alone on its line"
        );
        assert_eq!(
            fail("[]\n"),
            "ups.conf:1: empty section name []; expected [upsname]"
        );
        assert_eq!(
            fail("[a]\ndesc =\n"),
            "ups.conf:2: \"desc =\" has no value; write desc = \"\" for an empty value"
        );
        assert_eq!(
            fail("[a]\nport auto\n"),
            "ups.conf:2: expected \"key = value\", a one-word flag or a [upsname] header, got \"port auto\""
        );
        assert_eq!(
            fail("= = x\n"),
            "ups.conf:1: expected \"key = value\", a one-word flag or a [upsname] header, got \"= = x\""
        );
        assert_eq!(
            fail("[a]\ndesc = \"a#b\"\n"),
            "ups.conf:2: Unbalanced word due to unescaped # in quotes; write \\# for a literal # inside quotes"
        );
    }

    #[test]
    fn empty_file_is_empty_conf() {
        assert_eq!(ok(""), UpsConf::default());
        assert_eq!(ok("# only comments\n\n"), UpsConf::default());
    }
}
