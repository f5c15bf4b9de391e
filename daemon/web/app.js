// vitalsd nurse station: the chair wall, open alerts, a session's trend and its controls.
// Plain JavaScript, no build step, nothing from the network. Signs in by trading a token for an
// HttpOnly session cookie (POST /api/v1/login); every change carries the X-CSRF-Token that
// sign-in returned. Live state comes from the event stream (/api/v1/events/stream), resumed
// after a disconnect from the last seq seen, so no event is missed or applied twice.
'use strict';

const API = '/api/v1/';
const PARAMS = {
  nibp_sys: { label: 'SBP', color: '#c0392b' },
  nibp_dia: { label: 'DBP', color: '#8e44ad' },
  nibp_mean: { label: 'MAP', color: '#d35400' },
  hr: { label: 'HR', color: '#1e6fd9' },
  pr: { label: 'PR', color: '#5dade2' },
  spo2: { label: 'SpO2', color: '#16a085' },
  rr: { label: 'RR', color: '#7f8c8d' },
  etco2: { label: 'EtCO2', color: '#2c3e50' },
  temp: { label: 'Temp', color: '#795548' },
};
const OPEN_STATES = new Set(['active', 'acknowledged', 'paused', 'latched']);
const RANK = { high: 0, medium: 1, low: 2 };
const MARK = { high: '!!!', medium: '!!', low: '!' };
const STALE_S = { nibp_sys: 1200, nibp_dia: 1200, nibp_mean: 1200 }; // a cuff reading ages slowly
const STALE_DEFAULT_S = 15;

const st = {
  me: null,
  monitors: new Map(),   // id -> monitor (as GET /monitors shows it, kept live)
  sessions: new Map(),   // id -> active session
  alerts: new Map(),     // id -> alert (open ones; closed ones are dropped)
  gates: new Map(),      // session id -> {gate, fetched, loading}: sessions in baseline only
  technical: new Map(),  // daemon-level alerts (storage_failed) from the stream or /health
  protocols: new Map(),
  lastSeq: 0, applied: 0, gaps: 0, duplicates: 0,
  es: null, connected: false, downSince: null, retry: 0, retryTimer: null,
  skewMs: 0,             // browser clock - daemon clock, estimated from reading ages
  selected: null,        // session id shown in the session view
  trend: null,           // {session, obs: Map(param -> [{t, v}])}
  sound: true, audio: null, soundTimer: null,
  renderQueued: false,
};

// For tests and for whoever looks at the console: what the page has applied from the stream.
window.vitalsd = {
  get lastSeq() { return st.lastSeq; },
  get applied() { return st.applied; },
  get gaps() { return st.gaps; },
  get duplicates() { return st.duplicates; },
  get connected() { return st.connected; },
  get signedIn() { return st.me !== null; },
};

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const now = () => Date.now() - st.skewMs;
// Only nurses and admins change anything (the API answers 403 to the others).
const canAct = () => !!st.me && ['nurse', 'admin'].includes(st.me.role);
const ms = (iso) => (iso ? Date.parse(iso) : NaN);
const clock = (iso) => {
  const t = ms(iso);
  if (Number.isNaN(t)) return '';
  const d = new Date(t);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
};
const fmtNum = (v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : String(Math.round(v * 10) / 10));
function ago(iso) {
  const s = Math.max(0, Math.round((now() - ms(iso)) / 1000));
  if (Number.isNaN(s)) return '';
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// ---- the API ---------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.error)) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (method !== 'GET') {
    init.headers['Content-Type'] = 'application/json';
    if (st.me && st.me.csrf) init.headers['X-CSRF-Token'] = st.me.csrf;
    init.body = JSON.stringify(body || {});
  }
  let res;
  try {
    res = await fetch(API + path, init);
  } catch (e) {
    throw new ApiError(0, { error: 'unreachable', detail: 'vitalsd does not answer' });
  }
  let json = null;
  try { json = await res.json(); } catch (e) { json = null; }
  if (!res.ok) {
    if (res.status === 401 && path !== 'login' && st.me) signedOut('Your sign-in has ended (expired, signed out elsewhere, or the token was removed). Sign in again.');
    throw new ApiError(res.status, json);
  }
  return json;
}

// ---- sign-in ---------------------------------------------------------------------------

async function boot() {
  $('signin').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('sound').addEventListener('click', toggleSound);
  $('session-close').addEventListener('click', () => selectSession(null));
  document.addEventListener('click', unlockAudio, { capture: true });
  document.addEventListener('keydown', unlockAudio, { capture: true });
  try {
    const me = await api('GET', 'login');
    if (me && me.csrf) return begin(me);
  } catch (e) { /* not signed in */ }
  showSignIn('');
}

function showSignIn(message) {
  $('station-view').hidden = true;
  $('who').hidden = true;
  $('signin-view').hidden = false;
  $('signin-error').textContent = message;
  $('token').value = '';
  $('token').focus();
}

async function signIn(ev) {
  ev.preventDefault();
  unlockAudio();  // the click that signs in is the gesture the browser wants before sound
  const token = $('token').value.trim();
  $('signin-error').textContent = '';
  try {
    const me = await api('POST', 'login', { token });
    $('token').value = '';
    begin(me);
  } catch (e) {
    $('signin-error').textContent = e.status === 401 ? 'That token is not known here. Check it and try again.'
      : e.status === 0 ? 'vitalsd does not answer. Is the daemon running?' : `Sign-in failed: ${e.message}`;
  }
}

async function signOut() {
  try { await api('POST', 'logout', {}); } catch (e) { /* signed out either way */ }
  signedOut('Signed out.');
}

function signedOut(message) {
  st.me = null;
  st.gates.clear();
  closeStream();
  stopSound();
  st.soundLevel = null;
  setBanner(null);
  showSignIn(message);
}

async function begin(me) {
  st.me = me;
  $('signin-view').hidden = true;
  $('station-view').hidden = false;
  $('who').hidden = false;
  $('whoami').textContent = `${me.name} (${me.role})`;
  updateSoundButton();
  await loadSnapshot();
  connect();
  if (!st.ticker) st.ticker = setInterval(tick, 1000);
}

// ---- state: the snapshot, then the stream ----------------------------------------------

