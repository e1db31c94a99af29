//! History pages and resume after reconnect: authorised here, read by the driver, cut here.
//!
//! A page is cut so that its encoded frame stays within `Config::max_page_bytes`, by an upper
//! bound of its JSON size ([`message_bound`]; MessagePack is never longer), and holds at least
//! one message. `more` says whether messages remain in the page's direction. A resume continues
//! by itself: after each cut page the core loads the next, until the room's watermark. A resume
//! first sends the current state of the messages the client holds that changed after the last
//! event it saw (`message_updates` pages), then the missed messages (`history {resume: true}`).

use super::{Answer, Caller, Chat, Handled, LoadError, LoadId, PendingLoad, Refusal};
use crate::error::ErrorCode;
use crate::journal::{HistoryQuery, HistoryRange};
use crate::log::Message;
use crate::name::UserName;
use crate::protocol::{DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, ResumePoint, ServerMsg};
use crate::room::{RoomKey, RoomRef};

/// Most rooms one `resume` may name.
const MAX_RESUME_ROOMS: usize = 1_000;

/// What a load's page is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Page {
    /// A `history` request over this range.
    History(HistoryRange),
    /// A resume, continued page by page up to and including `until` (the session's watermark).
    Resume {
        /// The last `seq` the resume resends.
        until: u64,
    },
    /// A resume without `last_rev`: message `last_seq` is read for the `rev` that created it,
    /// then the resume goes on as [`Page::Updates`].
    ResumeFrom {
        /// The last `seq` the client holds.
        last_seq: u64,
        /// The session's watermark (`seq`, `rev`).
        until: (u64, u64),
    },
    /// A resume's `message_updates`: messages up to `through` changed after event `rev`, then
    /// the missed messages up to `until`.
    Updates {
        /// The last event the client saw.
        rev: u64,
        /// The last `seq` the client holds.
        through: u64,
        /// The session's watermark `seq`.
        until: u64,
        /// Whether an earlier page of this resume said `more`.
        continued: bool,
    },
    /// The target of a lifecycle operation ([`super::lifecycle`]).
    Target(u64),
}

impl Chat {
    pub(super) fn history(
        &mut self,
        caller: Caller,
        user: &UserName,
        room: &RoomRef,
        (before, after, around): (Option<u64>, Option<u64>, Option<u64>),
        limit: Option<u32>,
    ) -> Handled {
        let key = self.member_room(user, room)?;
        let limit = limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
        if limit == 0 || limit > MAX_HISTORY_LIMIT {
            return Err(Refusal::new(ErrorCode::InvalidRequest, "limit must be 1-100").room(&key));
        }
        let range = match (before, after, around) {
            (None, None, None) => HistoryRange::Latest,
            (Some(b), None, None) => HistoryRange::Before(b),
            (None, Some(a), None) => HistoryRange::After(a),
            (None, None, Some(seq)) => HistoryRange::Around(seq),
            _ => {
                let message = "give at most one of 'before', 'after' and 'around'";
                return Err(Refusal::new(ErrorCode::InvalidRequest, message).room(&key));
            }
        };
        self.load(caller, user, key, range, limit, Page::History(range));
        Ok(Answer::Pending)
    }

    pub(super) fn resume(&mut self, caller: Caller, user: &UserName, points: &[ResumePoint]) -> Handled {
        let Caller::Session(session) = caller else {
            return Err(Refusal::new(ErrorCode::Unsupported, "resume needs a live session"));
        };
        if points.len() > MAX_RESUME_ROOMS {
            return Err(Refusal::new(ErrorCode::InvalidRequest, "too many rooms in resume"));
        }
        for point in points {
            let room = RoomRef { room: Some(point.room.clone()), ..RoomRef::default() };
            let key = match self.member_room(user, &room) {
                Ok(key) => key,
                Err(refusal) => {
                    self.reply(caller, refusal.into_msg());
                    continue;
                }
            };
            // Messages and events after the watermark were (or will be) delivered live.
            let watermark = self.sessions.get(&session).and_then(|s| s.watermarks.get(&key).copied());
            let Some((seq_mark, rev_mark)) = watermark else { continue };
            let last_seq = point.last_seq.min(seq_mark);
            if seq_mark - last_seq > self.config.resume_limit {
                self.reply(caller, ServerMsg::ResumeReset { room: key, latest_seq: seq_mark });
                continue;
            }
            match point.last_rev {
                // The client holds nothing: only missed messages.
                _ if last_seq == 0 => self.load_resume(caller, user, key, 0, seq_mark),
                Some(rev) => self.resume_updates(caller, user, key, rev, last_seq, (seq_mark, rev_mark)),
                None => {
                    let query = HistoryQuery { room: key.clone(), range: HistoryRange::At(last_seq), limit: 1 };
                    let page = Page::ResumeFrom { last_seq, until: (seq_mark, rev_mark) };
                    let load = self.loads.start(PendingLoad { caller, user: user.clone(), room: key, page });
                    self.outputs.push_back(super::Output::Load { load, query });
                }
            }
        }
        Ok(Answer::Nothing)
    }

