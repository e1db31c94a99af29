//! [`Arbitrary`] for [`ClientMsg`], [`Input`], the ids and names they carry, and operation traces
//! ([`Op`](super::strategy::Op), [`PresenceOp`](super::strategy::PresenceOp)): the `arbitrary`
//! feature (which turns on `testing`), for `cargo fuzz` targets that drive the core.
//!
//! Values come from a small name space most of the time (four users, a few rooms, a few session
//! and request ids, text made of words and mentions of those users) so that fuzzed inputs
//! collide: the same room joined twice, a mention of a member, a frame from a connected session.
//! Now and then a name or a text is anything at all.
//!
//! A fuzz target of your own, in a few lines (`fuzz/fuzz_targets/inputs.rs` is this one):
//!
//! ```
//! use chat_core::Input;
//! use chat_core::testing::sim::Sim;
//!
//! fn fuzz_one(inputs: Vec<Input>) {
//!     let mut sim = Sim::new(); // the driver contract, through Chat::drain / Drain::commit
//!     for input in inputs {
//!         sim.input(input);
//!     }
//!     chat_core::testing::assert_fold_invariants(sim.chat().snapshot());
//! }
//! # use arbitrary::{Arbitrary, Unstructured};
//! # fuzz_one(Vec::<Input>::arbitrary(&mut Unstructured::new(b"some fuzzer bytes here")).unwrap());
//! ```

use arbitrary::{Arbitrary, Result, Unstructured};

use crate::protocol::{DirectoryQuery, ResumePoint};
use crate::{ClientMsg, Input, LoadError, LoadId, RequestId, RoomRef, RoomType, SessionId, UserName};

/// The users fuzzed values name most of the time.
pub const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
/// The room keys fuzzed values name most of the time.
pub const ROOMS: [&str; 6] =
    ["group:lobby", "group:dev", "group:secret", "dm:alice:bob", "dm:bob:carol", "dm:alice:alice"];
const WORDS: [&str; 8] = ["hi", "ok", "ça va", "deploy", "@room", "@here", "`code`", "mail bob@example.com"];

/// Mostly one of `pool`, sometimes any string.
fn pick(u: &mut Unstructured<'_>, pool: &[&str]) -> Result<String> {
    if u.ratio(1, 8)? {
        return String::arbitrary(u);
    }
    Ok(u.choose(pool)?.to_string())
}

impl<'a> Arbitrary<'a> for UserName {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<UserName> {
        let raw = pick(u, &USERS)?;
        Ok(UserName::new(&raw).unwrap_or_else(|_| UserName::new(USERS[raw.len() % USERS.len()]).expect("valid")))
    }
}

impl<'a> Arbitrary<'a> for SessionId {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<SessionId> {
        Ok(SessionId(u.int_in_range(1..=8)?))
    }
}

impl<'a> Arbitrary<'a> for RequestId {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<RequestId> {
        Ok(RequestId(u.int_in_range(1..=8)?))
    }
}

impl<'a> Arbitrary<'a> for LoadId {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<LoadId> {
        Ok(LoadId(u.int_in_range(0..=8)?))
    }
}

impl<'a> Arbitrary<'a> for RoomType {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<RoomType> {
        Ok(if bool::arbitrary(u)? { RoomType::Group } else { RoomType::Dm })
    }
}

impl<'a> Arbitrary<'a> for RoomRef {
    /// Mostly a room by key; sometimes by type and name (or DM target), sometimes any fields.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<RoomRef> {
        let mut room = RoomRef::default();
        match u.int_in_range(0..=9)? {
            0..=6 => room.room = Some(pick(u, &ROOMS)?),
            7 => {
                room.room_type = Some(RoomType::Group);
                room.room_name = Some(pick(u, &["lobby", "dev", "secret"])?);
            }
            8 => {
                room.room_type = Some(RoomType::Dm);
                room.target = Some(pick(u, &USERS)?);
            }
            _ => {
                room.room = Option::arbitrary(u)?;
                room.room_type = Option::arbitrary(u)?;
                room.room_name = Option::arbitrary(u)?;
                room.target = Option::arbitrary(u)?;
            }
        }
        Ok(room)
    }
}

/// Words and mentions of the usual users, or (rarely) any string.
fn text(u: &mut Unstructured<'_>) -> Result<String> {
    if u.ratio(1, 10)? {
        return String::arbitrary(u);
    }
    let mut out = String::new();
    for _ in 0..u.int_in_range(0..=6)? {
        if bool::arbitrary(u)? {
            out.push('@');
            out.push_str(u.choose(&USERS)?);
        } else {
            out.push_str(u.choose(&WORDS)?);
        }
        out.push(*u.choose(&[' ', ' ', ',', '\n', '!'])?);
    }
    Ok(out)
}

