//! The emulated unit as the checks drive it: `ups-emulator attach` running in the guest, the
//! USB device the kernel made of it (its hidraw node and sysfs directory), its control socket
//! and its logs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use nut_test_support::daemon::{signal, wait_for};
use nut_test_support::{our_bin, Proc};

/// The emulator's program name.
const EMULATOR: &str = "ups-emulator";

/// A running emulator attached to vhci-hcd; detached (SIGTERM) and reaped on drop.
pub(crate) struct Emulator {
    proc_: Option<Proc>,
    dir: PathBuf,
    vendor: u16,
    product: u16,
}

impl Emulator {
    /// Attach `recording` (logs in `dir`) and wait until the kernel has made a hidraw node of
    /// it.
    pub(crate) fn attach(recording: &Path, dir: &Path) -> Emulator {
        std::fs::create_dir_all(dir).unwrap();
        let rec = nut_hid_recording::Recording::parse(
            &std::fs::read_to_string(recording).unwrap(),
            &recording.display().to_string(),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("emulator.out")).unwrap();
        let child = Command::new(our_bin(EMULATOR))
            .arg("attach")
            .arg(recording)
            .arg("--log")
            .arg(dir.join("emulator.log"))
            .arg("--simlog")
            .arg(dir.join("simlog"))
            .arg("--control")
            .arg(dir.join("control"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let e = Emulator {
            proc_: Some(Proc {
                child,
                name: "ups-emulator".into(),
            }),
            dir: dir.to_path_buf(),
            vendor: rec.usb.vendor_id,
            product: rec.usb.product_id,
        };
        e.wait_hidraw(true);
        e
    }

    /// The unit's hidraw node and the sysfs directory of its USB device, when the kernel has
    /// them.
    pub(crate) fn hidraw(&self) -> Option<(PathBuf, PathBuf)> {
        for entry in std::fs::read_dir("/sys/class/hidraw").ok()?.flatten() {
            let Ok(hid) = std::fs::canonicalize(entry.path().join("device")) else {
                continue;
            };
            // hid device -> USB interface -> USB device
            let Some(usb) = hid.parent().and_then(Path::parent) else {
                continue;
            };
            let id = |f: &str| {
                std::fs::read_to_string(usb.join(f))
                    .ok()
                    .and_then(|s| u16::from_str_radix(s.trim(), 16).ok())
            };
            let on_vhci = usb.to_string_lossy().contains("vhci_hcd");
            if on_vhci
                && id("idVendor") == Some(self.vendor)
                && id("idProduct") == Some(self.product)
            {
                return Some((Path::new("/dev").join(entry.file_name()), usb.to_path_buf()));
            }
        }
        None
    }

    /// Wait until the unit's hidraw node is there (`present`) or gone.
    pub(crate) fn wait_hidraw(&self, present: bool) {
        let what = if present {
            "the kernel to make a hidraw node of the unit"
        } else {
            "the unit's hidraw node to go away"
        };
        wait_for(what, Duration::from_secs(30), |last| {
            *last = self.output();
            (self.hidraw().is_some() == present).then_some(())
        });
        crate::guest::udev_settle();
    }

    /// One control command (`unplug`, `replug`, `stall ...`, `clear`...); its answer.
    pub(crate) fn ctl(&self, command: &str) -> String {
        let out = Command::new(our_bin(EMULATOR))
            .arg("ctl")
            .arg(self.dir.join("control"))
            .args(command.split_whitespace())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ups-emulator ctl {command}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// One control command sent straight to the control socket, without starting a process
    /// (for timing); its answer. Panics on an `error:` answer.
    pub(crate) fn send(&self, command: &str) -> String {
        ups_emulator::ctl::send(&self.dir.join("control"), command)
            .unwrap_or_else(|e| panic!("control command {command:?}: {e}"))
    }

    /// The SET_REPORT lines the unit received so far.
    pub(crate) fn sets(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("simlog"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("SET_REPORT"))
            .map(str::to_string)
            .collect()
    }

    /// How many control requests and interrupt-IN transfers the unit has received so far
    /// (its `--log`: one `#<seqnum> <request> ... -> <answer>` line per control request, one
    /// `#<seqnum> INTERRUPT IN len <n> ...` line per interrupt transfer submitted).
    pub(crate) fn requests(&self) -> (usize, usize) {
        let log = std::fs::read_to_string(self.dir.join("emulator.log")).unwrap_or_default();
        let (mut control, mut interrupt) = (0, 0);
        for l in log.lines() {
            let mut words = l.split_whitespace().skip(1);
            if !words.next().is_some_and(|w| w.starts_with('#')) {
                continue;
            }
            match (words.next(), words.next()) {
                (Some("INTERRUPT"), Some("IN")) if l.contains(" IN len ") => interrupt += 1,
                (Some("INTERRUPT" | "UNLINK"), _) | (None, _) => {}
                _ => control += 1,
            }
        }
        (control, interrupt)
    }

    /// What the emulator printed, for failure messages.
    pub(crate) fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("emulator.out")).unwrap_or_default()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let Some(mut p) = self.proc_.take() else {
            return;
        };
        // SIGTERM: it detaches from vhci-hcd before it exits (a socket left attached by a
        // dead process hangs in the kernel)
        signal(p.pid(), "TERM");
        for _ in 0..100 {
            if p.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // (Proc's own drop kills it)
    }
}
