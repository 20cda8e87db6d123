//! Mail input: mbox, Maildir, .eml, MIME and Japanese charsets (placeholder; being written).
