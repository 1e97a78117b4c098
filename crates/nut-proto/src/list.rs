//! LIST: the queries ([`List`]) and their answers ([`ListReply`]): `BEGIN LIST <query>`, one
//! line per item, `END LIST <query>`, the envelope and the items echoing the query in the
//! client's spelling (but LIST CLIENT items carry the UPS name as upsd spells it).

use std::borrow::Cow;

use crate::error::ParseError;
use crate::escape::ESCAPED_VALUE_MAX;
use crate::get::DESC_MAX;
use crate::reply::{check_err, echoed, joined, line, reply_words, write_words, Text};
use crate::request::{first_n, SubQuery};

/// What `LIST` asks for. Names keep the client's spelling: the answer echoes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum List {
    /// `LIST UPS`: every UPS with its description.
    Ups,
    /// `LIST VAR <ups>`: every variable with its value.
    Var {
        /// The UPS.
        ups: String,
    },
    /// `LIST RW <ups>`: the writable variables with their values.
    Rw {
        /// The UPS.
        ups: String,
    },
    /// `LIST CMD <ups>`: the instant commands.
    Cmd {
        /// The UPS.
        ups: String,
    },
    /// `LIST CLIENT <ups>`: the addresses of the connections logged in to the UPS.
    Client {
        /// The UPS.
        ups: String,
    },
    /// `LIST ENUM <ups> <var>`: the values a variable may take.
    Enum {
        /// The UPS.
        ups: String,
        /// The variable.
        var: String,
    },
    /// `LIST RANGE <ups> <var>`: the ranges a variable's value may lie in.
    Range {
        /// The UPS.
        ups: String,
        /// The variable.
        var: String,
    },
}

impl SubQuery for List {
    fn parts(&self) -> (&'static str, Option<&str>, Option<&str>) {
        match self {
            List::Ups => ("UPS", None, None),
            List::Var { ups } => ("VAR", Some(ups), None),
            List::Rw { ups } => ("RW", Some(ups), None),
            List::Cmd { ups } => ("CMD", Some(ups), None),
            List::Client { ups } => ("CLIENT", Some(ups), None),
            List::Enum { ups, var } => ("ENUM", Some(ups), Some(var)),
            List::Range { ups, var } => ("RANGE", Some(ups), Some(var)),
        }
    }
}

impl List {
    /// The words after `LIST`, with upsd's rules: the sub-command in any case, words after
    /// the last one a query needs ignored; `None` is upsd's INVALID-ARGUMENT.
    pub(crate) fn parse(args: Vec<String>) -> Option<List> {
        let sub = args.first()?;
        let is = |name: &str| sub.eq_ignore_ascii_case(name);
        if is("UPS") {
            return Some(List::Ups);
        }
        let kind = ["VAR", "RW", "CMD", "CLIENT", "ENUM", "RANGE"]
            .into_iter()
            .find(|k| is(k));
        if matches!(kind, Some("VAR" | "RW" | "CMD" | "CLIENT")) {
            let [_, ups] = first_n(args)?;
            return Some(match kind {
                Some("VAR") => List::Var { ups },
                Some("RW") => List::Rw { ups },
                Some("CMD") => List::Cmd { ups },
                _ => List::Client { ups },
            });
        }
        // An unknown sub-command still needs three words before it is refused, as in upsd
        // (the answer is the same INVALID-ARGUMENT either way).
        let [_, ups, var] = first_n(args)?;
        match kind {
            Some("ENUM") => Some(List::Enum { ups, var }),
            Some("RANGE") => Some(List::Range { ups, var }),
            _ => None,
        }
    }

    /// Check the first line of the answer as upsclient does: `ERR` is the server's error
    /// (a complete one-line answer), else it must be `BEGIN LIST` and the query's words,
    /// compared case-insensitively.
    pub fn parse_begin(&self, line: &str) -> Result<(), ParseError> {
        check_err(line)?;
        let words = reply_words(line)?;
        let begins = words.len() >= 2
            && words[0].eq_ignore_ascii_case("BEGIN")
            && words[1].eq_ignore_ascii_case("LIST")
            && echoed(self.words(), &words[2..]).is_some();
        if !begins {
            let reason = format!("expected BEGIN LIST {}", joined(self.words()));
            return Err(ParseError::unexpected(reason, line));
        }
        Ok(())
    }

