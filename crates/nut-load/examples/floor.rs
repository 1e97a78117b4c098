//! The least any NUT server can do per request, to measure the floor under all of them: one
//! thread, one epoll set, and for every read one write of fixed replies (no parsing beyond
//! the first word, no tree, no lock). Its CPU time per request and its throughput, measured
//! by `nut-load` as for a real upsd, are what the kernel's loopback TCP allows a server
//! doing one read and one write per request, which stock upsd and ours do alike
//! (`scripts/bench floor100 floorlist1000`).
//!
//! `floor PORT [LIST-REPLY]`: listens on 127.0.0.1:PORT until killed; a line starting with
//! `LIST` is answered with the contents of the file LIST-REPLY (a whole `LIST VAR` reply,
//! `BEGIN LIST` to `END LIST`), any other with a `GET VAR` reply.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

/// What every line is answered with (as upsd answers `GET VAR ups ups.status` on mains).
const REPLY: &[u8] = b"VAR ups ups.status \"OL\"\n";

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| std::io::Error::other("usage: floor PORT [LIST-REPLY]"))?;
    let list = match args.next() {
        Some(path) => std::fs::read(path)?,
        None => REPLY.to_vec(),
    };
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    // SAFETY: epoll_create1 takes flags only.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(std::io::Error::last_os_error());
    }
    watch(ep, listener.as_raw_fd())?;
    let mut conns: Vec<Option<TcpStream>> = Vec::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 512];
    let mut buf = [0u8; 512];
    let mut out = Vec::new();
    loop {
        // SAFETY: `events` is valid for writes of its length, which is what is passed.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in &events[..n as usize] {
            let fd = ev.u64 as RawFd;
            if fd == listener.as_raw_fd() {
                while let Ok((s, _)) = listener.accept() {
                    s.set_nonblocking(true)?;
                    s.set_nodelay(true)?;
                    let fd = s.as_raw_fd();
                    watch(ep, fd)?;
                    let slot = fd as usize;
                    if conns.len() <= slot {
                        conns.resize_with(slot + 1, || None);
                    }
                    conns[slot] = Some(s);
                }
                continue;
            }
            let Some(Some(s)) = conns.get_mut(fd as usize) else {
                continue;
            };
            match s.read(&mut buf) {
                Ok(0) => conns[fd as usize] = None,
                Ok(k) => {
                    out.clear();
                    for line in buf[..k].split_inclusive(|&b| b == b'\n') {
                        if line.ends_with(b"\n") {
                            let reply = if line.starts_with(b"LIST") {
                                &list
                            } else {
                                REPLY
                            };
                            out.extend_from_slice(reply);
                        }
                    }
                    if s.write_all(&out).is_err() {
                        conns[fd as usize] = None;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => conns[fd as usize] = None,
            }
        }
    }
}

/// Add `fd` to the epoll set `ep`, level-triggered for reading.
fn watch(ep: RawFd, fd: RawFd) -> std::io::Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: fd as u64,
    };
    // SAFETY: `ev` is a valid event for the call's duration; the kernel copies it.
    if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
