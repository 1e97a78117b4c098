//! `ups.status` words as upsmon reads them.
//!
//! Tokens are space-separated and matched case-insensitively as whole words. The checks that
//! *clear* a condition (`LB`, `FSD`, `CAL`, `OFF`, ...) look for the name as a substring of the
//! whole string, as NUT does; unlike NUT (which compares case-sensitively there) the substring
//! check ignores case too, so a driver writing lower-case tokens does not make a condition flap.

/// One status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// `OL`: on line power.
    Ol,
    /// `OB`: on battery.
    Ob,
    /// `LB`: low battery.
    Lb,
    /// `RB`: replace battery.
    Rb,
    /// `CAL`: calibrating.
    Cal,
    /// `OFF`: output off / asleep.
    Off,
    /// `BYPASS`: on bypass.
    Bypass,
    /// `ECO`: ECO mode.
    Eco,
    /// `ALARM`: `ups.alarm` has text.
    Alarm,
    /// `OVER`: overloaded.
    Over,
    /// `TRIM`: trimming voltage.
    Trim,
    /// `BOOST`: boosting voltage.
    Boost,
    /// `FSD`: forced shutdown.
    Fsd,
    /// `HB`, `CHRG`, `DISCHRG`: known, no reaction.
    Ignored,
    /// Anything else, as written (`WAIT`, vendor words, ...).
    Other(String),
}

impl Token {
    /// Classify one word.
    pub(crate) fn parse(word: &str) -> Token {
        const TABLE: &[(&str, Token)] = &[
            ("OL", Token::Ol),
            ("OB", Token::Ob),
            ("LB", Token::Lb),
            ("RB", Token::Rb),
            ("CAL", Token::Cal),
            ("OFF", Token::Off),
            ("BYPASS", Token::Bypass),
            ("ECO", Token::Eco),
            ("ALARM", Token::Alarm),
            ("OVER", Token::Over),
            ("TRIM", Token::Trim),
            ("BOOST", Token::Boost),
            ("FSD", Token::Fsd),
            ("HB", Token::Ignored),
            ("CHRG", Token::Ignored),
            ("DISCHRG", Token::Ignored),
        ];
        TABLE
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
            .map(|(_, t)| t.clone())
            .unwrap_or_else(|| Token::Other(word.to_string()))
    }
}

/// The words of a status string, in order (empty words from repeated spaces skipped).
pub(crate) fn tokens(status: &str) -> impl Iterator<Item = Token> + '_ {
    status
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(Token::parse)
}

/// NUT's clearing test: does `name` occur anywhere in `status` (ignoring case)?
pub(crate) fn mentions(status: &str, name: &str) -> bool {
    status
        .to_ascii_uppercase()
        .contains(&name.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify() {
        let t: Vec<Token> = tokens("FSD ob  lb CHRG WAIT Rb").collect();
        assert_eq!(
            t,
            vec![
                Token::Fsd,
                Token::Ob,
                Token::Lb,
                Token::Ignored,
                Token::Other("WAIT".into()),
                Token::Rb
            ]
        );
    }

    #[test]
    fn substring_clearing() {
        assert!(mentions("OB LB", "LB"));
        assert!(mentions("ob lb", "LB"));
        assert!(!mentions("OL CHRG", "LB"));
        // Substring, not word: a vendor word containing "CAL" keeps CAL set, as in NUT.
        assert!(mentions("OL RECALIBRATE", "CAL"));
    }
}
