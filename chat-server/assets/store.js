// The client's state and the only code that writes it. Pure data: no DOM and no socket.
//
// State flows one way: server frames and page events become named actions
// (`store.dispatch({type: 'messageReceived', message})`); a reducer in this module changes the
// state and the store emits `change` events; views read the state and render. Nothing outside
// this module assigns to the store or to a room (client.js decides what to send by reading the
// state, views call client.js).
//
// Rules the server already knows are not copied here: who may invite, leave or remove comes
// from the summary's `can_invite` / `can_leave` / `can_remove`, unread and highlight counts
// from the server's summaries and `read_state`. The only counting done here is the one the
// protocol asks clients to do between two server counts (docs/protocol.md, "Client rules"): a
// live message from someone else after the read cursor adds one unread (and one highlight when
// it mentions me or is in a DM), and my own message moves my cursor to it.
//
// Invariants:
// - per room, messages are keyed by their gap-free `seq`; a seq is stored once (live
//   messages can arrive before the resume page that precedes them, so inserts de-duplicate);
// - `seqs` is kept sorted ascending, so rendering is always in seq order;
// - at most MAX_MESSAGES_PER_ROOM messages are kept per room (the oldest are dropped and can
//   be paged in again), the outbox holds at most MAX_OUTBOX entries, and the notification list
//   at most MAX_NOTIFICATIONS: every buffer is bounded.

export const MAX_MESSAGES_PER_ROOM = 2000;
export const MAX_OUTBOX = 200;
export const MAX_NOTIFICATIONS = 100;
export const PAGE = 50;
const TYPING_SHOW_MS = 8000;

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

/** One room as this user sees it. Read it anywhere; only this module's reducers write it. */
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

function applySummary(r, s) {
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
}

/** A full member list (`room_joined`, `room_users_update`) with the members' read cursors. */
function setMembers(st, r, users, receipts) {
  r.users = new Map(users.map((u) => [u.username, u.online]));
  for (const u of users) st.presence.set(u.username, u.online);
  r.membersLoaded = true;
  r.membersRequested = false;
  for (const rr of receipts || []) r.receipts.set(rr.username, Math.max(r.receipts.get(rr.username) || 0, rr.seq));
}

/** One user's presence changed: every room and list that shows them follows. */
function setPresence(st, username, online) {
  st.presence.set(username, online);
  for (const r of st.rooms.values()) if (r.users.has(username)) r.users.set(username, online);
  if (st.people.has(username)) st.people.set(username, online);
}

