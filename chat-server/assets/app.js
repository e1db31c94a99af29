// Entry point: signs in, wires the store, connection, client and views together.
//
// Modules: store.js (state; room.js the room, lifecycle.js edits, deletions, reactions),
// connection.js (socket + backoff), client.js (protocol logic: resume, outbox, read cursors),
// mention.js (grammar), views: sidebar.js, messages.js (message_view.js, message_menu.js,
// reactions.js), composer.js, bell.js, alerts.js; dom.js (text-only DOM builder), api.js
// (REST).

import * as api from './api.js';
import { Alerts } from './alerts.js';
import { Bell } from './bell.js';
import { Client } from './client.js';
import { Composer } from './composer.js';
import { Connection } from './connection.js';
import { byId, iso, replaceChildren } from './dom.js';
import { MessagePane } from './messages.js';
import { SearchBox } from './search.js';
import { Sidebar } from './sidebar.js';
import { MAX_MESSAGES_PER_ROOM, PAGE, Store, roomLabel } from './store.js';

const store = new Store();
const alerts = new Alerts();
/** A message to scroll to once it is loaded: { room, seq } (a notification, a reply quote). */
let pendingReveal = null;

const conn = new Connection({
  onOpen: () => setStatus('connecting'),
  onFrame: (f) => client.handle(f),
  onStatus: (state, retryAt) => setStatus(state, retryAt),
  onClose: ({ code }) => {
    const hadSession = store.status === 'online';
    client.onDisconnected();
    // A refused upgrade looks like any other failure from here: ask the server whether the
    // session cookie is still good (HttpOnly, so the page cannot look at it).
    if (!hadSession || code === 1008 || code === 4001) {
      api.sessionState().then((state) => {
        if (state === 'no') signedOut('Your session has ended. Please log in again.');
      });
    }
    return true;
  },
});

const client = new Client(store, conn, {
  isReading: (key) =>
    key === store.current && !document.hidden && !byId('chat-screen').hidden && pane.atBottom(),
  onHistory: (room) => {
    pane.historyArrived(room);
    seekReveal();
  },
  onNotification: (n) => {
    const where = roomLabel(n.room, store.me);
    const title = n.kind === 'dm' ? `Message from ${n.sender}` : `${n.sender} mentioned you in ${where}`;
    alerts.desktop(title, n.preview, `chat-notification-${n.id}`, () => openAt(n.room, n.seq));
    alerts.blink(n.kind === 'dm' ? `DM from ${n.sender}` : `${n.sender} mentioned you`);
  },
});

const sidebar = new Sidebar(store, client);
const pane = new MessagePane(store, client, {
  onReply: (seq) => composer.startReply(seq),
  onEdit: (seq) => composer.startEdit(seq),
  onJump: (seq) => openAt(store.current, seq),
  onError: (text) => toast(text),
});
const composer = new Composer(store, client, toast);
const bell = new Bell(store, client, alerts, openAt);
new SearchBox(store, openHit);

/**
 * Opens a search hit: its context is loaded with `history {around}` unless the message is
 * held already, then it is scrolled to and highlighted (as far as the room's buffer reaches).
 */
function openHit(room, seq) {
  const r = store.rooms.get(room);
  if (!r) return;
  const held = r.messages.has(seq);
  if (room !== store.current) client.openRoom(room);
  if (!held && (!r.seqs.length || r.newestSeq - seq <= MAX_MESSAGES_PER_ROOM - PAGE)) client.loadAround(room, seq);
  openAt(room, seq);
}

/** Opens `room` at message `seq`: scrolls to it, paging older history in until it is held. */
function openAt(room, seq) {
  if (room !== store.current) client.openRoom(room);
  pendingReveal = { room, seq };
  seekReveal();
}

function seekReveal() {
  if (!pendingReveal) return;
  if (pendingReveal.room !== store.current) {
    pendingReveal = null; // the user went elsewhere
    return;
  }
  const { seq } = pendingReveal;
  if (pane.reveal(seq)) {
    pendingReveal = null;
    return;
  }
  const r = store.rooms.get(store.current);
  if (!r || !r.seqs.length || r.oldestSeq <= seq || !r.hasOlder) return; // not loaded yet, or gone
  // Older pages until the message is held, as far as the room's buffer reaches.
  if (r.newestSeq - seq > MAX_MESSAGES_PER_ROOM - PAGE) {
    pendingReveal = null;
    toast('That message is too far back to jump to; scroll up to read it.');
    return;
  }
  client.loadOlder();
}

store.addEventListener('change', (ev) => {
  const d = ev.detail;
  switch (d.what) {
    case 'rooms':
      sidebar.render();
      alerts.setUnread(store.totalUnread());
      break;
    case 'room':
      sidebar.render();
      if (d.room === store.current) pane.renderHeader();
      alerts.setUnread(store.totalUnread());
      break;
    case 'current':
      pane.renderRoom();
      sidebar.render();
      composer.roomChanged();
      seekReveal();
      break;
    case 'messages':
      pane.messagesChanged(d.room, d.older);
      if (pendingReveal && d.room === store.current && pane.reveal(pendingReveal.seq)) pendingReveal = null;
      break;
    case 'outbox':
      if (d.room === store.current) pane.renderPending();
      break;
    case 'receipts':
      if (d.room === store.current) pane.renderReceipts();
      break;
    case 'typing':
      if (d.room === store.current) pane.renderTyping();
      break;
    case 'notifications':
      bell.render();
      break;
    case 'users':
      sidebar.render();
      sidebar.renderPeople();
      pane.renderOnline();
      break;
    case 'directory':
      sidebar.renderDirectory();
      break;
    case 'invitations':
      sidebar.renderInvitations();
      break;
    case 'notice':
      toast(d.message);
      break;
    case 'status':
      renderStatus();
      break;
    case 'error':
      toast(d.message);
      break;
    default:
      break;
  }
});

