// Chat semantics on top of the connection: turns server frames into store actions and decides
// what to send (resume, outbox, gap filling, read cursors). It writes no state itself: every
// change goes through `store.dispatch`, and every decision reads the store.
//
// Reconnect and resume: on every `connected`, rooms are reconciled with the summaries. For a
// room where we hold messages but fewer than the server's `last_seq`, we send `resume` with
// our newest seq; the server answers `history {resume: true}` with exactly what we missed or
// `resume_reset` (gap too large: drop and reload). Live messages arriving meanwhile are
// inserted by seq and de-duplicated, so nothing shows twice. Then every outbox entry is sent
// again with its client id; the server stores a retry at most once (`ack.duplicate`).
//
// Messages we hold may have been edited, deleted or reacted to while we were away, so every
// room we hold messages of is resumed, with `last_rev` (the room event we are current to):
// the server first sends `message_updates` pages (the current state of each held message that
// changed), then the missed messages.

import { MAX_OUTBOX, PAGE, dmKey, newClientId } from './store.js';

const TYPING_SEND_EVERY_MS = 3000;
const RATE_LIMIT_RETRY_MS = 2000;
const DIRECTORY_PAGE = 50;
const DM_PRESENCE_ROOMS = 20;

export class Client {
  /**
   * store: Store; conn: Connection; hooks: { isReading(key): bool, onNotification(n),
   * onHistory(room) }.
   */
  constructor(store, conn, hooks) {
    this.store = store;
    this.conn = conn;
    this.hooks = hooks;
    // Throttling of our own typing frames: transport bookkeeping, not state anyone renders.
    this.typingSentAt = 0;
    this.typingRoom = null;
  }

  send(frame) {
    return this.conn.send(frame);
  }

  act(action) {
    this.store.dispatch(action);
  }

  // ---- frames from the server ---------------------------------------------------------------

  handle(f) {
    switch (f.type) {
      case 'connected':
        this.conn.healthy();
        this.act({ type: 'connected', frame: f });
        if (!f.more_rooms) this.afterSync();
        return undefined;
      case 'room_summaries':
        this.act({ type: 'roomSummaries', rooms: f.rooms, more: f.more });
        if (!f.more) this.afterSync();
        return undefined;
      case 'member_joined':
        return this.act({ type: 'memberJoined', room: f.room, username: f.username, online: f.online });
      case 'member_left':
        return this.act({ type: 'memberLeft', room: f.room, username: f.username });
      case 'presence':
        return this.act({ type: 'presenceChanged', username: f.username, online: f.online });
      case 'invitation':
        return this.act({ type: 'invitationReceived', invitation: f });
      case 'invitation_removed':
        return this.act({ type: 'invitationRemoved', room: f.room });
      case 'invite_sent':
        return this.act({ type: 'inviteSent', room: f.room, username: f.username });
      case 'room_joined':
        this.act({ type: 'roomJoined', summary: f });
        return this.afterOpen();
      case 'room_left':
        this.act({ type: 'roomLeft', room: f.room });
        return this.afterOpen();
      case 'message':
        this.act({ type: 'messageReceived', message: f });
        this.fillGap(f.room);
        return this.markReadIfReading();
      case 'ack':
        return this.onAck(f);
      case 'history':
        this.act({ type: 'historyReceived', history: f });
        this.fillGap(f.room);
        this.hooks.onHistory(f.room);
        return this.markReadIfReading();
      case 'resume_reset':
        if (!this.store.rooms.has(f.room)) return undefined;
        this.act({ type: 'resumeReset', room: f.room, latestSeq: f.latest_seq });
        this.send({ type: 'history', room: f.room, before: f.latest_seq + 1, limit: PAGE });
        return undefined;
      case 'room_users_update':
        return this.act({ type: 'membersReplaced', room: f.room, users: f.users, readReceipts: f.read_receipts });
      case 'read_state':
        return this.act({ type: 'readState', room: f.room, readSeq: f.read_seq, unread: f.unread, highlight: f.highlight });
      case 'read_receipt':
        return this.act({ type: 'readReceipt', room: f.room, username: f.username, seq: f.seq });
      case 'typing':
        return this.act({ type: 'typingChanged', room: f.room, username: f.username, active: f.active, now: Date.now() });
      case 'mention_notification':
        this.act({ type: 'notificationReceived', notification: f });
        return this.hooks.onNotification(f);
      case 'notification_update':
        return this.act({ type: 'notificationCount', unread: f.unread, removed: f.removed });
      case 'message_edited':
        return this.act({ type: 'messageEdited', edit: f });
      case 'message_deleted':
        return this.act({ type: 'messageDeleted', deletion: f });
      case 'reaction':
        return this.act({ type: 'reactionChanged', reaction: f });
      case 'message_updates':
        return this.act({ type: 'messageUpdates', updates: f });
      case 'notifications':
        return this.act({ type: 'notificationsReplaced', items: f.items, unread: f.unread });
      case 'room_list':
        return this.act({ type: 'directoryReceived', rooms: f.rooms, next: f.next });
      case 'user_list':
        return this.act({ type: 'peopleReceived', users: f.users });
      case 'error':
        return this.onError(f);
      default:
        return undefined; // Newer servers may send more; ignore what we do not know.
    }
  }

