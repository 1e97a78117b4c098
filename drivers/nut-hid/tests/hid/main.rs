//! The integration tests of nut-hid, one module per area: the item decoder and value codec on
//! hand-made descriptors, real APC descriptors against what NUT printed for them, broken
//! descriptors, and property tests.

mod codec;
mod common;
mod fixtures;
mod malformed;
mod props;
