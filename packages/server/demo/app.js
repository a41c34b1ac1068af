// The Baton demo: plain JavaScript on the @baton/client SDK, served by Baton itself.
import { createBatonClient } from '/sdk/index.js';

const baton = createBatonClient({ transport: 'cookie' });
const $ = (id) => document.getElementById(id);
let countdownTimer;

function notice(text, kind = 'info') {
  const el = $('notice');
  el.textContent = text;
  el.className = kind === 'error' ? 'notice error' : 'notice';
  el.hidden = !text;
}

function decode(token) {
  const part = (s) => JSON.parse(atob(s.replace(/-/g, '+').replace(/_/g, '/')));
  const [h, p] = token.split('.');
  return { header: part(h), claims: part(p) };
}

const when = (iso) => new Date(iso).toLocaleString();
const ago = (ms) => {
  const s = Math.round(ms / 1000);
  const abs = Math.abs(s);
  if (abs < 5) return 'just now';
  const text =
    abs < 60
      ? `${abs} s`
      : abs < 3600
        ? `${Math.round(abs / 60)} min`
        : abs < 172_800
          ? `${Math.round(abs / 3600)} h`
          : `${Math.round(abs / 86_400)} days`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
};

function device(ua) {
  if (!ua) return 'Unknown device';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Chrome\//.test(ua)
      ? 'Chrome'
      : /Firefox\//.test(ua)
        ? 'Firefox'
        : /Safari\//.test(ua)
          ? 'Safari'
          : ua.split(' ')[0];
  const systems = [
    [/iPhone|iPad/, 'iOS'],
    [/Android/, 'Android'],
    [/Windows/, 'Windows'],
    [/Mac OS X/, 'macOS'],
    [/Linux/, 'Linux'],
  ];
  const os = systems.find(([re]) => re.test(ua))?.[1] ?? '';
  return os ? `${browser} on ${os}` : browser;
}

function show(signedIn) {
  const changed = $('signed-in').hidden === signedIn;
  $('signed-in').hidden = !signedIn;
  $('signed-out').hidden = signedIn;
  document.body.dataset.state = signedIn ? 'signed-in' : 'signed-out';
  if (!signedIn) {
    $('who').textContent = 'Signed out';
    clearInterval(countdownTimer);
    if (changed) $('signin-title').focus();
  }
}

async function renderToken() {
  const token = await baton.getAccessToken();
  if (!token) return;
  const { header, claims } = decode(token);
  $('token-header').textContent = JSON.stringify(header, null, 2);
  const rows = Object.entries(claims).map(([k, v]) => {
    const tr = document.createElement('tr');
    const name = document.createElement('td');
    name.textContent = k;
    const value = document.createElement('td');
    value.textContent = ['iat', 'exp', 'nbf'].includes(k)
      ? `${v} (${new Date(v * 1000).toLocaleTimeString()})`
      : String(v);
    tr.append(name, value);
    return tr;
  });
  $('token-claims').replaceChildren(...rows);
  clearInterval(countdownTimer);
  // The SDK knows when this token expires on this device's clock (from expires_in).
  const expiresAt = baton.accessTokenExpiresAt;
  const lifetime = (claims.exp - claims.iat) * 1000;
  const tick = () => {
    const left = Math.max(0, expiresAt - Date.now());
    const m = Math.floor(left / 60000);
    const s = Math.floor((left % 60000) / 1000);
    $('countdown').textContent =
      left > 0 ? `expires in ${m}:${String(s).padStart(2, '0')}` : 'expired — refreshing on next call';
    $('meter-bar').style.width = `${(100 * left) / lifetime}%`;
  };
  tick();
  countdownTimer = setInterval(tick, 1000);
}

async function renderMe() {
  const me = await baton.me();
  $('me-email').textContent = me.email;
  $('me-sub').textContent = me.sub;
  $('me-session').textContent = me.session_id;
  $('who').textContent = `Signed in as ${me.email}`;
}

async function renderSessions() {
  const list = await baton.sessions();
  const rows = list.map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.session = s.id;
    const cells = [
      device(s.user_agent),
      s.ip ?? '—',
      when(s.created_at),
      ago(Date.parse(s.last_used_at) - Date.now()),
      ago(Date.parse(s.expires_at) - Date.now()),
    ];
    for (const [i, text] of cells.entries()) {
      const td = document.createElement('td');
      td.textContent = text;
      if (i === 0 && s.current) {
        const badge = document.createElement('span');
        badge.className = 'badge';
        badge.textContent = 'This device';
        td.append(badge);
      }
      tr.append(td);
    }
    const action = document.createElement('td');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'small danger';
    button.textContent = s.current ? 'Sign out' : 'Revoke';
    button.setAttribute(
      'aria-label',
      `${s.current ? 'Sign out' : 'Revoke'} ${device(s.user_agent)} session ${s.id.slice(0, 6)}`,
    );
    button.addEventListener('click', () =>
      guard(async () => {
        if (s.current) return baton.signOut();
        await baton.revokeSession(s.id);
        notice('Session revoked.');
        await renderSessions();
      }),
    );
    action.append(button);
    tr.append(action);
    return tr;
  });
  $('sessions').replaceChildren(...rows);
}

async function renderAll() {
  show(true);
  await Promise.all([renderMe(), renderToken(), renderSessions()]);
}

async function guard(action) {
  try {
    await action();
  } catch (error) {
    notice(error.message || String(error), 'error');
  }
}

baton.on((event) => {
  if (event.type === 'refreshed' && baton.signedIn && !$('signed-in').hidden) void renderToken();
  if (event.type === 'signed-in' && $('signed-in').hidden) void guard(renderAll); // signed in in another tab
  if (event.type === 'signed-out') {
    show(false);
    notice(event.reason === 'other-tab' ? 'You signed out in another tab.' : 'You are signed out.');
  }
  if (event.type === 'revoked') {
    show(false);
    notice('Your session has ended. Please sign in again.');
  }
});

$('signin-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  void guard(async () => {
    await baton.signIn(f.get('email'), f.get('password'));
    e.target.reset(); // no password left in the page
    notice('');
    await renderAll();
    $('me-title').focus();
  });
});

$('signup-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  void guard(async () => {
    await baton.signUp(f.get('email'), f.get('password'));
    await baton.signIn(f.get('email'), f.get('password'));
    e.target.reset();
    notice('Account created. You are signed in.');
    await renderAll();
    $('me-title').focus();
  });
});

$('call-me').addEventListener('click', () =>
  guard(async () => {
    const res = await baton.fetch('/auth/me');
    $('call-result').textContent = `${res.status} ${res.ok ? 'OK' : (await res.json()).error}`;
    if (res.ok) await renderToken();
  }),
);
$('reload-sessions').addEventListener('click', () => guard(renderSessions));
$('sign-out').addEventListener('click', () => guard(() => baton.signOut()));
$('sign-out-all').addEventListener('click', () => {
  if (window.confirm('Sign out on every device, this one included?'))
    void guard(() => baton.signOutEverywhere());
});

window.baton = baton; // for the browser tests and the curious
show(false);
baton.restore().then(
  (ok) => (ok ? renderAll() : show(false)),
  () => show(false),
);
