//! `nut-driver-generator` as systemd runs it (three directories as arguments, ups.conf from
//! the config directory): one `nut-driver@<ups>.service` wanted by `nut-driver.target` and
//! `nut-server.service` per section.

use std::process::Command;

use super::run;

#[test]
fn wants_one_driver_per_section() {
    let d = tempfile::tempdir().unwrap();
    let (conf, out) = (d.path().join("etc"), d.path().join("normal"));
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(
        conf.join("ups.conf"),
        "[ups]\n driver = usbhid-ups\n port = auto\n[rack-2]\n driver = usbhid-ups\n port = auto\n",
    )
    .unwrap();
    let generate = || {
        run(Command::new(env!("CARGO_BIN_EXE_nut-driver-generator"))
            .args([&out, &d.path().join("early"), &d.path().join("late")])
            .env("NUT_CONFPATH", &conf))
    };
    assert_eq!(generate(), (Some(0), String::new(), String::new()));
    let template = "/lib/systemd/system/nut-driver@.service".to_string();
    for by in ["nut-driver.target.wants", "nut-server.service.wants"] {
        let mut links: Vec<(String, String)> = std::fs::read_dir(out.join(by))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let target = std::fs::read_link(e.path()).unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    target.display().to_string(),
                )
            })
            .collect();
        links.sort();
        assert_eq!(
            links,
            [
                (
                    "nut-driver@rack\\x2d2.service".to_string(),
                    template.clone()
                ),
                ("nut-driver@ups.service".to_string(), template.clone()),
            ],
            "{by}"
        );
    }
    // a broken ups.conf: named in the journal, nothing generated
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::write(conf.join("ups.conf"), "[ups]\n[UPS]\n").unwrap();
    let (code, _, err) = generate();
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with(&format!(
            "nut-driver-generator: {}:2: ",
            conf.join("ups.conf").display()
        )),
        "{err}"
    );
    assert!(!out.exists());
}
