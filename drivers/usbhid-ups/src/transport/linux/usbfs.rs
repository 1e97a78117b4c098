//! String descriptors through usbfs (`/dev/bus/usb/BBB/DDD`): hidraw cannot fetch them by
//! index, but a standard GET_DESCRIPTOR(STRING) control request (`USBDEVFS_CONTROL`, numbers
//! from linux/usbdevice_fs.h) needs no claimed interface.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// NUT's USB_TIMEOUT for control requests.
const CONTROL_TIMEOUT_MS: u32 = 5000;

/// `struct usbdevfs_ctrltransfer`.
#[repr(C)]
struct CtrlTransfer {
    request_type: u8,
    request: u8,
    value: u16,
    index: u16,
    length: u16,
    timeout: u32,
    data: *mut libc::c_void,
}

mod ioctl {
    //! The raw request; only [`super::control_in`] calls it.
    use super::CtrlTransfer;
    nix::ioctl_readwrite!(usbdevfs_control, b'U', 0, CtrlTransfer);
}

/// `USBDEVFS_CONTROL`: a device-to-host standard request into `buf`; the bytes received.
fn control_in(
    fd: BorrowedFd<'_>,
    request: u8,
    value: u16,
    index: u16,
    buf: &mut [u8],
) -> Result<usize, Errno> {
    let mut ctl = CtrlTransfer {
        request_type: 0x80,
        request,
        value,
        index,
        length: u16::try_from(buf.len()).unwrap_or(u16::MAX),
        timeout: CONTROL_TIMEOUT_MS,
        data: buf.as_mut_ptr().cast(),
    };
    // SAFETY: ctl.data points to `buf`, alive and at least `length` bytes long during the call.
    let n = unsafe { ioctl::usbdevfs_control(fd.as_raw_fd(), &mut ctl) }?;
    Ok(usize::try_from(n).unwrap_or(0).min(buf.len()))
}

/// GET_DESCRIPTOR(STRING, `index`, `langid`); a STALL (EPIPE: no such string) is `Ok(None)`.
pub(crate) fn string(fd: BorrowedFd<'_>, index: u8, langid: u16) -> Result<Option<String>, Errno> {
    let mut buf = [0u8; 255];
    match control_in(fd, 0x06, 0x0300 | u16::from(index), langid, &mut buf) {
        Ok(n) => Ok(decode_string_descriptor(&buf[..n])),
        Err(Errno::EPIPE) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The first language id of string descriptor 0.
pub(crate) fn first_langid(fd: BorrowedFd<'_>) -> Result<Option<u16>, Errno> {
    let mut buf = [0u8; 255];
    let n = control_in(fd, 0x06, 0x0300, 0, &mut buf)?;
    Ok((n >= 4 && buf[1] == 0x03).then(|| u16::from_le_bytes([buf[2], buf[3]])))
}

/// A USB string descriptor answer -> text (`None` if it is not a string descriptor).
pub(crate) fn decode_string_descriptor(buf: &[u8]) -> Option<String> {
    if buf.len() < 2 || buf[1] != 0x03 {
        return None;
    }
    let len = usize::from(buf[0]).min(buf.len());
    let units: Vec<u16> = buf
        .get(2..len)?
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Some(String::from_utf16_lossy(&units))
}
