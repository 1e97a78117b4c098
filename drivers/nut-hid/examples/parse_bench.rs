//! Parses the BK650M2-CH descriptor N times (default 10000) and decodes every object from a
//! report buffer each time; prints nothing, so the whole process can be timed:
//! `cargo build --release -p nut-hid --example parse_bench && time target/release/examples/parse_bench 10000`

use std::hint::black_box;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let bytes: Vec<u8> = include_str!("../tests/data/back-ups-bk650m2-ch.descriptor.hex")
        .split_whitespace()
        .filter_map(|t| u8::from_str_radix(t, 16).ok())
        .collect();
    let mut sum = 0.0f64;
    for i in 0..n {
        let Ok(desc) = nut_hid::parse(black_box(&bytes)) else {
            std::process::exit(1);
        };
        let mut buf = nut_hid::ReportBuffer::new(&desc);
        for id in desc.report_ids() {
            buf.fill(id, &[id, i as u8, (i >> 8) as u8, 0x01]);
        }
        for f in &desc.fields {
            if let Some(v) = buf.get(f) {
                sum += f.to_value(v);
            }
        }
    }
    black_box(sum);
}