/** Stores a message unless its seq is already held. Returns true when it was new. */
function insert(r, msg) {
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
function dropThrough(r, upTo) {
  r.seqs = r.seqs.filter((s) => {
    if (s <= upTo) {
      r.messages.delete(s);
      return false;
    }
    return true;
  });
}

/** A message written while offline or not yet acknowledged. */
export class OutboxEntry {
  constructor(room, content, clientId) {
    this.room = room;
    this.content = content;
    this.clientId = clientId;
    /** 'queued' (not on the wire since the last connect), 'sent', or 'failed'. */
    this.state = 'queued';
    this.error = null;
    this.createdAt = Date.now();
  }
}

/** Random client id (128 bits, hex). `crypto.getRandomValues` works on plain-HTTP LANs too. */
export function newClientId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function readLocal(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeLocal(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Storage full or disabled: only a convenience.
  }
}

// ---- the reducers ---------------------------------------------------------------------------
//
// Each named action is one function `(store, action, changed)`; `changed(what, extra)` records
// a change event, emitted once the reducer returns.

const REDUCERS = {
  // -- from the server --

  /**
   * `connected`: a new session. Its summaries (at most 100, without members) and the
   * `room_summaries` pages after it (`more_rooms`) are the user's rooms: rooms not among them
   * are dropped once the last page is in. Presence and member lists were not kept up to date
   * while offline, so they are reloaded (`room_users`) as rooms are opened.
   */
  connected(s, { frame: f }, changed) {
    if (s.me !== f.username) {
      s.reset();
      s.me = f.username;
      loadOutbox(s);
    }
    s.status = 'online';
    s.retryAt = 0;
    s.unreadNotifications = f.unread_notifications;
    s.presence.clear();
    s.invitations = new Map((f.invitations || []).map((i) => [i.room, i]));
    s.syncSeen = new Set();
    applySummaries(s, f.rooms);
    if (!f.more_rooms) finishSync(s);
    changed('status');
    changed('rooms');
    changed('current');
    changed('notifications');
    changed('invitations');
    changed('users');
  },

  /** `room_summaries`: the next page of the user's rooms after `connected`. */
  roomSummaries(s, { rooms, more }, changed) {
    if (!s.syncSeen) return;
    applySummaries(s, rooms);
    if (!more) finishSync(s);
    changed('rooms');
    changed('current');
  },

  /** `room_joined`: a room summary with its members; opens it when asked for. */
  roomJoined(s, { summary }, changed) {
    const r = roomFor(s, summary.room);
    applySummary(r, summary);
    setMembers(s, r, summary.users || [], summary.read_receipts);
    if (s.syncSeen) s.syncSeen.add(summary.room);
    if (s.invitations.delete(summary.room)) changed('invitations');
    if (s.wantRoom === summary.room || !s.current) {
      s.wantRoom = null;
      openRoom(s, summary.room, changed);
    }
    changed('rooms');
    changed('users');
  },

  /** `member_joined`: someone else became a member. */
  memberJoined(s, { room, username, online }, changed) {
    const r = s.rooms.get(room);
    if (!r) return;
    r.users.set(username, online);
    s.presence.set(username, online);
    changed('room', { room });
    changed('users');
  },

  /** `member_left`: someone else left or was removed. */
  memberLeft(s, { room, username }, changed) {
    const r = s.rooms.get(room);
    if (!r) return;
    r.users.delete(username);
    r.receipts.delete(username);
    r.typing.delete(username);
    changed('room', { room });
    changed('receipts', { room });
    changed('users');
  },

  /** `presence`: a user sharing a room with us came online or went offline. */
  presenceChanged(s, { username, online }, changed) {
    setPresence(s, username, online);
    changed('users');
  },

  /** `invitation`: a pending invitation to a room. */
  invitationReceived(s, { invitation }, changed) {
    if (s.rooms.has(invitation.room)) return;
    s.invitations.set(invitation.room, invitation);
    changed('invitations');
  },

  /** `invitation_removed`: declined (here or on another device) or withdrawn. */
  invitationRemoved(s, { room }, changed) {
    if (s.invitations.delete(room)) changed('invitations');
  },

  /** `invite_sent`: the server recorded our invitation. */
  inviteSent(s, { room, username }, changed) {
    changed('notice', { message: `Invitation to ${roomLabel(room, s.me)} sent to ${username}.` });
  },

  /** `room_left`: the room and its unsent messages go. */
  roomLeft(s, { room }, changed) {
    s.rooms.delete(room);
    for (const e of s.pending(room)) s.outbox.delete(e.clientId);
    saveOutbox(s);
    if (s.current === room) openRoom(s, s.fallbackRoom(), changed);
    changed('rooms');
  },

  messageReceived(s, { message: m }, changed) {
    const r = s.rooms.get(m.room);
    if (!r) return;
    const fresh = insert(r, m);
    if (m.sender === s.me && m.client_id && s.outbox.delete(m.client_id)) {
      saveOutbox(s);
      changed('outbox', { room: m.room });
    }
    if (fresh) {
      if (m.sender === s.me) {
        // Sending moves our own read cursor to the message (as on the server).
        if (m.seq > r.readSeq) {
          r.readSeq = m.seq;
          r.unread = 0;
          r.highlight = 0;
        }
      } else if (m.seq > r.readSeq) {
        r.unread += 1;
        if (r.kind === 'dm' || (m.mentions || []).includes(s.me)) r.highlight += 1;
      }
      r.typing.delete(m.sender);
    }
    changed('messages', { room: m.room, seq: m.seq });
    changed('room', { room: m.room });
  },

  acked(s, { ack: a }, changed) {
    if (a.client_id && s.outbox.delete(a.client_id)) {
      saveOutbox(s);
      changed('outbox', { room: a.room });
    }
  },

  historyReceived(s, { history: h }, changed) {
    const r = s.rooms.get(h.room);
    if (!r) return;
    let older = false;
    const before = r.oldestSeq;
    for (const m of h.messages) {
      if (before && m.seq < before) older = true;
      insert(r, m);
    }
    // Which request this answers: a resume page (the server sends more by itself while
    // `more`), a gap fill (`after`), or an older/latest page (`more`: the server has more
    // before it).
    if (h.resume) {
      r.resuming = h.more === true;
    } else if (r.fillingAfter && !older && !r.loadingOlder) {
      r.fillingAfter = 0;
    } else {
      r.olderMore = h.more === true;
      r.loadingOlder = false;
      r.resuming = false;
      r.fillingAfter = 0;
    }
    r.loadedLatest = true;
    changed('messages', { room: h.room, older });
    changed('room', { room: h.room });
  },

  /** `resume_reset`: drop what we hold up to the server's latest and reload. */
  resumeReset(s, { room, latestSeq }, changed) {
    const r = s.rooms.get(room);
    if (!r) return;
    dropThrough(r, latestSeq);
    r.resuming = true;
    r.olderMore = false;
    changed('messages', { room, reset: true });
  },

  /** `room_users_update`: the full member list (and read cursors) of a room. */
  membersReplaced(s, { room, users, readReceipts }, changed) {
    const r = s.rooms.get(room);
    if (!r) return;
    setMembers(s, r, users, readReceipts);
    for (const u of users) if (s.people.has(u.username)) s.people.set(u.username, u.online);
    changed('receipts', { room });
    changed('room', { room });
    changed('users');
  },

  /** We asked `room_users` for a room. */
  membersRequested(s, { room }) {
    const r = s.rooms.get(room);
    if (r) r.membersRequested = true;
  },

  readState(s, { room, readSeq, unread, highlight }, changed) {
    const r = s.rooms.get(room);
    if (!r) return;
    r.readSeq = Math.max(r.readSeq, readSeq);
    r.unread = unread;
    r.highlight = highlight;
    changed('room', { room });
  },

  readReceipt(s, { room, username, seq }, changed) {
    const r = s.rooms.get(room);
    if (!r) return;
    r.receipts.set(username, Math.max(r.receipts.get(username) || 0, seq));
    changed('receipts', { room });
  },

  typingChanged(s, { room, username, active, now }, changed) {
    const r = s.rooms.get(room);
    if (!r || username === s.me) return;
    if (active) r.typing.set(username, now + TYPING_SHOW_MS);
    else r.typing.delete(username);
    changed('typing', { room });
  },

  notificationReceived(s, { notification }, changed) {
    addNotification(s, notification);
    changed('notifications');
  },

  notificationCount(s, { unread }, changed) {
    s.unreadNotifications = unread;
    changed('notifications');
  },

  notificationsReplaced(s, { items, unread }, changed) {
    s.notifications.clear();
    for (const n of items) addNotification(s, n);
    s.unreadNotifications = unread;
    changed('notifications');
  },

  /** A `list_rooms` went out: a new search (`append` false) or the next page of this one. */
  directoryRequested(s, { prefix, append }, changed) {
    const d = s.directory;
    d.requests.push({ prefix, append });
    if (!append) {
      d.prefix = prefix;
      d.rooms = [];
      d.next = null;
    }
    d.loading = true;
    changed('directory');
  },

  /** `room_list`: one page of the public directory. Answers come in request order. */
  directoryReceived(s, { rooms, next }, changed) {
    const d = s.directory;
    const req = d.requests.shift() || { prefix: d.prefix, append: false };
    d.loading = d.requests.length > 0;
    // An answer to a search the user has typed past is dropped.
    if (req.prefix === d.prefix) {
      d.rooms = req.append ? d.rooms.concat(rooms) : rooms;
      d.next = next || null;
    }
    changed('directory');
  },

  peopleReceived(s, { users }, changed) {
    s.people = new Map(users.map((u) => [u.username, u.online]));
    for (const u of users) setPresence(s, u.username, u.online);
    changed('users');
  },

  /** An `error` frame: a refused send, a failed room request, or something to show. */
  requestFailed(s, { error: e }, changed) {
    if (e.client_id && s.outbox.has(e.client_id)) {
      const entry = s.outbox.get(e.client_id);
      if (e.code === 'rate_limited' || e.code === 'internal') {
        entry.state = 'queued';
      } else {
        entry.state = 'failed';
        entry.error = e.message;
        saveOutbox(s);
      }
      changed('outbox', { room: entry.room });
      return;
    }
    if (e.room) {
      const r = s.rooms.get(e.room);
      if (r) {
        r.loadingOlder = false;
        r.resuming = false;
        r.fillingAfter = 0;
      }
      if (s.wantRoom === e.room) s.wantRoom = null;
      // Accepting or declining an invitation that is gone (withdrawn, or answered elsewhere).
      if (e.code === 'no_invitation' && s.invitations.delete(e.room)) changed('invitations');
    }
    changed('error', { message: e.message, code: e.code });
  },

  // -- from the connection --

  /** The socket is connecting, or waits until `retryAt` to try again. */
  connectionChanged(s, { state, retryAt }, changed) {
    if (state === 'connecting' && s.status === 'online') return;
    s.status = state;
    s.retryAt = retryAt || 0;
    changed('status');
  },

  /** The socket closed: sent-but-unacknowledged messages go back to the queue. */
  disconnected(s, _action, changed) {
    for (const e of s.outbox.values()) if (e.state === 'sent') e.state = 'queued';
    s.status = 'offline';
    changed('status');
  },

  signedOut(s, _action, changed) {
    s.reset();
    changed('status');
  },

  // -- requests the client put on the wire --

  historyRequested(s, { room, what, after }) {
    const r = s.rooms.get(room);
    if (!r) return;
    if (what === 'older') r.loadingOlder = true;
    else if (what === 'gap') r.fillingAfter = after;
    else r.resuming = true;
  },

  /** A room with nothing to load (empty on the server) counts as loaded. */
  roomEmpty(s, { room }) {
    const r = s.rooms.get(room);
    if (r) r.loadedLatest = true;
  },

  markReadSent(s, { room, seq }) {
    const r = s.rooms.get(room);
    if (r) r.readSent = Math.max(r.readSent, seq);
  },

  outboxSent(s, { clientIds }) {
    for (const id of clientIds) {
      const e = s.outbox.get(id);
      if (e) e.state = 'sent';
    }
  },

  /** A refused-for-now send (rate limited) is queued again; `flushOutbox` sends it. */
  outboxRequeued(s, { clientId }, changed) {
    const e = s.outbox.get(clientId);
    if (!e) return;
    e.state = 'queued';
    e.error = null;
    saveOutbox(s);
    changed('outbox', { room: e.room });
  },

  // -- from the page --

  roomOpened(s, { room }, changed) {
    openRoom(s, room, changed);
  },

  /** The user asked to join or create `room`: open it once `room_joined` arrives. */
  roomWanted(s, { room }) {
    s.wantRoom = room;
  },

  messageQueued(s, { room, content, clientId }, changed) {
    s.outbox.set(clientId, new OutboxEntry(room, content, clientId));
    saveOutbox(s);
    changed('outbox', { room });
  },

  outboxDiscarded(s, { clientId }, changed) {
    const e = s.outbox.get(clientId);
    if (!e) return;
    s.outbox.delete(clientId);
    saveOutbox(s);
    changed('outbox', { room: e.room });
  },

  notificationsMarkedRead(s, { ids }, changed) {
    for (const n of s.notifications.values()) if (!ids || ids.includes(n.id)) n.read = true;
    changed('notifications');
  },
};

/** The action names the store knows (for tests and for readers). */
export const ACTIONS = Object.freeze(Object.keys(REDUCERS));

/** Applies a page of summaries from `connected` / `room_summaries`. */
function applySummaries(s, summaries) {
  for (const summary of summaries) {
    s.syncSeen.add(summary.room);
    const r = roomFor(s, summary.room);
    applySummary(r, summary);
    r.membersLoaded = false;
    r.membersRequested = false;
    r.receipts.clear();
    r.typing.clear();
    r.loadingOlder = false;
    r.fillingAfter = 0;
    r.resuming = false;
    r.readSent = 0;
    // A room we hold nothing of loads its latest page when opened (it may have been empty
    // before and have messages now).
    if (!r.seqs.length) r.loadedLatest = false;
  }
}

/** The last summary page is in: drop rooms the server no longer lists, pick the open room. */
function finishSync(s) {
  const seen = s.syncSeen;
  s.syncSeen = null;
  for (const key of [...s.rooms.keys()]) if (!seen.has(key)) s.rooms.delete(key);
  for (const key of [...s.invitations.keys()]) if (s.rooms.has(key)) s.invitations.delete(key);
  if (!s.current || !s.rooms.has(s.current)) {
    const saved = readLocal(`chat.current.${s.me}`);
    s.current = saved && s.rooms.has(saved) ? saved : s.fallbackRoom();
  }
}

function roomFor(s, key) {
  let r = s.rooms.get(key);
  if (!r) {
    r = new Room(key);
    s.rooms.set(key, r);
  }
  return r;
}

function openRoom(s, key, changed) {
  if (!key || !s.rooms.has(key)) {
    s.current = null;
    changed('current');
    return;
  }
  s.current = key;
  writeLocal(`chat.current.${s.me}`, key);
  changed('current');
  changed('rooms');
}

function addNotification(s, n) {
  s.notifications.set(n.id, n);
  if (s.notifications.size > MAX_NOTIFICATIONS) {
    const oldest = Math.min(...s.notifications.keys());
    s.notifications.delete(oldest);
  }
}

/** Persists the outbox so a reload does not lose unsent messages. */
function saveOutbox(s) {
  if (!s.me) return;
  const list = [...s.outbox.values()]
    .filter((e) => e.state !== 'failed')
    .map((e) => ({ room: e.room, content: e.content, clientId: e.clientId }));
  writeLocal(`chat.outbox.${s.me}`, list.length ? JSON.stringify(list) : null);
}

/** Restores the outbox saved by `saveOutbox` for the signed-in user. */
function loadOutbox(s) {
  if (!s.me) return;
  let list = [];
  try {
    list = JSON.parse(readLocal(`chat.outbox.${s.me}`) || '[]');
  } catch {
    list = [];
  }
  if (!Array.isArray(list)) return;
  for (const e of list.slice(0, MAX_OUTBOX)) {
    if (typeof e?.room !== 'string' || typeof e?.content !== 'string' || typeof e?.clientId !== 'string') continue;
    if (!s.outbox.has(e.clientId)) s.outbox.set(e.clientId, new OutboxEntry(e.room, e.content, e.clientId));
  }
}

/**
 * The whole client state. `dispatch` is the only way to change it. Emits `change` events with
 * `detail.what` in: 'rooms', 'room' (detail.room), 'messages' (detail.room, detail.older),
 * 'current', 'notifications', 'status', 'typing' (detail.room), 'outbox' (detail.room),
 * 'receipts' (detail.room), 'users', 'directory', 'invitations', 'notice' (detail.message),
 * 'error'.
 */
export class Store extends EventTarget {
  constructor() {
    super();
    this.reset();
  }

  /** Back to the signed-out state (reducers only). */
  reset() {
    this.me = null;
    /** key -> Room */
    this.rooms = new Map();
    this.current = null;
    /** A room to switch to once `room_joined` arrives. */
    this.wantRoom = null;
    /** clientId -> OutboxEntry, in insertion (send) order */
    this.outbox = new Map();
    /** id -> notification */
    this.notifications = new Map();
    this.unreadNotifications = 0;
    /** 'connecting' | 'online' | 'offline' | 'signed-out' */
    this.status = 'signed-out';
    this.retryAt = 0;
    /** username -> online (the directory from `user_list`) */
    this.people = new Map();
    /** username -> online, for everyone whose presence the server told us since connecting */
    this.presence = new Map();
    /** room -> pending invitation {room, kind, inviter, timestamp} */
    this.invitations = new Map();
    /** Rooms listed so far while `room_summaries` pages are still coming (null: none are). */
    this.syncSeen = null;
    /** The public room directory: a name-prefix search and its pages (`room_list`). */
    this.directory = { prefix: '', rooms: [], next: null, loading: false, requests: [] };
  }

  /** Applies one named action, then emits the change events it recorded. */
  dispatch(action) {
    const reducer = Object.hasOwn(REDUCERS, action.type) ? REDUCERS[action.type] : null;
    if (!reducer) throw new Error(`unknown store action: ${action.type}`);
    const events = [];
    reducer(this, action, (what, extra) => events.push({ what, ...extra }));
    for (const detail of events) this.dispatchEvent(new CustomEvent('change', { detail }));
  }

  // ---- queries ------------------------------------------------------------------------------

  /** Notifications, newest first. */
  notificationList() {
    return [...this.notifications.values()].sort((a, b) => b.id - a.id);
  }

  /** Outbox entries of one room, oldest first. */
  pending(room) {
    return [...this.outbox.values()].filter((e) => e.room === room);
  }

  /** Whether `username` is online, as far as the server told us. */
  isOnline(username) {
    return this.presence.get(username) === true;
  }

  /** Pending invitations, newest first. */
  invitationList() {
    return [...this.invitations.values()].sort((a, b) => b.timestamp - a.timestamp || a.room.localeCompare(b.room));
  }

  /** Total unread messages over all rooms (for the title). */
  totalUnread() {
    let n = 0;
    for (const r of this.rooms.values()) n += r.unread;
    return n;
  }

  /** The room to show when none is chosen: the first group room, else the first DM. */
  fallbackRoom() {
    const keys = [...this.rooms.keys()].sort();
    return keys.find((k) => k.startsWith('group:')) || keys[0] || null;
  }
}
