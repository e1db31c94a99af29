// The sidebar: rooms and DMs with unread counts and a separate mention badge, pending
// invitations (accept / decline), the join/create form, the public room directory (name-prefix
// search, paged) and the people list (click a name to start a DM).

const SEARCH_DELAY_MS = 250;

import { byId, h, iso, replaceChildren } from './dom.js';
import { dmPeer, roomLabel } from './store.js';

export class Sidebar {
  constructor(store, client) {
    this.store = store;
    this.client = client;
    this.roomList = byId('room-list');
    this.dmList = byId('dm-list');
    this.directoryList = byId('directory-list');
    this.peopleList = byId('people-list');
    this.invitations = byId('invitations');
    this.inviteList = byId('invite-list');
    this.search = byId('directory-search');
    this.moreBtn = byId('directory-more');
    this.searchTimer = null;
    this.nav = byId('sidebar');
    this.toggle = byId('sidebar-toggle');

    byId('join-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const input = byId('join-input');
      const name = input.value.trim();
      if (!name) return;
      if (ev.submitter && ev.submitter.value === 'private') client.createRoom(name, true);
      else client.joinRoom(name);
      input.value = '';
      this.close();
    });
    byId('directory').addEventListener('toggle', (ev) => {
      if (ev.target.open) client.searchRooms(this.search.value);
    });
    byId('directory-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      clearTimeout(this.searchTimer);
      client.searchRooms(this.search.value);
    });
    this.search.addEventListener('input', () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => client.searchRooms(this.search.value), SEARCH_DELAY_MS);
    });
    this.moreBtn.addEventListener('click', () => client.moreRooms());
    byId('people').addEventListener('toggle', (ev) => {
      if (ev.target.open) client.listUsers();
    });
    this.toggle.addEventListener('click', () => {
      if (this.nav.classList.contains('open')) this.close();
      else this.open();
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') this.close();
    });
  }

  open() {
    this.nav.classList.add('open');
    this.toggle.setAttribute('aria-expanded', 'true');
  }

  close() {
    this.nav.classList.remove('open');
    this.toggle.setAttribute('aria-expanded', 'false');
  }

  render() {
    const s = this.store;
    const groups = [];
    const dms = [];
    for (const r of s.rooms.values()) (r.kind === 'dm' ? dms : groups).push(r);
    const byLabel = (a, b) => roomLabel(a.key, s.me).localeCompare(roomLabel(b.key, s.me));
    replaceChildren(this.roomList, groups.sort(byLabel).map((r) => this.item(r)));
    replaceChildren(this.dmList, dms.sort(byLabel).map((r) => this.item(r)));
    if (!groups.length) this.roomList.appendChild(h('li', { class: 'empty' }, 'No rooms yet: join "lobby" below.'));
    if (!dms.length) this.dmList.appendChild(h('li', { class: 'empty' }, 'Click a name to chat privately.'));
  }

  item(r) {
    const s = this.store;
    const peer = dmPeer(r.key, s.me);
    const online = peer !== null && s.isOnline(peer);
    const classes = ['room-item'];
    if (r.key === s.current) classes.push('current');
    if (r.unread > 0) classes.push('has-unread');
    const button = h(
      'button',
      {
        type: 'button',
        class: classes.join(' '),
        dataset: { room: r.key },
        'aria-current': r.key === s.current ? 'true' : null,
        on: {
          click: () => {
            this.client.openRoom(r.key);
            this.close();
          },
        },
      },
      peer !== null ? h('span', { class: online ? 'dot online' : 'dot', title: online ? 'online' : 'offline' }) : null,
      h('span', { class: 'room-name' }, iso(roomLabel(r.key, s.me))),
      r.kind === 'private' ? h('span', { class: 'lock', title: 'private room' }, '[priv]') : null,
      r.unread > 0 ? h('span', { class: 'unread-count', title: 'unread messages' }, String(r.unread)) : null,
      r.highlight > 0 ? h('span', { class: 'mention-badge', title: 'mentions' }, `@${r.highlight}`) : null,
    );
    return h('li', null, button);
  }

  renderInvitations() {
    const s = this.store;
    const items = s.invitationList().map((inv) =>
      h(
        'li',
        { class: 'invitation', dataset: { room: inv.room } },
        iso(roomLabel(inv.room, s.me)),
        inv.kind === 'private' ? h('span', { class: 'lock', title: 'private room' }, ' [priv]') : null,
        ' from ',
        iso(inv.inviter),
        ' ',
        h('button', { type: 'button', class: 'btn small accept-invite', on: { click: () => this.client.acceptInvite(inv.room) } }, 'accept'),
        h('button', { type: 'button', class: 'btn small decline-invite', on: { click: () => this.client.declineInvite(inv.room) } }, 'decline'),
      ),
    );
    replaceChildren(this.inviteList, items);
    this.invitations.hidden = items.length === 0;
  }

  renderDirectory() {
    const s = this.store;
    const d = s.directory;
    const items = d.rooms.map((info) => {
      const name = info.room.replace(/^group:/, '');
      const joined = s.rooms.has(info.room);
      return h(
        'li',
        null,
        h(
          'button',
          { type: 'button', class: 'link', dataset: { room: info.room }, on: { click: () => this.client.joinRoom(name) } },
          iso(`#${name}`),
        ),
        ` (${info.members})`,
        joined ? ' *' : null,
      );
    });
    let empty = null;
    if (!items.length) empty = h('li', { class: 'empty' }, d.loading ? 'looking...' : d.prefix ? 'No public room starts with that.' : 'No public rooms.');
    replaceChildren(this.directoryList, items.length ? items : empty);
    this.moreBtn.hidden = !d.next;
    this.moreBtn.disabled = d.loading;
  }

  renderPeople() {
    const s = this.store;
    const people = [...s.people.entries()]
      .filter(([name]) => name !== s.me)
      .sort((a, b) => (a[1] === b[1] ? a[0].localeCompare(b[0]) : a[1] ? -1 : 1));
    const items = people.map(([name, online]) =>
      h(
        'li',
        null,
        h('span', { class: online ? 'dot online' : 'dot', title: online ? 'online' : 'offline' }),
        h(
          'button',
          {
            type: 'button',
            class: 'link user-link',
            dataset: { user: name },
            title: `Send ${name} a direct message`,
            on: {
              click: () => {
                this.client.startDm(name);
                this.close();
              },
            },
          },
          iso(name),
        ),
      ),
    );
    replaceChildren(this.peopleList, items.length ? items : h('li', { class: 'empty' }, 'Nobody else here yet.'));
  }
}
