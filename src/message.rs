//! The message model the engine scans: named text parts plus mail metadata.
//!
//! Plain pasted text is one `body` part; a decoded email adds `subject`,
//! `from` (the display name), `link` (HTML link targets that are not visible
//! text) and `attachment` (file names). Keeping parts separate lets a hit be
//! reported as a byte span of the exact text it was found in.

use serde::Serialize;

/// Which text of a message a part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartKind {
    /// The message body (all of plain input).
    Body,
    /// The decoded Subject header.
    Subject,
    /// The decoded From display name.
    From,
    /// HTML link targets, one per line.
    Link,
    /// Attachment file names, one per line.
    Attachment,
}

impl PartKind {
    /// The name used in JSON (`part`).
    pub fn as_str(self) -> &'static str {
        match self {
            PartKind::Body => "body",
            PartKind::Subject => "subject",
            PartKind::From => "from",
            PartKind::Link => "link",
            PartKind::Attachment => "attachment",
        }
    }
}

/// One text of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Which text this is.
    pub kind: PartKind,
    /// The decoded text, as received.
    pub text: String,
}

/// A message ready for scanning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The texts of the message.
    pub parts: Vec<Part>,
    /// The From address (addr-spec), for sender signals.
    pub from_address: Option<String>,
    /// HTML links whose visible text shows another host than the one they
    /// go to, in document order.
    pub disguised_links: Vec<DisguisedLink>,
}

/// An HTML link whose visible text is an address on one host while the
/// link itself goes to another: `<a href="https://evil.example/">https://www.bank.example/</a>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisguisedLink {
    /// The host the link text shows, lowercased.
    pub shown_host: String,
    /// The link target (`href`) as written, trimmed.
    pub target: String,
}

impl Message {
    /// A message that is just pasted text.
    pub fn plain(text: impl Into<String>) -> Self {
        Message {
            parts: vec![Part {
                kind: PartKind::Body,
                text: text.into(),
            }],
            from_address: None,
            disguised_links: Vec::new(),
        }
    }

    /// The text of the first part of `kind`, if any.
    pub fn part(&self, kind: PartKind) -> Option<&str> {
        self.parts
            .iter()
            .find(|p| p.kind == kind)
            .map(|p| p.text.as_str())
    }

    /// Append a part unless its text is empty.
    pub fn push(&mut self, kind: PartKind, text: impl Into<String>) {
        let text = text.into();
        if !text.is_empty() {
            self.parts.push(Part { kind, text });
        }
    }
}
