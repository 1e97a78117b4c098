//! The attach loop on a fake sysfs tree: what it writes to `attach` and `detach`, and that it
//! detaches before it gives up when the connection closes (no kernel holds the socket here).

use std::fs;
use std::sync::atomic::AtomicBool;

use nut_hid_sim::ManualClock;
use ups_emulator::server::{Log, Server, Shared};
use ups_emulator::vhci::{self, Vhci};
use ups_emulator::{check, Error};

use crate::common::BK650;

/// A sysfs root with `vhci_hcd.0` (port 0 used, port 1 free) and the BK650M2-CH as a unit.
fn fake_tree() -> (tempfile::TempDir, std::path::PathBuf, nut_hid_sim::Unit) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("vhci_hcd.0");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("attach"), "").unwrap();
    fs::write(dir.join("detach"), "").unwrap();
    fs::write(
        dir.join("status"),
        "hub port sta spd dev      sockfd local_busid\n\
         hs  0000 006 002 00010002 000003 1-1\n\
         hs  0001 004 000 00000000 000000 0-0\n",
    )
    .unwrap();
    let rec = root.path().join("unit.toml");
    fs::write(&rec, BK650).unwrap();
    let unit = check::load(&rec, ManualClock::new()).unwrap();
    (root, dir, unit)
}

#[test]
fn attach_then_detach_first_when_the_connection_ends() {
    let (root, dir, unit) = fake_tree();
    let shared = Shared::new();
    let log_path = root.path().join("log");
    let mut server = Server::new(
        unit.clone(),
        shared.clone(),
        Log::open(Some(&log_path)).unwrap(),
    );
    let v = Vhci::find(root.path()).unwrap();
    let stop = AtomicBool::new(false);
    let e = vhci::run(&mut server, &unit, &shared, &v, 0x0001_0002, &stop).unwrap_err();
    assert!(matches!(e, Error::Closed), "{e}");
    let attach = fs::read_to_string(dir.join("attach")).unwrap();
    let words: Vec<&str> = attach.split(' ').collect();
    assert_eq!(words.len(), 4, "{attach}");
    assert_eq!((words[0], words[2], words[3]), ("1", "65538", "2"));
    assert!(
        words[1].parse::<i32>().unwrap() > 2,
        "a socket descriptor: {attach}"
    );
    assert_eq!(fs::read_to_string(dir.join("detach")).unwrap(), "1");
    assert_eq!(shared.attached(), None);
    let log: Vec<String> = fs::read_to_string(&log_path)
        .unwrap()
        .lines()
        .map(|l| l.split_once(' ').unwrap().1.to_string())
        .collect();
    assert_eq!(log, ["ATTACHED port 1", "DETACHED port 1"]);
}

#[test]
fn stopped_while_the_unit_is_away_attaches_nothing() {
    let (root, dir, unit) = fake_tree();
    unit.lock().inject(nut_hid_sim::Fault::Vanish {
        for_: std::time::Duration::MAX,
    });
    let shared = Shared::new();
    let mut server = Server::new(unit.clone(), shared.clone(), Log::open(None).unwrap());
    let stop = AtomicBool::new(true);
    let v = Vhci::find(root.path()).unwrap();
    vhci::run(&mut server, &unit, &shared, &v, 1, &stop).unwrap();
    assert_eq!(fs::read_to_string(dir.join("attach")).unwrap(), "");
}