    /// Read a line after `BEGIN LIST` as upsclient does: `None` at the end, a line whose
    /// first two words are exactly `END LIST`; `ERR` is the server's error; an item must
    /// start with the query's words (compared case-insensitively) and have its own after
    /// them.
    pub fn parse_item(&self, line: &str) -> Result<Option<ListItem<'static>>, ParseError> {
        check_err(line)?;
        let mut words = reply_words(line)?;
        if words.len() >= 2 && words[0] == "END" && words[1] == "LIST" {
            return Ok(None);
        }
        let Some(n) = echoed(self.words(), &words) else {
            let reason = format!("list item does not start with {}", joined(self.words()));
            return Err(ParseError::unexpected(reason, line));
        };
        let rest = words.split_off(n);
        let short = || ParseError::unexpected(format!("short item in LIST {}", self.kind()), line);
        let mut rest = rest.into_iter().map(Cow::Owned);
        let mut next = || rest.next().ok_or_else(short);
        Ok(Some(match self {
            List::Ups => ListItem::Ups {
                name: next()?,
                desc: Text::Plain(next()?),
            },
            List::Var { .. } | List::Rw { .. } => ListItem::Var {
                var: next()?,
                value: Text::Plain(next()?),
                fsd: false,
            },
            List::Cmd { .. } => ListItem::Cmd(next()?),
            List::Client { .. } => ListItem::Client {
                addr: next()?,
                ups: Cow::Owned(words.swap_remove(1)),
            },
            List::Enum { .. } => ListItem::Enum(Text::Plain(next()?)),
            List::Range { .. } => ListItem::Range {
                min: Text::Plain(next()?),
                max: Text::Plain(next()?),
            },
        }))
    }
}

/// One item of a LIST answer: the words after the query's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListItem<'a> {
    /// `UPS <name> "<description>"`, the description escaped into at most 511 bytes.
    Ups {
        /// The UPS as upsd spells it.
        name: Cow<'a, str>,
        /// Its description (`Description unavailable` when ups.conf has none).
        desc: Text<'a>,
    },
    /// `VAR <ups> <var> "<value>"` (or `RW ...`), the value escaped into at most 255 bytes.
    Var {
        /// The variable.
        var: Cow<'a, str>,
        /// Its value.
        value: Text<'a>,
        /// upsd's FSD latch on `ups.status` (see [`GetReply::Var`](crate::GetReply::Var)).
        fsd: bool,
    },
    /// `CMD <ups> <cmd>`.
    Cmd(Cow<'a, str>),
    /// `CLIENT <ups> <address>`.
    Client {
        /// The UPS as upsd spells it (not the query's spelling).
        ups: Cow<'a, str>,
        /// The client's address.
        addr: Cow<'a, str>,
    },
    /// `ENUM <ups> <var> "<value>"`.
    Enum(Text<'a>),
    /// `RANGE <ups> <var> "<min>" "<max>"`.
    Range {
        /// The smallest value.
        min: Text<'a>,
        /// The largest value.
        max: Text<'a>,
    },
}

/// The answer to a LIST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListReply<'a> {
    /// The query, echoed by the envelope and the items.
    pub query: List,
    /// The items, in the order they are sent.
    pub items: Vec<ListItem<'a>>,
}