async function loadSnapshot() {
  // The journal's last seq first: the snapshot is at least that new, and the stream replays
  // from there (an event applied twice leaves the same state).
  const page = await api('GET', 'events?after=999999999999999&limit=1');
  const [mon, ses, al, pro, health] = await Promise.all([
    api('GET', 'monitors'), api('GET', 'sessions?state=active&limit=1000'),
    api('GET', 'alerts?state=open&limit=1000'), api('GET', 'protocols'), api('GET', 'health')]);
  st.monitors.clear();
  const skews = [];
  for (const m of mon.monitors) {
    st.monitors.set(m.id, m);
    for (const v of Object.values(m.last || {})) {
      if (v.at && typeof v.age_s === 'number') skews.push(Date.now() - (ms(v.at) + v.age_s * 1000));
    }
  }
  if (skews.length) st.skewMs = skews.sort((a, b) => a - b)[Math.floor(skews.length / 2)];
  st.sessions.clear();
  for (const s of ses.sessions) st.sessions.set(s.id, s);
  st.alerts.clear();
  for (const a of al.alerts) st.alerts.set(a.id, a);
  st.protocols.clear();
  for (const p of pro.protocols) {
    // The side of each rule's limit, and whether it is relative to the baseline.
    for (const r of p.rules || []) {
      r.relative = /^(rise|fall)_by/.test(r.condition || '');
      r.direction = /^(above|rise)/.test(r.condition || '') ? 'above' : /^(below|fall)/.test(r.condition || '') ? 'below' : '';
    }
    st.protocols.set(p.name, p);
  }
  st.technical.clear();
  for (const a of health.alerts || []) st.technical.set(a.rule, a);
  if (st.lastSeq === 0) st.lastSeq = page.last;
  refreshGates();
  render();
}

function connect() {
  closeStream();
  const es = new EventSource(`${API}events/stream?after=${st.lastSeq}`);
  st.es = es;
  es.onopen = () => {
    st.connected = true;
    st.retry = 0;
    if (st.downSince) {
      st.downSince = null;
      setBanner(null);
      refreshAfterOutage();
    }
  };
  es.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    applyEvent(ev);
  };
  es.onerror = () => {
    // EventSource retries by itself but keeps its own resume point; we resume from ours.
    es.close();
    if (st.es !== es) return;
    st.es = null;
    st.connected = false;
    if (!st.downSince) st.downSince = new Date();
    setBanner(`Connection to vitalsd lost since ${st.downSince.toLocaleTimeString([], { hour12: false })}. Alerts are NOT being shown. Reconnecting…`);
    const wait = Math.min(5000, 500 * 2 ** st.retry++);
    st.retryTimer = setTimeout(reconnect, wait);
  };
}

async function reconnect() {
  st.retryTimer = null;
  if (!st.me) return;
  try {
    await api('GET', 'login');  // a 401 here signs the page out with a message
  } catch (e) {
    if (e.status === 401 || !st.me) return;
    if (!st.downSince) st.downSince = new Date();
    const wait = Math.min(5000, 500 * 2 ** st.retry++);
    st.retryTimer = setTimeout(reconnect, wait);
    return;
  }
  connect();
}

function closeStream() {
  if (st.es) st.es.close();
  st.es = null;
  st.connected = false;
  if (st.retryTimer) clearTimeout(st.retryTimer);
  st.retryTimer = null;
}

async function refreshAfterOutage() {
  // The stream brought every event since; the daemon may have restarted, so its technical
  // alerts come from /health.
  try {
    const health = await api('GET', 'health');
    st.technical.clear();
    for (const a of health.alerts || []) st.technical.set(a.rule, a);
    render();
  } catch (e) { /* the next event will do */ }
}

function setBanner(text) {
  const b = $('banner');
  b.hidden = !text;
  b.textContent = text || '';
}

function applyEvent(ev) {
  if (ev.seq !== null && ev.seq !== undefined) {
    if (ev.seq <= st.lastSeq) { st.duplicates++; return; }
    if (ev.seq !== st.lastSeq + 1) st.gaps += ev.seq - st.lastSeq - 1;
    st.lastSeq = ev.seq;
  }
  st.applied++;
  const t = ev.type || '';
  if (t === 'observations') for (const r of ev.readings || []) onObservation(r);
  else if (t === 'observation') onObservation(ev);
  else if (t === 'monitor.state') {
    const m = st.monitors.get(ev.monitor);
    if (m) { m.state = ev.state; m.state_since = ev.at; m.detail = ev.detail; }
  } else if (t === 'monitor.alarm') onMonitorAlarm(ev);
  else if (t.startsWith('session.')) onSession(ev);
  else if (t.startsWith('alert.')) onAlert(ev);
  else if (t === 'storage.failed') st.technical.set('storage_failed', { rule: 'storage_failed', priority: 'high', state: 'active', since: ev.at, detail: ev.error });
  else if (t === 'storage.recovered') st.technical.delete('storage_failed');
  else if (t === 'journal.integrity') st.technical.set('journal_integrity', { rule: 'journal_integrity', priority: 'high', state: 'active', since: ev.at, detail: ev.reason });
  // A restart or a reload may have added or removed chairs, protocols or tokens.
  else if (t === 'config.loaded' || t === 'config.reloaded') loadSnapshot().catch(() => {});
  queueRender();
}

// One reading: an element of an `observations` event's readings (or, from a journal written
// before schema 7, an `observation` event).
function onObservation(ev) {
  const at = ev.received_at || ev.at;
  const m = st.monitors.get(ev.monitor);
  if (m) {
    m.last = m.last || {};
    m.last[ev.parameter] = { value: ev.value, unit: ev.unit, validity: ev.validity, at };
  }
  if (st.trend && ev.session === st.trend.session && ev.value !== null && ev.validity === 'valid') {
    addPoint(st.trend, ev.parameter, ms(ev.device_time || at), ev.value);
    st.trend.dirty = true;
  }
}

// The monitor's own alarm (ORU^R40 from the device): shown as the monitor's, as received, until
// the monitor says it is over. Never acknowledged here, never sounded here: the monitor does.
function onMonitorAlarm(ev) {
  const m = st.monitors.get(ev.monitor);
  if (!m) return;
  const list = (m.monitor_alarms || []).filter((x) => x.key !== ev.key);
  if (ev.present) list.push(Object.assign({}, ev));
  m.monitor_alarms = list;
}

// A monitor's present alarms, most urgent first (the device's priority; unknown last).
const DEVICE_RANK = { high: 0, medium: 1, low: 2, none: 4, unknown: 3 };
// `stale`: the monitor is not online, so this is what it last said, not known to be current.
function monitorAlarms(m) {
  const stale = !m || m.state !== 'online';
  return ((m && m.monitor_alarms) || []).map((x) => Object.assign({}, x, { stale })).sort((x, y) =>
    ((DEVICE_RANK[x.priority] ?? 3) - (DEVICE_RANK[y.priority] ?? 3)) || (ms(x.since) - ms(y.since)));
}

