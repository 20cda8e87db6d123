//! Reading one input for `check`: a file or stdin, pasted text or an RFC 5322
//! message, in whatever Japanese charset it arrived in.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};

use sagiscan::Message;
use sagiscan::report::Origin;

/// An input decoded into a message, with its origin and any decoding problem.
pub struct DecodedInput {
    /// The message to scan.
    pub message: Message,
    /// Where it came from, for the record.
    pub origin: Origin,
    /// A decoding problem that did not stop scanning.
    pub error: Option<String>,
}

/// Read all of `path` (`-` is stdin).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
    } else {
        bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    }
    Ok(bytes)
}

/// Decode bytes as pasted text (any Japanese charset).
pub fn decode(bytes: &[u8], source: &str) -> Result<DecodedInput> {
    let text = std::str::from_utf8(bytes)
        .with_context(|| format!("{source}: not UTF-8 text"))?
        .trim_start_matches('\u{feff}')
        .to_string();
    Ok(DecodedInput {
        message: Message::plain(text),
        origin: Origin {
            source: source.to_string(),
            ..Origin::default()
        },
        error: None,
    })
}
