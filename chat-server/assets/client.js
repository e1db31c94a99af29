// Chat semantics on top of the connection: applies server frames to the store, keeps the
// outbox, resumes after reconnects, decides when to mark rooms read.
//
// Reconnect and resume: on every `connected`, rooms are reconciled with the summaries. For a
// room where we hold messages but fewer than the server's `last_seq`, we send `resume` with
// our newest seq; the server answers `history {resume: true}` with exactly what we missed or
// `resume_reset` (gap too large: drop and reload). Live messages arriving meanwhile are
// inserted by seq and de-duplicated, so nothing shows twice. Then every outbox entry is sent
// again with its client id; the server stores a retry at most once (`ack.duplicate`).

import { OutboxEntry, MAX_OUTBOX, PAGE, dmKey, newClientId } from './store.js';

const TYPING_SEND_EVERY_MS = 3000;
const TYPING_SHOW_MS = 8000;

export class Client {
  /** store: Store; conn: Connection; hooks: { isReading(key): bool, onNotification(n) }. */
  constructor(store, conn, hooks) {
    this.store = store;
    this.conn = conn;
    this.hooks = hooks;
    this.connectedOnce = false;
    this.typingSentAt = 0;
    this.typingRoom = null;
    this.wantRoom = null; // a room to switch to once `room_joined` arrives
  }

  send(frame) {
    return this.conn.send(frame);
  }

  // ---- frames from the server ---------------------------------------------------------------

  handle(f) {
    const s = this.store;
    switch (f.type) {
      case 'connected':
        return this.onConnected(f);
      case 'room_joined':
        return this.onRoomJoined(f);
      case 'room_left': {
        s.rooms.delete(f.room);
        for (const e of s.pending(f.room)) s.outbox.delete(e.clientId);
        s.saveOutbox();
        if (s.current === f.room) this.openRoom(this.fallbackRoom());
        return s.emit('rooms');
      }
      case 'message':
        return this.onMessage(f);
      case 'ack':
        return this.onAck(f);
      case 'history':
        return this.onHistory(f);
      case 'resume_reset': {
        const r = s.rooms.get(f.room);
        if (!r) return;
        r.dropThrough(f.latest_seq);
        r.resuming = true;
        this.send({ type: 'history', room: f.room, before: f.latest_seq + 1, limit: PAGE });
        return s.emit('messages', { room: f.room, reset: true });
      }
      case 'room_users_update': {
        const r = s.rooms.get(f.room);
        if (!r) return;
        r.setUsers(f.users);
        for (const u of f.users) if (s.people.size) s.people.set(u.username, u.online);
        s.emit('room', { room: f.room });
        return s.emit('users');
      }
      case 'read_state': {
        const r = s.rooms.get(f.room);
        if (!r) return;
        r.readSeq = Math.max(r.readSeq, f.read_seq);
        r.unread = f.unread;
        r.highlight = f.highlight;
        return s.emit('room', { room: f.room });
      }
      case 'read_receipt': {
        const r = s.rooms.get(f.room);
        if (!r) return;
        r.receipts.set(f.username, Math.max(r.receipts.get(f.username) || 0, f.seq));
        return s.emit('receipts', { room: f.room });
      }
      case 'typing': {
        const r = s.rooms.get(f.room);
        if (!r || f.username === s.me) return;
        if (f.active) r.typing.set(f.username, Date.now() + TYPING_SHOW_MS);
        else r.typing.delete(f.username);
        return s.emit('typing', { room: f.room });
      }
      case 'mention_notification':
        s.addNotification(f);
        this.hooks.onNotification(f);
        return s.emit('notifications');
      case 'notification_update':
        s.unreadNotifications = f.unread;
        return s.emit('notifications');
      case 'notifications':
        s.notifications.clear();
        for (const n of f.items) s.addNotification(n);
        s.unreadNotifications = f.unread;
        return s.emit('notifications');
      case 'room_list':
        s.directory = f.rooms;
        return s.emit('directory');
      case 'user_list':
        s.people = new Map(f.users.map((u) => [u.username, u.online]));
        return s.emit('users');
      case 'error':
        return this.onError(f);
      default:
        return undefined; // Newer servers may send more; ignore what we do not know.
    }
  }

