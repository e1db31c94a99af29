// The search box: Ctrl+K or `/` (not while typing in a field) opens it; results come from
// `GET /api/search` (the server searches only the rooms the user is a member of now), grouped
// by room, with the matched words marked. Arrow keys move through the hits, Enter (or a click)
// jumps to the message with its context loaded. Every snippet is built from text nodes: the
// server's `highlights` are UTF-16 offsets, cut out with `slice` and wrapped in <mark>; no
// string is ever parsed as HTML.

import { call } from './api.js';
import { byId, clock, h, iso, replaceChildren } from './dom.js';
import { roomLabel } from './store.js';

/** How long typing pauses before the query runs, ms. */
const DEBOUNCE_MS = 250;
/** Hits per search (the server's most). */
const LIMIT = 50;

/** Text nodes and <mark>s for `snippet` with `highlights` ([start, end) in UTF-16 units). */
export function marked(snippet, highlights) {
  const out = [];
  let at = 0;
  for (const [start, end] of highlights || []) {
    if (start < at || end <= start || end > snippet.length) continue; // malformed: skip it
    if (start > at) out.push(snippet.slice(at, start));
    out.push(h('mark', null, snippet.slice(start, end)));
    at = end;
  }
  if (at < snippet.length) out.push(snippet.slice(at));
  return out;
}

export class SearchBox {
  /** `onOpen(room, seq)` jumps to a hit. */
  constructor(store, onOpen) {
    this.store = store;
    this.onOpen = onOpen;
    this.panel = byId('search-panel');
    this.input = byId('search-input');
    this.results = byId('search-results');
    this.status = byId('search-status');
    this.timer = null;
    /** Answers to older queries are dropped. */
    this.generation = 0;
    this.active = -1;
    document.addEventListener('keydown', (ev) => this.onGlobalKey(ev));
    this.input.addEventListener('input', () => this.schedule());
    this.input.addEventListener('keydown', (ev) => this.onKey(ev));
    byId('search-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.run();
    });
    byId('search-close').addEventListener('click', () => this.close());
    byId('search-btn').addEventListener('click', () => this.open());
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  onGlobalKey(ev) {
    if (byId('chat-screen').hidden) return;
    const typing = ev.target instanceof HTMLElement && ev.target.closest('input, textarea, select, [contenteditable]');
    const ctrlK = (ev.ctrlKey || ev.metaKey) && !ev.altKey && ev.key.toLowerCase() === 'k';
    if (ctrlK || (ev.key === '/' && !typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey)) {
      ev.preventDefault();
      this.open();
    } else if (ev.key === 'Escape' && this.isOpen) {
      ev.preventDefault();
      this.close();
    }
  }

  open() {
    this.panel.hidden = false;
    this.input.focus();
    this.input.select();
  }

  close() {
    this.panel.hidden = true;
    clearTimeout(this.timer);
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), DEBOUNCE_MS);
  }

  async run() {
    clearTimeout(this.timer);
    this.timer = null;
    const q = this.input.value.trim();
    const generation = ++this.generation;
    if (!q) {
      this.show([], '');
      return;
    }
    replaceChildren(this.status, 'searching...');
    try {
      const page = await call('GET', `/api/search?q=${encodeURIComponent(q)}&limit=${LIMIT}`);
      if (generation !== this.generation) return;
      const items = Array.isArray(page && page.items) ? page.items : [];
      let note = items.length ? `${items.length}${page.next ? '+' : ''} found` : 'nothing found';
      if (page && page.stale) note += ' (the index is catching up; recent messages may be missing)';
      this.show(items, note);
    } catch (e) {
      if (generation === this.generation) this.show([], e.message);
    }
  }

  /** Renders `items` grouped by room, in the order their rooms first appear. */
  show(items, note) {
    const groups = new Map();
    for (const it of items) {
      if (typeof it.room !== 'string' || typeof it.snippet !== 'string') continue;
      if (!groups.has(it.room)) groups.set(it.room, []);
      groups.get(it.room).push(it);
    }
    const sections = [...groups.entries()].map(([room, hits]) =>
      h(
        'section',
        { class: 'search-group', dataset: { room } },
        h('h3', { class: 'search-room' }, iso(roomLabel(room, this.store.me))),
        h(
          'ol',
          { class: 'plain-list' },
          hits.map((it) =>
            h(
              'li',
              {
                class: 'search-hit',
                tabindex: '-1',
                role: 'option',
                dataset: { room, seq: String(it.seq) },
                on: { click: () => this.choose(room, it.seq) },
              },
              h('span', { class: 'search-meta' }, iso(it.sender), ' ', clock(it.timestamp)),
              ' ',
              h(
                'span',
                { class: 'search-snippet', dir: 'auto' },
                it.cut_before ? '... ' : null,
                marked(it.snippet, it.highlights),
                it.cut_after ? ' ...' : null,
              ),
            ),
          ),
        ),
      ),
    );
    replaceChildren(this.results, sections);
    replaceChildren(this.status, note);
    this.setActive(this.hits().length ? 0 : -1);
  }

  hits() {
    return [...this.results.querySelectorAll('.search-hit')];
  }

  setActive(i) {
    const hits = this.hits();
    hits.forEach((li, j) => {
      li.classList.toggle('active', j === i);
      li.setAttribute('aria-selected', j === i ? 'true' : 'false');
    });
    this.active = i;
    if (hits[i]) hits[i].scrollIntoView({ block: 'nearest' });
  }

  onKey(ev) {
    const n = this.hits().length;
    if (ev.key === 'ArrowDown' && n) {
      ev.preventDefault();
      this.setActive((this.active + 1) % n);
    } else if (ev.key === 'ArrowUp' && n) {
      ev.preventDefault();
      this.setActive((this.active - 1 + n) % n);
    } else if (ev.key === 'Enter') {
      ev.preventDefault();
      const li = this.hits()[this.active];
      // Enter before the answer of what was just typed: run it first.
      if (li && !this.timer) this.choose(li.dataset.room, Number(li.dataset.seq));
      else this.run();
    }
  }

  choose(room, seq) {
    this.close();
    this.onOpen(room, seq);
  }
}
