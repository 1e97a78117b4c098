//! The hidraw ioctls (numbers from linux/hidraw.h), each one safe function over the node's
//! file descriptor, and the wait for an interrupt-IN report.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};

/// `HID_MAX_DESCRIPTOR_SIZE`.
const MAX_DESCRIPTOR: usize = 4096;

/// `struct hidraw_report_descriptor`.
#[repr(C)]
struct ReportDescriptor {
    size: u32,
    value: [u8; MAX_DESCRIPTOR],
}

mod ioctl {
    //! The raw requests; only the safe wrappers below call them.
    use super::ReportDescriptor;
    nix::ioctl_read!(hidiocgrdescsize, b'H', 0x01, libc::c_int);
    nix::ioctl_read!(hidiocgrdesc, b'H', 0x02, ReportDescriptor);
    nix::ioctl_readwrite_buf!(hidiocsfeature, b'H', 0x06, u8);
    nix::ioctl_readwrite_buf!(hidiocgfeature, b'H', 0x07, u8);
}

/// `HIDIOCGRDESCSIZE` then `HIDIOCGRDESC`: the report descriptor.
pub(crate) fn report_descriptor(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    let mut size: libc::c_int = 0;
    // SAFETY: fd is open (borrowed); `size` is a valid c_int for the kernel to write.
    unsafe { ioctl::hidiocgrdescsize(fd.as_raw_fd(), &mut size) }?;
    let mut desc = Box::new(ReportDescriptor {
        size: u32::try_from(size).unwrap_or(0).min(MAX_DESCRIPTOR as u32),
        value: [0; MAX_DESCRIPTOR],
    });
    // SAFETY: desc is a properly sized, initialised hidraw_report_descriptor.
    unsafe { ioctl::hidiocgrdesc(fd.as_raw_fd(), &mut *desc) }?;
    let n = (desc.size as usize).min(MAX_DESCRIPTOR);
    Ok(desc.value[..n].to_vec())
}

/// `HIDIOCGFEATURE`: GET_REPORT(Feature, `buf[0]`) into `buf`; the number of bytes the device
/// answered.
pub(crate) fn get_feature(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most buf.len() bytes (encoded in the request).
    let n = unsafe { ioctl::hidiocgfeature(fd.as_raw_fd(), buf) }?;
    Ok(usize::try_from(n).unwrap_or(0).min(buf.len()))
}

/// `HIDIOCSFEATURE`: SET_REPORT(Feature) with the whole of `report` (`report[0]` is the id).
pub(crate) fn set_feature(fd: BorrowedFd<'_>, report: &mut [u8]) -> Result<(), Errno> {
    // SAFETY: the kernel reads report.len() bytes (encoded in the request).
    unsafe { ioctl::hidiocsfeature(fd.as_raw_fd(), report) }?;
    Ok(())
}

/// What [`wait_readable`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ready {
    /// A report can be read.
    Readable,
    /// Nothing within the time (or a signal came).
    Nothing,
    /// The node hung up (the device is gone).
    HungUp,
}

/// Wait at most `timeout` for the node to have an interrupt-IN report.
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) -> Result<Ready, Errno> {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
    match nix::poll::poll(&mut fds, ms) {
        Ok(0) | Err(Errno::EINTR) => return Ok(Ready::Nothing),
        Ok(_) => {}
        Err(e) => return Err(e),
    }
    let revents = fds[0].revents().unwrap_or(PollFlags::empty());
    if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
        && !revents.contains(PollFlags::POLLIN)
    {
        return Ok(Ready::HungUp);
    }
    Ok(Ready::Readable)
}
