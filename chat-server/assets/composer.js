// The message box: Enter sends (Shift+Enter: new line), typing indicator, and mention
// autocomplete on `@` (room members, @room, @here; arrows to move, Enter or Tab to pick,
// Escape to close). Two modes, shown in a bar above the box: editing one of your messages
// (from its menu, or Up-arrow in an empty box for your last one; Enter saves) and replying
// to a message (its excerpt is quoted; Enter sends the reply). Escape leaves either mode.

import { byId, h, iso, replaceChildren } from './dom.js';
import { Attacher } from './attach.js';
import { partialAt } from './mention.js';
import { excerpt } from './message_view.js';

const MAX_SUGGESTIONS = 8;

export class Composer {
  constructor(store, client, onError) {
    this.store = store;
    this.client = client;
    this.onError = onError;
    this.form = byId('composer-form');
    this.input = byId('composer');
    this.menu = byId('mention-menu');
    this.suggestions = [];
    this.selected = 0;
    this.partial = null;
    /** null, or { kind: 'edit' | 'reply', room, seq }. */
    this.mode = null;
    this.attacher = new Attacher(this.form, this.input, onError);
    this.modeBar = h('div', { id: 'composer-mode', class: 'composer-mode', role: 'status', hidden: true });
    this.form.insertBefore(this.modeBar, this.form.firstChild);

    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (ev) => this.onKey(ev));
    this.input.addEventListener('input', () => {
      if (this.input.value.trim()) client.typing();
      else client.stopTyping();
      this.updateMenu();
    });
    this.input.addEventListener('click', () => this.updateMenu());
    this.input.addEventListener('blur', () => {
      // Let a click on a suggestion land first.
      setTimeout(() => this.closeMenu(), 150);
    });
  }

  focus() {
    this.input.focus();
  }

  submit() {
    const text = this.input.value;
    const mode = this.modeFor(this.store.current);
    const editing = mode && mode.kind === 'edit';
    if (!editing && this.attacher.busy()) {
      this.onError('Wait for the uploads to finish.');
      return;
    }
    const files = editing ? [] : this.attacher.ids();
    if (!text.trim() && !files.length) {
      if (editing) this.cancelMode();
      return;
    }
    const err = editing ? this.client.editMessage(mode.seq, text) : this.client.sendMessage(text, mode ? mode.seq : 0, files);
    if (err) {
      this.onError(err);
      return;
    }
    this.input.value = '';
    if (!editing) this.attacher.clear();
    this.closeMenu();
    this.setMode(null);
  }

  /** The mode, if it belongs to `room` (a mode never follows the user to another room). */
  modeFor(room) {
    return this.mode && this.mode.room === room ? this.mode : null;
  }

  /** Edits our held message `seq` of the open room: its text goes into the box. */
  startEdit(seq) {
    const r = this.store.rooms.get(this.store.current);
    const m = r && r.messages.get(seq);
    if (!m || m.deleted || m.sender !== this.store.me) return;
    this.setMode({ kind: 'edit', room: r.key, seq });
    this.input.value = m.content;
    this.focus();
    this.input.setSelectionRange(m.content.length, m.content.length);
  }

  /** Replies to message `seq` of the open room. */
  startReply(seq) {
    const r = this.store.rooms.get(this.store.current);
    const m = r && r.messages.get(seq);
    if (!m || m.deleted) return;
    if (this.mode && this.mode.kind === 'edit') this.input.value = '';
    this.setMode({ kind: 'reply', room: r.key, seq });
    this.focus();
  }

  /** Leaves the edit or reply mode (an unsaved edit's text goes). */
  cancelMode() {
    if (this.mode && this.mode.kind === 'edit') this.input.value = '';
    this.setMode(null);
  }

  /** The open room changed: a mode of another room ends. */
  roomChanged() {
    if (this.mode && this.mode.room !== this.store.current) this.cancelMode();
  }

  setMode(mode) {
    this.mode = mode;
    this.form.classList.toggle('editing', mode !== null && mode.kind === 'edit');
    if (!mode) {
      this.modeBar.hidden = true;
      this.modeBar.replaceChildren();
      return;
    }
    const r = this.store.rooms.get(mode.room);
    const m = r && r.messages.get(mode.seq);
    const cancel = h(
      'button',
      { type: 'button', class: 'btn small mode-cancel', title: 'Escape', on: { click: () => this.cancelMode() } },
      'cancel',
    );
    if (mode.kind === 'edit') {
      replaceChildren(this.modeBar, h('b', null, 'Editing your message'), ' (Enter saves, Esc cancels) ', cancel);
    } else {
      replaceChildren(
        this.modeBar,
        h('b', null, 'Replying to '),
        '<',
        iso(m ? m.sender : '?'),
        '>: ',
        h('span', { class: 'mode-excerpt', dir: 'auto' }, m ? excerpt(m.content) : ''),
        ' ',
        cancel,
      );
    }
    this.modeBar.dataset.kind = mode.kind;
    this.modeBar.hidden = false;
  }

  onKey(ev) {
    if (ev.isComposing) return;
    const open = !this.menu.hidden && this.suggestions.length > 0;
    if (open) {
      if (ev.key === 'ArrowDown') {
        ev.preventDefault();
        this.move(1);
        return;
      }
      if (ev.key === 'ArrowUp') {
        ev.preventDefault();
        this.move(-1);
        return;
      }
      if (ev.key === 'Enter' || ev.key === 'Tab') {
        ev.preventDefault();
        this.pick(this.selected);
        return;
      }
      if (ev.key === 'Escape') {
        ev.preventDefault();
        ev.stopPropagation();
        this.closeMenu();
        return;
      }
    }
    if (ev.key === 'Enter' && !ev.shiftKey) {
      ev.preventDefault();
      this.submit();
      return;
    }
    if (ev.key === 'Escape' && this.mode) {
      ev.preventDefault();
      ev.stopPropagation();
      this.cancelMode();
      return;
    }
    // Up-arrow in an empty box edits your last message (as in most chat clients).
    const plain = !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey;
    if (ev.key === 'ArrowUp' && plain && this.input.value === '' && !(this.mode && this.mode.kind === 'edit')) {
      const r = this.store.rooms.get(this.store.current);
      const last = r && r.lastMessageOf(this.store.me);
      if (last && typeof last.rev === 'number') {
        ev.preventDefault();
        this.startEdit(last.seq);
      }
    }
  }

  /** Recomputes suggestions for the `@partial` at the caret. */
  updateMenu() {
    const r = this.store.rooms.get(this.store.current);
    const caret = this.input.selectionStart;
    const partial = r && caret === this.input.selectionEnd ? partialAt(this.input.value, caret) : null;
    if (!partial) return this.closeMenu();
    const q = partial.query.toLowerCase();
    const names = r
      .members(this.store.me)
      .map(([name]) => name)
      .filter((name) => name.startsWith(q));
    const special = r.kind === 'dm' ? [] : ['room', 'here'].filter((n) => n.startsWith(q));
    const list = [...names.slice(0, MAX_SUGGESTIONS), ...special];
    if (!list.length) return this.closeMenu();
    const keep = this.suggestions[this.selected];
    this.partial = partial;
    this.suggestions = list;
    this.selected = Math.max(0, list.indexOf(keep));
    this.renderMenu();
  }

  renderMenu() {
    const r = this.store.rooms.get(this.store.current);
    const items = this.suggestions.map((name, i) => {
      const hint = name === 'room' ? ' (everyone in the room)' : name === 'here' ? ' (everyone online)' : r && r.users.get(name) ? ' (online)' : '';
      return h(
        'li',
        {
          id: `mention-opt-${i}`,
          role: 'option',
          class: i === this.selected ? 'selected' : null,
          'aria-selected': i === this.selected ? 'true' : 'false',
          dataset: { name },
          on: {
            mousedown: (ev) => {
              ev.preventDefault();
              this.pick(i);
            },
          },
        },
        iso(`@${name}`),
        h('span', { class: 'hint' }, hint),
      );
    });
    replaceChildren(this.menu, items);
    this.menu.hidden = false;
    this.input.setAttribute('aria-expanded', 'true');
    this.input.setAttribute('aria-activedescendant', `mention-opt-${this.selected}`);
  }

  move(delta) {
    const n = this.suggestions.length;
    this.selected = (this.selected + delta + n) % n;
    this.renderMenu();
  }

  pick(i) {
    const name = this.suggestions[i];
    if (!name || !this.partial) return this.closeMenu();
    const v = this.input.value;
    const end = this.partial.start + 1 + this.partial.query.length;
    const insert = `@${name} `;
    this.input.value = v.slice(0, this.partial.start) + insert + v.slice(end);
    const caret = this.partial.start + insert.length;
    this.input.setSelectionRange(caret, caret);
    this.closeMenu();
    this.input.focus();
  }

  closeMenu() {
    this.menu.hidden = true;
    this.menu.replaceChildren();
    this.suggestions = [];
    this.selected = 0;
    this.partial = null;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
  }
}