  onConnected(f) {
    const s = this.store;
    this.conn.healthy();
    if (s.me !== f.username) {
      s.reset();
      s.me = f.username;
      s.loadOutbox();
    }
    this.connectedOnce = true;
    s.status = 'online';
    s.unreadNotifications = f.unread_notifications;

    const seen = new Set();
    const resume = [];
    for (const summary of f.rooms) {
      seen.add(summary.room);
      const r = s.room(summary.room);
      r.applySummary(summary);
      r.receipts.clear();
      for (const rr of summary.read_receipts || []) r.receipts.set(rr.username, rr.seq);
      r.typing.clear();
      r.loadingOlder = false;
      r.fillingAfter = 0;
      r.resuming = false;
      // A room we hold nothing of loads its latest page when opened (it may have been empty
      // before and have messages now).
      if (!r.seqs.length) r.loadedLatest = false;
      if (r.seqs.length && r.newestSeq < summary.last_seq) {
        resume.push({ room: r.key, last_seq: r.newestSeq });
        r.resuming = true;
      }
    }
    for (const key of [...s.rooms.keys()]) if (!seen.has(key)) s.rooms.delete(key);
    if (resume.length) this.send({ type: 'resume', rooms: resume });

    if (!s.current || !s.rooms.has(s.current)) {
      let saved = null;
      try {
        saved = localStorage.getItem(`chat.current.${s.me}`);
      } catch {
        saved = null;
      }
      s.current = saved && s.rooms.has(saved) ? saved : this.fallbackRoom();
    }
    if (s.current) this.ensureLoaded(s.rooms.get(s.current));
    this.send({ type: 'notifications', limit: 50 });
    this.send({ type: 'list_users' });
    this.flushOutbox();
    s.emit('status');
    s.emit('rooms');
    s.emit('current');
    this.markReadIfReading();
  }

  onRoomJoined(summary) {
    const s = this.store;
    const r = s.room(summary.room);
    r.applySummary(summary);
    if (this.wantRoom === summary.room || !s.current) {
      this.wantRoom = null;
      this.openRoom(summary.room);
    }
    s.emit('rooms');
  }