  /** Every summary page of a new session is in: catch up. */
  afterSync() {
    const s = this.store;
    const resume = [];
    for (const r of s.rooms.values()) {
      if (!r.seqs.length) continue;
      const point = { room: r.key, last_seq: r.newestSeq };
      if (r.lastRev > 0) point.last_rev = r.lastRev;
      resume.push(point);
    }
    if (resume.length && this.send({ type: 'resume', rooms: resume })) {
      const rooms = resume.map((p) => ({ room: p.room, missed: p.last_seq < s.rooms.get(p.room).lastSeq }));
      this.act({ type: 'resumeSent', rooms });
    }
    this.ensureLoaded(s.current);
    this.ensureMembers(s.current);
    // DM peers' presence dots: their rooms' member lists (a bounded number, newest first).
    const dms = [...s.rooms.values()].filter((r) => r.kind === 'dm').sort((a, b) => b.lastTimestamp - a.lastTimestamp);
    for (const r of dms.slice(0, DM_PRESENCE_ROOMS)) this.ensureMembers(r.key);
    this.send({ type: 'notifications', limit: 50 });
    this.send({ type: 'list_users' });
    this.flushOutbox();
    this.markReadIfReading();
  }

  /** Asks for a room's member list unless we hold the current one. */
  ensureMembers(key) {
    const r = key ? this.store.rooms.get(key) : null;
    if (!r || r.membersLoaded || r.membersRequested) return;
    if (this.send({ type: 'room_users', room: r.key })) this.act({ type: 'membersRequested', room: r.key });
  }

  onAck(a) {
    this.act({ type: 'acked', ack: a });
    const r = this.store.rooms.get(a.room);
    // A duplicate ack means the original was stored earlier (maybe before a crash); make sure
    // we hold it.
    if (r && !r.messages.has(a.seq) && a.duplicate) {
      this.send({ type: 'history', room: a.room, after: a.seq - 1, limit: 1 });
    }
  }

  onError(e) {
    const retry = e.client_id && this.store.outbox.has(e.client_id) && (e.code === 'rate_limited' || e.code === 'internal');
    this.act({ type: 'requestFailed', error: e });
    if (retry) setTimeout(() => this.flushOutbox(), RATE_LIMIT_RETRY_MS);
  }

  // ---- connection life ------------------------------------------------------------------------

  /** The socket closed. */
  onDisconnected() {
    this.act({ type: 'disconnected' });
  }

