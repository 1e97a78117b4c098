//! `upsd.users`: one `[username]` section per account.
//!
//! Field names are case-insensitive, user names and passwords case-sensitive, as in NUT.
//! Stricter than stock upsd: an unknown field, an unknown action or `upsmon` role, a field
//! with no value and a multi-word password are errors rather than log lines.

use std::collections::BTreeSet;
use std::path::Path;

use crate::file::{each_parseconf_line, load_with, Warnings};
use crate::{section_header, ConfError, Error};

/// The role set by an `upsmon` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UpsmonRole {
    /// `upsmon secondary` (or `slave`): grants `LOGIN`.
    Secondary,
    /// `upsmon primary` (or `master`): grants `LOGIN`, `MASTER` and `FSD`.
    Primary,
}

/// Actions upsd checks for.
pub const ACTIONS: [&str; 5] = ["SET", "FSD", "LOGIN", "MASTER", "PRIMARY"];

/// One `[username]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user name (case-sensitive).
    pub name: String,
    /// Line number of the section header.
    pub line: usize,
    /// The first `password` given; a user without one can never authenticate.
    pub password: Option<String>,
    /// Actions listed with `actions =`, uppercased. The `upsmon` role adds more; see
    /// [`User::has_action`].
    pub actions: BTreeSet<String>,
    /// Instant commands listed with `instcmds =`, lowercased; `all` allows every command.
    pub instcmds: BTreeSet<String>,
    /// The `upsmon` role, if any (primary if both were given: NUT adds the grants up).
    pub upsmon: Option<UpsmonRole>,
}

impl User {
    /// May this user perform `action` (`SET`, `FSD`, `LOGIN`, `MASTER`, `PRIMARY`)? Compared
    /// case-insensitively; includes what the `upsmon` role grants.
    pub fn has_action(&self, action: &str) -> bool {
        let action = action.to_ascii_uppercase();
        if self.actions.contains(&action) {
            return true;
        }
        match self.upsmon {
            Some(UpsmonRole::Primary) => matches!(action.as_str(), "LOGIN" | "MASTER" | "FSD"),
            Some(UpsmonRole::Secondary) => action == "LOGIN",
            None => false,
        }
    }

    /// May this user send `PRIMARY` (or its old name `MASTER`)? upsd accepts either action.
    pub fn can_primary(&self) -> bool {
        self.has_action("PRIMARY") || self.has_action("MASTER")
    }

    /// May this user run instant command `cmd`? Case-insensitive; `all` allows any.
    pub fn may_instcmd(&self, cmd: &str) -> bool {
        self.instcmds.contains("all") || self.instcmds.contains(&cmd.to_ascii_lowercase())
    }
}

/// A parsed `upsd.users`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users {
    /// Users in file order; names are unique.
    pub users: Vec<User>,
    /// Accepted lines with no effect (`file:line: ...`).
    pub warnings: Vec<String>,
}

impl Users {
    /// The user called exactly `name` (case-sensitive, as upsd compares).
    pub fn find(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }
}

fn role(v: &str) -> Result<UpsmonRole, String> {
    if v.eq_ignore_ascii_case("primary") || v.eq_ignore_ascii_case("master") {
        Ok(UpsmonRole::Primary)
    } else if v.eq_ignore_ascii_case("secondary") || v.eq_ignore_ascii_case("slave") {
        Ok(UpsmonRole::Secondary)
    } else {
        Err(format!(
            "unknown upsmon role {v:?}; expected primary (or master) or secondary (or slave)"
        ))
    }
}

/// Where settings go while reading: a user, a skipped duplicate, or nowhere yet.
enum Target {
    None,
    User,
    Skipped,
}

/// Apply `field = values` to `user`.
fn apply(
    user: &mut User,
    field: &str,
    values: &[String],
    warn: &mut Warnings<'_>,
) -> Result<(), String> {
    let f = field.to_ascii_lowercase();
    if values.is_empty() && f != "allowfrom" {
        return Err(format!("\"{field} =\" has no value"));
    }
    match f.as_str() {
        "password" => {
            if values.len() > 1 {
                return Err("password takes one value; quote a password with spaces".into());
            }
            if user.password.is_some() {
                warn.push(format!(
                    "duplicate password for user [{}] ignored; the first one is used",
                    user.name
                ));
            } else {
                user.password = Some(values[0].clone());
            }
        }
        "actions" => {
            for v in values {
                let a = v.to_ascii_uppercase();
                if !ACTIONS.contains(&a.as_str()) {
                    return Err(format!(
                        "unknown action {v:?}; expected SET, FSD, LOGIN, MASTER or PRIMARY"
                    ));
                }
                user.actions.insert(a);
            }
        }
        "instcmds" => {
            for v in values {
                if v.is_empty() {
                    return Err("empty instant command name".into());
                }
                user.instcmds.insert(v.to_ascii_lowercase());
            }
        }
        "upsmon" => {
            if values.len() > 1 {
                return Err("upsmon takes one role: primary or secondary".into());
            }
            let r = role(&values[0])?;
            user.upsmon = user.upsmon.max(Some(r));
        }
        "allowfrom" => warn.push("allowfrom is obsolete and ignored"),
        _ => {
            return Err(format!(
                "unknown user setting {field:?}; expected password, actions, instcmds or upsmon"
            ))
        }
    }
    Ok(())
}

