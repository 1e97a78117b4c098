//! NUT's device matching from the ups.conf section (`usb-common.c` `match_function_regex`):
//! the options `vendorid`, `productid`, `vendor`, `product`, `serial`, `bus`, `device` and
//! `busport` are each a POSIX-extended-like regular expression (here the `regex` crate's
//! syntax), case-insensitive, that must match the WHOLE device string (leading/trailing spaces,
//! tabs and newlines of the device string removed first; a missing string counts as ""). Vendor
//! and product ids are matched as 4-digit lowercase hex. An absent option matches anything;
//! checks run in NUT's order and the first failure rejects.
//!
//! [`same_unit`] is what a reconnect uses to accept only the unit it had before.

use regex::{Regex, RegexBuilder};

use crate::device::Identity;
use crate::Error;

/// The matching options, in NUT's checking order.
pub(crate) const OPTIONS: [&str; 8] = [
    "vendorid",
    "productid",
    "vendor",
    "product",
    "serial",
    "bus",
    "device",
    "busport",
];

/// The compiled matching options of one ups.conf section.
#[derive(Debug, Clone, Default)]
pub(crate) struct Matcher {
    checks: Vec<(&'static str, Regex)>,
}

impl Matcher {
    /// Compiles the options `get` returns (e.g. `|k| config.get(k)`).
    pub(crate) fn new<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, Error> {
        let mut checks = Vec::new();
        for option in OPTIONS {
            let Some(pattern) = get(option) else { continue };
            let err = |e: regex::Error| Error::BadPattern {
                option,
                pattern: pattern.to_string(),
                reason: e.to_string(),
            };
            // Alone first, so that "a)|(b" is refused rather than balanced by our wrapping.
            Regex::new(pattern).map_err(err)?;
            let re = RegexBuilder::new(&format!("^(?:{pattern})$"))
                .case_insensitive(true)
                .build()
                .map_err(err)?;
            checks.push((option, re));
        }
        Ok(Matcher { checks })
    }

    /// The first option that rejects `id`, or `None` when it matches.
    pub(crate) fn mismatch(&self, id: &Identity) -> Option<&'static str> {
        self.checks
            .iter()
            .find(|(option, re)| !re.is_match(&device_string(id, option)))
            .map(|(option, _)| *option)
    }

    pub(crate) fn matches(&self, id: &Identity) -> bool {
        self.mismatch(id).is_none()
    }
}

/// The device string an option is matched against.
pub(crate) fn device_string(id: &Identity, option: &str) -> String {
    let text = |s: &Option<String>| {
        s.as_deref()
            .unwrap_or("")
            .trim_matches(|c| c == ' ' || c == '\t' || c == '\n' || c == '\r')
            .to_string()
    };
    match option {
        "vendorid" => format!("{:04x}", id.vendor_id),
        "productid" => format!("{:04x}", id.product_id),
        "vendor" => text(&id.manufacturer),
        "product" => text(&id.product),
        "serial" => text(&id.serial),
        "bus" => text(&id.bus),
        "device" => text(&id.device),
        "busport" => text(&id.port),
        _ => String::new(),
    }
}

