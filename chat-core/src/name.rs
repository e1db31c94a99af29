//! Validated names: users and group rooms.

use std::fmt;
use std::sync::Arc;

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
}

/// Lower-cases `raw` and checks the shared name rules (1–32 chars of `a-z 0-9 _ . -`).
fn normalise(raw: &str) -> Result<Arc<str>, NameError> {
    if raw.is_empty() {
        return Err(NameError::Empty);
    }
    if raw.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    if !raw.bytes().all(is_name_byte) {
        return Err(NameError::InvalidChar);
    }
    if raw.bytes().any(|b| b.is_ascii_uppercase()) {
        Ok(Arc::from(raw.to_ascii_lowercase()))
    } else {
        Ok(Arc::from(raw))
    }
}

/// Whether `b` may appear in a user or room name (either case; names are stored lower-case).
#[inline]
pub fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(Arc<str>);

        impl $ty {
            /// The name as a lower-case string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", &*self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
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
                s.serialize_str(&self.0)
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
        if RESERVED_USER_NAMES.contains(&&*name) {
            return Err(NameError::Reserved(name.to_string()));
        }
        Ok(UserName(name))
    }
}

impl RoomName {
    /// Validates and lower-cases a room name.
    pub fn new(raw: &str) -> Result<RoomName, NameError> {
        normalise(raw).map(RoomName)
    }
}
