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
//
// The message lifecycle (edits, deletions, reactions, `message_updates` on resume) has its
// reducers in lifecycle.js; the room and its writes are in room.js.

import { MAX_MESSAGES_PER_ROOM, Room, applySummary, dmKey, dmPeer, dropThrough } from './room.js';
import { endCatchUp, insert, noteRev, roomLabel, setMembers, setPresence, upToDate } from './room.js';
import { LIFECYCLE_REDUCERS } from './lifecycle.js';

export { MAX_MESSAGES_PER_ROOM, Room, dmKey, dmPeer, roomLabel };
export const MAX_OUTBOX = 200;
export const MAX_NOTIFICATIONS = 100;
export const PAGE = 50;
const TYPING_SHOW_MS = 8000;
/** Error codes that refuse an edit, deletion or reaction (docs/protocol.md). */
const LIFECYCLE_REFUSALS = new Set([
  'not_author',
  'message_not_found',
  'message_deleted',
  'edit_window_passed',
  'invalid_emoji',
  'too_many_reactions',
]);

/** A message written while offline or not yet acknowledged. */
export class OutboxEntry {
  constructor(room, content, clientId, replyTo, attachments) {
    this.room = room;
    this.content = content;
    this.clientId = clientId;
    /** The seq this message replies to (`send_message.reply_to`), or 0. */
    this.replyTo = replyTo || 0;
    /** Ids of uploaded files (`send_message.attachments`). */
    this.attachments = attachments || [];
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
    noteRev(r, m.rev);
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
      // A page may have been read before a live change we already hold: bring it up to date.
      insert(r, upToDate(r, m));
      // Its revs prove nothing about events in between: only live ones end a catch-up early.
      if (!r.catchingUp) noteRev(r, m.rev);
    }
    // Which request this answers: a resume page (the server sends more by itself while
    // `more`), a gap fill (`after`), or an older/latest page (`more`: the server has more
    // before it).
    if (h.resume) {
      r.resuming = h.more === true;
      if (!r.resuming) endCatchUp(r);
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
    endCatchUp(r);
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

  /** `notification_update {unread, removed?}`: the count, and notifications retracted. */
  notificationCount(s, { unread, removed }, changed) {
    s.unreadNotifications = unread;
    for (const id of removed || []) s.notifications.delete(id);
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
      // A refused edit, deletion or reaction says nothing about loads in flight.
      if (r && !LIFECYCLE_REFUSALS.has(e.code)) {
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

  messageQueued(s, { room, content, clientId, replyTo, attachments }, changed) {
    s.outbox.set(clientId, new OutboxEntry(room, content, clientId, replyTo, attachments));
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

Object.assign(REDUCERS, LIFECYCLE_REDUCERS);

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
    // What we hold may have been edited, deleted or reacted to while we were away: the
    // resume (client.js afterSync) catches it up.
    r.catchingUp = r.seqs.length > 0;
    r.revSeen = 0;
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
    .map((e) => ({
      room: e.room,
      content: e.content,
      clientId: e.clientId,
      replyTo: e.replyTo || undefined,
      attachments: e.attachments && e.attachments.length ? e.attachments : undefined,
    }));
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
    const replyTo = Number.isSafeInteger(e.replyTo) && e.replyTo > 0 ? e.replyTo : 0;
    const files = Array.isArray(e.attachments) ? e.attachments.filter((id) => /^[0-9a-f]{64}$/.test(id)).slice(0, 10) : [];
    if (!s.outbox.has(e.clientId)) s.outbox.set(e.clientId, new OutboxEntry(e.room, e.content, e.clientId, replyTo, files));
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
