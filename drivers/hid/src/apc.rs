//! APC vendor usages (page 0xFF86, plus the legacy "BUP" ones), as NUT's APC subdriver names
//! them. [`crate::UsageTable::with_apc`] puts this table in front of the generic one.

/// APC usage names and codes, in lookup priority order.
pub const USAGES: &[(&str, u32)] = &[
    ("APCGeneralCollection", 0xFF86_0005),
    ("APCEnvironment", 0xFF86_0006),
    ("APCProbe1", 0xFF86_0007),
    ("APCProbe2", 0xFF86_0008),
    ("APCBattReplaceDate", 0xFF86_0016),
    ("APCBattCapBeforeStartup", 0xFF86_0019),
    ("APC_UPS_FirmwareRevision", 0xFF86_0042),
    ("APCLineFailCause", 0xFF86_0052),
    ("APCStatusFlag", 0xFF86_0060),
    ("APCSensitivity", 0xFF86_0061),
    ("APCPanelTest", 0xFF86_0072),
    ("APCShutdownAfterDelay", 0xFF86_0076),
    ("APC_USB_FirmwareRevision", 0xFF86_0079),
    ("APCDelayBeforeReboot", 0xFF86_007C),
    ("APCDelayBeforeShutdown", 0xFF86_007D),
    ("APCDelayBeforeStartup", 0xFF86_007E),
    ("BUPHibernate", 0x0085_0058),
    ("BUPBattCapBeforeStartup", 0x0086_0012),
    ("BUPDelayBeforeStartup", 0x0086_0076),
    ("BUPSelfTest", 0x0086_0010),
];
