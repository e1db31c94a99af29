//! Validated names: users and group rooms.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest user or room name, in characters.
pub const MAX_NAME_LEN: usize = 32;

/// Names that would be ambiguous in mentions (`@room`, `@here`) and may not be user names.
pub const RESERVED_USER_NAMES: [&str; 2] = ["room", "here"];

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("name is empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`] characters.
    #[error("name is longer than {MAX_NAME_LEN} characters")]
    TooLong,
    /// The name holds a character outside `a-z 0-9 _ . -`.
    #[error("name may only contain a-z, 0-9, '_', '.' and '-'")]
    InvalidChar,
    /// The name is reserved (`room`, `here`).
    #[error("name '{0}' is reserved")]
    Reserved(String),
    /// A new name does not start and end with a letter or digit.
    #[error("name must start and end with a letter or digit")]
    Edge,
    /// A new name has two punctuation characters (`_ . -`) in a row.
    #[error("name may not have two of '_', '.' and '-' in a row")]
    PunctuationRun,
}

/// A validated name stored inline: no allocation, clones are a 33-byte copy, and comparisons are
/// four big-endian word compares (lexicographic, because names never contain NUL and the tail is
/// zero-padded).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Inline {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
}

impl Inline {
    #[inline]
    fn as_str(&self) -> &str {
        // Only ASCII name bytes are ever stored, so this cannot fail.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }

    #[inline]
    fn word(&self, i: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.bytes[i * 8..i * 8 + 8]);
        u64::from_be_bytes(w)
    }
}

impl Ord for Inline {
    #[inline]
    fn cmp(&self, other: &Inline) -> std::cmp::Ordering {
        for i in 0..MAX_NAME_LEN / 8 {
            match self.word(i).cmp(&other.word(i)) {
                std::cmp::Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        std::cmp::Ordering::Equal
    }
}

impl PartialOrd for Inline {
    #[inline]
    fn partial_cmp(&self, other: &Inline) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Lower-cases `raw` and checks the shared name rules (1–32 chars of `a-z 0-9 _ . -`).
fn normalise(raw: &str) -> Result<Inline, NameError> {
    if raw.is_empty() {
        return Err(NameError::Empty);
    }
    if raw.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    let mut bytes = [0u8; MAX_NAME_LEN];
    for (slot, b) in bytes.iter_mut().zip(raw.bytes()) {
        if !is_name_byte(b) {
            return Err(NameError::InvalidChar);
        }
        *slot = b.to_ascii_lowercase();
    }
    Ok(Inline { bytes, len: raw.len() as u8 })
}

/// Whether `b` may appear in a user or room name (either case; names are stored lower-case).
#[inline]
pub fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// The stricter rules for names created from now on (stored names keep working): start and end
/// with a letter or digit, no two punctuation characters in a row. So `.`, `..`, `-`, `alice.`
/// and `a..b` cannot be new names, and every new name can be `@mentioned` whole.
fn check_new(name: &Inline) -> Result<(), NameError> {
    let bytes = name.as_str().as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else { return Err(NameError::Empty) };
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err(NameError::Edge);
    }
    if bytes.windows(2).any(|w| !w[0].is_ascii_alphanumeric() && !w[1].is_ascii_alphanumeric()) {
        return Err(NameError::PunctuationRun);
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(Inline);

        impl $ty {
            /// The name as a lower-case string.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0.as_str())
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", self.0.as_str())
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.0.as_str()
            }
        }

        impl std::str::FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                $ty::new(s)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.0.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $ty::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// A user name: 1–32 characters of `a-z 0-9 _ . -`, compared case-insensitively and stored
    /// lower-case. `room` and `here` are reserved for mentions.
    ///
    /// ```
    /// use chat_core::UserName;
    /// let alice: UserName = "Alice".parse().unwrap();
    /// assert_eq!(alice.as_str(), "alice");
    /// assert!("al ice".parse::<UserName>().is_err());
    /// assert!("here".parse::<UserName>().is_err());
    /// ```
    UserName
);

name_type!(
    /// A group room's name (the `<name>` in `group:<name>`): same rules as [`UserName`], but
    /// nothing is reserved.
    RoomName
);

impl UserName {
    /// Validates and lower-cases a user name.
    pub fn new(raw: &str) -> Result<UserName, NameError> {
        let name = normalise(raw)?;
        if RESERVED_USER_NAMES.contains(&name.as_str()) {
            return Err(NameError::Reserved(name.as_str().to_owned()));
        }
        Ok(UserName(name))
    }

    /// Validates a name for a *new* user (registration): [`UserName::new`]'s rules, and it must
    /// start and end with a letter or digit and have no two of `_ . -` in a row. Names already
    /// stored keep working through [`UserName::new`].
    ///
    /// ```
    /// use chat_core::UserName;
    /// assert_eq!(UserName::parse_new("Alice.B").unwrap().as_str(), "alice.b");
    /// for bad in [".", "..", "-", "alice.", "alice..b", "_bob"] {
    ///     assert!(UserName::parse_new(bad).is_err(), "{bad}");
    ///     assert!(UserName::new(bad).is_ok(), "stored names keep working");
    /// }
    /// ```
    pub fn parse_new(raw: &str) -> Result<UserName, NameError> {
        let name = UserName::new(raw)?;
        check_new(&name.0)?;
        Ok(name)
    }
}

impl RoomName {
    /// Validates and lower-cases a room name.
    pub fn new(raw: &str) -> Result<RoomName, NameError> {
        normalise(raw).map(RoomName)
    }

    /// Validates a name for a *new* room (create, first join): [`RoomName::new`]'s rules, and
    /// the new-name rules of [`UserName::parse_new`].
    pub fn parse_new(raw: &str) -> Result<RoomName, NameError> {
        let name = RoomName::new(raw)?;
        check_new(&name.0)?;
        Ok(name)
    }
}
