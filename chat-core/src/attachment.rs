//! Attachments: files a message carries. The core never touches the bytes; it carries their
//! metadata ([`Attachment`]) and the content address ([`AttachmentId`], the SHA-256 of the stored
//! bytes). Uploads, storage, access and garbage collection belong to the driver (see
//! `docs/design.md`, "Attachments").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The content address of an attachment: the SHA-256 of its stored bytes, written as 64
/// lower-case hex digits on the wire.
///
/// ```
/// use chat_core::attachment::AttachmentId;
/// let id: AttachmentId = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".parse().unwrap();
/// assert_eq!(id.to_string().len(), 64);
/// assert!("E3B0".parse::<AttachmentId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttachmentId([u8; 32]);

/// A string that is not 64 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an attachment id is 64 lower-case hex digits")]
pub struct InvalidAttachmentId;

impl AttachmentId {
    /// The id of these digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> AttachmentId {
        AttachmentId(bytes)
    }

    /// The digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for AttachmentId {
    type Err = InvalidAttachmentId;

    fn from_str(s: &str) -> Result<AttachmentId, InvalidAttachmentId> {
        let digits = s.as_bytes();
        if digits.len() != 64 {
            return Err(InvalidAttachmentId);
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(InvalidAttachmentId),
        };
        let mut bytes = [0u8; 32];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            bytes[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Ok(AttachmentId(bytes))
    }
}

impl fmt::Display for AttachmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for AttachmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AttachmentId({self})")
    }
}

impl Serialize for AttachmentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AttachmentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AttachmentId, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a message says about one of its attachments: `{id, name, size, content_type, width?,
/// height?}`. The driver fills it from its attachment store when it resolves the ids of a
/// `send_message`; `content_type` was sniffed from the bytes, never taken from the uploader.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Attachment {
    /// The content address.
    pub id: AttachmentId,
    /// The file name the uploader gave (sanitised: no path, no control characters, bounded).
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// The sniffed media type (`image/png`, …, or `application/octet-stream`).
    pub content_type: String,
    /// Pixels across, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Pixels down, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// Why the driver could not resolve the ids of a `send_message`
/// ([`Input::AttachmentsResolved`](crate::Input::AttachmentsResolved)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[non_exhaustive]
pub enum ResolveError {
    /// An id is not a file the sender uploaded (or it is gone): `attachment_not_found`.
    #[error("an attachment is not one you uploaded")]
    NotFound,
    /// The driver stores no attachments, or its store failed: `attachments_unavailable`.
    #[error("attachments are unavailable: {0}")]
    Unavailable(String),
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for AttachmentId {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<AttachmentId> {
        Ok(AttachmentId(u.arbitrary()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_hex_and_json() {
        let id = AttachmentId::from_bytes([0xab; 32]);
        let text = id.to_string();
        assert_eq!(text, "ab".repeat(32));
        assert_eq!(text.parse::<AttachmentId>(), Ok(id));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<AttachmentId>(&json).unwrap(), id);
        assert!("g".repeat(64).parse::<AttachmentId>().is_err());
        assert!("AB".repeat(32).parse::<AttachmentId>().is_err());
        assert!("ab".repeat(31).parse::<AttachmentId>().is_err());
    }
}
