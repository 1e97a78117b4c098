//! The first run: `nut-setup netserver` writes the configuration, and our driver and upsd run
//! on it as written (only the port moved off 3493 and the driver pointed at the BK650M2-CH
//! recording instead of USB): stock upsc reads the unit over IPv4 and IPv6, `monuser`/`secret`
//! logs in as a NAS would, and the local upsmon's user has primary rights.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use nut_test_support::daemon::{start_upsd, wait_var};
use nut_test_support::usbhid::{bk650m2_recording, empty_dir, start_driver};
use nut_test_support::{our_bin, stock_nut, LineClient};

#[test]
fn the_netserver_preset_runs_our_driver_and_upsd() {
    let Some(stock) = stock_nut() else { return };
    let dir = empty_dir();
    let conf = dir.conf();
    let setup = |more: &[&str]| {
        let mut args = vec![
            "netserver",
            "--confdir",
            conf.to_str().unwrap(),
            "--no-detect",
        ];
        args.extend_from_slice(more);
        dir.run(&our_bin("nut-setup"), &args, Duration::from_secs(10))
    };
    // empty_dir's upsd.conf has a LISTEN line: it configures something.
    let (code, out, err) = setup(&[]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            Some(1),
            "",
            format!(
                "nut-setup: {} exists and is not a sample: not replacing it (use --force)\n",
                conf.join("upsd.conf").display()
            )
            .as_str()
        )
    );
    let (code, out, err) = setup(&["--force"]);
    assert_eq!((code, err.as_str()), (Some(0), ""), "{out}");
    let c = conf.display();
    assert_eq!(
        out,
        format!(
            "wrote {c}/nut.conf: MODE=netserver\n\
             replaced {c}/ups.conf: [ups]: usbhid-ups on the first supported unit (port auto)\n\
             replaced {c}/upsd.conf: LISTEN :: and 0.0.0.0, port 3493\n\
             replaced {c}/upsd.users: monuser/secret (upsmon secondary), upsmon_local (upsmon primary)\n\
             wrote {c}/upsmon.conf: MONITOR ups@localhost primary, SHUTDOWNCMD /sbin/shutdown -h +0\n\
             mode 0640, owner root:nut\n"
        )
    );
    for f in [
        "nut.conf",
        "ups.conf",
        "upsd.conf",
        "upsd.users",
        "upsmon.conf",
    ] {
        let mode = std::fs::metadata(conf.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640, "{f}");
    }

    // The test's own port, and the recording in place of the USB unit.
    let edit = |name: &str, f: &dyn Fn(String) -> String| {
        let p = conf.join(name);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, f(text)).unwrap();
    };
    let port = dir.port;
    edit("upsd.conf", &|t| t.replace(" 3493", &format!(" {port}")));
    edit("ups.conf", &|t| {
        format!("{t}\trecording = \"{}\"\n", bk650m2_recording().display())
    });
    let _driver = start_driver(&dir, &[]);
    let upsd = start_upsd(&dir, &["-F", "-u", "root"]);
    wait_var(port, "ups", "ups.vendorid", Duration::from_secs(10));

    for host in ["127.0.0.1", "[::1]"] {
        let out = std::process::Command::new(&stock.upsc)
            .arg(format!("ups@{host}:{port}"))
            .arg("ups.mfr")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "American Power Conversion\n",
            "upsc via {host}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The NAS's login, and the local upsmon's primary rights.
    let mut nas = LineClient::connect(port).unwrap();
    nas.auth("monuser", "secret");
    assert_eq!(nas.request("LOGIN ups"), "OK\n");
    let mon = std::fs::read_to_string(conf.join("upsmon.conf")).unwrap();
    let monitor: Vec<&str> = mon
        .lines()
        .find(|l| l.starts_with("MONITOR "))
        .unwrap()
        .split_whitespace()
        .collect();
    let password = monitor[4].trim_matches('"');
    let mut local = LineClient::connect(port).unwrap();
    local.auth("upsmon_local", password);
    assert_eq!(local.request("LOGIN ups"), "OK\n");
    assert_eq!(local.request("PRIMARY ups"), "OK PRIMARY-GRANTED\n");

    // Both listeners bound, and no file mode warning.
    let log = dir.log("upsd.log");
    assert!(
        log.contains(&format!("listening on 0.0.0.0 port {port}")),
        "{log}"
    );
    assert!(
        log.contains(&format!("listening on :: port {port}")),
        "{log}"
    );
    assert!(
        !log.contains("not listening") && !log.contains("expected 0640"),
        "{log}"
    );
    drop(upsd);
}
