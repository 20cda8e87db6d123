#![no_main]
//! MIME decoding of arbitrary bytes: parse_message and decode_bytes never
//! panic (parse_message's own catch_unwind is not relied upon: a caught
//! panic shows up as its "internal error" message, which we reject).

use libfuzzer_sys::fuzz_target;
use sagiscan::mail::{ParseLimits, parse_message};

fuzz_target!(|data: &[u8]| {
    let limits = ParseLimits {
        max_message_size: 64 * 1024,
        max_depth: 8,
        max_parts: 64,
    };
    let m = parse_message(data, &limits);
    assert!(
        !m.error
            .as_deref()
            .is_some_and(|e| e.contains("internal error")),
        "MIME parser panicked: {:?}",
        m.error
    );
    let d = sagiscan::input::decode_bytes(data, &limits);
    let _ = d.message;
});
