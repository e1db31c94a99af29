// Reactions: the chips under a message (emoji, count, who reacted; click to add or take back
// yours) and the picker, a small grid of emoji labelled with the emoticons of the late 90s.
// The server checks every rule (one emoji, at most 20 per message and 5 per user); this only
// offers the emoji and shows what the server says.

import { h } from './dom.js';

/** The picker's emoji and the emoticon each stands for. */
export const EMOJI = [
  ['\u{1F642}', ':-)'],
  ['\u{1F600}', ':-D'],
  ['\u{1F609}', ';-)'],
  ['\u{1F61B}', ':-P'],
  ['\u{1F62E}', ':-O'],
  ['\u{1F622}', ":'-("],
  ['\u{1F60E}', '8-)'],
  ['\u{1F44D}', '(y)'],
  ['\u2764\uFE0F', '<3'],
  ['\u{1F389}', '\\o/'],
  ['\u{1F4BE}', '[floppy]'],
  ['\u2615', '[coffee]'],
];

/**
 * The chips of `m`'s reactions, or null when it has none: one toggle button per emoji (pressed
 * when `me` reacted with it), titled with who reacted, and a "+" that opens the picker.
 * hooks: { onToggle(emoji, add), onMore(button) }.
 */
export function reactionChips(m, me, hooks) {
  const list = m.reactions || [];
  if (!list.length) return null;
  const chips = list.map(({ emoji, users }) => {
    const mine = users.includes(me);
    const who = users.join(', ');
    return h(
      'button',
      {
        type: 'button',
        class: mine ? 'chip mine' : 'chip',
        'aria-pressed': mine ? 'true' : 'false',
        'aria-label': `${emoji} ${users.length}: ${who}`,
        title: who,
        dataset: { emoji },
        on: { click: () => hooks.onToggle(emoji, !mine) },
      },
      h('span', { class: 'chip-emoji' }, emoji),
      ' ',
      h('span', { class: 'chip-count' }, String(users.length)),
    );
  });
  const more = h(
    'button',
    {
      type: 'button',
      class: 'chip add-reaction',
      'aria-label': 'Add a reaction',
      title: 'add a reaction',
      'aria-haspopup': 'true',
      on: { click: () => hooks.onMore(more) },
    },
    '+',
  );
  return h('div', { class: 'reactions', role: 'group', 'aria-label': 'Reactions' }, chips, more);
}

/**
 * The emoji picker: a grid of buttons in a popup inside the message's <li>. Arrow keys move
 * between the emoji, Enter or a click picks one, Escape (or a click elsewhere) closes it and
 * gives the focus back to the button that opened it.
 */
export class ReactionPicker {
  constructor() {
    this.el = null;
    this.opener = null;
    document.addEventListener('mousedown', (ev) => {
      if (this.el && !this.el.contains(ev.target)) this.close(false);
    });
  }

  get isOpen() {
    return this.el !== null && this.el.isConnected;
  }

  /** Opens the picker in `li`; `onPick(emoji)` gets the chosen emoji. */
  open(li, opener, onPick) {
    this.close(false);
    const buttons = EMOJI.map(([emoji, face]) =>
      h(
        'button',
        {
          type: 'button',
          class: 'pick',
          dataset: { emoji },
          'aria-label': `${emoji} ${face}`,
          title: face,
          on: {
            click: () => {
              this.close(true);
              onPick(emoji);
            },
          },
        },
        h('span', { class: 'pick-emoji' }, emoji),
        h('span', { class: 'pick-face', 'aria-hidden': 'true' }, face),
      ),
    );
    this.el = h(
      'div',
      { class: 'picker popup', role: 'dialog', 'aria-label': 'Pick a reaction', on: { keydown: (ev) => this.onKey(ev, buttons) } },
      h('div', { class: 'popup-title' }, 'React with...'),
      h('div', { class: 'picker-grid' }, buttons),
    );
    this.opener = opener;
    li.appendChild(this.el);
    // Near the bottom of the pane a popup would open out of sight.
    this.el.scrollIntoView({ block: 'nearest' });
    buttons[0].focus();
  }

  onKey(ev, buttons) {
    const i = buttons.indexOf(document.activeElement);
    const cols = 4;
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols };
    if (ev.key === 'Escape') {
      ev.preventDefault();
      ev.stopPropagation();
      this.close(true);
    } else if (moves[ev.key] !== undefined && i >= 0) {
      ev.preventDefault();
      const n = buttons.length;
      buttons[(i + moves[ev.key] + n) % n].focus();
    }
  }

  /** Closes the picker; `refocus` gives the focus back to its opener. */
  close(refocus) {
    if (!this.el) return;
    this.el.remove();
    this.el = null;
    if (refocus && this.opener && this.opener.isConnected) this.opener.focus();
    this.opener = null;
  }
}