/// After a reconnect: is `now` the unit `before` was? Same vendor and product id, and the same
/// serial when `before` had a non-empty one, else the same physical port.
pub(crate) fn same_unit(before: &Identity, now: &Identity) -> bool {
    if before.vendor_id != now.vendor_id || before.product_id != now.product_id {
        return false;
    }
    let serial = |i: &Identity| {
        i.serial
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match serial(before) {
        Some(s) => serial(now).as_deref() == Some(s.as_str()),
        None => before.port == now.port,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::bk650m2;
    use std::collections::HashMap;

    /// The unit with trailing blanks on its serial number, as some firmware sends it.
    fn bk650() -> Identity {
        Identity {
            serial: Some("9B2019A14274  ".into()),
            ..bk650m2()
        }
    }

    fn matcher(opts: &[(&str, &str)]) -> Result<Matcher, Error> {
        let map: HashMap<String, String> = opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Matcher::new(|k| map.get(k).map(String::as_str))
    }

    fn mismatch(opts: &[(&str, &str)]) -> Option<&'static str> {
        matcher(opts).unwrap().mismatch(&bk650())
    }

    #[test]
    fn nut_examples() {
        assert_eq!(mismatch(&[]), None);
        // ups.conf(5): vendorid/productid as hex, case does not matter.
        assert_eq!(mismatch(&[("vendorid", "051d")]), None);
        assert_eq!(mismatch(&[("vendorid", "051D")]), None);
        assert_eq!(mismatch(&[("vendorid", "0463")]), Some("vendorid"));
        assert_eq!(mismatch(&[("productid", "000[23]")]), None);
        assert_eq!(mismatch(&[("productid", "2")]), Some("productid"));
        // Whole string: a prefix is not enough, a regex covering it is.
        assert_eq!(mismatch(&[("vendor", "American")]), Some("vendor"));
        assert_eq!(mismatch(&[("vendor", "american power.*")]), None);
        assert_eq!(mismatch(&[("product", "Back-UPS.*")]), None);
        assert_eq!(mismatch(&[("product", "Back-UPS")]), Some("product"));
        // Device strings are trimmed.
        assert_eq!(mismatch(&[("serial", "9B2019A14274")]), None);
        assert_eq!(mismatch(&[("serial", "9b2019a14274")]), None);
        assert_eq!(mismatch(&[("serial", "9B2019A1427")]), Some("serial"));
        assert_eq!(mismatch(&[("bus", "001")]), None);
        assert_eq!(mismatch(&[("bus", "00[2-9]")]), Some("bus"));
        assert_eq!(mismatch(&[("device", "004")]), None);
        assert_eq!(mismatch(&[("busport", "1-4")]), None);
        // Alternation stays inside the anchors.
        assert_eq!(mismatch(&[("bus", "001|002")]), None);
        assert_eq!(mismatch(&[("bus", "00|002")]), Some("bus"));
        // First failure in NUT's order.
        assert_eq!(
            mismatch(&[("serial", "x"), ("vendorid", "0001")]),
            Some("vendorid")
        );
        // A missing string is "": only an empty-matching regex accepts it.
        let mut id = bk650();
        id.serial = None;
        let m = matcher(&[("serial", ".*")]).unwrap();
        assert!(m.matches(&id));
        let m = matcher(&[("serial", "9B.*")]).unwrap();
        assert!(!m.matches(&id));
    }

    #[test]
    fn bad_regex_names_the_option() {
        let e = matcher(&[("vendor", "Am(erican")]).unwrap_err();
        let Error::BadPattern {
            option, pattern, ..
        } = &e
        else {
            panic!("{e}");
        };
        assert_eq!(*option, "vendor");
        assert_eq!(pattern, "Am(erican");
        assert!(e
            .to_string()
            .starts_with("vendor = \"Am(erican\" is not a valid regular expression"));
        assert!(matches!(
            matcher(&[("product", "a)|(b")]),
            Err(Error::BadPattern {
                option: "product",
                ..
            })
        ));
    }

    #[test]
    fn same_unit_by_serial_else_port() {
        let a = bk650();
        let mut b = bk650();
        b.port = Some("2-1".into());
        b.device = Some("009".into());
        b.serial = Some("9B2019A14274".into());
        assert!(same_unit(&a, &b));
        b.serial = Some("OTHER".into());
        assert!(!same_unit(&a, &b));
        let mut a = bk650();
        a.serial = None;
        let mut b = a.clone();
        assert!(same_unit(&a, &b));
        b.port = Some("2-1".into());
        assert!(!same_unit(&a, &b));
        b.port = a.port.clone();
        b.product_id = 3;
        assert!(!same_unit(&a, &b));
    }
}