function monitorAlarmText(x) {
  const p = PARAMS[x.parameter];
  const val = x.value !== null && x.value !== undefined ? ` (${p ? p.label + ' ' : ''}${fmtNum(x.value)}${x.unit ? ' ' + x.unit : ''})` : '';
  return `${x.text || x.event_name || x.event_code || 'alarm'}${val}`;
}

function monitorAlarmPriority(x) {
  return x.priority && x.priority !== 'unknown' ? x.priority.toUpperCase() : 'PRIORITY NOT SENT';
}

function onSession(ev) {
  const id = ev.session;
  const m = st.monitors.get(ev.monitor);
  if (ev.type === 'session.ended' || ev.phase === 'ended') {
    st.sessions.delete(id);
    if (m && (m.session === id || (m.session && m.session.id === id))) m.session = null;
  } else {
    const s = st.sessions.get(id) || {};
    for (const k of ['monitor', 'patient', 'protocol', 'phase', 'phase_since', 'started_at', 'started_by']) {
      if (ev[k] !== undefined) s[k] = ev[k];
    }
    s.id = id;
    st.sessions.set(id, s);
    if (m) m.session = id;
  }
  if (st.selected === id) loadSessionDetail(id);
}

function onAlert(ev) {
  const a = ev.alert;
  if (!a || a.id === undefined) return;
  const cur = st.alerts.get(a.id) || {};
  Object.assign(cur, a);
  cur.updated_at = ev.at;
  if (ev.type === 'alert.raised') cur.raised_at = cur.raised_at || ev.at;
  if (ev.type === 'alert.acknowledged') { cur.acknowledged_by = ev.by || cur.acknowledged_by; cur.acknowledged_at = ev.at; }
  if (ev.type === 'alert.paused') { cur.paused_until = ev.until; }
  if (ev.by) cur.last_action = { what: ev.type.slice(6), by: ev.by, at: ev.at };
  if (OPEN_STATES.has(cur.state)) st.alerts.set(a.id, cur);
  else st.alerts.delete(a.id);
  // An alert can hold (or free) the baseline gate: read the session's gate again on the next tick.
  const gate = st.gates.get(a.session);
  if (gate) gate.fetched = 0;
  if (st.trend && a.session === st.trend.session) {
    st.trend.alerts.set(a.id, cur);
    st.trend.dirty = true;
  }
}

// ---- rendering ------------------------------------------------------------------------

function queueRender() {
  if (st.renderQueued) return;
  st.renderQueued = true;
  requestAnimationFrame(() => { st.renderQueued = false; render(); });
}

function tick() {
  refreshGates();
  render();
  if (st.selected && st.trend && (st.trend.dirty || Date.now() - st.trend.drawn > 15000)) drawTrend();
}

// The order GET alerts gives (docs/api.md): priority, then escalation level (higher first), then
// newest first. On the page, within a priority, an alert that sounds comes before a silenced one,
// and an alert announced by another (superseded_by) follows the ones that are announced.
function byUrgency(x, y) {
  return ((x.superseded_by ? 1 : 0) - (y.superseded_by ? 1 : 0)) || (RANK[x.priority] - RANK[y.priority]) ||
    ((x.state === 'active' ? 0 : 1) - (y.state === 'active' ? 0 : 1)) ||
    ((y.level || 0) - (x.level || 0)) ||
    (ms(y.raised_at || y.updated_at) - ms(x.raised_at || x.updated_at)) || (y.id - x.id);
}

// Why a chair in baseline cannot start infusing, for its tile. The baseline gate follows the
// baseline readings and is no event of its own, so it is read (GET sessions/{id}) every few
// seconds while a session is in baseline.
const GATE_POLL_MS = 3000;
function refreshGates() {
  if (!st.me) return;
  for (const id of [...st.gates.keys()]) {
    const s = st.sessions.get(id);
    if (!s || s.phase !== 'baseline') st.gates.delete(id);
  }
  for (const s of st.sessions.values()) {
    if (s.phase !== 'baseline') continue;
    const g = st.gates.get(s.id) || {};
    st.gates.set(s.id, g);
    if (g.loading || Date.now() - (g.fetched || 0) < GATE_POLL_MS) continue;
    g.loading = true;
    api('GET', `sessions/${s.id}`).then((d) => { g.gate = d.gate || null; })
      .catch(() => { /* the next poll */ })
      .finally(() => { g.loading = false; g.fetched = Date.now(); queueRender(); });
  }
}

// A gate reason as the engine words it ("nibp_sys: 1 of 3 valid baseline readings"), with the
// parameter's label ("SBP: 1 of 3 valid baseline readings").
const gateReason = (r) => String(r).replace(/^([a-z0-9_]+):/, (m, p) => (PARAMS[p] ? `${PARAMS[p].label}:` : m));

function gateHtml(gate) {
  if (!gate || !gate.reasons || !gate.reasons.length) return '';
  const title = gate.blocked ? 'Cannot start infusing' : 'Baseline check';
  return `<div class="gate${gate.blocked ? ' blocked' : ''}"><strong>${title}:</strong><ul>${gate.reasons.map((r) => `<li>${esc(gateReason(r))}</li>`).join('')}</ul></div>`;
}

function openAlerts() {
  return [...st.alerts.values()].filter((a) => OPEN_STATES.has(a.state)).sort(byUrgency);
}

// The alert a chair shows: its most urgent open alert that is not announced by another.
function chairAlert(monitorId) {
  for (const a of openAlerts()) if (a.monitor === monitorId && !a.superseded_by) return a;
  return null;
}

function render() {
  if (!st.me) return;
  renderAlerts();
  renderWall();
  if (st.selected) renderSessionHead();
  updateSound();
}

function alertText(a) {
  const p = PARAMS[a.parameter];
  const name = p ? p.label : (a.parameter || a.rule);
  if (a.value !== undefined && a.value !== null && a.limit !== undefined && a.limit !== null) {
    const r = ruleOf(a);
    const below = (r && r.direction ? r.direction : a.direction) === 'below' || (!r && !a.direction && a.value < a.limit);
    const dir = below ? '<' : '>';
    return `${name} ${fmtNum(a.value)} ${a.unit || ''} ${dir} ${fmtNum(a.limit)}`;
  }
  return a.rule.replace(/_/g, ' ');
}

