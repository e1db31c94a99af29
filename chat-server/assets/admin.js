// The admin page: registration mode, invite codes, accounts (disable, enable, reset codes,
// create) and the audit log. The server refuses every call of a non-administrator (403); this
// page only mirrors that. Every string from the server becomes text (dom.js), never HTML.

import { call, when } from './api.js';
import { byId, h, replaceChildren } from './dom.js';

function fail(text) {
  const el = byId('page-status');
  el.textContent = text;
  el.hidden = false;
}

async function start() {
  let me;
  try {
    me = await call('GET', '/api/me');
  } catch (e) {
    byId('me-label').textContent = 'not signed in';
    return fail(e.status === 401 ? 'Sign in first (on the chat page).' : e.message);
  }
  byId('me-label').textContent = `signed in as ${me.username}`;
  if (!me.admin) return fail('Administrators only. Ask one of them.');
  byId('admin-panel').hidden = false;
  await Promise.all([loadMode(), loadInvites(), loadUsers(null), loadAudit()]);
}

// ---- registration mode ----

async function loadMode() {
  const r = await call('GET', '/api/admin/registration');
  byId('mode-select').value = r.mode;
}

byId('mode-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const r = await call('POST', '/api/admin/registration', { mode: byId('mode-select').value });
    byId('mode-result').textContent = `Registration is now ${r.mode}.`;
    loadAudit();
  } catch (e) {
    byId('mode-result').textContent = e.message;
  }
});

// ---- invites ----

async function loadInvites() {
  const r = await call('GET', '/api/admin/invites');
  const items = r.invites.map((i) =>
    h(
      'li',
      { class: 'invite', dataset: { id: i.id } },
      h('code', null, i.id),
      ` by ${i.created_by}: ${i.uses_left} left, ${i.used} used, expires ${when(i.expires)} `,
      h('button', { class: 'btn small revoke-invite', type: 'button', on: { click: () => revokeInvite(i.id) } }, 'revoke'),
    ),
  );
  replaceChildren(byId('invites'), items.length ? items : h('li', { class: 'empty' }, 'No live invites.'));
}

async function revokeInvite(id) {
  try {
    await call('POST', '/api/admin/invites/revoke', { id });
    byId('invite-result').textContent = 'Invite revoked.';
  } catch (e) {
    byId('invite-result').textContent = e.message;
  }
  loadInvites();
  loadAudit();
}

byId('invite-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const r = await call('POST', '/api/admin/invites', {
      uses: Number(byId('invite-uses').value),
      expires_in_hours: Number(byId('invite-hours').value),
    });
    byId('new-invite-code').textContent = r.code;
    byId('new-invite-link').textContent = `${location.origin}/static/settings.html#invite=${r.code}`;
    byId('new-invite').hidden = false;
    byId('invite-result').textContent = '';
  } catch (e) {
    byId('invite-result').textContent = e.message;
  }
  loadInvites();
  loadAudit();
});

// ---- accounts ----

let lastUser = null;

async function loadUsers(after) {
  const q = after ? `?after=${encodeURIComponent(after)}` : '';
  const r = await call('GET', `/api/admin/users${q}`);
  const rows = r.users.map(userRow);
  if (after) byId('users').append(...rows);
  else replaceChildren(byId('users'), rows);
  lastUser = r.users.length ? r.users[r.users.length - 1].username : lastUser;
  byId('users-more').hidden = !r.more;
}

function userRow(u) {
  const status = u.deleted ? 'deleted' : u.disabled ? 'disabled' : u.admin ? 'administrator' : 'active';
  const actions = [];
  if (!u.deleted) {
    const verb = u.disabled ? 'enable' : 'disable';
    actions.push(
      h('button', { class: `btn small ${verb}-user`, type: 'button', on: { click: () => setDisabled(u.username, !u.disabled) } }, verb),
      ' ',
      h('button', { class: 'btn small reset-user', type: 'button', on: { click: () => resetPassword(u.username) } }, 'reset password'),
    );
  }
  return h(
    'tr',
    { class: 'user-row', dataset: { user: u.username, status } },
    h('td', null, h('bdi', null, u.username)),
    h('td', null, when(u.created)),
    h('td', null, when(u.last_seen)),
    h('td', { class: 'user-status' }, status),
    h('td', null, actions),
  );
}

function refreshUsers() {
  lastUser = null;
  return loadUsers(null);
}

async function setDisabled(username, disabled) {
  const path = disabled ? '/api/admin/users/disable' : '/api/admin/users/enable';
  try {
    const r = await call('POST', path, { username });
    byId('users-result').textContent = disabled
      ? `${username} is disabled; ${r.sessions_ended} session(s) ended.`
      : `${username} may log in again.`;
  } catch (e) {
    byId('users-result').textContent = e.message;
  }
  refreshUsers();
  loadAudit();
}

async function resetPassword(username) {
  try {
    const r = await call('POST', '/api/admin/users/reset_password', { username });
    byId('users-result').textContent =
      `Reset code for ${username} (valid until ${when(r.expires)}): ${r.code} - they enter it on the settings page.`;
  } catch (e) {
    byId('users-result').textContent = e.message;
  }
  loadAudit();
}

byId('users-more').addEventListener('click', () => loadUsers(lastUser));

byId('create-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const r = await call('POST', '/api/admin/users', {
      username: byId('create-username').value,
      password: byId('create-password').value,
    });
    byId('users-result').textContent = `Account ${r.username} created.`;
    byId('create-username').value = '';
    byId('create-password').value = '';
  } catch (e) {
    byId('users-result').textContent = e.message;
  }
  refreshUsers();
  loadAudit();
});

// ---- audit ----

async function loadAudit() {
  const r = await call('GET', '/api/admin/audit');
  const rows = r.entries.map((e) =>
    h(
      'tr',
      { class: 'audit-row', dataset: { action: e.action } },
      h('td', null, when(e.at)),
      h('td', null, e.actor === null ? '(command line)' : h('bdi', null, e.actor)),
      h('td', null, e.action),
      h('td', null, h('bdi', null, e.target || '')),
      h('td', null, e.detail || ''),
    ),
  );
  replaceChildren(byId('audit'), rows);
}

byId('audit-refresh').addEventListener('click', loadAudit);

start().catch((e) => fail(e.message));
