//! Notification texts: filling a `NOTIFYMSG` template (or the event's default text, which
//! [`nut_conf::notify::NotifyEvent`] holds) as NUT's formatter does.

/// Longest notification NUT formats (its buffer is 512 bytes including the final NUL).
pub(crate) const MAX_MESSAGE_LEN: usize = 511;

/// What upsmon logs and walls when it starts the power-fail shutdown (before `SHUTDOWN`).
pub(crate) const SHUTDOWN_BANNER: &str = "Executing automatic power-fail shutdown";

/// Fill a `NOTIFYMSG`-style template: the first `%s` becomes `system`, a second `%s` `extra`
/// (empty if none), further `%s` nothing; `%%` is a literal `%`; any other `%` sequence is
/// kept as written. The result is cut to [`MAX_MESSAGE_LEN`] bytes, as NUT's buffer does.
pub(crate) fn format_message(template: &str, system: &str, extra: Option<&str>) -> String {
    let mut out = String::with_capacity(template.len() + system.len());
    let mut args = [system, extra.unwrap_or("")].into_iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('s') => {
                chars.next();
                out.push_str(args.next().unwrap_or(""));
            }
            Some('%') => {
                chars.next();
                out.push('%');
            }
            _ => out.push('%'),
        }
    }
    truncate_at_char(&mut out, MAX_MESSAGE_LEN);
    out
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

#[cfg(test)]
mod tests {
    use super::*;
    use nut_conf::notify::NotifyEvent;

    #[test]
    fn stock_texts_2_8_0() {
        for (event, want) in [
            (NotifyEvent::Online, "UPS ups@host on line power"),
            (NotifyEvent::OnBatt, "UPS ups@host on battery"),
            (NotifyEvent::LowBatt, "UPS ups@host battery is low"),
            (
                NotifyEvent::Fsd,
                "UPS ups@host: forced shutdown in progress",
            ),
            (
                NotifyEvent::CommOk,
                "Communications with UPS ups@host established",
            ),
            (
                NotifyEvent::CommBad,
                "Communications with UPS ups@host lost",
            ),
            (NotifyEvent::Shutdown, "Auto logout and shutdown proceeding"),
            (
                NotifyEvent::ReplBatt,
                "UPS ups@host battery needs to be replaced",
            ),
            (NotifyEvent::NoComm, "UPS ups@host is unavailable"),
            (
                NotifyEvent::NoParent,
                "upsmon parent process died - shutdown impossible",
            ),
            (NotifyEvent::Cal, "UPS ups@host: calibration in progress"),
        ] {
            let got = format_message(event.default_message(), "ups@host", None);
            assert_eq!(got, want, "{event}");
        }
    }

    #[test]
    fn two_placeholders() {
        assert_eq!(
            format_message(
                NotifyEvent::Alarm.default_message(),
                "u@h",
                Some("Replace battery!")
            ),
            "UPS u@h: one or more active alarms: [Replace battery!]"
        );
        assert_eq!(
            format_message(
                NotifyEvent::Other.default_message(),
                "u@h",
                Some("WAIT FOO")
            ),
            "UPS u@h: has at least one unclassified status token: [WAIT FOO]"
        );
        // A NOTIFYMSG with one %s ignores the extra text.
        assert_eq!(format_message("%s alarm", "u@h", Some("x")), "u@h alarm");
    }

    #[test]
    fn percent_handling_and_truncation() {
        assert_eq!(format_message("100%% %d %s", "u", None), "100% %d u");
        assert_eq!(format_message("trailing %", "u", None), "trailing %");
        assert_eq!(format_message("%s %s %s", "a", Some("b")), "a b ");
        let long = "é".repeat(400);
        let out = format_message(&long, "u", None);
        assert!(out.len() <= MAX_MESSAGE_LEN);
        assert_eq!(out.len(), 510);
    }
}
