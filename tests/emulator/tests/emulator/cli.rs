//! The binary: `check`, a refused recording (one line, non-zero, nothing attached), `serve
//! --fd` on an inherited socket with a control socket driven by `ctl`.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, FdFlag};

use crate::common::BK650;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ups-emulator"))
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn check_accepts_the_bk650m2_and_refuses_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "bk650.toml", BK650);
    let out = run(&["check", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{}: ok\n", good.display()));

    let without = BK650.replace("\"3\" = \"9B2019A14274\"\n", "");
    let bad = write(dir.path(), "noserial.toml", &without);
    // a fake vhci tree: nothing may be written to it
    let sys = dir.path().join("sys");
    std::fs::create_dir_all(sys.join("vhci_hcd.0")).unwrap();
    write(&sys.join("vhci_hcd.0"), "attach", "");
    for args in [
        vec!["check", bad.to_str().unwrap()],
        vec![
            "attach",
            bad.to_str().unwrap(),
            "--sysfs",
            sys.to_str().unwrap(),
        ],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            text(&out.stderr),
            format!(
                "ups-emulator: {}: cannot serve: [usb.indices] serial = 3 names no [strings] entry\n",
                bad.display()
            )
        );
        assert_eq!(text(&out.stdout), "");
    }
    assert_eq!(
        std::fs::read_to_string(sys.join("vhci_hcd.0/attach")).unwrap(),
        ""
    );
}

#[test]
fn attach_without_vhci_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "bk650.toml", BK650);
    let out = run(&[
        "attach",
        good.to_str().unwrap(),
        "--sysfs",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "ups-emulator: no vhci_hcd controller under {} (is the vhci-hcd module loaded?)\n",
            dir.path().display()
        )
    );
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ctl(sock: &Path, cmd: &[&str]) -> Output {
    let mut args = vec!["ctl", sock.to_str().unwrap()];
    args.extend_from_slice(cmd);
    run(&args)
}

#[test]
fn serve_on_an_inherited_socket_driven_by_ctl() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write(dir.path(), "bk650.toml", BK650);
    let sock = dir.path().join("control");
    let simlog = dir.path().join("simlog");
    let log = dir.path().join("log");
    let (mut host, dev) = UnixStream::pair().unwrap();
    host.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    fcntl(&dev, FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
    let fd = dev.as_raw_fd().to_string();
    let mut child = Command::new(bin())
        .args([
            "serve",
            rec.to_str().unwrap(),
            "--fd",
            &fd,
            "--control",
            sock.to_str().unwrap(),
            "--simlog",
            simlog.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(dev);
    wait_for(&sock);
    let out = ctl(&sock, &["status"]);
    assert_eq!(
        text(&out.stdout),
        "present=yes attached=no output=on mains=yes serial=9B2019A14274 faults=none\n"
    );
    // GET_REPORT(Feature 0x0c) and SET_REPORT(Feature 0x15), as vhci-hcd sends them
    let get: Vec<u8> = [0x0000_0001u32, 1, 0x0001_0002, 1, 0, 0x200, 2, 0, 0, 0]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .chain([0xa1, 0x01, 0x0c, 0x03, 0x00, 0x00, 0x02, 0x00])
        .collect();
    host.write_all(&get).unwrap();
    let mut ret = [0u8; 50];
    host.read_exact(&mut ret).unwrap();
    assert_eq!(ret[..8], [0, 0, 0, 3, 0, 0, 0, 1]);
    assert_eq!(ret[20..28], [0, 0, 0, 0, 0, 0, 0, 2]);
    assert_eq!(ret[48..], [0x0c, 0x64]);
    let set: Vec<u8> = [0x0000_0001u32, 2, 0x0001_0002, 0, 0, 0, 3, 0, 0, 0]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .chain([
            0x21, 0x09, 0x15, 0x03, 0x00, 0x00, 0x03, 0x00, 0x15, 0x14, 0x00,
        ])
        .collect();
    host.write_all(&set).unwrap();
    let mut ret = [0u8; 48];
    host.read_exact(&mut ret).unwrap();
    assert_eq!(ret[20..28], [0, 0, 0, 0, 0, 0, 0, 3]);
    assert_eq!(
        std::fs::read_to_string(&simlog).unwrap(),
        "SET_REPORT 0x15 15 14 00\n"
    );

    let out = ctl(&sock, &["stall", "get_report", "0x0c"]);
    assert_eq!(text(&out.stdout), "ok stall get_report 0x0c\n");
    host.write_all(&get).unwrap();
    let mut ret = [0u8; 48];
    host.read_exact(&mut ret).unwrap();
    assert_eq!(ret[20..24], (-32i32).to_be_bytes(), "-EPIPE");

    let out = ctl(&sock, &["bogus"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("ups-emulator: error: unknown command \"bogus\""));

    // unplug: the unit leaves the bus, the connection ends, serve exits
    let out = ctl(&sock, &["unplug"]);
    assert_eq!(text(&out.stdout), "ok unplugged\n");
    let mut rest = Vec::new();
    host.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    let status = child.wait().unwrap();
    assert!(status.success());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(
        err,
        "ups-emulator: the unit left the bus: closing the connection\n"
    );
    assert_eq!(
        std::fs::read_to_string(&simlog).unwrap(),
        "SET_REPORT 0x15 15 14 00\nUNPLUG\n"
    );
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains(" #1 GET_REPORT Feature 0x0c len 2 -> 0c 64\n"),
        "{log}"
    );
}
