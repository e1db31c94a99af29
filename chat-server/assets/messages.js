// The message pane: room title and tools, who is online, the seq-ordered message list with
// older pages on scroll-up, pending (outbox) messages, "seen by" receipts, typing line. Each
// message is drawn by message_view.js; its actions menu is message_menu.js, the reaction
// picker reactions.js.

import { attachmentsOf } from './attach.js';
import { byId, h, iso, replaceChildren } from './dom.js';
import { MessageMenu } from './message_menu.js';
import { messageItem, quoted } from './message_view.js';
import { ReactionPicker } from './reactions.js';
import { roomLabel } from './store.js';

const NEAR_TOP_PX = 60;
const NEAR_BOTTOM_PX = 40;

export class MessagePane {
  /** hooks: { onReply(seq), onEdit(seq), onJump(seq), onError(text) }. */
  constructor(store, client, hooks) {
    this.store = store;
    this.client = client;
    this.hooks = hooks;
    this.scroller = byId('message-scroll');
    this.list = byId('messages');
    this.pendingList = byId('pending');
    this.olderStatus = byId('older-status');
    this.title = byId('room-title');
    this.kindLabel = byId('room-kind');
    this.tools = byId('room-tools');
    this.inviteForm = byId('invite-form');
    this.leaveBtn = byId('leave-btn');
    this.onlineLine = byId('online-line');
    this.typingLine = byId('typing-line');
    /** The room whose messages are in the list, and seq -> <li>. */
    this.shown = null;
    this.rendered = new Map();
    /** seq -> [message, the message it replies to] as drawn, to redraw what changed. */
    this.drawn = new Map();
    this.picker = new ReactionPicker();
    this.menu = new MessageMenu({
      me: () => this.store.me,
      canDeleteAny: () => this.room()?.canDelete === true,
      onReply: (seq) => hooks.onReply(seq),
      onEdit: (seq) => hooks.onEdit(seq),
      onDelete: (seq) => this.report(client.deleteMessage(seq)),
      onPicker: (li, m, opener) => this.openPicker(li, m, opener),
    });

    this.scroller.addEventListener('scroll', () => {
      if (this.scroller.scrollTop < NEAR_TOP_PX) client.loadOlder();
      if (this.atBottom()) client.markReadIfReading();
    });
    this.inviteForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = byId('invite-input');
      const name = input.value.trim();
      if (name) client.invite(name);
      input.value = '';
    });
    this.leaveBtn.addEventListener('click', () => client.leave());
    setInterval(() => this.renderTyping(), 1000);
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  room() {
    return this.store.rooms.get(this.store.current) || null;
  }

  /** The current room changed (or was (re)loaded from scratch). */
  renderRoom() {
    const r = this.room();
    const me = this.store.me;
    this.list.replaceChildren();
    this.rendered.clear();
    this.drawn.clear();
    this.shown = r ? r.key : null;
    if (!r) {
      this.title.textContent = 'No room';
      this.kindLabel.textContent = '';
      this.tools.hidden = true;
      this.onlineLine.replaceChildren();
      this.pendingList.replaceChildren();
      this.olderStatus.textContent = 'Join a room from the sidebar to start chatting.';
      return;
    }
    replaceChildren(this.title, iso(roomLabel(r.key, me)));
    this.renderHeader();
    this.syncMessages();
    this.renderPending();
    this.renderReceipts();
    this.renderTyping();
    this.scrollToBottom();
  }

  renderHeader() {
    const r = this.room();
    if (!r) return;
    const kinds = { public: ['public room'], private: ['private room, owner ', iso(r.owner || '?')], dm: ['direct message'] };
    replaceChildren(this.kindLabel, '(', kinds[r.kind] || r.kind, ')');
    // What this user may do here is the server's call (RoomSummary `can_invite`, `can_leave`).
    this.inviteForm.hidden = !r.canInvite;
    this.leaveBtn.hidden = !r.canLeave;
    this.tools.hidden = !r.canInvite && !r.canLeave;
    this.renderOnline();
  }

  renderOnline() {
    const r = this.room();
    if (!r) return;
    const me = this.store.me;
    const members = r.members(me);
    const online = members.filter(([, on]) => on).length + (r.users.get(me) ? 1 : 0);
    const nodes = [h('span', { class: 'online-count' }, `${online}/${r.users.size} online: `)];
    for (const [name, on] of members) {
      nodes.push(
        h('span', { class: on ? 'dot online' : 'dot', title: on ? 'online' : 'offline' }),
        h(
          'button',
          {
            type: 'button',
            class: on ? 'link user-link online' : 'link user-link',
            dataset: { user: name },
            title: `Send ${name} a direct message`,
            on: { click: () => this.client.startDm(name) },
          },
          iso(name),
        ),
        r.canRemove
          ? h(
              'button',
              {
                type: 'button',
                class: 'btn small remove-member',
                dataset: { user: name },
                title: `Remove ${name} from this room`,
                on: { click: () => this.client.remove(name) },
              },
              'x',
            )
          : null,
        ' ',
      );
    }
    replaceChildren(this.onlineLine, nodes);
  }

  /**
   * A history page arrived. Pages are cut by size: while the pane cannot scroll (so the reader
   * cannot scroll up for more) and the server said the last page had `more` before it, ask for
   * the next one now.
   */
  historyArrived(room) {
    const r = this.room();
    if (!r || r.key !== room || !r.olderMore || !r.hasOlder) return;
    if (this.scroller.scrollHeight <= this.scroller.clientHeight + NEAR_TOP_PX) this.client.loadOlder();
  }

  /** New messages (live, history, resume) in `room`. */
  messagesChanged(room, older) {
    if (room !== this.store.current) return;
    if (this.shown !== room) return this.renderRoom();
    const wasAtBottom = this.atBottom();
    const prevHeight = this.scroller.scrollHeight;
    const prevTop = this.scroller.scrollTop;
    this.syncMessages();
    this.renderReceipts();
    this.renderTyping();
    if (older) {
      this.scroller.scrollTop = prevTop + (this.scroller.scrollHeight - prevHeight);
    } else if (wasAtBottom) {
      this.scrollToBottom();
    }
  }

  /** Brings the <li> list in line with the room's seq-ordered store. */
  syncMessages() {
    const r = this.room();
    if (!r) return;
    const want = new Set(r.seqs);
    for (const [seq, li] of this.rendered) {
      if (!want.has(seq)) {
        li.remove();
        this.rendered.delete(seq);
        this.drawn.delete(seq);
      }
    }
    let next = null;
    for (let i = r.seqs.length - 1; i >= 0; i--) {
      const seq = r.seqs[i];
      const m = r.messages.get(seq);
      const target = m.reply_to ? r.messages.get(m.reply_to.seq) : undefined;
      let li = this.rendered.get(seq);
      const was = this.drawn.get(seq);
      // Held messages are never mutated: a new object (or a new original of a reply) means
      // the message changed; redraw it in place.
      if (li && (was[0] !== m || was[1] !== target)) {
        const fresh = this.drawMessage(m, target);
        const focused = li.contains(document.activeElement) ? document.activeElement : null;
        li.replaceWith(fresh);
        if (focused) refocus(focused, fresh, this.scroller);
        li = fresh;
        this.rendered.set(seq, li);
      } else if (!li) {
        li = this.drawMessage(m, target);
        this.rendered.set(seq, li);
        this.list.insertBefore(li, next);
      }
      this.drawn.set(seq, [m, target]);
      next = li;
    }
    if (r.loadingOlder) this.olderStatus.textContent = 'loading older messages...';
    else if (!r.hasOlder) replaceChildren(this.olderStatus, '--- beginning of ', iso(roomLabel(r.key, this.store.me)), ' ---');
    else this.olderStatus.textContent = 'scroll up for older messages';
  }

  drawMessage(m, target) {
    const li = messageItem(m, {
      me: this.store.me,
      target,
      onSender: (name) => this.client.startDm(name),
      onJump: (seq) => this.hooks.onJump(seq),
      onActions: (li, msg, button) => this.menu.toggle(li, msg, button),
      onReact: (seq, emoji, add) => this.report(this.client.react(seq, emoji, add)),
      onPicker: (li, msg, button) => this.openPicker(li, msg, button),
    });
    const files = attachmentsOf(m);
    if (files) li.appendChild(files);
    return li;
  }

  openPicker(li, m, opener) {
    this.picker.open(li, opener, (emoji) => {
      const mine = (m.reactions || []).some((x) => x.emoji === emoji && x.users.includes(this.store.me));
      this.report(this.client.react(m.seq, emoji, !mine));
    });
  }

  /** Shows an error text returned by a client action (null: none). */
  report(err) {
    if (err) this.hooks.onError(err);
  }

  /** What a pending reply to `seq` quotes. */
  excerptOf(seq) {
    const r = this.room();
    const m = r && r.messages.get(seq);
    if (!m) return `message #${seq}`;
    return quoted({ seq, sender: m.sender, preview: '' }, m) ?? 'message deleted';
  }

  /** Outbox entries of the current room, shown greyed out under the list. */
  renderPending() {
    const r = this.room();
    if (!r) return this.pendingList.replaceChildren();
    const wasAtBottom = this.atBottom();
    const items = this.store.pending(r.key).map((e) => {
      const status = { queued: 'waiting for connection', sent: 'sending...', failed: `not sent: ${e.error}` }[e.state];
      return h(
        'li',
        { class: `msg mine outbox ${e.state}`, dataset: { clientId: e.clientId } },
        e.replyTo ? h('span', { class: 'reply-quote pending-reply' }, '\u21b3 reply: ', h('span', { dir: 'auto' }, this.excerptOf(e.replyTo))) : null,
        h('span', { class: 'time' }, '[--:--:--]'),
        ' ',
        h('span', { class: 'sender-wrap' }, '<', h('span', { class: 'sender me' }, iso(this.store.me)), '>'),
        ' ',
        h('span', { class: 'content', dir: 'auto' }, e.content),
        ' ',
        h('em', { class: 'outbox-state' }, `(${status})`),
        e.state === 'failed'
          ? [
              ' ',
              h('button', { type: 'button', class: 'btn small', on: { click: () => this.client.retry(e.clientId) } }, 'retry'),
              h('button', { type: 'button', class: 'btn small', on: { click: () => this.client.discard(e.clientId) } }, 'discard'),
            ]
          : null,
      );
    });
    replaceChildren(this.pendingList, items);
    if (wasAtBottom) this.scrollToBottom();
  }

  /** "seen by" under the newest held message each other member has read. */
  renderReceipts() {
    for (const old of this.list.querySelectorAll('.seen')) old.remove();
    const r = this.room();
    if (!r || !r.seqs.length) return;
    const me = this.store.me;
    const at = new Map(); // seq -> [names]
    for (const [user, cursor] of r.receipts) {
      if (user === me) continue;
      let seq = 0;
      for (let i = r.seqs.length - 1; i >= 0; i--) {
        if (r.seqs[i] <= cursor) {
          seq = r.seqs[i];
          break;
        }
      }
      if (!seq) continue;
      if (!at.has(seq)) at.set(seq, []);
      at.get(seq).push(user);
    }
    for (const [seq, names] of at) {
      const li = this.rendered.get(seq);
      if (!li) continue;
      const list = names.sort().flatMap((name, i) => (i ? [', ', iso(name)] : [iso(name)]));
      li.appendChild(h('div', { class: 'seen' }, 'seen by ', list));
    }
  }

  renderTyping() {
    const r = this.room();
    const typers = r ? r.typers(Date.now()) : [];
    let nodes = [];
    if (typers.length === 1) nodes = [iso(typers[0]), ' is typing...'];
    else if (typers.length === 2) nodes = [iso(typers[0]), ' and ', iso(typers[1]), ' are typing...'];
    else if (typers.length > 2) nodes = ['several people are typing...'];
    const text = nodes.map((n) => (typeof n === 'string' ? n : n.textContent)).join('');
    if (this.typingLine.textContent !== text) replaceChildren(this.typingLine, nodes);
  }

  /** Highlights one message (jump from a notification). */
  reveal(seq) {
    const li = this.rendered.get(seq);
    if (!li) return false;
    li.scrollIntoView({ block: 'center' });
    // `revealed` stays (until the next jump) so the reader keeps their place; `flash` draws the eye.
    for (const old of this.list.querySelectorAll('li.revealed')) old.classList.remove('revealed');
    li.classList.add('revealed', 'flash');
    setTimeout(() => li.classList.remove('flash'), 2000);
    return true;
  }
}

/** Keeps the keyboard focus on the same control when its message is redrawn. */
function refocus(was, li, fallback) {
  let sel = '.msg-actions';
  if (was.dataset.emoji && was.classList.contains('chip')) sel = `.chip[data-emoji="${CSS.escape(was.dataset.emoji)}"]`;
  else if (was.classList.contains('add-reaction')) sel = '.add-reaction';
  const next = li.querySelector(sel) || li.querySelector('.msg-actions');
  (next || fallback).focus();
}
