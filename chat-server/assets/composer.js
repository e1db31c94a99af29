// The message box: Enter sends (Shift+Enter: new line), typing indicator, and mention
// autocomplete on `@` (room members, @room, @here; arrows to move, Enter or Tab to pick,
// Escape to close).

import { byId, h, iso, replaceChildren } from './dom.js';
import { partialAt } from './mention.js';

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
    if (!text.trim()) return;
    const err = this.client.sendMessage(text);
    if (err) {
      this.onError(err);
      return;
    }
    this.input.value = '';
    this.closeMenu();
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
