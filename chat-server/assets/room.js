// One room as this user sees it, the room key helpers, and the writes the reducers make to a
// room (store.js and lifecycle.js only; views and client.js read rooms, never write them).
//
// Invariants (see store.js): per room, messages are keyed by their gap-free `seq` and stored
// once; `seqs` is sorted ascending; at most MAX_MESSAGES_PER_ROOM messages are held. A held
// message object is never mutated: a change (an edit, a deletion, a reaction) stores a new
// object under the same seq, so views can tell a changed message by identity.

export const MAX_MESSAGES_PER_ROOM = 2000;
/** Live changes a room remembers to bring an older copy of a message up to date. */
export const MAX_RECENT_CHANGES = 500;

/** Room key helpers. */
export function dmKey(a, b) {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()].sort();
  return `dm:${x}:${y}`;
}

/** The other participant of a DM key, or null. */
export function dmPeer(key, me) {
  if (!key.startsWith('dm:')) return null;
  const [, a, b] = key.split(':');
  return a === me ? b : a;
}

/** How a room is shown: `#lobby` or `@bob`. */
export function roomLabel(key, me) {
  const peer = dmPeer(key, me);
  if (peer !== null) return `@${peer}`;
  return `#${key.replace(/^group:/, '')}`;
}

/** One room as this user sees it. Read it anywhere; only the store's reducers write it. */
export class Room {
  constructor(key) {
    this.key = key;
    this.kind = key.startsWith('dm:') ? 'dm' : 'public';
    this.owner = null;
    this.lastSeq = 0;
    this.lastTimestamp = 0;
    this.readSeq = 0;
    this.unread = 0;
    this.highlight = 0;
    /** What the server says this user may do here (RoomSummary `can_*`). */
    this.canInvite = false;
    this.canLeave = false;
    this.canRemove = false;
    /** Whether this user may delete other members' messages here (the owner of a private room). */
    this.canDelete = false;
    /** username -> online: the members, kept current by `member_joined`/`member_left`/`presence` */
    this.users = new Map();
    /** Whether `users` is the server's list since the last connect (else `room_users` is due). */
    this.membersLoaded = false;
    this.membersRequested = false;
    /** seq -> message */
    this.messages = new Map();
    /** sorted ascending */
    this.seqs = [];
    /** username -> read cursor seq (from live read receipts) */
    this.receipts = new Map();
    /** username -> expiry (ms, client clock) */
    this.typing = new Map();
    this.loadingOlder = false;
    this.loadedLatest = false;
    /** The last older (or latest) page said `more: true`: the server has more before it. */
    this.olderMore = false;
    /** A resume (or reset reload) is outstanding: gaps are expected until it answers. */
    this.resuming = false;
    /** Seq after which a gap-filling `history` is outstanding (0 = none). */
    this.fillingAfter = 0;
    /** The newest seq a `mark_read` was sent for (the server answers with `read_state`). */
    this.readSent = 0;
    /**
     * The room event (`rev`) up to which every held message is known to be current: sent as
     * `last_rev` in `resume`. Only ever too low (a resume then replays more than needed).
     */
    this.lastRev = 0;
    /**
     * A resume is catching held messages up (`message_updates`): until it ends, revs seen live
     * are kept in `revSeen` and `lastRev` stays put, so a drop mid-resume loses nothing.
     */
    this.catchingUp = false;
    this.revSeen = 0;
    /**
     * The latest live changes `{seq, rev, apply}`, oldest first. A page (history,
     * `message_updates`) may have been read before one of them and arrive after it: its copy
     * of the message gets the changes newer than its `changed_rev` applied again
     * (docs/protocol.md, "Pages and live events").
     */
    this.recentChanges = [];
  }

  /** The newest held message sent by `user` that is not deleted, or null. */
  lastMessageOf(user) {
    for (let i = this.seqs.length - 1; i >= 0; i--) {
      const m = this.messages.get(this.seqs[i]);
      if (m.sender === user && !m.deleted) return m;
    }
    return null;
  }

  get oldestSeq() {
    return this.seqs.length ? this.seqs[0] : 0;
  }

  get newestSeq() {
    return this.seqs.length ? this.seqs[this.seqs.length - 1] : 0;
  }

  /** Whether older messages exist on the server than the oldest held. */
  get hasOlder() {
    return this.seqs.length ? this.seqs[0] > 1 : this.lastSeq > 0;
  }

  /** The first missing seq between the oldest and newest held, or 0 when contiguous. */
  firstGap() {
    const seqs = this.seqs;
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] !== seqs[i - 1] + 1) return seqs[i - 1] + 1;
    }
    return 0;
  }

  /** Members other than `me`, online first, then by name. */
  members(me) {
    return [...this.users.entries()]
      .filter(([name]) => name !== me)
      .sort((a, b) => (a[1] === b[1] ? a[0].localeCompare(b[0]) : a[1] ? -1 : 1));
  }

  /** Users typing at `now` (entries past their expiry are left out). */
  typers(now) {
    return [...this.typing.entries()]
      .filter(([, until]) => until > now)
      .map(([user]) => user)
      .sort();
  }
}