    /// Starts a resume's `message_updates` after event `rev` (or `resume_reset` when more
    /// events than `resume_limit` happened since), then its missed messages.
    fn resume_updates(
        &mut self,
        caller: Caller,
        user: &UserName,
        room: RoomKey,
        rev: u64,
        last_seq: u64,
        (seq_mark, rev_mark): (u64, u64),
    ) {
        if rev >= rev_mark {
            if last_seq < seq_mark {
                self.load_resume(caller, user, room, last_seq, seq_mark);
            }
            return;
        }
        if rev_mark - rev > self.config.resume_limit {
            self.reply(caller, ServerMsg::ResumeReset { room, latest_seq: seq_mark });
            return;
        }
        let page = Page::Updates { rev, through: last_seq, until: seq_mark, continued: false };
        self.load_updates(caller, user, room, 0, page);
    }

    /// Loads the next `message_updates` page: changed messages after `after`.
    fn load_updates(&mut self, caller: Caller, user: &UserName, room: RoomKey, after: u64, page: Page) {
        let Page::Updates { rev, through, .. } = page else { return };
        let range = HistoryRange::ChangedSince { rev, after, through };
        self.load(caller, user, room, range, MAX_HISTORY_LIMIT, page);
    }

    /// Loads the next resume page: messages after `after`, up to `until`, at most a history
    /// page's count per load (the byte cut may make the page shorter still).
    fn load_resume(&mut self, caller: Caller, user: &UserName, room: RoomKey, after: u64, until: u64) {
        if after >= until {
            return;
        }
        let limit = until.saturating_sub(after).min(u64::from(MAX_HISTORY_LIMIT)) as u32;
        self.load(caller, user, room, HistoryRange::After(after), limit, Page::Resume { until });
    }

    fn load(&mut self, caller: Caller, user: &UserName, room: RoomKey, range: HistoryRange, limit: u32, page: Page) {
        let query = HistoryQuery { room: room.clone(), range, limit };
        let load = self.loads.start(PendingLoad { caller, user: user.clone(), room, page });
        self.outputs.push_back(super::Output::Load { load, query });
    }

