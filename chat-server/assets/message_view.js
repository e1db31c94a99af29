// One message as a list item: time, sender, text with its mentions, the "(edited)" marker or
// the "message deleted" tombstone, the quoted excerpt of the message it replies to (a button
// that jumps to it), its reaction chips and its actions button. Text only (dom.js): every
// user string is a text node inside a bidi isolate.

import { clock, fullDate, h, iso } from './dom.js';
import { segments } from './mention.js';
import { reactionChips } from './reactions.js';

/** Characters of a quoted excerpt (the server's `reply_to.preview` holds at most 120). */
export const EXCERPT_CHARS = 120;

/** The first EXCERPT_CHARS characters (code points) of `text`, on one line. */
export function excerpt(text) {
  const flat = String(text).replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  return chars.length > EXCERPT_CHARS ? `${chars.slice(0, EXCERPT_CHARS).join('')}...` : flat;
}

/**
 * What a reply quotes: the held original when we have it (so an edit or a deletion of it
 * shows at once), else the server's preview (empty when the original is deleted). Returns
 * null for a deleted original.
 */
export function quoted(reply, target) {
  if (target) return target.deleted ? null : excerpt(target.content);
  return reply.preview ? excerpt(reply.preview) : null;
}

/**
 * The <li> of message `m`. ctx: { me, target (the held message `m` replies to, or undefined),
 * onSender(name), onJump(seq), onActions(li, m, button), onReact(seq, emoji, add),
 * onPicker(li, m, button) }.
 */
export function messageItem(m, ctx) {
  const me = ctx.me;
  const mentioned = !m.deleted && (m.mentions || []).includes(me);
  const classes = ['msg'];
  if (m.sender === me) classes.push('mine');
  if (mentioned) classes.push('mentions-me');
  if (m.deleted) classes.push('deleted');
  if (m.reply_to) classes.push('reply');
  const sender =
    m.sender === me
      ? h('span', { class: 'sender me' }, iso(m.sender))
      : h(
          'button',
          {
            type: 'button',
            class: 'link sender',
            dataset: { user: m.sender },
            title: `Send ${m.sender} a direct message`,
            on: { click: () => ctx.onSender(m.sender) },
          },
          iso(m.sender),
        );
  const li = h(
    'li',
    { class: classes.join(' '), dataset: { seq: m.seq, sender: m.sender } },
    m.reply_to ? replyQuote(m.reply_to, ctx) : null,
    h('time', { class: 'time', datetime: new Date(m.timestamp).toISOString(), title: fullDate(m.timestamp) }, `[${clock(m.timestamp)}]`),
    ' ',
    h('span', { class: 'sender-wrap' }, '<', sender, '>'),
    ' ',
    body(m, me),
    m.edited_at && !m.deleted
      ? [' ', h('span', { class: 'edited', title: `edited ${fullDate(m.edited_at)}` }, '(edited)')]
      : null,
  );
  // Messages without a `rev` come from a server without the message lifecycle: no actions.
  if (!m.deleted && typeof m.rev === 'number') {
    const actions = h(
      'button',
      {
        type: 'button',
        class: 'btn small msg-actions',
        'aria-haspopup': 'menu',
        'aria-expanded': 'false',
        'aria-label': `Actions for the message from ${m.sender} at ${clock(m.timestamp)}`,
        title: 'reply, react, edit, delete',
        on: { click: () => ctx.onActions(li, m, actions) },
      },
      '[...]',
    );
    li.insertBefore(actions, li.firstChild);
  }
  if (!m.deleted) {
    const chips = reactionChips(m, me, {
      onToggle: (emoji, add) => ctx.onReact(m.seq, emoji, add),
      onMore: (button) => ctx.onPicker(li, m, button),
    });
    if (chips) li.appendChild(chips);
  }
  return li;
}

function body(m, me) {
  if (m.deleted) {
    return h('span', { class: 'content tombstone', title: m.deleted_at ? `deleted ${fullDate(m.deleted_at)}` : null }, 'message deleted');
  }
  // dir=auto: the body is an isolate with its own direction (docs/design.md, "Security").
  const content = h('span', { class: 'content', dir: 'auto' });
  for (const seg of segments(m.content, m.mentions, me)) {
    if (seg.mention) content.appendChild(h('span', { class: seg.mine ? 'mention mention-me' : 'mention' }, seg.text));
    else content.appendChild(document.createTextNode(seg.text));
  }
  return content;
}

function replyQuote(reply, ctx) {
  const text = quoted(reply, ctx.target);
  return h(
    'button',
    {
      type: 'button',
      class: 'reply-quote',
      dataset: { replyTo: reply.seq },
      title: 'Jump to the original message',
      on: { click: () => ctx.onJump(reply.seq) },
    },
    h('span', { class: 'reply-arrow', 'aria-hidden': 'true' }, '\u21b3 '),
    h('span', { class: 'visually-hidden' }, 'In reply to '),
    h('span', { class: 'reply-sender' }, '<', iso(reply.sender), '>'),
    ' ',
    text === null ? h('em', { class: 'reply-excerpt tombstone' }, 'message deleted') : h('span', { class: 'reply-excerpt', dir: 'auto' }, text),
  );
}
