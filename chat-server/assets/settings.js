// The settings page: sign up with an invite code or redeem a reset code (signed out); change
// the password, see and end sessions, export, delete the account (signed in). Every string
// from the server becomes text (dom.js), never HTML.

import { call, when } from './api.js';
import { byId, h, replaceChildren } from './dom.js';

function show(id, text) {
  const el = byId(id);
  el.textContent = text || '';
  el.hidden = !text;
}

/** The invite code in `#invite=CODE`, if any. */
function inviteFromHash() {
  const m = /(?:^#|&)invite=([0-9a-fA-F]{32})/.exec(location.hash);
  return m ? m[1] : '';
}

function signedOut() {
  byId('signed-in').hidden = true;
  byId('signed-out').hidden = false;
  byId('me-label').textContent = 'not signed in';
  byId('admin-link').hidden = true;
  const code = inviteFromHash();
  if (code) byId('invite-code').value = code;
  byId('invite-username').focus();
}

function signedIn(me) {
  byId('signed-out').hidden = true;
  byId('signed-in').hidden = false;
  byId('me-label').textContent = `signed in as ${me.username}`;
  byId('admin-link').hidden = !me.admin;
  loadSessions();
}

async function start() {
  try {
    signedIn(await call('GET', '/api/me'));
  } catch (e) {
    if (e.status === 401) signedOut();
    else show('page-status', `The server did not answer: ${e.message}`);
  }
}

async function loadSessions() {
  let data;
  try {
    data = await call('GET', '/api/account/sessions');
  } catch (e) {
    if (e.status === 401) return signedOut();
    byId('sessions-result').textContent = e.message;
    return;
  }
  const rows = data.sessions.map((s) => {
    const action = s.current
      ? h('td', null, h('strong', null, 'this one'))
      : h(
          'td',
          null,
          h('button', { class: 'btn small end-session', type: 'button', dataset: { id: s.id }, on: { click: () => endSession(s.id) } }, 'end'),
        );
    return h(
      'tr',
      { dataset: { id: s.id, current: s.current ? 'yes' : 'no' } },
      h('td', null, when(s.created)),
      h('td', null, when(s.last_used)),
      h('td', null, s.address || '?'),
      h('td', { dir: 'auto' }, s.user_agent || '?'),
      action,
    );
  });
  replaceChildren(byId('sessions'), rows);
}

async function endSession(id) {
  try {
    await call('POST', '/api/account/sessions/revoke', { id });
    byId('sessions-result').textContent = 'Session ended.';
  } catch (e) {
    byId('sessions-result').textContent = e.message;
  }
  loadSessions();
}

byId('sessions-refresh').addEventListener('click', loadSessions);

byId('logout-all').addEventListener('click', async () => {
  if (!confirm('Sign out every browser and program, this one too?')) return;
  try {
    await call('POST', '/api/account/logout_all');
  } catch (e) {
    byId('sessions-result').textContent = e.message;
    return;
  }
  signedOut();
});

byId('password-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const result = byId('password-result');
  result.textContent = 'Changing...';
  try {
    const r = await call('POST', '/api/account/password', {
      old_password: byId('old-password').value,
      new_password: byId('new-password').value,
    });
    byId('old-password').value = '';
    byId('new-password').value = '';
    result.textContent = `Password changed. ${r.sessions_ended} other session(s) signed out.`;
    loadSessions();
  } catch (e) {
    result.textContent = e.message;
  }
});

byId('delete-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    await call('POST', '/api/account/delete', { password: byId('delete-password').value });
  } catch (e) {
    show('delete-error', e.message);
    return;
  }
  location.href = '/';
});

byId('invite-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  show('invite-error', '');
  const code = byId('invite-code').value.trim();
  try {
    await call('POST', '/api/register', {
      username: byId('invite-username').value,
      password: byId('invite-password').value,
      invite: code || undefined,
    });
  } catch (e) {
    show('invite-error', e.message);
    return;
  }
  location.href = '/';
});

byId('redeem-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  show('redeem-error', '');
  try {
    await call('POST', '/api/account/redeem_reset', {
      username: byId('redeem-username').value,
      code: byId('redeem-code').value,
      new_password: byId('redeem-password').value,
    });
  } catch (e) {
    show('redeem-error', e.message);
    return;
  }
  location.href = '/';
});

start();