impl<'a> ListReply<'a> {
    /// An answer with no items yet.
    pub fn new(query: List) -> ListReply<'a> {
        ListReply {
            query,
            items: Vec::new(),
        }
    }

    pub(crate) fn render_into(&self, out: &mut Vec<u8>) {
        let envelope = |out: &mut Vec<u8>, first: &str| {
            line(out, |o| {
                write_words(o, [first, "LIST"]);
                o.push(b' ');
                write_words(o, self.query.words());
            });
        };
        envelope(out, "BEGIN");
        for item in &self.items {
            line(out, |o| {
                if let ListItem::Client { ups, addr } = item {
                    write_words(o, ["CLIENT", &**ups, &**addr]);
                    return;
                }
                write_words(o, self.query.words());
                o.push(b' ');
                match item {
                    ListItem::Ups { name, desc } => {
                        write_words(o, [&**name, ""]);
                        desc.write_quoted(o, "", DESC_MAX);
                    }
                    ListItem::Var { var, value, fsd } => {
                        write_words(o, [&**var, ""]);
                        value.write_quoted(o, if *fsd { "FSD " } else { "" }, ESCAPED_VALUE_MAX);
                    }
                    ListItem::Cmd(cmd) => o.extend_from_slice(cmd.as_bytes()),
                    ListItem::Enum(value) => value.write_quoted(o, "", ESCAPED_VALUE_MAX),
                    ListItem::Range { min, max } => {
                        min.write_quoted(o, "", usize::MAX);
                        o.push(b' ');
                        max.write_quoted(o, "", usize::MAX);
                    }
                    ListItem::Client { .. } => {}
                }
            });
        }
        envelope(out, "END");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Reply;
    use crate::request::{Command, Request};
    use crate::tokenizer::split_line;

    fn list(line: &str) -> Result<List, ParseError> {
        match Request::parse(split_line(line).expect("tokenizes"))? {
            Request::List(list) => Ok(list),
            other => panic!("{line}: {other:?}"),
        }
    }

    fn text(reply: ListReply<'_>) -> String {
        String::from_utf8(Reply::List(reply).to_bytes()).expect("ASCII")
    }

    #[test]
    fn queries_and_upsd_argument_rules() {
        assert_eq!(list("list ups extra words"), Ok(List::Ups));
        assert_eq!(list("LIST rw Ups x"), Ok(List::Rw { ups: "Ups".into() }));
        assert_eq!(
            list("LIST ENUM ups input.sensitivity"),
            Ok(List::Enum {
                ups: "ups".into(),
                var: "input.sensitivity".into()
            })
        );
        for bad in [
            "LIST",
            "LIST VAR",
            "LIST ENUM ups",
            "LIST FOO ups x",
            "LIST FOO ups",
        ] {
            assert_eq!(
                list(bad),
                Err(ParseError::InvalidArgument(Command::List)),
                "{bad}"
            );
        }
    }

    #[test]
    fn envelopes_echo_the_query_and_items_carry_their_limits() {
        let mut r = ListReply::new(List::Var { ups: "UPS".into() });
        r.items.push(ListItem::Var {
            var: "battery.charge".into(),
            value: Text::Wire("100"),
            fsd: false,
        });
        r.items.push(ListItem::Var {
            var: "ups.status".into(),
            value: Text::plain("OL"),
            fsd: true,
        });
        assert_eq!(
            text(r),
            "BEGIN LIST VAR UPS\nVAR UPS battery.charge \"100\"\nVAR UPS ups.status \"FSD OL\"\n\
             END LIST VAR UPS\n"
        );
        let mut r = ListReply::new(List::Ups);
        r.items.push(ListItem::Ups {
            name: "ups".into(),
            desc: Text::plain("#".repeat(200)),
        });
        r.items.push(ListItem::Ups {
            name: "long".into(),
            desc: Text::plain("x".repeat(600)),
        });
        // 511 bytes of description make a line longer than 512: it loses its tail and LF.
        assert_eq!(
            text(r),
            format!(
                "BEGIN LIST UPS\nUPS ups \"{}\"\nUPS long \"{}END LIST UPS\n",
                r"\#".repeat(200),
                "x".repeat(502)
            )
        );
        let mut r = ListReply::new(List::Client { ups: "Ups".into() });
        r.items.push(ListItem::Client {
            ups: "ups".into(),
            addr: "127.0.0.1".into(),
        });
        assert_eq!(
            text(r),
            "BEGIN LIST CLIENT Ups\nCLIENT ups 127.0.0.1\nEND LIST CLIENT Ups\n"
        );
        let mut r = ListReply::new(List::Range {
            ups: "ups".into(),
            var: "x".into(),
        });
        r.items.push(ListItem::Range {
            min: Text::plain("0"),
            max: Text::plain("600"),
        });
        assert_eq!(
            text(r),
            "BEGIN LIST RANGE ups x\nRANGE ups x \"0\" \"600\"\nEND LIST RANGE ups x\n"
        );
    }

    #[test]
    fn a_rendered_list_parses_back() {
        let query = List::Enum {
            ups: "ups".into(),
            var: "input.sensitivity".into(),
        };
        let mut r = ListReply::new(query.clone());
        for v in ["low", "a \"b\" #c"] {
            r.items.push(ListItem::Enum(Text::plain(v)));
        }
        let bytes = Reply::List(r.clone()).to_bytes();
        let text = String::from_utf8(bytes).expect("ASCII");
        let mut lines = text.lines();
        assert_eq!(query.parse_begin(lines.next().unwrap_or_default()), Ok(()));
        let mut back = ListReply::new(query.clone());
        for l in lines {
            match query.parse_item(l) {
                Ok(Some(item)) => back.items.push(item),
                Ok(None) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(back, r);
    }

    #[test]
    fn client_checks_like_upsclient() {
        let q = List::Var { ups: "ups".into() };
        assert_eq!(q.parse_begin("begin list var UPS"), Ok(()));
        assert!(q.parse_begin("BEGIN LIST VAR other").is_err());
        assert_eq!(
            q.parse_begin("ERR UNKNOWN-UPS"),
            Err(ParseError::Server(crate::ErrCode::UnknownUps))
        );
        assert_eq!(q.parse_item("END LIST"), Ok(None));
        assert_eq!(
            q.parse_item("var Ups b \"x \\\"y\\\"\""),
            Ok(Some(ListItem::Var {
                var: "b".into(),
                value: Text::plain("x \"y\""),
                fsd: false
            }))
        );
        // `end list` is no end: it then fails the echo check.
        match q.parse_item("end list VAR ups") {
            Err(e) => assert!(e.to_string().contains("end list VAR ups"), "{e}"),
            Ok(other) => panic!("{other:?}"),
        }
        assert!(
            q.parse_item("VAR ups a").is_err(),
            "an item needs its value"
        );
        let c = List::Client { ups: "UPS".into() };
        assert_eq!(
            c.parse_item("CLIENT ups 10.0.0.1"),
            Ok(Some(ListItem::Client {
                ups: "ups".into(),
                addr: "10.0.0.1".into()
            }))
        );
    }
}
