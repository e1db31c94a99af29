// The notification bell: live unread count, a dropdown of mention/DM notifications, mark one
// read (by opening it) or all, and the switch for desktop alerts.

import { byId, clock, h, iso, replaceChildren } from './dom.js';
import { roomLabel } from './store.js';

export class Bell {
  constructor(store, client, alerts, openAt) {
    this.store = store;
    this.client = client;
    this.alerts = alerts;
    this.openAt = openAt;
    this.button = byId('bell');
    this.count = byId('bell-count');
    this.panel = byId('notif-panel');
    this.list = byId('notif-list');
    this.empty = byId('notif-empty');
    this.desktopBtn = byId('notif-desktop');

    this.button.addEventListener('click', (ev) => {
      ev.stopPropagation();
      this.toggle();
    });
    byId('notif-clear').addEventListener('click', () => client.markNotificationsRead(null));
    this.desktopBtn.addEventListener('click', async () => {
      await alerts.askPermission();
      this.renderDesktopButton();
    });
    document.addEventListener('click', (ev) => {
      if (!this.panel.hidden && !this.panel.contains(ev.target)) this.close();
    });
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && !this.panel.hidden) {
        this.close();
        this.button.focus();
      }
    });
    this.renderDesktopButton();
  }

  toggle() {
    if (this.panel.hidden) this.open();
    else this.close();
  }

  open() {
    this.panel.hidden = false;
    this.button.setAttribute('aria-expanded', 'true');
    this.client.refreshNotifications();
    this.render();
  }

  close() {
    this.panel.hidden = true;
    this.button.setAttribute('aria-expanded', 'false');
  }

  renderDesktopButton() {
    this.desktopBtn.hidden = !this.alerts.canAsk();
  }

  render() {
    const s = this.store;
    const n = s.unreadNotifications;
    this.count.textContent = String(n);
    this.count.dataset.count = String(n);
    this.button.classList.toggle('ringing', n > 0);
    this.button.title = n === 1 ? '1 unread notification' : `${n} unread notifications`;
    if (this.panel.hidden) return;
    const items = s.notificationList().map((note) =>
      h(
        'li',
        { class: note.read ? 'notif read' : 'notif unread', dataset: { id: note.id } },
        h(
          'button',
          {
            type: 'button',
            class: 'notif-open',
            on: {
              click: () => {
                if (!note.read) this.client.markNotificationsRead([note.id]);
                this.close();
                this.openAt(note.room, note.seq);
              },
            },
          },
          h('span', { class: 'notif-kind' }, note.kind === 'dm' ? '[DM]' : '[@]'),
          ' ',
          h('b', null, iso(note.sender)),
          ' in ',
          iso(roomLabel(note.room, s.me)),
          ' ',
          h('span', { class: 'time' }, clock(note.timestamp)),
          h('span', { class: 'preview', dir: 'auto' }, note.preview),
        ),
        note.read
          ? null
          : h(
              'button',
              {
                type: 'button',
                class: 'btn small notif-mark',
                title: 'mark read',
                on: { click: () => this.client.markNotificationsRead([note.id]) },
              },
              'ok',
            ),
      ),
    );
    replaceChildren(this.list, items);
    this.empty.hidden = items.length > 0;
  }
}