function ruleOf(a) {
  const s = st.sessions.get(a.session);
  const p = s && st.protocols.get(s.protocol);
  return (p && p.rules.find((x) => x.id === a.rule)) || null;
}

function ruleName(a) {
  const r = ruleOf(a);
  return r ? r.name : a.rule;
}

function renderAlerts() {
  const ul = $('alerts');
  const list = openAlerts();
  const tech = [...st.technical.values()];
  let monitorCount = 0;
  for (const m of st.monitors.values()) monitorCount += (m.monitor_alarms || []).length;
  $('alert-count').textContent = list.length + tech.length ? `(${list.length + tech.length} open)` : '';
  if (monitorCount) $('alert-count').textContent += ` (${monitorCount} from monitors)`;
  $('no-alerts').hidden = list.length + tech.length + monitorCount > 0;
  const keep = new Set();
  for (const t of tech) {
    const key = `tech-${t.rule}`;
    keep.add(key);
    let li = ul.querySelector(`[data-key="${key}"]`);
    if (!li) { li = document.createElement('li'); li.dataset.key = key; ul.prepend(li); }
    li.className = `alert p-${t.priority || 'high'} s-active`;
    li.innerHTML = `<span class="mark" aria-hidden="true">${MARK[t.priority || 'high']}</span>
      <div class="what"><strong>${esc((t.priority || 'high').toUpperCase())} · vitalsd: ${esc(t.rule.replace(/_/g, ' '))}</strong><span class="tech">technical</span>
      <div class="detail">since ${esc(clock(t.since))} · ${esc(t.detail || '')}</div></div><div class="actions"></div>`;
  }
  for (const a of list) {
    const key = `a-${a.id}`;
    keep.add(key);
    let li = ul.querySelector(`[data-key="${key}"]`);
    if (!li) {
      li = document.createElement('li');
      li.dataset.key = key;
      li.dataset.alert = a.id;
      li.innerHTML = `<span class="mark" aria-hidden="true"></span><div class="what"></div><div class="actions">
        <button type="button" data-act="ack">Acknowledge</button>
        <button type="button" data-act="pause">Pause…</button>
        <button type="button" data-act="reset">Reset</button></div>`;
      li.querySelector('[data-act="ack"]').addEventListener('click', () => alertAction(a.id, 'ack'));
      li.querySelector('[data-act="pause"]').addEventListener('click', () => pauseDialog(a.id));
      li.querySelector('[data-act="reset"]').addEventListener('click', () => alertAction(a.id, 'reset'));
    }
    const silenced = a.state !== 'active' || !!a.superseded_by;
    li.className = `alert p-${a.priority} s-${a.state}${silenced ? ' silenced' : ''}${a.superseded_by ? ' superseded' : ''}`;
    li.querySelector('.mark').textContent = MARK[a.priority] || '!';
    const mon = st.monitors.get(a.monitor);
    const who = [];
    if (a.acknowledged_by) who.push(`acknowledged by ${a.acknowledged_by} at ${clock(a.acknowledged_at)}`);
    if (a.state === 'paused' && a.paused_until) who.push(`paused until ${clock(a.paused_until)}`);
    if (a.last_action && a.last_action.what !== 'acknowledged') who.push(`${a.last_action.what} by ${a.last_action.by} at ${clock(a.last_action.at)}`);
    if (a.level) who.push(`escalated, level ${a.level}`);
    if (a.superseded_by) who.push(`announced by alert ${a.superseded_by}`);
    li.querySelector('.what').innerHTML = `<strong>${esc(a.priority.toUpperCase())} · ${esc(a.monitor)}${mon && mon.location ? ' (' + esc(mon.location) + ')' : ''} · ${esc(alertText(a))}</strong>
      <span class="state-chip">${esc(a.state)}</span>${a.kind && a.kind !== 'physiological' ? '<span class="tech">technical</span>' : ''}
      <div class="detail">${esc(ruleName(a))} · raised ${esc(clock(a.raised_at))} (${esc(ago(a.raised_at))} ago)${who.length ? ' · ' + esc(who.join(' · ')) : ''}</div>`;
    const mayAct = canAct();
    li.querySelector('[data-act="ack"]').disabled = !mayAct || !(a.state === 'active' || a.state === 'paused' || a.state === 'latched');
    li.querySelector('[data-act="pause"]').disabled = !mayAct || a.state === 'latched' || a.kind !== 'physiological';
    li.querySelector('[data-act="reset"]').disabled = !mayAct;
    li.querySelector('[data-act="reset"]').hidden = a.state !== 'latched';
    if (!li.parentNode) ul.appendChild(li);
  }
  // in openAlerts' order (moving a few nodes; focus stays on a button that stays)
  // The monitors' own alarms, after vitalsd's alerts: shown as received, no action here.
  const devs = [];
  for (const m of st.monitors.values()) for (const x of monitorAlarms(m)) devs.push([m, x]);
  for (const [m, x] of devs) {
    const key = `m-${m.id}-${x.key}`;
    keep.add(key);
    let li = [...ul.children].find((e) => e.dataset.key === key);
    if (!li) { li = document.createElement('li'); li.dataset.key = key; }
    const pr = ['high', 'medium', 'low'].includes(x.priority) ? x.priority : 'none';
    li.className = `alert monitor-alarm p-${pr}${x.stale ? ' stale' : ''}`;
    li.dataset.monitorAlarm = x.key;
    li.innerHTML = `<span class="mark" aria-hidden="true">${esc(MARK[x.priority] || '?')}</span>
      <div class="what"><strong>Monitor alarm · ${esc(monitorAlarmPriority(x))} · ${esc(m.id)}${m.location ? ' (' + esc(m.location) + ')' : ''} · ${esc(monitorAlarmText(x))}</strong><span class="from-monitor">from the monitor</span>${x.state ? `<span class="state-chip">${esc(x.state)}</span>` : ''}
      <div class="detail">reported by the monitor since ${esc(clock(x.since))} (${esc(ago(x.since))} ago) · ${esc(x.phase || '')}${x.inactivation && x.inactivation !== 'enabled' ? ' · ' + esc(x.inactivation) : ''} · acknowledge it at the monitor; it goes when the monitor ends it${x.stale ? ' · last reported before the monitor went ' + esc(m.state || 'offline') + ': check the monitor' : ''}</div></div><div class="actions"></div>`;
    if (!li.parentNode) ul.appendChild(li);
  }
  const want = [...tech.map((t) => `tech-${t.rule}`), ...list.map((a) => `a-${a.id}`), ...devs.map(([m, x]) => `m-${m.id}-${x.key}`)];
  const have = [...ul.children].map((li) => li.dataset.key).filter((k) => keep.has(k));
  if (want.join() !== have.join()) for (const k of want) ul.appendChild([...ul.children].find((e) => e.dataset.key === k));
  for (const li of [...ul.children]) if (!keep.has(li.dataset.key)) li.remove();
}

