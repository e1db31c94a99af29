//! The inverse of the decoder ([`Scenario::encode`]), for hand-written seeds.

use super::{
    Frag, MAX_ATTACHMENTS, MAX_FRAGS, MAX_RAW, MAX_SEARCH_WORDS, MSGS_V1, MSGS_V2, Msg, MsgKind, OPS_V1, OPS_V2, Op,
    OpKind, ROOM_TAGS, RoomSel, Scenario, tag_of,
};

impl Scenario {
    /// The bytes that decode to this scenario (values are kept as written; the decoder reduces
    /// counts modulo their bounds). Panics on an operation the scenario's format lacks.
    pub fn encode(&self) -> Vec<u8> {
        let t = self.tweaks;
        let mut out = vec![
            u8::from(t.small_rooms)
                | u8::from(t.short_resume) << 1
                | u8::from(t.short_messages) << 2
                | u8::from(t.strict_rate) << 3
                | u8::from(t.lifecycle) << 4
                | u8::from(t.edit_window) << 5,
        ];
        let mut w = Writer { out: &mut out, v2: t.lifecycle };
        for op in &self.ops {
            w.op(op);
        }
        out
    }
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    v2: bool,
}

impl Writer<'_> {
    fn op_tag(&mut self, kind: OpKind) {
        let table: &[(u8, OpKind)] = if self.v2 { &OPS_V2 } else { &OPS_V1 };
        self.out.push(tag_of(table, kind));
    }

    fn msg_tag(&mut self, kind: MsgKind) {
        let table: &[(u8, MsgKind)] = if self.v2 { &MSGS_V2 } else { &MSGS_V1 };
        self.out.push(tag_of(table, kind));
    }

    fn opt(&mut self, v: Option<u8>) {
        match v {
            Some(v) => self.out.extend([1, v]),
            None => self.out.push(0),
        }
    }

    fn raw(&mut self, raw: &[u8]) {
        let raw = &raw[..raw.len().min(MAX_RAW)];
        self.out.push(raw.len() as u8);
        self.out.extend_from_slice(raw);
    }

    fn text(&mut self, text: &[Frag]) {
        let text = &text[..text.len().min(MAX_FRAGS)];
        self.out.push(text.len() as u8);
        text.iter().for_each(|f| self.frag(f));
    }

    fn op(&mut self, op: &Op) {
        match op {
            Op::Frame { slot, msg } => {
                self.op_tag(OpKind::Frame);
                self.out.push(*slot);
                self.msg(msg);
            }
            Op::Connect { slot, user } => {
                self.op_tag(OpKind::Connect);
                self.out.extend([*slot, *user]);
            }
            Op::Disconnect { slot } => {
                self.op_tag(OpKind::Disconnect);
                self.out.push(*slot);
            }
            Op::Request { user, msg } | Op::AdminRequest { user, msg } => {
                self.op_tag(if matches!(op, Op::Request { .. }) { OpKind::Request } else { OpKind::AdminRequest });
                self.out.push(*user);
                self.msg(msg);
            }
            Op::AnswerLoads { fail } => {
                self.op_tag(OpKind::AnswerLoads);
                self.out.push(u8::from(*fail));
            }
            Op::AnswerResolves { mode } | Op::AnswerSearches { mode } => {
                let kind = match op {
                    Op::AnswerResolves { .. } => OpKind::AnswerResolves,
                    _ => OpKind::AnswerSearches,
                };
                self.op_tag(kind);
                self.out.push(*mode);
            }
            Op::Advance { ms } | Op::Rewind { ms } => {
                self.op_tag(if matches!(op, Op::Advance { .. }) { OpKind::Advance } else { OpKind::Rewind });
                self.out.extend([*ms as u8, (*ms >> 8) as u8]);
            }
            Op::AddUser { user } => {
                self.op_tag(OpKind::AddUser);
                self.out.push(*user);
            }
            Op::FailNextCommit => self.op_tag(OpKind::FailNextCommit),
            Op::Restore => self.op_tag(OpKind::Restore),
        }
    }

    fn msg(&mut self, msg: &Msg) {
        match msg {
            Msg::Send { room, text, client_id, reply_to, attachments } => {
                self.msg_tag(MsgKind::Send);
                self.room(room);
                self.text(text);
                self.opt(*client_id);
                if self.v2 {
                    self.opt(*reply_to);
                    let n = attachments.len().min(MAX_ATTACHMENTS);
                    self.out.push([0, 160, 224, 248, 249][n]);
                    self.out.extend_from_slice(&attachments[..n]);
                } else {
                    assert!(
                        reply_to.is_none() && attachments.is_empty(),
                        "replies and attachments need the lifecycle format"
                    );
                }
            }
            Msg::Join(room) => {
                self.msg_tag(MsgKind::Join);
                self.room(room);
            }
            Msg::MarkRead { room, seq } => {
                self.msg_tag(MsgKind::MarkRead);
                self.room(room);
                self.opt(*seq);
            }
            Msg::History { room, before, after, limit } => {
                self.msg_tag(MsgKind::History);
                self.room(room);
                [*before, *after, *limit].into_iter().for_each(|v| self.opt(v));
            }
            Msg::Typing { room, active } => {
                self.msg_tag(MsgKind::Typing);
                self.room(room);
                self.out.push(u8::from(*active));
            }
            Msg::Leave(room) => {
                self.msg_tag(MsgKind::Leave);
                self.room(room);
            }
            Msg::Create { name, private } => {
                self.msg_tag(MsgKind::Create);
                self.out.extend([*name, u8::from(*private)]);
            }
            Msg::Invite { room, user } | Msg::Remove { room, user } => {
                self.msg_tag(if matches!(msg, Msg::Invite { .. }) { MsgKind::Invite } else { MsgKind::Remove });
                self.room(room);
                self.out.push(*user);
            }
            Msg::Resume { room, last_seq, last_rev } => {
                self.msg_tag(MsgKind::Resume);
                self.room(room);
                self.out.push(*last_seq);
                if self.v2 {
                    self.opt(*last_rev);
                } else {
                    assert!(last_rev.is_none(), "last_rev needs the lifecycle format");
                }
            }
            Msg::Notifications { limit } => {
                self.msg_tag(MsgKind::Notifications);
                self.opt(*limit);
            }
            Msg::MarkNotificationsRead { ids } => {
                self.msg_tag(MsgKind::MarkNotificationsRead);
                match ids {
                    Some(ids) => {
                        let ids = &ids[..ids.len().min(8)];
                        self.out.extend([1, ids.len() as u8]);
                        self.out.extend_from_slice(ids);
                    }
                    None => self.out.push(0),
                }
            }
            Msg::ListRooms => self.msg_tag(MsgKind::ListRooms),
            Msg::ListUsers => self.msg_tag(MsgKind::ListUsers),
            Msg::Edit { room, seq, text, client_id } => {
                self.msg_tag(MsgKind::Edit);
                self.room(room);
                self.out.push(*seq);
                self.text(text);
                self.opt(*client_id);
            }
            Msg::Delete { room, seq } => {
                self.msg_tag(MsgKind::Delete);
                self.room(room);
                self.out.push(*seq);
            }
            Msg::React { room, seq, emoji, add } => {
                self.msg_tag(MsgKind::React);
                self.room(room);
                self.out.extend([*seq, *emoji, u8::from(*add)]);
            }
            Msg::Search { room, words, from, limit } => {
                self.msg_tag(MsgKind::Search);
                match room {
                    Some(room) => {
                        self.out.push(1);
                        self.room(room);
                    }
                    None => self.out.push(0),
                }
                let words = &words[..words.len().min(MAX_SEARCH_WORDS)];
                self.out.push(words.len() as u8);
                self.out.extend_from_slice(words);
                self.opt(*from);
                self.opt(*limit);
            }
            Msg::Accept(room) | Msg::Decline(room) => {
                self.msg_tag(if matches!(msg, Msg::Accept(_)) { MsgKind::Accept } else { MsgKind::Decline });
                self.room(room);
            }
        }
    }

    fn room(&mut self, room: &RoomSel) {
        match room {
            RoomSel::Group(g) => self.out.extend([ROOM_TAGS[0], *g]),
            RoomSel::SeedGroup(g) => self.out.extend([ROOM_TAGS[1], *g]),
            RoomSel::Dm(u) => self.out.extend([ROOM_TAGS[2], *u]),
            RoomSel::SeedDm(u) => self.out.extend([ROOM_TAGS[3], *u]),
            RoomSel::DmKey(a, b) => self.out.extend([ROOM_TAGS[4], *a, *b]),
            RoomSel::Raw(raw) => {
                self.out.push(ROOM_TAGS[5]);
                self.raw(raw);
            }
        }
    }

    fn frag(&mut self, frag: &Frag) {
        match frag {
            Frag::Word(w) => self.out.extend([0, *w]),
            Frag::Mention { user, upper } => self.out.extend([1, *user, u8::from(*upper)]),
            Frag::AtRoom => self.out.push(2),
            Frag::AtHere => self.out.push(3),
            Frag::Code(n) => self.out.extend([4, *n]),
            Frag::Email(u) => self.out.extend([5, *u]),
            Frag::Punct(p) => self.out.extend([6, *p]),
            Frag::Space => self.out.push(7),
            Frag::Newline => self.out.push(8),
            Frag::Raw(raw) => {
                self.out.push(9);
                self.raw(raw);
            }
        }
    }
}