/// Parse the bytes of an `upsd.users`; `file` is only used in messages.
pub fn parse(text: &[u8], file: &Path) -> Result<Users, ConfError> {
    let mut out = Users::default();
    let mut target = Target::None;
    out.warnings = each_parseconf_line(text, file, |words, n, warn| {
        line(&mut out, &mut target, words, n, warn)
    })?;
    Ok(out)
}

/// Read and parse an `upsd.users`.
pub fn load(path: &Path) -> Result<Users, Error> {
    load_with(path, parse)
}

/// Take in one line: a `[user]` header or a setting of the current user.
fn line(
    out: &mut Users,
    target: &mut Target,
    mut words: Vec<String>,
    n: usize,
    warn: &mut Warnings<'_>,
) -> Result<(), String> {
    if let Some(name) = section_header(&words, "empty user name []; expected [username]")? {
        if let Some(prev) = out.find(name) {
            warn.push(format!(
                "duplicate user [{name}] ignored with its settings; first defined at line {}",
                prev.line
            ));
            *target = Target::Skipped;
            return Ok(());
        }
        out.users.push(User {
            name: name.to_string(),
            line: n,
            password: None,
            actions: BTreeSet::new(),
            instcmds: BTreeSet::new(),
            upsmon: None,
        });
        *target = Target::User;
        return Ok(());
    }
    match target {
        Target::Skipped => return Ok(()),
        Target::None => {
            warn.push(format!(
                "\"{}\" ignored: outside any [user] section",
                words.join(" ")
            ));
            return Ok(());
        }
        Target::User => {}
    }
    // A quoted "field=value" word is NUT's compressed form.
    if let Some((field, value)) = words[0].split_once('=') {
        let (field, value) = (field.to_string(), value.to_string());
        words.splice(0..1, [field, "=".to_string(), value]);
    }
    let Some(user) = out.users.last_mut() else {
        return Ok(());
    };
    match words.as_slice() {
        [field, eq, values @ ..] if eq == "=" => apply(user, field, values, warn),
        [field, value] if field.eq_ignore_ascii_case("upsmon") => {
            user.upsmon = user.upsmon.max(Some(role(value)?));
            Ok(())
        }
        _ => Err(format!(
            "expected \"field = value\" or \"upsmon primary|secondary\", got \"{}\"",
            words.join(" ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    parse_helpers!("upsd.users", Users);

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn spec_example() {
        let users = ok(r#"[admin]
    password = "s3cret"
    actions = SET FSD
    instcmds = all
[upsmon]
    password = mon
    upsmon primary
[monuser]
    password = secret
    upsmon secondary
"#);
        assert_eq!(users.users.len(), 3);
        let admin = users.find("admin").expect("admin");
        assert_eq!(admin.line, 1);
        assert_eq!(admin.password.as_deref(), Some("s3cret"));
        assert_eq!(admin.actions, set(&["FSD", "SET"]));
        assert_eq!(admin.instcmds, set(&["all"]));
        assert_eq!(admin.upsmon, None);
        assert!(admin.has_action("set") && admin.has_action("FSD"));
        assert!(!admin.has_action("LOGIN") && !admin.can_primary());
        assert!(admin.may_instcmd("Test.Battery.Start"));

        let mon = users.find("upsmon").expect("upsmon");
        assert_eq!(mon.upsmon, Some(UpsmonRole::Primary));
        assert!(mon.actions.is_empty());
        for a in ["login", "MASTER", "fsd"] {
            assert!(mon.has_action(a), "{a}");
        }
        assert!(!mon.has_action("SET"));
        assert!(mon.can_primary());
        assert!(!mon.may_instcmd("beeper.toggle"));

        let sec = users.find("monuser").expect("monuser");
        assert_eq!(sec.upsmon, Some(UpsmonRole::Secondary));
        assert!(sec.has_action("LOGIN"));
        assert!(!sec.has_action("FSD") && !sec.can_primary());

        assert!(users.find("Admin").is_none());
        assert!(users.warnings.is_empty());
    }

    #[test]
    fn field_forms_and_case() {
        let users = ok(r#"[u]
PASSWORD=x
Actions = primary
actions = login
instcmds = Beeper.Toggle test.battery.start
InstCmds=ALL
upsmon = slave
UPSMON Master
"#);
        let u = &users.users[0];
        assert_eq!(u.password.as_deref(), Some("x"));
        assert_eq!(u.actions, set(&["LOGIN", "PRIMARY"]));
        assert_eq!(
            u.instcmds,
            set(&["all", "beeper.toggle", "test.battery.start"])
        );
        assert_eq!(u.upsmon, Some(UpsmonRole::Primary));
        assert!(u.can_primary());
        assert!(u.may_instcmd("BEEPER.TOGGLE"));
    }

    #[test]
    fn only_listed_instcmds_case_insensitively() {
        let u = &ok("[u]\ninstcmds = beeper.toggle\n").users[0];
        assert!(u.may_instcmd("Beeper.Toggle"));
        assert!(!u.may_instcmd("beeper.enable"));
    }

    #[test]
    fn quoted_compressed_form() {
        let u = &ok("[u]\n\"password=a b\"\n").users[0];
        assert_eq!(u.password.as_deref(), Some("a b"));
    }

    #[test]
    fn quoting_and_comments_in_passwords() {
        let users = ok(
            "[a]\npassword = \"a b\"\n[b]\npassword = pass#word\n[c]\npassword = \"p\\#w\\\"d\"\n",
        );
        assert_eq!(users.users[0].password.as_deref(), Some("a b"));
        assert_eq!(users.users[1].password.as_deref(), Some("pass"));
        assert_eq!(users.users[2].password.as_deref(), Some("p#w\"d"));
    }

    #[test]
    fn duplicates_and_obsolete_warn() {
        let users = ok(r#"user old format
[u]
password = first
password = second
allowfrom = localhost
[v]
password = v
[u]
password = third
actions = SET
"#);
        assert_eq!(users.users.len(), 2);
        let u = users.find("u").expect("u");
        assert_eq!(u.password.as_deref(), Some("first"));
        assert!(u.actions.is_empty());
        assert_eq!(
            users.warnings,
            vec![
                "upsd.users:1: \"user old format\" ignored: outside any [user] section",
                "upsd.users:4: duplicate password for user [u] ignored; the first one is used",
                "upsd.users:5: allowfrom is obsolete and ignored",
                "upsd.users:8: duplicate user [u] ignored with its settings; first defined at line 2",
            ]
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(
            fail("[u]\npasswd = x\n"),
            "upsd.users:2: unknown user setting \"passwd\"; expected password, actions, instcmds or upsmon"
        );
        assert_eq!(
            fail("[u]\nupsmon = boss\n"),
            "upsd.users:2: unknown upsmon role \"boss\"; expected primary (or master) or secondary (or slave)"
        );
        assert_eq!(
            fail("[u]\nupsmon boss\n"),
            "upsd.users:2: unknown upsmon role \"boss\"; expected primary (or master) or secondary (or slave)"
        );
        assert_eq!(
            fail("[u]\nactions = all\n"),
            "upsd.users:2: unknown action \"all\"; expected SET, FSD, LOGIN, MASTER or PRIMARY"
        );
        assert_eq!(
            fail("[u]\npassword = a b\n"),
            "upsd.users:2: password takes one value; quote a password with spaces"
        );
        assert_eq!(
            fail("[u]\npassword =\n"),
            "upsd.users:2: \"password =\" has no value"
        );
        assert_eq!(
            fail("[u]\npassword secret\n"),
            "upsd.users:2: expected \"field = value\" or \"upsmon primary|secondary\", got \"password secret\""
        );
        assert_eq!(
            fail("[u]\nupsmon = primary secondary\n"),
            "upsd.users:2: upsmon takes one role: primary or secondary"
        );
        assert_eq!(
            fail("[]\n"),
            "upsd.users:1: empty user name []; expected [username]"
        );
        assert_eq!(
            fail("[u]\n\npassword = \"a#b\"\n"),
            "upsd.users:3: Unbalanced word due to unescaped # in quotes; write \\# for a literal # inside quotes"
        );
    }
}
