//! Reading one input for `check`: a file or stdin.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};

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
