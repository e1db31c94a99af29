// The client's state model. Pure data: no DOM and no socket. The protocol module feeds it
// server frames; the views read it and listen for its change events.
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

/** One room as this user sees it. */
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
    /** username -> online */
    this.users = new Map();
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
    /** A resume (or reset reload) is outstanding: gaps are expected until it answers. */
    this.resuming = false;
    /** Seq after which a gap-filling `history` is outstanding (0 = none). */
    this.fillingAfter = 0;
  }

  /** Applies a RoomSummary (from `connected` or `room_joined`). */
  applySummary(s) {
    this.kind = s.kind;
    this.owner = s.owner || null;
    this.lastSeq = Math.max(this.lastSeq, s.last_seq);
    this.lastTimestamp = Math.max(this.lastTimestamp, s.last_timestamp);
    this.readSeq = s.read_seq;
    this.unread = s.unread;
    this.highlight = s.highlight;
    this.setUsers(s.users);
  }

  setUsers(users) {
    this.users = new Map(users.map((u) => [u.username, u.online]));
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

  /**
   * Stores a message unless its seq is already held. Returns true when it was new.
   * Keeps `seqs` sorted; trims the oldest beyond the bound.
   */
  insert(msg) {
    if (this.messages.has(msg.seq)) return false;
    this.messages.set(msg.seq, msg);
    const seqs = this.seqs;
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
    if (msg.seq > this.lastSeq) {
      this.lastSeq = msg.seq;
      this.lastTimestamp = msg.timestamp;
    }
    while (seqs.length > MAX_MESSAGES_PER_ROOM) {
      this.messages.delete(seqs.shift());
    }
    return true;
  }

  /** Drops every held message with seq <= `upTo` (after a resume reset). */
  dropThrough(upTo) {
    this.seqs = this.seqs.filter((s) => {
      if (s <= upTo) {
        this.messages.delete(s);
        return false;
      }
      return true;
    });
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

  /** Users typing now (expired entries removed). */
  typers(now) {
    for (const [user, until] of this.typing) {
      if (until <= now) this.typing.delete(user);
    }
    return [...this.typing.keys()].sort();
  }
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

/**
 * The whole client state. Emits `change` events with `detail.what` in: 'rooms', 'room'
 * (detail.room), 'messages' (detail.room, detail.older), 'current', 'notifications', 'status',
 * 'typing' (detail.room), 'outbox' (detail.room), 'users', 'directory', 'error'.
 */
export class Store extends EventTarget {
  constructor() {
    super();
    this.reset();
  }

  reset() {
    this.me = null;
    /** key -> Room */
    this.rooms = new Map();
    this.current = null;
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
    /** public rooms from `room_list` */
    this.directory = [];
  }

  emit(what, extra) {
    this.dispatchEvent(new CustomEvent('change', { detail: { what, ...extra } }));
  }

  room(key) {
    let r = this.rooms.get(key);
    if (!r) {
      r = new Room(key);
      this.rooms.set(key, r);
    }
    return r;
  }

  /** Notifications, newest first. */
  notificationList() {
    return [...this.notifications.values()].sort((a, b) => b.id - a.id);
  }

  addNotification(n) {
    this.notifications.set(n.id, n);
    if (this.notifications.size > MAX_NOTIFICATIONS) {
      const oldest = Math.min(...this.notifications.keys());
      this.notifications.delete(oldest);
    }
  }

  /** Outbox entries of one room, oldest first. */
  pending(room) {
    return [...this.outbox.values()].filter((e) => e.room === room);
  }

  /** Total unread messages over all rooms (for the title). */
  totalUnread() {
    let n = 0;
    for (const r of this.rooms.values()) n += r.unread;
    return n;
  }

  /** Persists the outbox so a reload does not lose unsent messages. */
  saveOutbox() {
    if (!this.me) return;
    const list = [...this.outbox.values()]
      .filter((e) => e.state !== 'failed')
      .map((e) => ({ room: e.room, content: e.content, clientId: e.clientId }));
    try {
      if (list.length) localStorage.setItem(`chat.outbox.${this.me}`, JSON.stringify(list));
      else localStorage.removeItem(`chat.outbox.${this.me}`);
    } catch {
      // Storage full or disabled: the in-memory outbox still works for this page.
    }
  }

  /** Restores the outbox saved by `saveOutbox` for the signed-in user. */
  loadOutbox() {
    if (!this.me) return;
    let list = [];
    try {
      list = JSON.parse(localStorage.getItem(`chat.outbox.${this.me}`) || '[]');
    } catch {
      list = [];
    }
    if (!Array.isArray(list)) return;
    for (const e of list.slice(0, MAX_OUTBOX)) {
      if (typeof e?.room !== 'string' || typeof e?.content !== 'string' || typeof e?.clientId !== 'string') continue;
      if (!this.outbox.has(e.clientId)) this.outbox.set(e.clientId, new OutboxEntry(e.room, e.content, e.clientId));
    }
  }
}