function sessionOf(m) {
  if (m.session === null || m.session === undefined) return null;
  const id = typeof m.session === 'object' ? m.session.id : m.session;
  return st.sessions.get(id) || { id };
}

function valueCell(m, key, label) {
  const v = m.last && m.last[key];
  if (!v) return '';
  const age = (now() - ms(v.at)) / 1000;
  const stale = age > (STALE_S[key] || STALE_DEFAULT_S) || v.validity !== 'valid';
  return `<span class="lbl">${label}</span><span class="v${stale ? ' stale' : ''}"><span class="reading"><span class="num">${v.value === null ? '–' : esc(fmtNum(v.value))}</span> <small class="unit">${esc(v.unit || '')}</small></span>${stale ? `<span class="age">${esc(v.validity !== 'valid' ? v.validity + ', ' : '')}${esc(ago(v.at))} ago</span>` : ''}</span>`;
}

function renderWall() {
  const wall = $('wall');
  const ids = [...st.monitors.keys()];
  for (const id of ids) {
    const m = st.monitors.get(id);
    let tile = wall.querySelector(`[data-monitor="${CSS.escape(id)}"]`);
    if (!tile) {
      tile = document.createElement('article');
      tile.className = 'tile';
      tile.dataset.monitor = id;
      tile.tabIndex = 0;
      tile.innerHTML = '<div class="body"></div><button type="button" class="start">Start session…</button>';
      tile.querySelector('.start').addEventListener('click', (e) => { e.stopPropagation(); startDialog(id); });
      tile.addEventListener('click', () => openTile(id));
      tile.addEventListener('keydown', (e) => { if (e.key === 'Enter' && e.target === tile) openTile(id); });
      wall.appendChild(tile);
    }
    const s = sessionOf(m);
    const a = chairAlert(id);
    const gate = s && s.phase === 'baseline' && st.gates.get(s.id);
    const conn = m.state || 'unknown';
    const cls = ['tile', conn];
    if (a) cls.push(`a-${a.priority}`);
    if (a && a.state !== 'active') cls.push('a-silenced');
    tile.className = cls.join(' ');
    tile.setAttribute('aria-label', `${id}${a ? ', ' + a.priority + ' alert' : ''}, ${conn}`);
    const nibp = m.last && m.last.nibp_sys;
    const dia = m.last && m.last.nibp_dia;
    const map = m.last && m.last.nibp_mean;
    let bp = '';
    if (nibp) {
      const age = (now() - ms(nibp.at)) / 1000;
      const stale = age > STALE_S.nibp_sys || nibp.validity !== 'valid';
      // "198/115 mmHg" on one line on the narrowest tile (the unit never wraps on its own); the
      // MAP goes with the cuff's age on the small line below.
      bp = `<span class="lbl">NIBP</span><span class="v nibp${stale ? ' stale' : ''}"><span class="reading"><span class="num">${esc(fmtNum(nibp.value))}/${esc(fmtNum(dia && dia.value))}</span> <small class="unit">mmHg</small></span><span class="age">${map ? `<span class="map">MAP ${esc(fmtNum(map.value))}</span> · ` : ''}${esc(ago(nibp.at))} ago</span></span>`;
    }
    tile.querySelector('.body').innerHTML = `
      <div class="head"><span class="id">${esc(id)}</span><span class="conn ${esc(conn)}">${esc(conn === 'online' ? 'online' : conn.toUpperCase())}</span></div>
      <div class="loc">${esc(m.location || '')}</div>
      ${s ? `<div class="phase">Session ${esc(s.id)} · <strong>${esc(s.phase || '')}</strong> for ${esc(ago(s.phase_since))}</div><div class="patient">Patient ${esc(s.patient || '')}</div>` : '<div class="phase">No session</div>'}
      ${conn !== 'online' ? `<div class="phase">${esc(conn)} since ${esc(clock(m.state_since))}${m.detail ? ': ' + esc(m.detail) : ''}</div>` : ''}
      ${gate ? gateHtml(gate.gate) : ''}
      <div class="vals">${bp}${valueCell(m, 'hr', 'HR')}${valueCell(m, 'spo2', 'SpO2')}${valueCell(m, 'rr', 'RR')}${valueCell(m, 'etco2', 'EtCO2')}</div>
      <div class="flag">${a ? esc(`${MARK[a.priority]} ${a.priority.toUpperCase()}: ${alertText(a)}${a.state !== 'active' ? ' (' + a.state + ')' : ''}`) : ''}</div>
      ${monitorAlarms(m).map((x) => `<div class="monitor-alarm p-${esc(x.priority)}${x.stale ? ' stale' : ''}" data-monitor-alarm="${esc(x.key)}">Monitor alarm · ${esc(monitorAlarmPriority(x))}: ${esc(monitorAlarmText(x))}${x.stale ? ' (last reported before the monitor went ' + esc(conn) + ')' : ''}</div>`).join('')}`;
    tile.querySelector('.start').hidden = !!s || !canAct();
  }
  for (const t of [...wall.children]) if (!st.monitors.has(t.dataset.monitor)) t.remove();
}

function openTile(id) {
  const s = sessionOf(st.monitors.get(id));
  if (s) selectSession(s.id);
}

// ---- alert actions --------------------------------------------------------------------

function notice(message) {
  openDialog('vitalsd', `<p>${esc(message)}</p>`, null);
}

async function alertAction(id, act, body) {
  try {
    const a = await api('POST', `alerts/${id}/${act}`, body || {});
    if (a && a.id !== undefined) onAlert({ type: 'alert.' + act, alert: a, at: a.updated_at });
    render();
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    // e.g. acknowledged at another station a moment earlier: say so, and show what it is now.
    try {
      const fresh = await api('GET', `alerts/${id}`);
      onAlert({ type: 'alert.refresh', alert: fresh, at: fresh.updated_at });
      render();
    } catch (e2) { /* keep what we have */ }
    notice(`Alert ${id}: ${e.message}`);
    return false;
  }
}

