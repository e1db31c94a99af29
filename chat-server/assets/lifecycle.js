// The message lifecycle in the store: edits, deletions and reactions arriving live, and the
// `message_updates` pages a resume sends for held messages that changed while we were away.
// These are reducers of the Store (store.js merges them into its named actions); like every
// reducer they write the state and nothing else.
//
// Rules the server already knows are not copied here: counts move only by `read_state` (a
// deleted unread message, an edit that adds or removes a mention), retracted notifications by
// `notification_update.removed`. What this module does is keep each held message equal to the
// server's current state of it, so a client that was offline ends up showing exactly what one
// that stayed online shows:
// - `message_edited`: new `content`, `mentions`, `edited_at`;
// - `message_deleted`: the tombstone the server keeps (seq, rev, sender, timestamp, reply_to,
//   `deleted: true`, `deleted_at`; no text, mentions, reactions or `edited_at`);
// - `reaction`: the user joins or leaves the emoji's list (lists in order of first reaction,
//   users in order of reacting; an emoji without users goes);
// - `message_updates`: each held message is replaced by the server's copy (by `seq`).

import { endCatchUp, noteChange, noteRev, replace, upToDate } from './room.js';

/** The tombstone of `m`, as the server stores it after a deletion. */
export function tombstone(m, deletedAt) {
  const t = { room: m.room, seq: m.seq, rev: m.rev, timestamp: m.timestamp, sender: m.sender, content: '', mentions: [] };
  if (m.reply_to) t.reply_to = m.reply_to;
  t.deleted = true;
  t.deleted_at = deletedAt;
  return t;
}

/** `reactions` after `username` added or removed `emoji` (a new array; never mutated). */
export function react(reactions, emoji, username, add) {
  const list = (reactions || []).map((r) => ({ emoji: r.emoji, users: r.users.slice() }));
  const i = list.findIndex((r) => r.emoji === emoji);
  if (add) {
    if (i < 0) list.push({ emoji, users: [username] });
    else if (!list[i].users.includes(username)) list[i].users.push(username);
  } else if (i >= 0) {
    list[i].users = list[i].users.filter((u) => u !== username);
    if (!list[i].users.length) list.splice(i, 1);
  }
  return list.length ? list : undefined;
}

function withReactions(m, reactions) {
  const next = { ...m };
  if (reactions) next.reactions = reactions;
  else delete next.reactions;
  return next;
}

export const LIFECYCLE_REDUCERS = {
  /** `message_edited {room, seq, rev, content, mentions, edited_at}`. */
  messageEdited(s, { edit: e }, changed) {
    const r = s.rooms.get(e.room);
    if (!r) return;
    noteRev(r, e.rev);
    const apply = (m) =>
      m.deleted ? m : { ...m, content: e.content, mentions: e.mentions || [], edited_at: e.edited_at, changed_rev: e.rev };
    noteChange(r, e.seq, e.rev, apply);
    const held = replace(r, e.seq, apply);
    if (held) changed('messages', { room: e.room, seq: e.seq });
  },

  /** `message_deleted {room, seq, rev, deleted_at}`. */
  messageDeleted(s, { deletion: d }, changed) {
    const r = s.rooms.get(d.room);
    if (!r) return;
    noteRev(r, d.rev);
    const apply = (m) => (m.deleted ? m : { ...tombstone(m, d.deleted_at), changed_rev: d.rev });
    noteChange(r, d.seq, d.rev, apply);
    if (!replace(r, d.seq, apply)) return;
    // Replies quote nothing of a deleted message (the server empties their previews too).
    for (const seq of r.seqs) {
      const m = r.messages.get(seq);
      if (m.reply_to && m.reply_to.seq === d.seq && m.reply_to.preview) {
        r.messages.set(seq, { ...m, reply_to: { ...m.reply_to, preview: '' } });
      }
    }
    changed('messages', { room: d.room, seq: d.seq });
  },

  /** `reaction {room, seq, rev, emoji, username, add}`. */
  reactionChanged(s, { reaction: x }, changed) {
    const r = s.rooms.get(x.room);
    if (!r) return;
    noteRev(r, x.rev);
    const apply = (m) =>
      m.deleted ? m : { ...withReactions(m, react(m.reactions, x.emoji, x.username, x.add === true)), changed_rev: x.rev };
    noteChange(r, x.seq, x.rev, apply);
    const held = replace(r, x.seq, apply);
    if (held) changed('messages', { room: x.room, seq: x.seq });
  },

  /**
   * `message_updates {room, messages, more}`: the current state of held messages that changed
   * after our `last_rev` (`resume: true`), or the answer to a request that changed nothing.
   * Messages we no longer hold are not inserted (that would open a gap); a copy read before a
   * live change we already applied gets that change again (`upToDate`). The resume's last page
   * (`more: false`) ends the catch-up.
   */
  messageUpdates(s, { updates: u }, changed) {
    const r = s.rooms.get(u.room);
    if (!r) return;
    for (const m of u.messages || []) replace(r, m.seq, () => upToDate(r, m));
    if (u.resume === true && !u.more) endCatchUp(r);
    changed('messages', { room: u.room });
  },

  /**
   * The resume went out: rooms in it catch up (`missed`: messages after our newest are due as
   * `history {resume: true}` pages, so gaps are expected until they are in).
   */
  resumeSent(s, { rooms }) {
    for (const { room, missed } of rooms) {
      const r = s.rooms.get(room);
      if (!r) continue;
      r.catchingUp = true;
      if (missed) r.resuming = true;
    }
  },
};