// ---- connection status --------------------------------------------------------------------

let statusTimer = null;

function setStatus(state, retryAt) {
  store.dispatch({ type: 'connectionChanged', state, retryAt });
}

function renderStatus() {
  const el = byId('conn-status');
  const retry = byId('retry-btn');
  el.dataset.state = store.status;
  clearInterval(statusTimer);
  statusTimer = null;
  retry.hidden = store.status !== 'offline';
  if (store.status === 'online') el.textContent = 'online';
  else if (store.status === 'connecting') el.textContent = 'connecting...';
  else if (store.status === 'offline') {
    const tick = () => {
      const secs = Math.max(0, Math.ceil((store.retryAt - Date.now()) / 1000));
      el.textContent = `offline - retrying in ${secs}s`;
    };
    tick();
    statusTimer = setInterval(tick, 1000);
  } else el.textContent = 'not signed in';
}

byId('retry-btn').addEventListener('click', () => conn.retryNow());

// ---- screens --------------------------------------------------------------------------------

function showChat() {
  byId('auth-screen').hidden = true;
  byId('chat-screen').hidden = false;
  byId('bell').hidden = false;
  byId('search-btn').hidden = false;
  byId('logout-btn').hidden = false;
}

function showAuth(message) {
  byId('chat-screen').hidden = true;
  byId('auth-screen').hidden = false;
  byId('bell').hidden = true;
  byId('search-btn').hidden = true;
  byId('search-panel').hidden = true;
  byId('logout-btn').hidden = true;
  byId('me-label').hidden = true;
  const err = byId('auth-error');
  err.hidden = !message;
  replaceChildren(err, message ? iso(message) : null);
  byId('auth-username').focus();
}

function startChat() {
  showChat();
  setStatus('connecting');
  conn.start();
}

function signedOut(message) {
  conn.stop();
  store.dispatch({ type: 'signedOut' });
  showAuth(message);
}

function toast(message) {
  const el = byId('toast');
  replaceChildren(el, iso(message));
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    el.hidden = true;
  }, 5000);
}

byId('auth-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const username = byId('auth-username').value.trim();
  const password = byId('auth-password').value;
  const register = ev.submitter && ev.submitter.value === 'register';
  const buttons = [byId('login-btn'), byId('signup-btn')];
  buttons.forEach((b) => {
    b.disabled = true;
  });
  try {
    await (register ? api.register(username, password) : api.login(username, password));
    byId('auth-password').value = '';
    byId('auth-error').hidden = true;
    startChat();
  } catch (e) {
    showAuth(e.message);
  } finally {
    buttons.forEach((b) => {
      b.disabled = false;
    });
  }
});

byId('logout-btn').addEventListener('click', async () => {
  try {
    await api.logout();
  } catch {
    // Signed out locally either way.
  }
  signedOut(null);
});

// The signed-in name next to the bell.
store.addEventListener('change', (ev) => {
  if (ev.detail.what !== 'status' || !store.me) return;
  const me = byId('me-label');
  replaceChildren(me, 'you are ', iso(store.me));
  me.hidden = false;
});

// Leaving the page closes the socket even when the browser keeps the page in its back/forward
// cache (else the user would stay online while gone); coming back from the cache reconnects.
window.addEventListener('pagehide', () => {
  if (store.status === 'signed-out') return;
  conn.stop();
  client.onDisconnected();
});
window.addEventListener('pageshow', (ev) => {
  if (ev.persisted && !byId('chat-screen').hidden) conn.start();
});

// Marking read when the user comes back to the tab.
document.addEventListener('visibilitychange', () => client.markReadIfReading());
window.addEventListener('focus', () => client.markReadIfReading());

// Alt+ArrowUp / Alt+ArrowDown: previous / next room.
document.addEventListener('keydown', (ev) => {
  if (!ev.altKey || (ev.key !== 'ArrowUp' && ev.key !== 'ArrowDown')) return;
  const keys = [...document.querySelectorAll('.room-item')].map((b) => b.dataset.room);
  if (!keys.length) return;
  ev.preventDefault();
  const i = keys.indexOf(store.current);
  const next = ev.key === 'ArrowDown' ? (i + 1) % keys.length : (i - 1 + keys.length) % keys.length;
  client.openRoom(keys[next]);
  composer.focus();
});

// ---- boot -------------------------------------------------------------------------------------

api.sessionState().then((state) => {
  if (state === 'yes') startChat();
  else showAuth(state === 'unknown' ? 'The server is not answering; try again in a moment.' : null);
});
