#![no_main]
//! MboxReader over arbitrary bytes: no panic, offsets increase and stay in
//! the input, and no message holds more bytes than the input had.

use std::io::{BufReader, Cursor};

use libfuzzer_sys::fuzz_target;
use sagiscan::mail::MboxReader;

fuzz_target!(|data: &[u8]| {
    let cap = 1 + data.first().copied().unwrap_or(0) as usize * 16;
    for (reader_cap, buf) in [(usize::MAX, 8 * 1024), (cap, 7)] {
        let mut total = 0usize;
        let mut last: Option<u64> = None;
        let r = MboxReader::with_max_message_size(
            BufReader::with_capacity(buf, Cursor::new(data)),
            reader_cap,
        );
        for m in r {
            let m = m.expect("in-memory reads do not fail");
            assert!(m.offset as usize <= data.len());
            if let Some(l) = last {
                assert!(m.offset > l, "offsets go backwards");
            }
            last = Some(m.offset);
            assert!(m.bytes.len() <= reader_cap);
            assert!(m.truncated || m.bytes.len() <= data.len());
            total += m.bytes.len();
        }
        assert!(total <= data.len(), "{total} bytes out of {}", data.len());
    }
});