  /** Sends every queued outbox entry of a room we are in, oldest first. */
  flushOutbox() {
    const s = this.store;
    if (!this.conn.isOpen || s.status !== 'online') return;
    const sent = [];
    for (const e of s.outbox.values()) {
      if (e.state !== 'queued') continue;
      if (!s.rooms.has(e.room)) continue;
      const frame = { type: 'send_message', room: e.room, content: e.content, client_id: e.clientId };
      if (e.replyTo) frame.reply_to = e.replyTo;
      if (e.attachments && e.attachments.length) frame.attachments = e.attachments;
      const ok = this.send(frame);
      if (!ok) break;
      sent.push(e.clientId);
    }
    if (sent.length) this.act({ type: 'outboxSent', clientIds: sent });
  }

  // ---- actions from the page ------------------------------------------------------------------

  openRoom(key) {
    this.act({ type: 'roomOpened', room: key });
    this.afterOpen();
  }

  /** The open room may have changed: load it and mark it read when visible. */
  afterOpen() {
    this.ensureLoaded(this.store.current);
    this.ensureMembers(this.store.current);
    this.markReadIfReading();
  }

  /** Asks for the latest page of a room we hold nothing of. */
  ensureLoaded(key) {
    const r = key ? this.store.rooms.get(key) : null;
    if (!r || r.loadedLatest || r.resuming) return;
    if (r.lastSeq === 0) return this.act({ type: 'roomEmpty', room: r.key });
    if (this.send({ type: 'history', room: r.key, limit: PAGE })) this.act({ type: 'historyRequested', room: r.key, what: 'latest' });
    return undefined;
  }

  /**
   * Asks for the page before the oldest held message (scroll-up). Pages are cut by size, so
   * one may hold few messages; the pane asks again while it is not full and the last page said
   * `more`.
   */
  loadOlder() {
    const r = this.store.rooms.get(this.store.current);
    if (!r || r.loadingOlder || !r.hasOlder || !r.seqs.length) return;
    if (this.send({ type: 'history', room: r.key, before: r.oldestSeq, limit: PAGE })) {
      this.act({ type: 'historyRequested', room: r.key, what: 'older' });
    }
  }

  /**
   * Loads the context of message `seq` of `room` (`history {around}`: a search hit), as an
   * older page; the gap to the newest held message is filled afterwards.
   */
  loadAround(room, seq) {
    if (this.send({ type: 'history', room, around: seq, limit: PAGE })) {
      this.act({ type: 'historyRequested', room, what: 'older' });
    }
  }

  /** Requests the first missing range when held seqs are not contiguous. */
  fillGap(key) {
    const r = this.store.rooms.get(key);
    if (!r || r.resuming || r.fillingAfter) return;
    const gap = r.firstGap();
    if (!gap) return;
    if (this.send({ type: 'history', room: r.key, after: gap - 1, limit: 100 })) {
      this.act({ type: 'historyRequested', room: r.key, what: 'gap', after: gap - 1 });
    }
  }

  /**
   * Marks the current room read when the user can see its newest message. The counts change
   * when the server answers with `read_state`.
   */
  markReadIfReading() {
    const s = this.store;
    const r = s.rooms.get(s.current);
    if (!r || s.status !== 'online' || !this.hooks.isReading(r.key)) return;
    const seq = r.newestSeq;
    if (seq > r.readSeq && seq > r.readSent) {
      if (this.send({ type: 'mark_read', room: r.key, seq })) this.act({ type: 'markReadSent', room: r.key, seq });
    }
  }

  /**
   * Queues a message (a reply to `replyTo` when given); sends it now when online. Returns an
   * error text or null.
   */
  sendMessage(content, replyTo, attachments = []) {
    const s = this.store;
    const room = s.current;
    if (!room) return 'Pick a room first.';
    if (!content.trim() && !attachments.length) return null;
    if (s.outbox.size >= MAX_OUTBOX) return 'Too many unsent messages; wait for the connection.';
    this.act({ type: 'messageQueued', room, content, clientId: newClientId(), replyTo, attachments });
    this.stopTyping();
    this.flushOutbox();
    return null;
  }