function pauseDialog(id) {
  const a = st.alerts.get(id);
  const s = a && st.sessions.get(a.session);
  const p = s && st.protocols.get(s.protocol);
  const max = p ? p.max_pause_s : 300;
  const options = [30, 60, 120, 180, 300, 600, 900].filter((x) => x <= max);
  if (!options.includes(max)) options.push(max);
  openDialog(`Pause alert ${id}`, `<p>${esc(a ? alertText(a) : '')}</p>
    <label>Pause for <select id="pause-seconds">${options.map((o) => `<option value="${o}">${o >= 60 ? o / 60 + ' min' : o + ' s'}</option>`).join('')}</select></label>
    <p class="hint">The protocol allows at most ${esc(max)} s per pause${p && p.max_paused_total_s ? ` and ${esc(p.max_paused_total_s)} s in total` : ''}. The alert sounds again if the value worsens.</p>`,
  async () => alertAction(id, 'pause', { seconds: Number($('pause-seconds').value) }));
}

// ---- session controls ------------------------------------------------------------------

function startDialog(monitorId) {
  const protos = [...st.protocols.keys()];
  openDialog(`Start a session on ${monitorId}`, `
    <label>Patient reference (opaque, no name)<input id="start-patient" maxlength="128" required></label>
    <label>Protocol <select id="start-protocol">${protos.map((p) => `<option>${esc(p)}</option>`).join('')}</select></label>`,
  async () => {
    const patient = $('start-patient').value.trim();
    if (!patient) throw new Error('a patient reference is needed');
    const s = await api('POST', 'sessions', { monitor: monitorId, patient, protocol: $('start-protocol').value });
    st.sessions.set(s.id, s);
    const m = st.monitors.get(monitorId);
    if (m) m.session = s.id;
    render();
    selectSession(s.id);
    return true;
  });
}

async function phaseAction(id, phase, override) {
  const body = { phase };
  if (override) body.override = override;
  try {
    const s = await api('POST', `sessions/${id}/phase`, body);
    st.sessions.set(id, Object.assign(st.sessions.get(id) || {}, s));
    await loadSessionDetail(id);
  } catch (e) {
    if (e.status === 409 && e.body && e.body.reasons) return overrideDialog(id, `Move to ${phase}?`, e, (reason) => phaseAction(id, phase, reason));
    if (e.status !== 401) notice(`Session ${id}: ${e.message}`);
  }
}

async function endAction(id, override) {
  try {
    await api('POST', `sessions/${id}/end`, override ? { override } : {});
    st.sessions.delete(id);
    for (const m of st.monitors.values()) if (m.session === id) m.session = null;
    selectSession(null);
    render();
  } catch (e) {
    if (e.status === 409 && e.body && e.body.reasons) return overrideDialog(id, 'End the session?', e, (reason) => endAction(id, reason));
    if (e.status !== 401) notice(`Session ${id}: ${e.message}`);
  }
}

function overrideDialog(id, title, e, again) {
  // The API's detail also says how to override from vitalsctl; here the reason field does it.
  const why = e.body.error === 'discharge_blocked' ? 'The discharge guard holds the session:'
    : e.body.error === 'gate_blocked' ? 'The baseline gate blocks infusing:' : e.message;
  openDialog(title, `<p>${esc(why)}</p><ul>${e.body.reasons.map((r) => `<li>${esc(gateReason(r))}</li>`).join('')}</ul>
    <label>Override reason (journaled with your name)<textarea id="override-reason" rows="2" maxlength="500"></textarea></label>`,
  async () => {
    const reason = $('override-reason').value.trim();
    if (!reason) throw new Error('give a reason to override');
    await again(reason);
    return true;
  });
}

// ---- dialogs --------------------------------------------------------------------------

function openDialog(title, html, onOk) {
  const d = $('dialog');
  $('dialog-title').textContent = title;
  $('dialog-body').innerHTML = html;
  $('dialog-error').textContent = '';
  $('dialog-cancel').hidden = !onOk;
  $('dialog-ok').textContent = onOk ? 'OK' : 'Close';
  const form = $('dialog-form');
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    if (!onOk) return d.close();
    try {
      const ok = await onOk();
      if (ok !== false) d.close();
    } catch (err) {
      $('dialog-error').textContent = err.message;
    }
  };
  $('dialog-cancel').onclick = () => d.close();
  if (d.open) d.close();
  d.showModal();
  const first = d.querySelector('input, select, textarea, #dialog-ok');
  if (first) first.focus();
}

// ---- the session view ----------------------------------------------------------------

async function selectSession(id) {
  st.selected = id;
  $('session-view').hidden = id === null;
  if (id === null) { st.trend = null; return; }
  st.trend = { session: id, obs: new Map(), alerts: new Map(), phases: [], dirty: true, drawn: 0 };
  await loadSessionDetail(id);
  await loadTrend(id);
  $('session-view').scrollIntoView({ block: 'nearest' });
}

async function loadSessionDetail(id) {
  try {
    const s = await api('GET', `sessions/${id}`);
    if (s.phase === 'ended') st.sessions.delete(id); else st.sessions.set(id, Object.assign(st.sessions.get(id) || {}, s));
    if (st.trend && st.trend.session === id) { st.trend.detail = s; st.trend.dirty = true; }
    if (s.phase === 'baseline' && s.gate) st.gates.set(id, Object.assign(st.gates.get(id) || {}, { gate: s.gate, fetched: Date.now() }));
    renderSessionHead();
  } catch (e) { /* shown on the next tick */ }
}

function addPoint(trend, param, t, v) {
  if (!trend.obs.has(param)) trend.obs.set(param, []);
  trend.obs.get(param).push({ t, v });
}

async function loadTrend(id) {
  const since = new Date(now() - 3600 * 1000).toISOString();
  let after = 0;
  const trend = st.trend;
  for (let pages = 0; pages < 40; pages++) {
    const page = await api('GET', `sessions/${id}/observations?since=${encodeURIComponent(since)}&after=${after}&limit=2000`);
    for (const o of page.observations) {
      if (o.value === null || o.validity !== 'valid') continue;
      addPoint(trend, o.parameter, ms(o.device_time || o.received_at), o.value);
    }
    if (page.next === null || page.next === undefined || page.observations.length === 0) break;
    after = page.next;
  }
  for (const arr of trend.obs.values()) arr.sort((a, b) => a.t - b.t);
  const alerts = await api('GET', `alerts?session=${id}&limit=500`);
  for (const a of alerts.alerts) trend.alerts.set(a.id, a);
  const s = trend.detail || st.sessions.get(id) || {};
  const phases = [];
  try {
    const evs = await api('GET', `events?type=session.*&monitor=${encodeURIComponent(s.monitor || '')}&after=0&limit=1000`);
    for (const e of evs.events) if (e.session === id && e.phase) phases.push({ phase: e.phase, at: ms(e.phase_since || e.at) });
  } catch (e) { /* bands from the session alone */ }
  if (!phases.length && s.started_at) phases.push({ phase: 'baseline', at: ms(s.started_at) });
  trend.phases = phases;
  trend.dirty = true;
  drawTrend();
}

