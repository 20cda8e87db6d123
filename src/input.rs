//! From raw bytes to a [`Message`]: the one place that decides whether input
//! is an RFC 5322 message or pasted text, and in which charset.
//!
//! `check`, `scan`, `filter`, `lint` (rule examples may be whole emails) and
//! `test` (corpus files are `.txt` or `.eml`) all go through here, so the same
//! bytes get the same verdict whichever command reads them.

use crate::mail::{self, MailMessage, ParseLimits};
use crate::message::{Message, PartKind};
use crate::report::Origin;

/// Size limits for one input.
pub type Limits = ParseLimits;

/// An input decoded into a message, with its metadata and any decoding problem.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// The message to scan.
    pub message: Message,
    /// Message-ID, From, Subject (mail only).
    pub message_id: Option<String>,
    /// Decoded From header.
    pub from: Option<String>,
    /// Decoded Subject.
    pub subject: Option<String>,
    /// A decoding problem that did not stop scanning.
    pub error: Option<String>,
    /// Only the first `max_message_size` bytes were used.
    pub truncated: bool,
}

impl Decoded {
    /// Fill the mail fields of `origin` from this input.
    pub fn fill_origin(&self, origin: &mut Origin) {
        origin.message_id.clone_from(&self.message_id);
        origin.from.clone_from(&self.from);
        origin.subject.clone_from(&self.subject);
    }
}

/// Turn a decoded mail message into the scanned message model.
pub fn message_from_mail(m: &MailMessage) -> Message {
    let mut msg = Message::default();
    if let Some(s) = &m.subject {
        msg.push(PartKind::Subject, s.clone());
    }
    msg.push(PartKind::Body, m.body.clone());
    if let Some(n) = &m.from_name {
        msg.push(PartKind::From, n.clone());
    }
    if !m.links.is_empty() {
        msg.push(PartKind::Link, m.links.join("\n"));
    }
    if !m.attachments.is_empty() {
        msg.push(PartKind::Attachment, m.attachments.join("\n"));
    }
    msg.from_address.clone_from(&m.from_address);
    msg.disguised_links.clone_from(&m.disguised_links);
    msg
}

impl Decoded {
    /// The decoded form of a parsed mail message, taking its strings
    /// instead of copying them (the body is the largest allocation of a
    /// message; [`message_from_mail`] copies it). Same result as
    /// [`message_from_mail`] plus the metadata fields.
    pub fn from_mail(m: MailMessage) -> Decoded {
        let MailMessage {
            message_id,
            from,
            from_name,
            from_address,
            subject,
            body,
            links,
            disguised_links,
            attachments,
            error,
            truncated,
            ..
        } = m;
        let mut message = Message::default();
        if let Some(s) = &subject {
            message.push(PartKind::Subject, s.clone());
        }
        message.push(PartKind::Body, body);
        if let Some(n) = from_name {
            message.push(PartKind::From, n);
        }
        if !links.is_empty() {
            message.push(PartKind::Link, links.join("\n"));
        }
        if !attachments.is_empty() {
            message.push(PartKind::Attachment, attachments.join("\n"));
        }
        message.from_address = from_address;
        message.disguised_links = disguised_links;
        Decoded {
            message,
            message_id,
            from,
            subject,
            error,
            truncated,
        }
    }
}

/// Decode `bytes`: an RFC 5322 message when it looks like one, else text in
/// any Japanese charset (UTF-8, ISO-2022-JP, Shift_JIS, EUC-JP). Never fails:
/// undecodable text is scored as lossy UTF-8 with `error` set.
pub fn decode_bytes(bytes: &[u8], limits: &Limits) -> Decoded {
    if mail::looks_like_rfc5322(bytes) {
        return Decoded::from_mail(mail::parse_message(bytes, limits));
    }
    let truncated = bytes.len() > limits.max_message_size;
    let bytes = if truncated {
        &bytes[..limits.max_message_size]
    } else {
        bytes
    };
    let (text, error) = match mail::decode_unlabelled(bytes) {
        Ok(d) => (d.text, None),
        Err(e) => (
            String::from_utf8_lossy(bytes).into_owned(),
            Some(e.to_string()),
        ),
    };
    let text = normalize_newlines(text);
    Decoded {
        message: Message::plain(text),
        error,
        truncated,
        ..Decoded::default()
    }
}

fn normalize_newlines(text: String) -> String {
    if text.contains('\r') {
        text.replace("\r\n", "\n")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Decoded::from_mail` moves the strings out of the parsed mail; it must
    /// build the same message as the copying `message_from_mail`.
    #[test]
    fn from_mail_builds_the_same_message_as_message_from_mail() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "eml") {
                continue;
            }
            let m = mail::parse_message(&std::fs::read(&path).unwrap(), &Limits::default());
            let copied = message_from_mail(&m);
            let d = Decoded::from_mail(m.clone());
            assert_eq!(d.message, copied, "{}", path.display());
            assert_eq!(d.message_id, m.message_id);
            assert_eq!(d.from, m.from);
            assert_eq!(d.subject, m.subject);
            assert_eq!(d.error, m.error);
            assert_eq!(d.truncated, m.truncated);
            n += 1;
        }
        assert!(n >= 10);
    }
}