    pub(super) fn loaded(&mut self, load: LoadId, result: Result<Vec<Message>, LoadError>) {
        let Some(pending) = self.loads.finish(load) else { return };
        if let Page::Target(seq) = pending.page {
            return self.target_loaded(pending.room, seq, result);
        }
        if let Caller::Session(session) = pending.caller
            && !self.sessions.contains_key(&session)
        {
            return;
        }
        // Membership may have ended while the page was read.
        if !self.is_member(&pending.user, &pending.room) {
            let refusal = Refusal::new(ErrorCode::NotAMember, "you are not a member of this room").room(&pending.room);
            self.reply(pending.caller, refusal.into_msg());
            return;
        }
        let mut messages = match result {
            Ok(messages) => messages,
            Err(e) => {
                let refusal = Refusal::new(ErrorCode::HistoryUnavailable, e.to_string()).room(&pending.room);
                self.reply(pending.caller, refusal.into_msg());
                return;
            }
        };
        messages.retain(|m| m.room == pending.room);
        let budget = self.config.max_page_bytes.saturating_sub(frame_bound(&pending.room));
        let room = pending.room.clone();
        let (more, next) = match pending.page {
            Page::ResumeFrom { last_seq, until } => {
                let rev = messages.iter().find(|m| m.seq == last_seq).map_or(0, |m| m.rev);
                return self.resume_updates(pending.caller, &pending.user, room, rev, last_seq, until);
            }
            Page::Updates { rev, through, until, continued } => {
                // More may follow when the journal filled the page or the byte budget cut it.
                let returned = messages.len();
                keep_oldest(&mut messages, budget);
                let more = messages.len() < returned || returned >= MAX_HISTORY_LIMIT as usize;
                let last = messages.last().map(|m| m.seq);
                if !messages.is_empty() || continued {
                    let page = ServerMsg::MessageUpdates { room: room.clone(), messages, more, resume: true };
                    self.reply(pending.caller, page);
                }
                match last {
                    Some(after) if more => {
                        let page = Page::Updates { rev, through, until, continued: true };
                        self.load_updates(pending.caller, &pending.user, room, after, page);
                    }
                    _ => self.load_resume(pending.caller, &pending.user, room, through, until),
                }
                return;
            }
            Page::Target(_) => return,
            Page::History(HistoryRange::At(_) | HistoryRange::ChangedSince { .. }) => {
                keep_oldest(&mut messages, budget);
                (false, None)
            }
            Page::History(HistoryRange::After(_)) => {
                keep_oldest(&mut messages, budget);
                let last_seq = self.state.rooms.get(&room).map_or(0, |r| r.last_seq);
                (messages.last().is_some_and(|m| m.seq < last_seq), None)
            }
            Page::History(HistoryRange::Around(seq)) => {
                keep_around(&mut messages, seq, budget);
                (messages.first().is_some_and(|m| m.seq > 1), None)
            }
            // Seqs are gap-free from 1: older messages exist exactly when the first is not 1.
            Page::History(HistoryRange::Latest | HistoryRange::Before(_)) => {
                keep_newest(&mut messages, budget);
                (messages.first().is_some_and(|m| m.seq > 1), None)
            }
            Page::Resume { until } => {
                keep_oldest(&mut messages, budget);
                let last = messages.last().map(|m| m.seq).filter(|&seq| seq < until);
                (last.is_some(), last.map(|after| (after, until)))
            }
        };
        let resume = matches!(pending.page, Page::Resume { .. });
        self.reply(pending.caller, ServerMsg::History { room: room.clone(), messages, resume, more });
        if let Some((after, until)) = next {
            self.load_resume(pending.caller, &pending.user, room, after, until);
        }
    }
}

/// Keeps the longest run of the oldest messages whose bounds fit `budget` (at least one).
fn keep_oldest(messages: &mut Vec<Message>, budget: usize) {
    let n = fitting(messages.iter(), budget);
    messages.truncate(n);
}

/// Keeps the longest run of the newest messages whose bounds fit `budget` (at least one).
fn keep_newest(messages: &mut Vec<Message>, budget: usize) {
    let n = fitting(messages.iter().rev(), budget);
    messages.drain(..messages.len() - n);
}

/// Keeps a run around message `seq` whose bounds fit `budget` (at least one message), dropping
/// from whichever end has more messages on its side of `seq`.
fn keep_around(messages: &mut Vec<Message>, seq: u64, budget: usize) {
    let mut used: usize = messages.iter().map(message_bound).fold(0, usize::saturating_add);
    let (mut lo, mut hi) = (0, messages.len());
    while used > budget && hi - lo > 1 {
        let before = messages[lo..hi].iter().filter(|m| m.seq < seq).count();
        let after = hi - lo - before;
        if before > after {
            used -= message_bound(&messages[lo]);
            lo += 1;
        } else {
            hi -= 1;
            used -= message_bound(&messages[hi]);
        }
    }
    messages.truncate(hi);
    messages.drain(..lo);
}

/// How many of `messages`, taken in order, fit `budget` (at least one, if there is one).
fn fitting<'a>(messages: impl Iterator<Item = &'a Message>, budget: usize) -> usize {
    let mut used = 0usize;
    let mut n = 0;
    for m in messages {
        used = used.saturating_add(message_bound(m));
        if n > 0 && used > budget {
            break;
        }
        n += 1;
    }
    n
}

/// Slack per encoded string and per integer over their JSON size: a MessagePack string header
/// is at most 5 bytes (JSON's quotes are 2), an integer at most 9 bytes.
const FIELD_SLACK: usize = 8;

