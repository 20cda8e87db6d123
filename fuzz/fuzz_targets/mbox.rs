#![no_main]
//! MboxReader over arbitrary bytes: no panic, offsets increase and stay in
//! the input, and no message holds more bytes than the input had; the
//! batch interface `next_into` (what `sagiscan scan` uses, appending into a
//! shared buffer) gives exactly the iterator's messages.

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

        let expected: Vec<_> = MboxReader::with_max_message_size(
            BufReader::with_capacity(buf, Cursor::new(data)),
            reader_cap,
        )
        .map(|m| m.expect("in-memory reads do not fail"))
        .collect();
        let mut reader = MboxReader::with_max_message_size(
            BufReader::with_capacity(buf, Cursor::new(data)),
            reader_cap,
        );
        // A shared buffer that already holds bytes, as in a batch.
        let mut shared = b"earlier message".to_vec();
        let mut got = 0;
        while let Some(m) = reader.next_into(&mut shared) {
            let m = m.expect("in-memory reads do not fail");
            let want = &expected[got];
            assert_eq!(m.offset, want.offset);
            assert_eq!(&shared[m.bytes.clone()], &want.bytes[..]);
            assert_eq!((m.truncated, m.preamble), (want.truncated, want.preamble));
            got += 1;
        }
        assert_eq!(got, expected.len());
    }
});