fn small(u: &mut Unstructured<'_>) -> Result<Option<u64>> {
    Ok(if bool::arbitrary(u)? { Some(u.int_in_range(0..=12)?) } else { None })
}

fn limit(u: &mut Unstructured<'_>) -> Result<Option<u32>> {
    Ok(match u.int_in_range(0..=3)? {
        0 => None,
        1 => Some(u32::arbitrary(u)?),
        _ => Some(u.int_in_range(0..=10)?),
    })
}

fn directory(u: &mut Unstructured<'_>) -> Result<DirectoryQuery> {
    Ok(DirectoryQuery { prefix: Option::arbitrary(u)?, after: Option::arbitrary(u)?, limit: limit(u)? })
}

impl<'a> Arbitrary<'a> for ClientMsg {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<ClientMsg> {
        // Weighted towards the frames that build state; every variant is reachable.
        let msg = match u.int_in_range(0..=34)? {
            0..=7 => ClientMsg::SendMessage {
                attachments: Vec::new(),
                room: RoomRef::arbitrary(u)?,
                content: text(u)?,
                client_id: if bool::arbitrary(u)? { Some(pick(u, &["c1", "c2", "c3"])?) } else { None },
                reply_to: if u.int_in_range(0..=3)? == 0 { small(u)? } else { None },
            },
            30 | 31 => ClientMsg::EditMessage {
                room: RoomRef::arbitrary(u)?,
                seq: u.int_in_range(0..=12)?,
                content: text(u)?,
                client_id: None,
            },
            32 => ClientMsg::DeleteMessage { room: RoomRef::arbitrary(u)?, seq: u.int_in_range(0..=12)? },
            33 => ClientMsg::React {
                room: RoomRef::arbitrary(u)?,
                seq: u.int_in_range(0..=12)?,
                emoji: pick(u, &["👍", "🎉", "x", "👍👍", "❤️"])?,
                add: bool::arbitrary(u)?,
            },
            8..=11 => ClientMsg::JoinRoom { room: RoomRef::arbitrary(u)? },
            12..=14 => ClientMsg::MarkRead { room: RoomRef::arbitrary(u)?, seq: small(u)? },
            15 => ClientMsg::LeaveRoom { room: RoomRef::arbitrary(u)? },
            16 => {
                ClientMsg::CreateRoom { room_name: pick(u, &["lobby", "dev", "secret"])?, private: bool::arbitrary(u)? }
            }
            17 => ClientMsg::Invite { room: RoomRef::arbitrary(u)?, username: pick(u, &USERS)? },
            18 => ClientMsg::AcceptInvite { room: RoomRef::arbitrary(u)? },
            19 => ClientMsg::DeclineInvite { room: RoomRef::arbitrary(u)? },
            20 => ClientMsg::Remove { room: RoomRef::arbitrary(u)?, username: pick(u, &USERS)? },
            21 => ClientMsg::Typing { room: RoomRef::arbitrary(u)?, active: bool::arbitrary(u)? },
            22 => ClientMsg::History {
                room: RoomRef::arbitrary(u)?,
                before: small(u)?,
                after: small(u)?,
                limit: limit(u)?,
                around: small(u)?,
            },
            23 => {
                let rooms = (0..u.int_in_range(0..=3)?)
                    .map(|_| {
                        let (room, last_seq) = (pick(u, &ROOMS)?, u.int_in_range(0..=12)?);
                        Ok(ResumePoint { room, last_seq, last_rev: small(u)? })
                    })
                    .collect::<Result<_>>()?;
                ClientMsg::Resume { rooms }
            }
            24 => ClientMsg::Notifications { limit: limit(u)? },
            25 => ClientMsg::MarkNotificationsRead {
                ids: if bool::arbitrary(u)? {
                    Some((0..u.int_in_range(0..=4)?).map(|_| u.int_in_range(0..=12)).collect::<Result<_>>()?)
                } else {
                    None
                },
            },
            26 => ClientMsg::ListRooms(directory(u)?),
            27 => ClientMsg::ListUsers(directory(u)?),
            28 => ClientMsg::RoomUsers { room: RoomRef::arbitrary(u)? },
            34 => ClientMsg::Search(crate::SearchFrame {
                query: pick(u, &["deploy", "", "@bob", "\"a b\"", "from:ann x"])?,
                room: if bool::arbitrary(u)? { Some(pick(u, &ROOMS)?) } else { None },
                limit: limit(u)?,
                ..crate::SearchFrame::default()
            }),
            _ => ClientMsg::MyRooms { after: Option::arbitrary(u)?, limit: limit(u)? },
        };
        Ok(msg)
    }
}

