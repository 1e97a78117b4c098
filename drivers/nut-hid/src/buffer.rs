//! Per-report byte buffers, as NUT keeps them between reads.

use crate::descriptor::Descriptor;
use crate::error::Error;
use crate::field::Field;

/// One buffer per report id that has objects, sized [`Descriptor::report_len`], byte 0 = id.
///
/// Devices often answer with fewer bytes than the descriptor declares (BK650M2-CH sends 3 of
/// 33); [`ReportBuffer::fill`] copies what came and keeps the older bytes behind it, as NUT does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportBuffer {
    bufs: Vec<Vec<u8>>,
}

impl ReportBuffer {
    /// Zeroed buffers (byte 0 = id) for every report of `desc`.
    pub fn new(desc: &Descriptor) -> Self {
        let mut bufs = vec![Vec::new(); 256];
        for id in desc.report_ids() {
            let mut b = vec![0u8; desc.report_len(id)];
            b[0] = id;
            bufs[usize::from(id)] = b;
        }
        ReportBuffer { bufs }
    }

    /// Buffer length for `id` (0 when the descriptor has no object in that report).
    pub fn len_of(&self, id: u8) -> usize {
        self.bufs[usize::from(id)].len()
    }

    /// Copies a device answer (byte 0 = report id) over the start of report `id`'s buffer,
    /// truncated to the buffer length. Returns the number of bytes copied.
    pub fn fill(&mut self, id: u8, answer: &[u8]) -> usize {
        let buf = &mut self.bufs[usize::from(id)];
        let n = answer.len().min(buf.len());
        buf[..n].copy_from_slice(&answer[..n]);
        n
    }

    /// Files an unsolicited (interrupt) report whose byte 0 is its id. Returns that id when a
    /// buffer exists for it.
    pub fn fill_tagged(&mut self, data: &[u8]) -> Option<u8> {
        let id = *data.first()?;
        (self.fill(id, data) > 0).then_some(id)
    }

    /// The buffer of report `id` (`None` when the descriptor has no object in it).
    pub fn report(&self, id: u8) -> Option<&[u8]> {
        let b = &self.bufs[usize::from(id)];
        (!b.is_empty()).then_some(b.as_slice())
    }

    /// The buffer of report `id`, to write into.
    pub fn report_mut(&mut self, id: u8) -> Option<&mut [u8]> {
        let b = &mut self.bufs[usize::from(id)];
        (!b.is_empty()).then_some(b.as_mut_slice())
    }

    /// Logical value of `field` from its report's buffer.
    pub fn get(&self, field: &Field) -> Option<i64> {
        field.extract(self.report(field.report_id)?)
    }

    /// Writes a logical value into the buffered report (to be sent with SET_REPORT).
    pub fn set(&mut self, field: &Field, logical: i64) -> Result<(), Error> {
        let id = field.report_id;
        match self.report_mut(id) {
            Some(b) => field.insert(b, logical),
            None => Err(Error::ReportTooShort {
                report_id: id,
                needed: field.needed_len(),
                len: 0,
            }),
        }
    }
}
