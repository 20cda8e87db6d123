//! Reading one input for `check`: a file or stdin, never more than the size
//! limit in memory.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};

/// Read `path` (`-` is stdin), keeping at most `cap + 1` bytes: one byte
/// more than the limit, so the decoder knows the message was truncated. The
/// rest of stdin is read and discarded (in small pieces) so that the program
/// feeding us does not see a broken pipe.
pub fn read_bytes(path: &Path, cap: usize) -> Result<Vec<u8>> {
    let limit = cap.saturating_add(1) as u64;
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        let mut stdin = std::io::stdin().lock();
        (&mut stdin)
            .take(limit)
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
        std::io::copy(&mut stdin, &mut std::io::sink()).context("cannot read standard input")?;
    } else {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        file.take(limit)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    Ok(bytes)
}