  discard(clientId) {
    this.act({ type: 'outboxDiscarded', clientId });
  }

  retry(clientId) {
    this.act({ type: 'outboxRequeued', clientId });
    this.flushOutbox();
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
    this.act({ type: 'roomWanted', room: key });
    this.send({ type: 'join_room', room: key });
    return undefined;
  }

  createRoom(name, isPrivate) {
    this.act({ type: 'roomWanted', room: `group:${name.toLowerCase()}` });
    this.send({ type: 'create_room', room_name: name, private: isPrivate });
  }

  invite(username) {
    const room = this.store.current;
    if (room) this.send({ type: 'invite', room, username });
  }

  /** Removes a member of the open room (shown only where the server says `can_remove`). */
  remove(username) {
    const room = this.store.current;
    if (room) this.send({ type: 'remove', room, username });
  }

  /** Accepts a pending invitation; the room opens when `room_joined` arrives. */
  acceptInvite(room) {
    this.act({ type: 'roomWanted', room });
    this.send({ type: 'accept_invite', room });
  }

  /** Declines a pending invitation; it goes when the server says `invitation_removed`. */
  declineInvite(room) {
    this.send({ type: 'decline_invite', room });
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
    this.act({ type: 'roomWanted', room: key });
    this.send({ type: 'join_room', room: key });
    return undefined;
  }

  /** Searches the public directory by name prefix (first page). */
  searchRooms(prefix) {
    const p = prefix.trim().toLowerCase();
    const frame = { type: 'list_rooms', limit: DIRECTORY_PAGE };
    if (p) frame.prefix = p;
    if (this.send(frame)) this.act({ type: 'directoryRequested', prefix: p, append: false });
  }

  /** The next page of the current directory search. */
  moreRooms() {
    const d = this.store.directory;
    if (!d.next || d.loading) return;
    const frame = { type: 'list_rooms', after: d.next, limit: DIRECTORY_PAGE };
    if (d.prefix) frame.prefix = d.prefix;
    if (this.send(frame)) this.act({ type: 'directoryRequested', prefix: d.prefix, append: true });
  }

  listUsers() {
    this.send({ type: 'list_users' });
  }

  refreshNotifications() {
    this.send({ type: 'notifications', limit: 50 });
  }

  markNotificationsRead(ids) {
    const frame = { type: 'mark_notifications_read' };
    if (ids) frame.ids = ids;
    if (this.send(frame)) this.act({ type: 'notificationsMarkedRead', ids });
  }

  // ---- the message lifecycle: edits, deletions, reactions ---------------------------------
  //
  // Sent straight away and never queued: they act on the server's current copy, and a change
  // made blind while offline could clobber a newer one. The result arrives as the same
  // `message_edited` / `message_deleted` / `reaction` event every member gets.

  /** Edits our message `seq` of the open room. Returns an error text or null. */
  editMessage(seq, content) {
    const r = this.store.rooms.get(this.store.current);
    if (!r) return 'Pick a room first.';
    const m = r.messages.get(seq);
    if (m && m.content === content) return null;
    return this.lifecycle({ type: 'edit_message', room: r.key, seq, content });
  }

  /** Deletes message `seq` of the open room. Returns an error text or null. */
  deleteMessage(seq) {
    const room = this.store.current;
    if (!room) return 'Pick a room first.';
    return this.lifecycle({ type: 'delete_message', room, seq });
  }

  /** Adds (or, `add` false, removes) our reaction `emoji` to message `seq` of the open room. */
  react(seq, emoji, add) {
    const room = this.store.current;
    if (!room) return 'Pick a room first.';
    return this.lifecycle({ type: 'react', room, seq, emoji, add });
  }

  lifecycle(frame) {
    if (this.store.status !== 'online' || !this.send(frame)) return 'You are offline; try again once connected.';
    return null;
  }
}