/// An upper bound of the bytes `m` adds to a `history` frame, in JSON or MessagePack: field
/// names, separators and numbers at their longest, each string at its escaped length (see
/// [`json_str_len`]) plus slack.
pub(crate) fn message_bound(m: &Message) -> usize {
    // `{"room":,"seq":,"rev":,"timestamp":,"sender":,"content":,"mentions":[],"client_id":,
    // "edited_at":,"deleted":false,"deleted_at":,"reply_to":{"seq":,"sender":,"preview":},
    // "reactions":[]}` and a comma.
    const FIELDS: usize = 200;
    const NUMBERS: usize = 6 * (20 + FIELD_SLACK);
    let strings = [m.room.to_string().as_str(), m.sender.as_str(), m.content.as_str()]
        .iter()
        .map(|s| json_str_len(s) + FIELD_SLACK)
        .sum::<usize>();
    let mentions = m.mentions.iter().map(|u| json_str_len(u.as_str()) + FIELD_SLACK + 1).sum::<usize>();
    let client_id = m.client_id.as_deref().map_or(0, |c| json_str_len(c) + FIELD_SLACK);
    let reply =
        m.reply_to.as_ref().map_or(0, |r| json_str_len(r.sender.as_str()) + json_str_len(&r.preview) + 2 * FIELD_SLACK);
    // `{"emoji":,"users":[]},` per emoji, and each user name with its comma.
    let reactions = m
        .reactions
        .iter()
        .map(|g| {
            24 + json_str_len(&g.emoji)
                + FIELD_SLACK
                + g.users.iter().map(|u| json_str_len(u.as_str()) + FIELD_SLACK + 1).sum::<usize>()
        })
        .sum::<usize>();
    FIELDS + NUMBERS + strings + mentions + client_id + reply + reactions
}

/// An upper bound of a `history` frame's bytes without its messages:
/// `{"type":"history","room":…,"messages":[],"resume":false,"more":false}` with slack.
fn frame_bound(room: &RoomKey) -> usize {
    96 + json_str_len(&room.to_string()) + 4 * FIELD_SLACK
}

/// The exact length of `s` as a JSON string without its quotes, as `serde_json` writes it:
/// `"` and `\` and the short escapes (`\n`, `\t`, `\r`, `\b`, `\f`) take 2 bytes, other
/// control characters below U+0020 take 6 (`\u00XX`), every other byte (UTF-8 included) 1.
pub(crate) fn json_str_len(s: &str) -> usize {
    s.len()
        + s.bytes()
            .map(|b| match b {
                b'"' | b'\\' | b'\n' | b'\t' | b'\r' | 0x08 | 0x0c => 1,
                0x00..=0x1f => 5,
                _ => 0,
            })
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "codec")]
    #[test]
    fn json_str_len_is_serde_jsons_length() {
        let samples =
            ["", "plain", "\"quoted\"", "back\\slash", "tab\tnew\nline\r", "\u{0}\u{1f}\u{7f}", "ünïcode ✓ 😀"];
        for s in samples {
            assert_eq!(json_str_len(s) + 2, serde_json::to_string(s).unwrap().len(), "{s:?}");
        }
        let all: String = (0u8..0x80).map(char::from).collect();
        assert_eq!(json_str_len(&all) + 2, serde_json::to_string(&all).unwrap().len());
    }

    #[cfg(feature = "codec")]
    #[test]
    fn message_bound_is_never_under_either_encoding() {
        let m = Message {
            attachments: Vec::new(),
            room: "group:lobby".parse().unwrap(),
            seq: u64::MAX,
            timestamp: crate::Timestamp(u64::MAX),
            sender: "alice".parse().unwrap(),
            content: "\"\\\u{1}".repeat(1_000),
            mentions: vec!["bob".parse().unwrap(), "carol".parse().unwrap()],
            client_id: Some("c".repeat(64)),
            rev: u64::MAX,
            changed_rev: 0,
            edited_at: Some(crate::Timestamp(u64::MAX)),
            deleted: true,
            deleted_at: Some(crate::Timestamp(u64::MAX)),
            reply_to: Some(Box::new(crate::ReplyTo {
                seq: u64::MAX,
                sender: "bob".parse().unwrap(),
                preview: "\"\u{1}".repeat(60),
            })),
            reactions: vec![crate::log::Reactions {
                emoji: "👍🏽".into(),
                users: vec!["bob".parse().unwrap(), "carol".parse().unwrap()],
            }],
        };
        let json = serde_json::to_vec(&m).unwrap().len();
        let msgpack = rmp_serde::to_vec_named(&m).unwrap().len();
        assert!(message_bound(&m) > json, "{} <= {json} (a comma follows each message)", message_bound(&m));
        assert!(message_bound(&m) > msgpack);
        assert!(message_bound(&m) < json + 400, "the bound stays close");
    }
}
