//! POSIX `getopt` as glibc runs it with a leading `+` in the option string (stock's clients and
//! drivers all use one): options stop at the first operand or after `--`, short options may be
//! clustered (`-lL`), an argument may be attached (`-uadmin`) or the next word, and a bad
//! option is reported on stderr with `argv[0]` as given, at the moment it is met. Besides,
//! a program may name whole words it also takes (nut-rs's own `--prepare` for drivers); any
//! other `--word` is read as glibc does without long options, a cluster starting with `-`.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// One result of [`Getopt::next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opt {
    /// A known option and its argument (for options that take one).
    Flag(u8, Option<OsString>),
    /// An unknown option or a missing argument: getopt's `?` (the message is already out).
    Bad,
    /// One of the words given to [`Getopt::with_long`], by its index there.
    Long(usize),
}

/// The scanner over `argv` (with `argv[0]`).
pub struct Getopt<'a> {
    argv: &'a [OsString],
    spec: &'a [u8],
    /// Whole words taken as options (`--prepare`).
    long: &'a [&'a str],
    /// Index of the word being scanned.
    ind: usize,
    /// Position inside a cluster (0: not inside one).
    pos: usize,
}

impl<'a> Getopt<'a> {
    /// `spec` is the option string without its leading `+`: letters, `:` after those that
    /// take an argument.
    pub fn new(argv: &'a [OsString], spec: &'a str) -> Getopt<'a> {
        Getopt {
            argv,
            spec: spec.as_bytes(),
            long: &[],
            ind: 1,
            pos: 0,
        }
    }

    /// [`Getopt::new`], and the whole words `long` (each with its dashes) are options too,
    /// returned as [`Opt::Long`] with their index in `long`.
    pub fn with_long(argv: &'a [OsString], spec: &'a str, long: &'a [&'a str]) -> Getopt<'a> {
        Getopt {
            long,
            ..Getopt::new(argv, spec)
        }
    }

    /// The operands: the words after the options (optind onwards).
    pub fn operands(&self) -> &'a [OsString] {
        &self.argv[self.ind.min(self.argv.len())..]
    }

    /// The operands as text (not UTF-8 bytes replaced).
    pub fn operand_strings(&self) -> Vec<String> {
        self.operands()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn argv0(&self) -> String {
        self.argv
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Whether `c` takes an argument; `None` when it is not an option at all.
    fn takes_arg(&self, c: u8) -> Option<bool> {
        if c == b':' {
            return None;
        }
        let i = self.spec.iter().position(|&s| s == c)?;
        Some(self.spec.get(i + 1) == Some(&b':'))
    }
}

impl Iterator for Getopt<'_> {
    type Item = Opt;

    fn next(&mut self) -> Option<Opt> {
        if self.pos == 0 {
            let word = self.argv.get(self.ind)?.as_bytes();
            if word == b"--" {
                self.ind += 1;
                return None;
            }
            if word.len() < 2 || word[0] != b'-' {
                return None;
            }
            if let Some(i) = self.long.iter().position(|l| l.as_bytes() == word) {
                self.ind += 1;
                return Some(Opt::Long(i));
            }
            self.pos = 1;
        }
        let word = self.argv[self.ind].as_bytes();
        let c = word[self.pos];
        self.pos += 1;
        let at_end = self.pos >= word.len();
        let finish_word = |g: &mut Self| {
            g.ind += 1;
            g.pos = 0;
        };
        match self.takes_arg(c) {
            None => {
                eprintln!("{}: invalid option -- '{}'", self.argv0(), char::from(c));
                if at_end {
                    finish_word(self);
                }
                Some(Opt::Bad)
            }
            Some(false) => {
                if at_end {
                    finish_word(self);
                }
                Some(Opt::Flag(c, None))
            }
            Some(true) => {
                if !at_end {
                    let arg = OsString::from_vec(word[self.pos..].to_vec());
                    finish_word(self);
                    return Some(Opt::Flag(c, Some(arg)));
                }
                finish_word(self);
                match self.argv.get(self.ind) {
                    Some(arg) => {
                        self.ind += 1;
                        Some(Opt::Flag(c, Some(arg.clone())))
                    }
                    None => {
                        eprintln!(
                            "{}: option requires an argument -- '{}'",
                            self.argv0(),
                            char::from(c)
                        );
                        Some(Opt::Bad)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn flag(c: u8, arg: Option<&str>) -> Opt {
        Opt::Flag(c, arg.map(OsString::from))
    }

    #[test]
    fn clusters_attached_and_separate_arguments_then_operands() {
        let a = argv(&["upsrw", "-wl", "-uadmin", "-p", "pw", "ups", "-s", "x"]);
        let mut g = Getopt::new(&a, "hls:p:t:u:wV");
        let opts: Vec<Opt> = g.by_ref().collect();
        assert_eq!(
            opts,
            vec![
                flag(b'w', None),
                flag(b'l', None),
                flag(b'u', Some("admin")),
                flag(b'p', Some("pw")),
            ]
        );
        assert_eq!(g.operands(), &argv(&["ups", "-s", "x"])[..]);
    }

    #[test]
    fn double_dash_ends_options_and_a_lone_dash_is_an_operand() {
        let a = argv(&["upsc", "--", "-l"]);
        let mut g = Getopt::new(&a, "hlLcV");
        assert_eq!(g.next(), None);
        assert_eq!(g.operands(), &argv(&["-l"])[..]);
        let a = argv(&["upslog", "-"]);
        let mut g = Getopt::new(&a, "s:");
        assert_eq!(g.next(), None);
        assert_eq!(g.operands(), &argv(&["-"])[..]);
    }

    #[test]
    fn named_words_are_options_and_other_double_dash_words_are_clusters() {
        let a = argv(&["usbhid-ups", "-a", "ups", "--prepare", "--pr", "-k"]);
        let mut g = Getopt::with_long(&a, "a:k", &["--prepare"]);
        assert_eq!(g.next(), Some(flag(b'a', Some("ups"))));
        assert_eq!(g.next(), Some(Opt::Long(0)));
        assert_eq!(g.next(), Some(Opt::Bad)); // '-'
        assert_eq!(g.next(), Some(Opt::Bad)); // 'p'
        assert_eq!(g.next(), Some(Opt::Bad)); // 'r'
        assert_eq!(g.next(), Some(flag(b'k', None)));
        assert_eq!(g.next(), None);
        let a = argv(&["upsc", "--prepare"]);
        let mut g = Getopt::new(&a, "p");
        assert_eq!(g.next(), Some(Opt::Bad)); // '-': no word is named here
    }

    #[test]
    fn unknown_options_and_missing_arguments_are_question_marks() {
        let a = argv(&["upsc", "-x:", "-s"]);
        let mut g = Getopt::new(&a, "hs:");
        assert_eq!(g.next(), Some(Opt::Bad)); // x
        assert_eq!(g.next(), Some(Opt::Bad)); // ':' is never an option
        assert_eq!(g.next(), Some(Opt::Bad)); // -s without its argument
        assert_eq!(g.next(), None);
        assert!(g.operands().is_empty());
    }
}
