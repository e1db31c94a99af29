//! Room identity: keys (`group:<name>`, `dm:<a>:<b>`), kinds, and how clients name rooms.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::name::{NameError, RoomName, UserName};

/// A room's key, as it appears on the wire in the `room` field.
///
/// ```
/// use chat_core::RoomKey;
/// let dm: RoomKey = "dm:bob:alice".parse().unwrap();
/// assert_eq!(dm.to_string(), "dm:alice:bob"); // participants are kept sorted
/// assert_eq!("group:Lobby".parse::<RoomKey>().unwrap().to_string(), "group:lobby");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RoomKey {
    /// A group room, public or private.
    Group(RoomName),
    /// A direct-message room between exactly two distinct users, stored sorted (`a < b`).
    Dm(UserName, UserName),
}

/// Why a room key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomKeyError {
    /// Neither `group:` nor `dm:`.
    #[error("room key must start with 'group:' or 'dm:'")]
    UnknownPrefix,
    /// A name inside the key is invalid.
    #[error("invalid name in room key: {0}")]
    Name(#[from] NameError),
    /// `dm:` without exactly two names.
    #[error("a dm key is 'dm:<user>:<user>'")]
    DmShape,
    /// A DM with oneself.
    #[error("a dm needs two different users")]
    DmSelf,
}

impl RoomKey {
    /// The DM room between `a` and `b` (order does not matter).
    pub fn dm(a: UserName, b: UserName) -> Result<RoomKey, RoomKeyError> {
        match a.cmp(&b) {
            std::cmp::Ordering::Less => Ok(RoomKey::Dm(a, b)),
            std::cmp::Ordering::Greater => Ok(RoomKey::Dm(b, a)),
            std::cmp::Ordering::Equal => Err(RoomKeyError::DmSelf),
        }
    }

    /// Whether this is a DM room.
    pub fn is_dm(&self) -> bool {
        matches!(self, RoomKey::Dm(..))
    }

    /// For a DM room that `user` is part of, the other participant.
    pub fn dm_peer(&self, user: &UserName) -> Option<&UserName> {
        match self {
            RoomKey::Dm(a, b) if a == user => Some(b),
            RoomKey::Dm(a, b) if b == user => Some(a),
            _ => None,
        }
    }
}

impl fmt::Display for RoomKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoomKey::Group(name) => write!(f, "group:{name}"),
            RoomKey::Dm(a, b) => write!(f, "dm:{a}:{b}"),
        }
    }
}

impl fmt::Debug for RoomKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl std::str::FromStr for RoomKey {
    type Err = RoomKeyError;
    fn from_str(s: &str) -> Result<RoomKey, RoomKeyError> {
        if let Some(name) = s.strip_prefix("group:") {
            Ok(RoomKey::Group(RoomName::new(name)?))
        } else if let Some(rest) = s.strip_prefix("dm:") {
            let (a, b) = rest.split_once(':').ok_or(RoomKeyError::DmShape)?;
            RoomKey::dm(UserName::new(a)?, UserName::new(b)?)
        } else {
            Err(RoomKeyError::UnknownPrefix)
        }
    }
}

impl Serialize for RoomKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RoomKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What kind of room a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// A group room anyone may join; created on first join.
    Public,
    /// An invite-only group room with an owner.
    Private,
    /// A direct-message room between two users.
    Dm,
}

/// The seed's `room_type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomType {
    /// A group room, named by `room_name`.
    Group,
    /// A DM, named by `target` (the other user).
    Dm,
}

/// How a client names a room in a frame: either the key in `room`, or the seed's
/// `room_type` + `room_name` (group) / `target` (dm).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRef {
    /// The room key (`group:lobby`, `dm:alice:bob`). Takes precedence when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// `group` or `dm` (seed style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_type: Option<RoomType>,
    /// The group's name (seed style, with `room_type: "group"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_name: Option<String>,
    /// The other user of a DM (seed style, with `room_type: "dm"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl RoomRef {
    /// A reference by room key.
    pub fn key(key: &RoomKey) -> RoomRef {
        RoomRef { room: Some(key.to_string()), ..RoomRef::default() }
    }

    /// Resolves the reference for `caller`. A DM key must include the caller.
    pub fn resolve(&self, caller: &UserName) -> Result<RoomKey, RoomKeyError> {
        if let Some(key) = &self.room {
            return key.parse();
        }
        match self.room_type {
            Some(RoomType::Dm) => {
                let target = self.target.as_deref().ok_or(RoomKeyError::DmShape)?;
                RoomKey::dm(caller.clone(), UserName::new(target)?)
            }
            Some(RoomType::Group) | None => {
                let name = self.room_name.as_deref().ok_or(RoomKeyError::UnknownPrefix)?;
                Ok(RoomKey::Group(RoomName::new(name)?))
            }
        }
    }
}