  onMessage(m) {
    const s = this.store;
    const r = s.rooms.get(m.room);
    if (!r) return;
    const fresh = r.insert(m);
    if (m.sender === s.me && m.client_id && s.outbox.delete(m.client_id)) {
      s.saveOutbox();
      s.emit('outbox', { room: m.room });
    }
    if (fresh) {
      if (m.sender === s.me) {
        // Sending moves our own read cursor to the message.
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
    this.fillGap(r);
    s.emit('messages', { room: m.room, seq: m.seq });
    s.emit('room', { room: m.room });
    this.markReadIfReading();
  }

  onAck(a) {
    const s = this.store;
    if (a.client_id && s.outbox.delete(a.client_id)) {
      s.saveOutbox();
      s.emit('outbox', { room: a.room });
    }
    const r = s.rooms.get(a.room);
    // A duplicate ack means the original was stored earlier (maybe before a crash); make sure
    // we hold it.
    if (r && !r.messages.has(a.seq) && a.duplicate) {
      this.send({ type: 'history', room: a.room, after: a.seq - 1, limit: 1 });
    }
  }

  onHistory(h) {
    const s = this.store;
    const r = s.rooms.get(h.room);
    if (!r) return;
    let older = false;
    const before = r.oldestSeq;
    for (const m of h.messages) {
      if (before && m.seq < before) older = true;
      r.insert(m);
    }
    r.loadingOlder = false;
    r.loadedLatest = true;
    r.resuming = false;
    r.fillingAfter = 0;
    this.fillGap(r);
    s.emit('messages', { room: h.room, older });
    s.emit('room', { room: h.room });
    this.markReadIfReading();
  }

  onError(e) {
    const s = this.store;
    if (e.client_id && s.outbox.has(e.client_id)) {
      const entry = s.outbox.get(e.client_id);
      if (e.code === 'rate_limited' || e.code === 'internal') {
        entry.state = 'queued';
        setTimeout(() => this.flushOutbox(), 2000);
      } else {
        entry.state = 'failed';
        entry.error = e.message;
        s.saveOutbox();
      }
      s.emit('outbox', { room: entry.room });
      return;
    }
    if (e.room) {
      const r = s.rooms.get(e.room);
      if (r) {
        r.loadingOlder = false;
        r.resuming = false;
        r.fillingAfter = 0;
      }
      if (this.wantRoom === e.room) this.wantRoom = null;
    }
    s.emit('error', { message: e.message, code: e.code });
  }

  // ---- connection life ------------------------------------------------------------------------

  /** The socket closed: sent-but-unacknowledged messages go back to the queue. */
  onDisconnected() {
    for (const e of this.store.outbox.values()) if (e.state === 'sent') e.state = 'queued';
  }

  flushOutbox() {
    if (!this.conn.isOpen || this.store.status !== 'online') return;
    for (const e of this.store.outbox.values()) {
      if (e.state !== 'queued') continue;
      if (!this.store.rooms.has(e.room)) continue;
      const ok = this.send({ type: 'send_message', room: e.room, content: e.content, client_id: e.clientId });
      if (!ok) break;
      e.state = 'sent';
    }
  }

  // ---- actions from the page ------------------------------------------------------------------

  fallbackRoom() {
    const keys = [...this.store.rooms.keys()].sort();
    return keys.find((k) => k.startsWith('group:')) || keys[0] || null;
  }

  openRoom(key) {
    const s = this.store;
    if (!key || !s.rooms.has(key)) {
      s.current = null;
      s.emit('current');
      return;
    }
    s.current = key;
    try {
      localStorage.setItem(`chat.current.${s.me}`, key);
    } catch {
      // Only a convenience.
    }
    this.ensureLoaded(s.rooms.get(key));
    s.emit('current');
    s.emit('rooms');
    this.markReadIfReading();
  }

  ensureLoaded(r) {
    if (!r || r.loadedLatest || r.resuming) return;
    if (r.lastSeq === 0) {
      r.loadedLatest = true;
      return;
    }
    if (this.send({ type: 'history', room: r.key, limit: PAGE })) r.resuming = true;
  }

  /** Asks for the page before the oldest held message (scroll-up). */
  loadOlder() {
    const r = this.store.rooms.get(this.store.current);
    if (!r || r.loadingOlder || !r.hasOlder || !r.seqs.length) return;
    if (this.send({ type: 'history', room: r.key, before: r.oldestSeq, limit: PAGE })) r.loadingOlder = true;
  }

  /** Requests the first missing range when held seqs are not contiguous. */
  fillGap(r) {
    if (r.resuming || r.fillingAfter) return;
    const gap = r.firstGap();
    if (!gap) return;
    if (this.send({ type: 'history', room: r.key, after: gap - 1, limit: 100 })) r.fillingAfter = gap - 1;
  }

  /** Marks the current room read when the user can see its newest message. */
  markReadIfReading() {
    const s = this.store;
    const r = s.rooms.get(s.current);
    if (!r || s.status !== 'online' || !this.hooks.isReading(r.key)) return;
    const seq = r.newestSeq;
    if (seq > r.readSeq) {
      if (this.send({ type: 'mark_read', room: r.key, seq })) {
        r.readSeq = seq;
        r.unread = 0;
        r.highlight = 0;
        s.emit('room', { room: r.key });
      }
    }
  }

  /** Queues a message; sends it now when online. Returns an error text or null. */
  sendMessage(content) {
    const s = this.store;
    const room = s.current;
    if (!room) return 'Pick a room first.';
    if (!content.trim()) return null;
    if (s.outbox.size >= MAX_OUTBOX) return 'Too many unsent messages; wait for the connection.';
    const entry = new OutboxEntry(room, content, newClientId());
    s.outbox.set(entry.clientId, entry);
    s.saveOutbox();
    this.stopTyping();
    this.flushOutbox();
    s.emit('outbox', { room });
    return null;
  }

  discard(clientId) {
    const e = this.store.outbox.get(clientId);
    if (!e) return;
    this.store.outbox.delete(clientId);
    this.store.saveOutbox();
    this.store.emit('outbox', { room: e.room });
  }

  retry(clientId) {
    const e = this.store.outbox.get(clientId);
    if (!e) return;
    e.state = 'queued';
    e.error = null;
    this.flushOutbox();
    this.store.saveOutbox();
    this.store.emit('outbox', { room: e.room });
  }

  /** Call on every keystroke in the composer. */
  typing() {
    const room = this.store.current;
    if (!room) return;
    const now = Date.now();
    if (this.typingRoom === room && now - this.typingSentAt < TYPING_SEND_EVERY_MS) return;
    if (this.send({ type: 'typing', room, active: true })) {
      this.typingRoom = room;
      this.typingSentAt = now;
    }
  }

  stopTyping() {
    if (!this.typingRoom) return;
    this.send({ type: 'typing', room: this.typingRoom, active: false });
    this.typingRoom = null;
    this.typingSentAt = 0;
  }

  joinRoom(name) {
    const key = `group:${name.toLowerCase()}`;
    if (this.store.rooms.has(key)) return this.openRoom(key);
    this.wantRoom = key;
    this.send({ type: 'join_room', room: key });
  }

  createRoom(name, isPrivate) {
    this.wantRoom = `group:${name.toLowerCase()}`;
    this.send({ type: 'create_room', room_name: name, private: isPrivate });
  }

  invite(username) {
    const room = this.store.current;
    if (room) this.send({ type: 'invite', room, username });
  }

  leave() {
    const room = this.store.current;
    if (room) this.send({ type: 'leave_room', room });
  }

  startDm(username) {
    const s = this.store;
    if (!s.me || username === s.me) return;
    const key = dmKey(s.me, username);
    if (s.rooms.has(key)) return this.openRoom(key);
    this.wantRoom = key;
    this.send({ type: 'join_room', room: key });
  }

  listRooms() {
    this.send({ type: 'list_rooms' });
  }

  listUsers() {
    this.send({ type: 'list_users' });
  }

  refreshNotifications() {
    this.send({ type: 'notifications', limit: 50 });
  }

  markNotificationsRead(ids) {
    const s = this.store;
    const frame = { type: 'mark_notifications_read' };
    if (ids) frame.ids = ids;
    if (!this.send(frame)) return;
    for (const n of s.notifications.values()) if (!ids || ids.includes(n.id)) n.read = true;
    s.emit('notifications');
  }
}