// ---- room writes (reducers only) --------------------------------------------------------------

export function applySummary(r, s) {
  r.kind = s.kind;
  r.owner = s.owner || null;
  r.lastSeq = Math.max(r.lastSeq, s.last_seq);
  r.lastTimestamp = Math.max(r.lastTimestamp, s.last_timestamp);
  r.readSeq = s.read_seq;
  r.unread = s.unread;
  r.highlight = s.highlight;
  r.canInvite = s.can_invite === true;
  r.canLeave = s.can_leave === true;
  r.canRemove = s.can_remove === true;
  r.canDelete = s.can_delete === true;
}

/** A full member list (`room_joined`, `room_users_update`) with the members' read cursors. */
export function setMembers(st, r, users, receipts) {
  r.users = new Map(users.map((u) => [u.username, u.online]));
  for (const u of users) st.presence.set(u.username, u.online);
  r.membersLoaded = true;
  r.membersRequested = false;
  for (const rr of receipts || []) r.receipts.set(rr.username, Math.max(r.receipts.get(rr.username) || 0, rr.seq));
}

/** One user's presence changed: every room and list that shows them follows. */
export function setPresence(st, username, online) {
  st.presence.set(username, online);
  for (const r of st.rooms.values()) if (r.users.has(username)) r.users.set(username, online);
  if (st.people.has(username)) st.people.set(username, online);
}

/** Stores a message unless its seq is already held. Returns true when it was new. */
export function insert(r, msg) {
  if (r.messages.has(msg.seq)) return false;
  r.messages.set(msg.seq, msg);
  const seqs = r.seqs;
  if (!seqs.length || msg.seq > seqs[seqs.length - 1]) {
    seqs.push(msg.seq);
  } else {
    let lo = 0;
    let hi = seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (seqs[mid] < msg.seq) lo = mid + 1;
      else hi = mid;
    }
    seqs.splice(lo, 0, msg.seq);
  }
  if (msg.seq > r.lastSeq) {
    r.lastSeq = msg.seq;
    r.lastTimestamp = msg.timestamp;
  }
  while (seqs.length > MAX_MESSAGES_PER_ROOM) {
    r.messages.delete(seqs.shift());
  }
  return true;
}

/** Drops every held message with seq <= `upTo` (after a resume reset). */
export function dropThrough(r, upTo) {
  r.seqs = r.seqs.filter((s) => {
    if (s <= upTo) {
      r.messages.delete(s);
      return false;
    }
    return true;
  });
}

/**
 * A room event with position `rev` was applied (a message, an edit, a deletion, a reaction).
 * Revs are gap-free and every event reaches every member session, so while catching up, a live
 * event numbered `lastRev + 1` proves nothing happened between our last sync and this
 * connection: the catch-up is over (the server sends no `message_updates` then).
 */
export function noteRev(r, rev) {
  if (typeof rev !== 'number') return;
  if (!r.catchingUp) {
    r.lastRev = Math.max(r.lastRev, rev);
  } else if (rev === r.lastRev + 1) {
    r.revSeen = Math.max(r.revSeen, rev);
    endCatchUp(r);
  } else {
    r.revSeen = Math.max(r.revSeen, rev);
  }
}

/** Remembers a live change of message `seq` (`apply(m)` gives the changed copy). */
export function noteChange(r, seq, rev, apply) {
  if (typeof rev !== 'number') return;
  r.recentChanges.push({ seq, rev, apply });
  if (r.recentChanges.length > MAX_RECENT_CHANGES) r.recentChanges.shift();
}

/** A page's copy `m` with the remembered live changes it predates applied. */
export function upToDate(r, m) {
  const since = Math.max(m.rev || 0, m.changed_rev || 0);
  let out = m;
  for (const c of r.recentChanges) if (c.seq === m.seq && c.rev > since) out = c.apply(out);
  return out;
}

/** The resume of `r` is over: every held message is current, with every rev seen since. */
export function endCatchUp(r) {
  if (!r.catchingUp) return;
  r.catchingUp = false;
  r.lastRev = Math.max(r.lastRev, r.revSeen);
  r.revSeen = 0;
}

/**
 * Stores `fn(old)` in place of the held message `seq` (a new object: held messages are never
 * mutated). Returns false when the message is not held (an event about a message outside the
 * held window changes nothing: paging it in later brings its current state).
 */
export function replace(r, seq, fn) {
  const old = r.messages.get(seq);
  if (!old) return false;
  r.messages.set(seq, fn(old));
  return true;
}