function renderSessionHead() {
  const id = st.selected;
  if (!id) return;
  const s = (st.trend && st.trend.detail) || st.sessions.get(id) || { id };
  const live = st.sessions.get(id) || s;
  $('session-title').textContent = `Session ${id} · ${live.monitor || ''} · patient ${live.patient || ''} · ${live.protocol || ''} · ${live.phase || ''} for ${ago(live.phase_since)}`;
  const c = $('session-controls');
  const key = `${live.phase}|${JSON.stringify(s.gate || {})}`;
  if (c.dataset.key === key) return;
  c.dataset.key = key;
  c.innerHTML = '';
  const add = (label, fn) => {
    const b = document.createElement('button');
    b.type = 'button'; b.textContent = label; b.addEventListener('click', fn); b.disabled = !canAct();
    c.appendChild(b);
  };
  if (live.phase === 'baseline') add('Start infusing', () => phaseAction(id, 'infusing'));
  if (live.phase === 'infusing') add('Move to recovery', () => phaseAction(id, 'recovery'));
  if (live.phase && live.phase !== 'ended') add('End session', () => endAction(id));
  if (s.gate && s.gate.blocked && live.phase === 'baseline') {
    const g = document.createElement('span');
    g.className = 'gate';
    g.textContent = `Baseline gate: ${s.gate.reasons.map(gateReason).join('; ')}`;
    c.appendChild(g);
  }
}

function limitsFor(trend) {
  const s = trend.detail || st.sessions.get(trend.session) || {};
  const p = st.protocols.get(s.protocol);
  const out = [];
  if (!p) return out;
  const base = s.baseline || {};
  for (const r of p.rules) {
    if (r.kind !== 'physiological' || !['nibp_sys', 'nibp_dia', 'nibp_mean', 'hr'].includes(r.parameter)) continue;
    let y = null;
    if (!r.relative) y = r.amount;
    else if (base[r.parameter] && typeof base[r.parameter].value === 'number') {
      const b = base[r.parameter].value;
      if (r.condition === 'rise_by') y = b + r.amount;
      else if (r.condition === 'fall_by') y = b - r.amount;
      else if (r.condition === 'rise_by_percent') y = b * (1 + r.amount / 100);
      else if (r.condition === 'fall_by_percent') y = b * (1 - r.amount / 100);
    }
    if (y !== null) out.push({ rule: r, y, param: r.parameter });
  }
  return out;
}