/// Every variant, so that a new one fails to compile here until it is generated above.
#[allow(dead_code)]
fn covers(msg: &ClientMsg) {
    match msg {
        ClientMsg::JoinRoom { .. }
        | ClientMsg::LeaveRoom { .. }
        | ClientMsg::CreateRoom { .. }
        | ClientMsg::Invite { .. }
        | ClientMsg::AcceptInvite { .. }
        | ClientMsg::DeclineInvite { .. }
        | ClientMsg::Remove { .. }
        | ClientMsg::SendMessage { .. }
        | ClientMsg::MarkRead { .. }
        | ClientMsg::Typing { .. }
        | ClientMsg::History { .. }
        | ClientMsg::Resume { .. }
        | ClientMsg::Notifications { .. }
        | ClientMsg::MarkNotificationsRead { .. }
        | ClientMsg::ListRooms(_)
        | ClientMsg::ListUsers(_)
        | ClientMsg::RoomUsers { .. }
        | ClientMsg::MyRooms { .. }
        | ClientMsg::EditMessage { .. }
        | ClientMsg::DeleteMessage { .. }
        | ClientMsg::React { .. }
        | ClientMsg::Search(_) => {}
    }
}

/// Every variant, as [`covers`] does for frames.
#[allow(dead_code)]
fn covers_input(input: &Input) {
    match input {
        Input::Connect { .. }
        | Input::Disconnect { .. }
        | Input::Receive { .. }
        | Input::Request { .. }
        | Input::AdminRequest { .. }
        | Input::Loaded { .. }
        | Input::Searched { .. }
        | Input::AttachmentsResolved { .. }
        | Input::AddUser { .. }
        | Input::Tick => {}
    }
}

impl<'a> Arbitrary<'a> for Input {
    /// Mostly frames of sessions, connects and disconnects; sometimes REST requests, new users,
    /// answers to (possibly unknown) loads and ticks.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Input> {
        let input = match u.int_in_range(0..=21)? {
            0..=9 => Input::Receive { session: SessionId::arbitrary(u)?, msg: ClientMsg::arbitrary(u)? },
            10..=12 => Input::Connect { session: SessionId::arbitrary(u)?, user: UserName::arbitrary(u)? },
            13 => Input::Disconnect { session: SessionId::arbitrary(u)? },
            14..=15 => Input::Request {
                request: RequestId::arbitrary(u)?,
                user: UserName::arbitrary(u)?,
                msg: ClientMsg::arbitrary(u)?,
            },
            16 => Input::AddUser { user: UserName::arbitrary(u)? },
            20 => Input::AdminRequest {
                request: RequestId::arbitrary(u)?,
                user: UserName::arbitrary(u)?,
                msg: ClientMsg::arbitrary(u)?,
            },
            17 => Input::Loaded {
                load: LoadId::arbitrary(u)?,
                result: match u.int_in_range(0..=2)? {
                    0 => Ok(Vec::new()),
                    1 => Err(LoadError::Busy),
                    _ => Err(LoadError::Stopped),
                },
            },
            // An answer from an index that ignores the rooms it was given: the core must drop
            // every hit outside the caller's membership.
            21 => Input::Searched {
                load: LoadId::arbitrary(u)?,
                result: if bool::arbitrary(u)? {
                    let items = (0..u.int_in_range(0..=3)?)
                        .map(|_| {
                            Ok(crate::SearchItem {
                                room: pick(u, &ROOMS)?.parse().map_err(|_| arbitrary::Error::IncorrectFormat)?,
                                seq: u.int_in_range(1..=12)?,
                                sender: UserName::arbitrary(u)?,
                                timestamp: crate::Timestamp(0),
                                snippet: "x".into(),
                                highlights: Vec::new(),
                                cut_before: false,
                                cut_after: false,
                            })
                        })
                        .collect::<Result<_>>()?;
                    Ok(crate::SearchResults { items, next: None, stale: false })
                } else {
                    Err(crate::SearchFailure::Unavailable)
                },
            },
            _ => Input::Tick,
        };
        Ok(input)
    }
}
