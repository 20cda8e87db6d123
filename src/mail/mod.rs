//! Mail input: mbox, Maildir, `.eml`, MIME and Japanese charsets.
//!
//! Scam mail arrives as real mail: nested MIME, base64, ISO-2022-JP headers,
//! Shift_JIS bodies labelled as Latin-1, phishing links hidden in HTML, and
//! mailboxes of gigabytes. This module turns all of that into plain decoded
//! text ([`MailMessage`]) for the scorer, reads mailboxes without loading
//! them whole ([`MboxReader`], [`collect_sources`]), and edits header blocks
//! byte-exactly for the filter mode ([`add_filter_headers`]).
//!
//! ```no_run
//! use sagiscan::mail::{InputKind, MboxReader, ParseLimits, collect_sources, parse_message};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let limits = ParseLimits::default();
//! for src in collect_sources(&["inbox.mbox".into(), "Maildir".into()])? {
//!     match src.kind {
//!         InputKind::Mbox => {
//!             let file = std::io::BufReader::new(std::fs::File::open(&src.path)?);
//!             for raw in MboxReader::with_max_message_size(file, limits.max_message_size) {
//!                 let raw = raw?; // an I/O error ends this file
//!                 let mut msg = parse_message(&raw.bytes, &limits);
//!                 msg.truncated |= raw.truncated;
//!                 // score msg.subject / msg.body / msg.links; report raw.offset
//!             }
//!         }
//!         InputKind::Eml => {
//!             let msg = parse_message(&std::fs::read(&src.path)?, &limits);
//!         }
//!         _ => { /* Text: looks_like_rfc5322 ? parse_message : decode_unlabelled */ }
//!     }
//! }
//! # Ok(()) }
//! ```

mod charset;
mod fast_path;
mod filter;
mod headers;
mod html;
mod japanese;
mod mbox;
mod message;
mod source;

pub use charset::{
    DecodeError, DecodedText, SNIFF_LIMIT, decode_encoded_words, decode_unlabelled,
    decode_with_label, lookup_label,
};
pub use filter::{FILTER_HEADER_PREFIX, add_filter_headers, strip_filter_headers};
pub use html::{HtmlText, decode_entities, html_to_text};
pub use mbox::{AppendedMessage, MboxReader, RawMessage};
pub use message::{MailMessage, ParseLimits, looks_like_rfc5322, parse_message};
pub use source::{
    Collected, InputKind, Source, SourceError, collect_sources, detect_kind, sniff_kind,
    walk_sources,
};