function drawTrend() {
  const trend = st.trend;
  if (!trend) return;
  trend.dirty = false;
  trend.drawn = Date.now();
  const W = 1000, H = 340, L = 44, R = 120, T = 14, B = 28;
  // The last 60 minutes, or the session so far when it is younger (at least 10 minutes wide).
  const t1 = now();
  const started = trend.phases.length ? trend.phases[0].at : t1;
  const t0 = Math.max(t1 - 3600 * 1000, Math.min(started - 30 * 1000, t1 - 600 * 1000));
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const ymin = 30, ymax = 230;
  const y = (v) => T + (1 - (Math.min(Math.max(v, ymin), ymax) - ymin) / (ymax - ymin)) * (H - T - B);
  const parts = [];
  parts.push(`<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="Trend of the last 60 minutes" xmlns="http://www.w3.org/2000/svg" font-family="DejaVu Sans, sans-serif" font-size="11">`);
  const bands = { baseline: '#eef3f7', infusing: '#fdf1e3', recovery: '#e9f6ec' };
  const phases = trend.phases;
  for (let i = 0; i < phases.length; i++) {
    const a = Math.max(phases[i].at, t0), b = i + 1 < phases.length ? phases[i + 1].at : t1;
    if (b <= t0 || phases[i].phase === 'ended') continue;
    parts.push(`<rect x="${x(a)}" y="${T}" width="${Math.max(0, x(b) - x(a))}" height="${H - T - B}" fill="${bands[phases[i].phase] || '#f4f4f4'}"/>`);
    parts.push(`<text x="${x(a) + 4}" y="${T + 11}" fill="#5b6b78">${esc(phases[i].phase)}</text>`);
  }
  for (let v = 40; v <= 220; v += 20) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e8ec"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end" fill="#5b6b78">${v}</text>`);
  }
  const span = (t1 - t0) / 60000;
  const stepMin = span > 30 ? 10 : span > 15 ? 5 : 2;
  for (let t = Math.ceil(t0 / (stepMin * 60000)) * stepMin * 60000; t <= t1; t += stepMin * 60000) {
    parts.push(`<text x="${x(t)}" y="${H - 8}" text-anchor="middle" fill="#5b6b78">${esc(new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false }))}</text>`);
  }
  const s = trend.detail || {};
  const labels = [];
  for (const [param, b] of Object.entries(s.baseline || {})) {
    if (!['nibp_sys', 'nibp_dia', 'hr'].includes(param) || typeof b.value !== 'number') continue;
    parts.push(`<line class="baseline" x1="${L}" x2="${W - R}" y1="${y(b.value)}" y2="${y(b.value)}" stroke="${PARAMS[param].color}" stroke-dasharray="2 3" stroke-width="1.5"/>`);
    labels.push({ y: y(b.value), color: PARAMS[param].color, text: `baseline ${PARAMS[param].label} ${fmtNum(b.value)}` });
  }
  for (const l of limitsFor(trend)) {
    const color = l.rule.priority === 'high' ? '#d0021b' : l.rule.priority === 'medium' ? '#b38f00' : '#008ba1';
    parts.push(`<line class="limit" x1="${L}" x2="${W - R}" y1="${y(l.y)}" y2="${y(l.y)}" stroke="${color}" stroke-dasharray="8 4" stroke-width="1"><title>${esc(l.rule.name)}: ${fmtNum(l.y)}</title></line>`);
    labels.push({ y: y(l.y), color, text: `${PARAMS[l.param].label} ${l.rule.direction === 'below' ? '<' : '>'} ${fmtNum(l.y)}${l.rule.relative ? ' (rel.)' : ''}` });
  }
  labels.sort((a, b) => a.y - b.y);
  let lastY = -Infinity;
  for (const lb of labels) {
    const ly = Math.max(lb.y + 4, lastY + 11);
    lastY = ly;
    parts.push(`<text x="${W - R + 4}" y="${ly}" fill="${lb.color}">${esc(lb.text)}</text>`);
  }
  for (const param of ['nibp_sys', 'nibp_dia', 'nibp_mean', 'hr']) {
    const pts = (trend.obs.get(param) || []).filter((p) => p.t >= t0);
    if (!pts.length) continue;
    const c = PARAMS[param].color;
    parts.push(`<polyline class="series" data-parameter="${param}" fill="none" stroke="${c}" stroke-width="${param === 'hr' ? 1.2 : 2}" points="${pts.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ')}"/>`);
    if (param.startsWith('nibp')) for (const p of pts) parts.push(`<circle cx="${x(p.t).toFixed(1)}" cy="${y(p.v).toFixed(1)}" r="2.5" fill="${c}"/>`);
  }
  for (const a of trend.alerts.values()) {
    const t = ms(a.raised_at);
    if (!(t >= t0)) continue;
    const color = a.priority === 'high' ? '#d0021b' : a.priority === 'medium' ? '#b38f00' : '#008ba1';
    parts.push(`<g class="alert-marker"><line x1="${x(t)}" x2="${x(t)}" y1="${T}" y2="${H - B}" stroke="${color}" stroke-width="1.5"/><path d="M${x(t) - 6},${T} L${x(t) + 6},${T} L${x(t)},${T + 10} Z" fill="${color}"/><title>${esc(a.priority)} ${esc(a.rule)} at ${esc(clock(a.raised_at))}${a.acknowledged_by ? ', acknowledged by ' + esc(a.acknowledged_by) + ' at ' + esc(clock(a.acknowledged_at)) : ''}</title></g>`);
    const ack = ms(a.acknowledged_at);
    if (ack >= t0) parts.push(`<g><rect x="${x(ack) - 4}" y="${H - B - 10}" width="8" height="8" fill="#fff" stroke="${color}"/><title>acknowledged by ${esc(a.acknowledged_by)} at ${esc(clock(a.acknowledged_at))}</title></g>`);
  }
  parts.push('</svg>');
  $('trend').innerHTML = parts.join('');
  $('trend-legend').innerHTML = ['nibp_sys', 'nibp_dia', 'nibp_mean', 'hr'].map((p) => `<span class="lg-${p}">${PARAMS[p].label}</span>`).join('') +
    '<span class="lg-limit">limit (dashed; high red, medium yellow)</span><span class="lg-baseline">baseline (dotted)</span><span class="lg-alert">▼ alert raised, □ acknowledged</span>';
  drawTable(trend);
}

function drawTable(trend) {
  const cols = Object.keys(PARAMS).filter((p) => trend.obs.has(p));
  const rows = new Map();
  for (const p of cols) for (const o of trend.obs.get(p)) {
    const key = Math.floor(o.t / 1000);
    if (!rows.has(key)) rows.set(key, {});
    rows.get(key)[p] = o.v;
  }
  const keys = [...rows.keys()].sort((a, b) => b - a).slice(0, 400);
  $('readings').innerHTML = `<thead><tr><th>Time</th>${cols.map((c) => `<th>${PARAMS[c].label}</th>`).join('')}</tr></thead><tbody>${keys.map((k) => `<tr><td>${esc(new Date(k * 1000).toLocaleTimeString([], { hour12: false }))}</td>${cols.map((c) => `<td>${rows.get(k)[c] === undefined ? '' : esc(fmtNum(rows.get(k)[c]))}</td>`).join('')}</tr>`).join('')}</tbody>`;
}

// ---- sound (Web Audio; IEC 60601-1-8 style bursts: high 3+2 pulses, medium 3 pulses) ------

function unlockAudio() {
  try {
    if (!st.audio) st.audio = new (window.AudioContext || window.webkitAudioContext)();
    if (st.audio.state === 'suspended') st.audio.resume();
  } catch (e) { st.audio = null; }
  updateSoundButton();
}

function toggleSound() {
  st.sound = !st.sound;
  updateSoundButton();
  updateSound(true);
}

function updateSoundButton() {
  const b = $('sound');
  const blocked = st.sound && (!st.audio || st.audio.state !== 'running');
  b.setAttribute('aria-pressed', String(st.sound && !blocked));
  b.textContent = !st.sound ? 'Sound OFF' : blocked ? 'Sound blocked: click to allow' : 'Sound on';
}

function pulses(times, freq) {
  const ctx = st.audio;
  const t0 = ctx.currentTime + 0.02;
  for (const off of times) {
    const o = ctx.createOscillator();
    const g = ctx.createGain();
    o.type = 'square';
    o.frequency.value = freq;
    g.gain.setValueAtTime(0, t0 + off);
    g.gain.linearRampToValueAtTime(0.15, t0 + off + 0.02);
    g.gain.setValueAtTime(0.15, t0 + off + 0.13);
    g.gain.linearRampToValueAtTime(0, t0 + off + 0.16);
    o.connect(g).connect(ctx.destination);
    o.start(t0 + off);
    o.stop(t0 + off + 0.2);
  }
}

function loudest() {
  let best = null;
  for (const a of openAlerts()) if (a.state === 'active' && !a.superseded_by && (a.priority === 'high' || a.priority === 'medium')) if (!best || RANK[a.priority] < RANK[best]) best = a.priority;
  for (const t of st.technical.values()) if (t.priority === 'high') best = 'high';
  return best;
}

function updateSound(now_) {
  updateSoundButton();
  const level = st.sound ? loudest() : null;
  if (level === st.soundLevel && !now_) return;
  st.soundLevel = level;
  stopSound();
  if (!level || !st.audio) return;
  const play = () => {
    if (!st.audio || st.audio.state !== 'running') return;
    if (level === 'high') pulses([0, 0.25, 0.5, 1.0, 1.25], 960);
    else pulses([0, 0.3, 0.6], 700);
  };
  play();
  st.soundTimer = setInterval(play, level === 'high' ? 4000 : 8000);
}

function stopSound() {
  if (st.soundTimer) clearInterval(st.soundTimer);
  st.soundTimer = null;
}

boot();
