// The actions menu of a message: reply and react on every message; edit on your own; delete on
// your own and, where the server's room summary says `can_delete` (the owner of a private
// room), on everyone's. The server refuses anything else (`not_author`, `forbidden`). Delete
// asks first, in the message itself. Keyboard: the menu opens with the focus on its first item, arrows move,
// Enter picks, Escape closes and gives the focus back to the [...] button.

import { h } from './dom.js';

export class MessageMenu {
  /**
   * hooks: { me(): string, canDeleteAny(): bool (in the open room), onReply(seq), onEdit(seq),
   * onDelete(seq), onPicker(li, m, opener) }.
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.el = null;
    this.trigger = null;
    document.addEventListener('mousedown', (ev) => {
      if (this.el && !this.el.contains(ev.target) && ev.target !== this.trigger) this.close(false);
    });
  }

  /** Opens (or, when open for this button, closes) the menu of message `m` in `li`. */
  toggle(li, m, trigger) {
    if (this.el && this.trigger === trigger && this.el.isConnected) return this.close(true);
    this.close(false);
    const mine = m.sender === this.hooks.me();
    const deletable = mine || this.hooks.canDeleteAny();
    const item = (label, cls, fn) =>
      h(
        'button',
        {
          type: 'button',
          role: 'menuitem',
          class: `menu-item ${cls}`,
          on: {
            click: () => {
              this.close(false);
              fn();
            },
          },
        },
        label,
      );
    const items = [
      item('Reply', 'do-reply', () => this.hooks.onReply(m.seq)),
      item('React...', 'do-react', () => this.hooks.onPicker(li, m, trigger)),
      mine ? item('Edit', 'do-edit', () => this.hooks.onEdit(m.seq)) : null,
      deletable ? item('Delete...', 'do-delete', () => this.confirmDelete(li, m, trigger)) : null,
    ].filter(Boolean);
    this.el = h(
      'div',
      { class: 'msg-menu popup', role: 'menu', 'aria-label': 'Message actions', on: { keydown: (ev) => this.onKey(ev, items) } },
      items,
    );
    this.trigger = trigger;
    trigger.setAttribute('aria-expanded', 'true');
    li.appendChild(this.el);
    // Near the bottom of the pane a popup would open out of sight.
    this.el.scrollIntoView({ block: 'nearest' });
    items[0].focus();
    return undefined;
  }

  onKey(ev, items) {
    const i = items.indexOf(document.activeElement);
    if (ev.key === 'Escape') {
      ev.preventDefault();
      ev.stopPropagation();
      this.close(true);
    } else if ((ev.key === 'ArrowDown' || ev.key === 'ArrowUp') && items.length) {
      ev.preventDefault();
      const step = ev.key === 'ArrowDown' ? 1 : -1;
      items[(Math.max(i, 0) + step + items.length) % items.length].focus();
    } else if (ev.key === 'Tab') {
      this.close(false);
    }
  }

  close(refocus) {
    if (!this.el) return;
    this.el.remove();
    this.el = null;
    if (this.trigger) {
      this.trigger.setAttribute('aria-expanded', 'false');
      if (refocus && this.trigger.isConnected) this.trigger.focus();
    }
    this.trigger = null;
  }

  /** "Delete this message?" in the message itself; the focus starts on "keep it". */
  confirmDelete(li, m, trigger) {
    for (const old of li.querySelectorAll('.confirm-delete')) old.remove();
    const done = (refocus) => {
      box.remove();
      if (refocus && trigger.isConnected) trigger.focus();
    };
    const keep = h('button', { type: 'button', class: 'btn small confirm-no', on: { click: () => done(true) } }, 'Keep it');
    const yes = h(
      'button',
      {
        type: 'button',
        class: 'btn small confirm-yes',
        on: {
          click: () => {
            done(false);
            this.hooks.onDelete(m.seq);
          },
        },
      },
      'Delete',
    );
    const box = h(
      'div',
      {
        class: 'confirm-delete',
        role: 'alertdialog',
        'aria-label': 'Delete this message?',
        on: {
          keydown: (ev) => {
            if (ev.key !== 'Escape') return;
            ev.preventDefault();
            ev.stopPropagation();
            done(true);
          },
        },
      },
      h('span', { class: 'confirm-text' }, 'Delete this message for everyone? This cannot be undone. '),
      yes,
      ' ',
      keep,
    );
    li.appendChild(box);
    box.scrollIntoView({ block: 'nearest' });
    keep.focus();
  }
}
