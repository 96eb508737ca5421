/*
 * ImageVault desktop — everything the app window does.
 *
 * Owns: which view is shown (sign-in, register, check-email, main), the upload
 * cards built from Rust's `intake` and `upload` events, the gallery and its
 * thumbnails, the image viewer and the settings form.
 * Does not own: the network, the disk or the login token. Every server call is a
 * Rust command reached through window.__TAURI__.core.invoke, and drops and file
 * pickers are handled in Rust; the names used here are those of the desktop
 * contract shared with desktop/.
 *
 * Why it is written this way:
 * - The window's CSP forbids inline scripts and styles: state reaches the page as
 *   classes, data-* attributes, `hidden` and <progress> elements.
 * - File names and server messages are untrusted: they enter the page through
 *   textContent and attributes only, never innerHTML.
 * - Hundreds of cards can arrive in a burst, in any order: events only update a
 *   model and mark ids dirty, and one requestAnimationFrame pass touches the DOM.
 * - Every rejected command shows its `message` where the person is looking: the
 *   form's message area, the card, the viewer, or the #status notice.
 */

// ---------------------------------------------------------------------------
// Bridge to Rust
// ---------------------------------------------------------------------------

const tauri = window.__TAURI__;

const FALLBACK_MESSAGE = 'Something went wrong. Please try again.';
const NO_BRIDGE_MESSAGE = 'This window is not connected to ImageVault. Close it and start the app again.';

/** Turns whatever a command rejected with into {code, message, failed_rules}. */
function toAppError(err) {
  if (err && typeof err === 'object' && typeof err.message === 'string' && err.message) {
    return {
      code: typeof err.code === 'string' ? err.code : 'error',
      message: err.message,
      failed_rules: Array.isArray(err.failed_rules) ? err.failed_rules : [],
    };
  }
  if (typeof err === 'string' && err) return { code: 'error', message: err, failed_rules: [] };
  return { code: 'error', message: FALLBACK_MESSAGE, failed_rules: [] };
}

/** Runs a Rust command. Always rejects with the shape toAppError gives. */
async function call(name, args = {}) {
  if (!tauri || !tauri.core) throw toAppError({ code: 'no_bridge', message: NO_BRIDGE_MESSAGE });
  try {
    return await tauri.core.invoke(name, args);
  } catch (err) {
    throw toAppError(err);
  }
}

/** Subscribes to every event Rust sends; resolves once all are registered. */
function listenToRust() {
  if (!tauri || !tauri.event) return Promise.resolve();
  const on = (name, handler) =>
    tauri.event.listen(name, (event) => handler((event && event.payload) || {}));
  return Promise.all([
    on('drop-hover', onDropHover),
    on('intake', onIntake),
    on('upload', onUpload),
    on('signed-out', (payload) => onSignedOut(payload)),
  ]);
}

// ---------------------------------------------------------------------------
// Small DOM and formatting helpers
// ---------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

/** Creates an element; text always goes in as text. */
function el(tag, className = '', text = '') {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** Writes text only when it changed (cheap on the hot card-render path). */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Fills a .message area: a sentence, optionally followed by a list. */
function setMessage(node, text, kind = 'error', items = []) {
  const parts = [el('p', '', text)];
  if (items.length > 0) {
    const list = el('ul');
    for (const item of items) list.append(el('li', '', item));
    parts.push(list);
  }
  node.dataset.kind = kind;
  node.replaceChildren(...parts);
}

function clearMessage(node) {
  node.replaceChildren();
  delete node.dataset.kind;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1024) return plural(bytes, 'byte', 'bytes');
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function formatDims(width, height) {
  return Number.isFinite(width) && Number.isFinite(height) ? `${width}×${height}` : '';
}

const DATE_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** Reads created_at: an ISO string, or a Unix time in seconds or milliseconds. */
function toDate(value) {
  if (typeof value === 'number') return new Date(value < 1e12 ? value * 1000 : value);
  if (typeof value === 'string' && value) return new Date(value);
  return null;
}

/** Is `button` in the middle of its command? (Busy buttons ignore clicks.) */
const isBusy = (button) => button.dataset.busy === 'true';

/**
 * Runs `task` with `button` marked busy. aria-disabled rather than disabled, so a
 * keyboard user's focus stays on the button instead of falling to <body>.
 */
async function withBusy(button, busyText, task) {
  if (isBusy(button)) return undefined;
  const label = button.textContent;
  button.dataset.busy = 'true';
  button.setAttribute('aria-disabled', 'true');
  if (busyText) button.textContent = busyText;
  try {
    return await task();
  } finally {
    delete button.dataset.busy;
    button.removeAttribute('aria-disabled');
    if (busyText) button.textContent = label;
  }
}

/** Shows a form error next to the field it is about, and focuses the field. */
function fieldError(messageNode, text, inputId) {
  setMessage(messageNode, text, 'error');
  $(inputId).focus();
}

// ---------------------------------------------------------------------------
// #status: short notices for everything that has no form or card of its own
// ---------------------------------------------------------------------------

let statusTimer = 0;

/** Info notices fade after a few seconds; errors stay until dismissed or replaced. */
function showStatus(text, kind = 'info') {
  const toast = $('toast');
  setText($('status'), text);
  toast.classList.toggle('error', kind === 'error');
  toast.classList.add('shown');
  $('status-dismiss').hidden = false;
  clearTimeout(statusTimer);
  if (kind !== 'error') statusTimer = setTimeout(clearStatus, 6000);
}

function clearStatus() {
  clearTimeout(statusTimer);
  $('toast').classList.remove('shown', 'error');
  $('status').textContent = '';
  $('status-dismiss').hidden = true;
}

const statusError = (message) => showStatus(message, 'error');

/**
 * Shows a rejected command's message via `show`, unless the session ended: then
 * the person goes back to sign-in and reads the message there.
 */
function reportError(err, show) {
  if ((err.code === 'session_expired' || err.code === 'not_signed_in') && session.account) {
    leaveMain(err.message);
    return;
  }
  show(err.message);
}

// ---------------------------------------------------------------------------
// Views and tabs
// ---------------------------------------------------------------------------

const VIEWS = ['view-loading', 'view-signin', 'view-register', 'view-check-email', 'view-main'];

const TABS = {
  upload: { tab: 'tab-upload', panel: 'panel-upload' },
  gallery: { tab: 'tab-gallery', panel: 'panel-gallery' },
  settings: { tab: 'tab-settings', panel: 'panel-settings' },
};

let currentTab = 'upload';

function showView(id) {
  for (const view of VIEWS) $(view).hidden = view !== id;
}

function showTab(name) {
  currentTab = name;
  for (const [key, ids] of Object.entries(TABS)) {
    const on = key === name;
    $(ids.panel).hidden = !on;
    if (on) $(ids.tab).setAttribute('aria-current', 'page');
    else $(ids.tab).removeAttribute('aria-current');
  }
  if (name === 'gallery') onGalleryShown();
  if (name === 'settings') clearMessage($('settings-message'));
}

// ---------------------------------------------------------------------------
// Settings and session
// ---------------------------------------------------------------------------

/** What Rust last told us: the account (null when signed out) and the settings. */
const session = { account: null, settings: null };

/** Puts settings from Rust into every field that shows them. */
function applySettings(settings) {
  const serverUrl = (settings && settings.server_url) || '';
  const caFile = (settings && settings.ca_file) || null;
  session.settings = { server_url: serverUrl, ca_file: caFile };
  $('server-url').value = serverUrl;
  $('settings-server-url').value = serverUrl;
  $('settings-ca-file').textContent = caFile || 'None: only the system\'s certificate authorities';
  $('clear-ca-file').hidden = !caFile;
  $('reg-server').textContent = serverUrl || 'not set yet (see the sign-in form)';
}

async function loadSettings() {
  try {
    applySettings(await call('settings'));
  } catch (err) {
    setMessage($('signin-message'), err.message, 'error');
  }
}

/**
 * sign_in and register take no server address: they use the saved one. So a
 * changed #server-url is saved first. Throws on invalid_setting.
 */
async function saveServerIfChanged() {
  const wanted = $('server-url').value.trim();
  if (session.settings && wanted === session.settings.server_url) return;
  applySettings(await call('save_settings', { serverUrl: wanted }));
}

async function restoreSession() {
  try {
    const account = await call('restore_session');
    if (account) enterMain(account);
    else showSignIn();
  } catch (err) {
    showSignIn(err.message);
  }
}

/**
 * Shows the sign-in view. `message`: a string to show, '' to clear the old one,
 * undefined to leave whatever is there (e.g. a settings error from start-up).
 */
function showSignIn(message) {
  const box = $('signin-message');
  if (message) setMessage(box, message, 'error');
  else if (message === '') clearMessage(box);
  $('resend').hidden = true;
  $('password').value = '';
  showView('view-signin');
  $($('email').value ? 'password' : 'email').focus();
}

function enterMain(account) {
  session.account = account;
  const who = $('account-email');
  who.textContent = account.email || '';
  who.title = account.server_url ? `${account.email} on ${account.server_url}` : '';
  $('password').value = '';
  clearMessage($('signin-message'));
  showView('view-main');
  showTab('upload');
  $('choose-files').focus();
}

/** Back to sign-in from the main view: forget what belonged to the account. */
function leaveMain(message) {
  session.account = null;
  closeViewer();
  resetGallery();
  showSignIn(message);
}

function onSignedOut(payload) {
  const message = typeof payload.message === 'string' && payload.message
    ? payload.message
    : 'You have been signed out. Please sign in again.';
  leaveMain(message);
  // The next sign-in starts with no cards (Rust forgets them), so nothing dropped now
  // can go to another account.
  removeCards([...cards.keys()]);
}

async function onSignIn(event) {
  event.preventDefault();
  const box = $('signin-message');
  const email = $('email').value.trim();
  const password = $('password').value;
  if (!email) return fieldError(box, 'Enter your email address.', 'email');
  if (!password) return fieldError(box, 'Enter your password.', 'password');
  await withBusy($('sign-in'), 'Signing in…', async () => {
    $('resend').hidden = true;
    try {
      await saveServerIfChanged();
      enterMain(await call('sign_in', { email, password }));
    } catch (err) {
      setMessage(box, err.message, 'error');
      $('resend').hidden = err.code !== 'email_not_verified';
    }
  });
}

async function onResendFromSignIn() {
  const box = $('signin-message');
  const email = $('email').value.trim();
  if (!email) return fieldError(box, 'Enter your email address.', 'email');
  await withBusy($('resend'), 'Sending…', async () => {
    try {
      await call('resend_verification', { email });
      setMessage(box, `We sent a new link to ${email}. Open it, then sign in here.`, 'info');
    } catch (err) {
      setMessage(box, err.message, 'error');
    }
  });
}

function onShowRegister() {
  if (!$('reg-email').value) $('reg-email').value = $('email').value.trim();
  clearMessage($('register-message'));
  showView('view-register');
  refreshRules();
  $($('reg-email').value ? 'reg-password' : 'reg-email').focus();
}

function onShowSignIn() {
  if (!$('email').value) $('email').value = $('reg-email').value.trim();
  $('reg-password').value = '';
  showSignIn('');
}

// ---------------------------------------------------------------------------
// Register: live password rules, then the "check your email" view
// ---------------------------------------------------------------------------

let rulesRequest = 0; // only the newest password_rules answer is drawn

async function refreshRules() {
  const request = ++rulesRequest;
  const password = $('reg-password').value;
  try {
    const rules = await call('password_rules', { email: $('reg-email').value.trim(), password });
    if (request === rulesRequest) renderRules(Array.isArray(rules) ? rules : [], password !== '');
  } catch (err) {
    if (request === rulesRequest) setMessage($('register-message'), err.message, 'error');
  }
}

/** One li per rule still failing; neutral before typing, marked failed after. */
function renderRules(rules, typed) {
  const items = rules.map((rule) => {
    const li = el('li', typed ? 'fail' : 'todo', String(rule.message || rule.rule || ''));
    if (rule.rule) li.dataset.rule = String(rule.rule);
    return li;
  });
  $('reg-rules').replaceChildren(...items);
  $('reg-rules-ok').hidden = !(typed && rules.length === 0);
  if (typed && rules.length > 0) $('reg-password').setAttribute('aria-invalid', 'true');
  else $('reg-password').removeAttribute('aria-invalid');
}

async function onRegister(event) {
  event.preventDefault();
  const box = $('register-message');
  const email = $('reg-email').value.trim();
  const password = $('reg-password').value;
  if (!email) return fieldError(box, 'Enter your email address.', 'reg-email');
  if (!password) return fieldError(box, 'Choose a password.', 'reg-password');
  await withBusy($('register'), 'Creating account…', async () => {
    try {
      await saveServerIfChanged();
      await call('register', { email, password });
      clearMessage(box);
      $('reg-password').value = '';
      showCheckEmail(email);
    } catch (err) {
      const rules = err.failed_rules.map((rule) => String(rule.message || rule.rule || ''));
      setMessage(box, err.message, 'error', rules);
    }
  });
}

let verificationEmail = '';

function showCheckEmail(email) {
  verificationEmail = email;
  $('check-email-address').textContent = email;
  clearMessage($('check-email-message'));
  showView('view-check-email');
  $('back-to-signin').focus();
}

async function onResendVerification() {
  const box = $('check-email-message');
  await withBusy($('resend-verification'), 'Sending…', async () => {
    try {
      await call('resend_verification', { email: verificationEmail });
      setMessage(box, `We sent the link again to ${verificationEmail}.`, 'success');
    } catch (err) {
      setMessage(box, err.message, 'error');
    }
  });
}

function onBackToSignIn() {
  $('email').value = verificationEmail;
  showSignIn('');
}

async function onSignOut() {
  await withBusy($('sign-out'), 'Signing out…', async () => {
    try {
      await call('sign_out');
      leaveMain('');
    } catch (err) {
      // Signed out on this computer all the same; the message says what was not done.
      leaveMain(err.message);
    }
    // Rust cancels and forgets every card on sign-out; the view follows.
    removeCards([...cards.keys()]);
  });
}

async function onSaveSettings(event) {
  event.preventDefault();
  const box = $('settings-message');
  await withBusy($('save-settings'), 'Saving…', async () => {
    try {
      applySettings(await call('save_settings', {
        serverUrl: $('settings-server-url').value.trim(),
      }));
      setMessage(box, 'Settings saved.', 'success');
    } catch (err) {
      reportError(err, (message) => setMessage(box, message, 'error'));
    }
  });
}

/** The CA file is chosen in Rust's native picker (the view never names a file). */
async function onChooseCaFile() {
  const box = $('settings-message');
  await withBusy($('choose-ca-file'), 'Choosing…', async () => {
    try {
      const before = session.settings ? session.settings.ca_file : null;
      const saved = await call('choose_ca_file');
      applySettings(saved);
      if (saved.ca_file && saved.ca_file !== before) {
        setMessage(box, 'The certificate authority is trusted for this server.', 'success');
      }
    } catch (err) {
      reportError(err, (message) => setMessage(box, message, 'error'));
    }
  });
}

async function onClearCaFile() {
  const box = $('settings-message');
  try {
    applySettings(await call('clear_ca_file'));
    setMessage(box, 'Only the system\'s certificate authorities are trusted now.', 'success');
  } catch (err) {
    reportError(err, (message) => setMessage(box, message, 'error'));
  }
}

// ---------------------------------------------------------------------------
// Upload cards: a model updated by events, drawn once per animation frame
// ---------------------------------------------------------------------------

const INTAKE_STATES = new Set(['checking', 'accepted', 'refused']);
const UPLOAD_STATES = new Set(['queued', 'uploading', 'retrying', 'done', 'failed', 'cancelled']);
const ACTIVE_STATES = new Set(['queued', 'uploading', 'retrying']);
const FINISHED_STATES = new Set(['done', 'refused', 'cancelled', 'failed']);

const STATUS_TEXT = {
  checking: 'Checking…',
  accepted: 'Ready to upload',
  refused: 'Refused',
  queued: 'Waiting to upload',
  retrying: 'Retrying…',
  done: 'Uploaded',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

const cards = new Map();       // String(id) → card record (model, plus its DOM once built)
let cardOrder = [];            // records in DOM order (ascending id), for late arrivals
const removedIds = new Set();  // cards the person removed: late events for them are dropped
const dirty = new Set();       // ids whose DOM is behind their model
const batch = new Set();       // ids in the current upload run (for #total-progress)
let batchOpen = false;         // false once every card of the run has finished
let frameRequested = false;
let uploadPending = false;     // upload_accepted in flight
let uploadsActive = 0;         // queued + uploading + retrying, as of the last frame

/** The record for `id`, created on first sight (events can come before intake). */
function cardFor(id) {
  if (id === undefined || id === null) return null;
  const key = String(id);
  if (removedIds.has(key)) return null;
  let card = cards.get(key);
  if (!card) {
    const sortKey = Number(id);
    card = {
      id, key, sortKey: Number.isFinite(sortKey) ? sortKey : Infinity,
      state: null, name: '', size: null, width: null, height: null, format: '',
      preview: '', reason: '', sent: 0, total: 0, message: '', actionError: '',
      busy: false, dom: null,
    };
    cards.set(key, card);
  }
  return card;
}

/** An intake verdict never undoes an upload state, and a late "checking" never undoes a verdict. */
function intakeMayOverride(current, next) {
  if (!INTAKE_STATES.has(next)) return false;
  if (current === null) return true;
  if (UPLOAD_STATES.has(current)) return false;
  return next !== 'checking';
}

function onIntake(p) {
  // A fresh "checking" for a removed id is a new sighting (e.g. dropped again).
  if (p.state === 'checking' && p.id !== undefined) removedIds.delete(String(p.id));
  const card = cardFor(p.id);
  if (!card) return;
  if (typeof p.name === 'string') card.name = p.name;
  if (Number.isFinite(p.size)) card.size = p.size;
  if (Number.isFinite(p.width)) card.width = p.width;
  if (Number.isFinite(p.height)) card.height = p.height;
  if (typeof p.format === 'string') card.format = p.format;
  if (typeof p.preview === 'string' && p.preview.startsWith('data:image/')) card.preview = p.preview;
  if (typeof p.reason === 'string') card.reason = p.reason;
  if (intakeMayOverride(card.state, p.state)) {
    card.state = p.state;
    card.actionError = '';
  }
  markDirty(card.key);
}

function onUpload(p) {
  if (!UPLOAD_STATES.has(p.state)) return;
  const card = cardFor(p.id);
  if (!card) return;
  if (ACTIVE_STATES.has(p.state) && !batchOpen) {
    batch.clear(); // a new run starts: the overall bar counts from zero again
    batchOpen = true;
  }
  batch.add(card.key);
  if (p.state === 'done' && card.state !== 'done') gallery.stale = true;
  card.state = p.state;
  if (Number.isFinite(p.sent)) card.sent = p.sent;
  if (Number.isFinite(p.total)) card.total = p.total;
  if (p.state === 'done') card.sent = card.total;
  card.message = typeof p.message === 'string' ? p.message : '';
  card.actionError = '';
  markDirty(card.key);
}

function markDirty(key) {
  dirty.add(key);
  scheduleFlush();
}

function scheduleFlush() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(flush);
}

/** The one place card DOM is touched: build new cards, update dirty ones, redo totals. */
function flush() {
  frameRequested = false;
  const fresh = [];
  for (const key of dirty) {
    const card = cards.get(key);
    if (!card) continue;
    if (!card.dom) {
      card.dom = buildCard(card);
      fresh.push(card);
    }
    renderCard(card);
  }
  dirty.clear();
  insertCards(fresh);
  renderTotals();
}

function buildCard(card) {
  const li = el('li', 'card');
  li.dataset.id = card.key;
  const thumb = el('div', 'thumb');
  const name = el('p', 'name');
  const meta = el('p', 'meta');
  const reason = el('p', 'reason');
  const status = el('p', 'status');
  const action = el('button', 'card-action');
  action.type = 'button';
  const foot = el('div', 'card-foot');
  foot.append(status, action);
  const body = el('div', 'card-body');
  body.append(name, meta, reason, foot);
  li.append(thumb, body);
  return { li, thumb, img: null, shownPreview: '', name, meta, reason, progress: null, status, action, body, foot };
}

/** Inserts new cards in id order; the common case (all newest) is one append. */
function insertCards(fresh) {
  if (fresh.length === 0) return;
  fresh.sort((a, b) => a.sortKey - b.sortKey);
  const list = $('cards');
  const tail = document.createDocumentFragment();
  for (const card of fresh) {
    const at = insertionIndex(card.sortKey);
    if (at === cardOrder.length) tail.append(card.dom.li);
    else list.insertBefore(card.dom.li, cardOrder[at].dom.li);
    cardOrder.splice(at, 0, card);
  }
  list.append(tail);
}

/** First position in cardOrder whose id is greater than `sortKey` (binary search). */
function insertionIndex(sortKey) {
  let low = 0;
  let high = cardOrder.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (cardOrder[mid].sortKey <= sortKey) low = mid + 1;
    else high = mid;
  }
  return low;
}

function displayName(card) {
  return card.name || `Photo ${card.key}`;
}

function renderCard(card) {
  const d = card.dom;
  const state = card.state || 'checking';
  if (d.li.dataset.state !== state) d.li.dataset.state = state;
  renderPreview(card);
  setText(d.name, displayName(card));
  if (d.name.title !== card.name) d.name.title = card.name;
  setText(d.meta, cardMeta(card));
  const reason = card.actionError || card.message || (state === 'refused' ? card.reason : '');
  setText(d.reason, reason);
  d.reason.hidden = !reason;
  renderCardProgress(card, state);
  setText(d.status, cardStatus(card, state));
  renderCardAction(card, state);
}

function renderPreview(card) {
  const d = card.dom;
  if (!card.preview || d.shownPreview === card.preview) return;
  if (!d.img) {
    d.img = el('img', 'preview');
    d.img.alt = '';          // decorative: the name is right beside it
    d.img.decoding = 'async';
    d.thumb.append(d.img);
  }
  d.img.src = card.preview;
  d.shownPreview = card.preview;
}

function cardMeta(card) {
  const parts = [formatBytes(card.size), formatDims(card.width, card.height)];
  if (card.format) parts.push(card.format.toUpperCase());
  return parts.filter(Boolean).join(' · ');
}

function cardStatus(card, state) {
  if (state !== 'uploading') return STATUS_TEXT[state] || '';
  const pct = card.total > 0 ? Math.min(100, Math.floor((card.sent / card.total) * 100)) : 0;
  return `Uploading ${pct}\u00a0%`;
}

/** A <progress class="progress"> exists only while the photo is in the queue. */
function renderCardProgress(card, state) {
  const d = card.dom;
  const wanted = ACTIVE_STATES.has(state);
  if (!wanted) {
    if (d.progress) {
      d.progress.remove();
      d.progress = null;
    }
    return;
  }
  if (!d.progress) {
    d.progress = el('progress', 'progress');
    d.progress.setAttribute('aria-label', `Upload progress: ${displayName(card)}`);
    d.body.insertBefore(d.progress, d.foot);
  }
  const max = card.total > 0 ? card.total : 1;
  const value = card.total > 0 ? Math.min(card.sent, card.total) : 0;
  if (d.progress.max !== max) d.progress.max = max;
  if (d.progress.value !== value) d.progress.value = value;
}

/** Cancel while queued or uploading; Remove otherwise. */
function renderCardAction(card, state) {
  const action = card.dom.action;
  const cancel = ACTIVE_STATES.has(state);
  const label = cancel ? 'Cancel' : 'Remove';
  action.dataset.action = cancel ? 'cancel' : 'remove';
  setText(action, label);
  const aria = `${label} ${displayName(card)}`;
  if (action.getAttribute('aria-label') !== aria) action.setAttribute('aria-label', aria);
  if (card.busy) action.setAttribute('aria-disabled', 'true');
  else action.removeAttribute('aria-disabled');
}

/** Counts, summary text, toolbar buttons and the overall bar. */
function renderTotals() {
  const counts = countStates();
  uploadsActive = counts.queued + counts.uploading;
  setText($('intake-summary'), summaryText(counts));
  $('panel-upload').classList.toggle('has-cards', cards.size > 0);
  renderToolbar(counts);
  renderOverallProgress();
  maybeRefreshGallery();
}

function countStates() {
  const counts = { checking: 0, accepted: 0, refused: 0, queued: 0, uploading: 0, done: 0, failed: 0, cancelled: 0 };
  for (const card of cards.values()) {
    const state = card.state || 'checking';
    if (state === 'retrying') counts.uploading += 1;
    else if (state in counts) counts[state] += 1;
  }
  return counts;
}

function summaryText(c) {
  const parts = [];
  if (c.checking) parts.push(`${c.checking} checking`);
  if (c.accepted) parts.push(`${c.accepted} ready`);
  if (c.refused) parts.push(`${c.refused} refused`);
  if (c.queued) parts.push(`${c.queued} waiting`);
  if (c.uploading) parts.push(`${c.uploading} uploading`);
  if (c.done) parts.push(`${c.done} uploaded`);
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.cancelled) parts.push(`${c.cancelled} cancelled`);
  return parts.length > 0 ? parts.join(', ') : 'No photos added yet.';
}

function renderToolbar(c) {
  const upload = $('upload-button');
  setText(upload, c.accepted === 0 ? 'Upload photos' : `Upload ${plural(c.accepted, 'photo', 'photos')}`);
  const finished = c.done + c.refused + c.failed + c.cancelled;
  const hadFocus = document.activeElement;
  upload.disabled = c.accepted === 0; // (a pending click is ignored by uploadPending)
  $('cancel-all').disabled = c.queued + c.uploading === 0;
  $('clear-finished').disabled = finished === 0;
  // A button that just became disabled drops focus to <body>: catch it.
  if (hadFocus instanceof HTMLButtonElement && hadFocus.disabled) {
    const next = ['upload-button', 'cancel-all', 'clear-finished', 'choose-files'].map($).find((b) => !b.disabled);
    if (next) next.focus();
  }
}

/** sum(sent) / sum(total) over the current run, leaving out failed and cancelled cards. */
function renderOverallProgress() {
  let sent = 0;
  let total = 0;
  let members = 0;
  let done = 0;
  let failed = 0;
  let active = false;
  for (const key of batch) {
    const card = cards.get(key);
    if (!card) continue;
    if (ACTIVE_STATES.has(card.state)) active = true;
    if (card.state === 'failed') failed += 1;
    if (card.state === 'failed' || card.state === 'cancelled') continue;
    members += 1;
    if (card.state === 'done') done += 1;
    total += card.total;
    sent += Math.min(card.sent, card.total);
  }
  batchOpen = active;
  const bar = $('total-progress');
  bar.hidden = members === 0;
  bar.max = total > 0 ? total : 1;
  bar.value = total > 0 ? sent : 0;
  let text = members > 0 ? `${done} of ${plural(members, 'photo', 'photos')} uploaded` : '';
  if (failed > 0) text += `${text ? ', ' : ''}${failed} failed`;
  setText($('progress-text'), text);
}

/** Forgets cards locally (after remove_item / clear_finished succeeded in Rust). */
function removeCards(keys) {
  for (const key of keys) {
    const card = cards.get(key);
    if (!card) continue;
    if (card.dom) card.dom.li.remove();
    cards.delete(key);
    dirty.delete(key);
    batch.delete(key);
    removedIds.add(key);
  }
  cardOrder = cardOrder.filter((card) => cards.has(card.key));
  scheduleFlush();
}

/** Clicks on a card's Cancel/Remove button (one listener for all cards). */
async function onCardAction(event) {
  const button = event.target.closest('button.card-action');
  if (!button) return;
  const card = cards.get(button.closest('li.card').dataset.id);
  if (!card || card.busy) return;
  const cancel = button.dataset.action === 'cancel';
  card.busy = true;
  card.actionError = '';
  markDirty(card.key);
  try {
    if (cancel) {
      await call('cancel_upload', { id: card.id });
    } else {
      // Rust refuses to remove a card whose upload started meanwhile; keep showing it.
      if (await call('remove_item', { id: card.id })) {
        focusNeighbourOf(card);
        removeCards([card.key]);
      }
    }
  } catch (err) {
    card.actionError = err.message;
  } finally {
    card.busy = false;
    if (cards.has(card.key)) markDirty(card.key);
  }
}

/** Before a card goes, move focus to the next card's button (or the previous). */
function focusNeighbourOf(card) {
  const li = card.dom && card.dom.li;
  if (!li || !li.contains(document.activeElement)) return;
  const next = li.nextElementSibling || li.previousElementSibling;
  const target = next ? next.querySelector('button.card-action') : $('choose-files');
  if (target) target.focus();
}

async function onChoose(command, button) {
  await withBusy(button, '', async () => {
    try {
      const added = await call(command);
      if (Number.isFinite(added) && added > 0) showStatus(`${plural(added, 'photo', 'photos')} added.`);
    } catch (err) {
      reportError(err, statusError);
    }
  });
}

async function onUploadAccepted() {
  if (uploadPending) return;
  uploadPending = true;
  scheduleFlush();
  try {
    const queued = await call('upload_accepted');
    if (Number.isFinite(queued) && queued > 0) showStatus(`Uploading ${plural(queued, 'photo', 'photos')}.`);
  } catch (err) {
    reportError(err, statusError);
  } finally {
    uploadPending = false;
    scheduleFlush();
  }
}

async function onCancelAll() {
  try {
    await call('cancel_all');
  } catch (err) {
    reportError(err, statusError);
  }
}

async function onClearFinished() {
  try {
    await call('clear_finished');
    const finished = [];
    for (const card of cards.values()) if (FINISHED_STATES.has(card.state)) finished.push(card.key);
    removeCards(finished);
  } catch (err) {
    reportError(err, statusError);
  }
}

/** A drag is over the window: light up the drop zone (and bring it into view). */
function onDropHover(p) {
  const active = p.active === true;
  $('drop-zone').classList.toggle('drop-active', active);
  document.body.classList.toggle('dropping', active && session.account !== null);
  if (active && session.account && currentTab !== 'upload') showTab('upload');
}

// ---------------------------------------------------------------------------
// Gallery: pages of images, tiles, lazily loaded thumbnails (blob URLs cached)
// ---------------------------------------------------------------------------

const MAX_THUMB_REQUESTS = 4;

const gallery = {
  loaded: false,        // first page has been shown at least once
  stale: false,         // an upload finished since the last listing
  gen: 0,               // bumps on every refresh/reset; older answers are dropped
  epoch: 0,             // bumps on sign-out; older thumbnails are dropped
  pages: 0,
  nextCursor: null,
  images: new Map(),    // String(id) → Image
  tiles: new Map(),     // String(id) → button.tile
  thumbs: new Map(),    // String(id) → blob URL, kept for the session
  wanted: new Set(),    // thumbnails queued or in flight
  queue: [],
  inFlight: 0,
};

const thumbObserver = 'IntersectionObserver' in window
  ? new IntersectionObserver(onTilesVisible, { rootMargin: '300px 0px' })
  : null;

const pageItems = (page) =>
  (page && Array.isArray(page.items) ? page.items : []).filter((image) => image && image.id != null);

const cursorOf = (page) => (page && typeof page.next_cursor === 'string' ? page.next_cursor : null);

function onGalleryShown() {
  if (!gallery.loaded) refreshGallery(true);
  else if (gallery.stale) refreshGallery(false);
}

/** Reloads after uploads finish, when the gallery is the tab in view. */
function maybeRefreshGallery() {
  if (gallery.stale && uploadsActive === 0 && currentTab === 'gallery' && session.account) {
    refreshGallery(!gallery.loaded);
  }
}

/**
 * Fetches the newest page. `full` (first load, Refresh button) shows exactly that
 * page; otherwise newer images are put in front of the ones already loaded, so
 * older pages the person fetched stay put.
 */
async function refreshGallery(full) {
  const gen = ++gallery.gen;
  gallery.stale = false;
  $('gallery').setAttribute('aria-busy', 'true');
  try {
    const page = await call('list_images', { cursor: null });
    if (gen !== gallery.gen) return;
    const items = pageItems(page);
    if (full || gallery.pages <= 1) {
      showFirstPage(items);
      gallery.nextCursor = cursorOf(page);
      gallery.pages = 1;
    } else {
      $('gallery').prepend(...items.filter((i) => !gallery.tiles.has(String(i.id))).map(upsertTile));
    }
    gallery.loaded = true;
  } catch (err) {
    if (gen === gallery.gen) reportError(err, statusError);
  } finally {
    if (gen === gallery.gen) {
      $('gallery').setAttribute('aria-busy', 'false');
      renderGalleryChrome();
      maybeRefreshGallery();
    }
  }
}

async function onLoadMore() {
  const button = $('load-more');
  if (!gallery.nextCursor) return;
  const gen = gallery.gen;
  await withBusy(button, 'Loading…', async () => {
    try {
      const page = await call('list_images', { cursor: gallery.nextCursor });
      if (gen !== gallery.gen) return;
      const fresh = pageItems(page).filter((i) => !gallery.tiles.has(String(i.id))).map(upsertTile);
      $('gallery').append(...fresh);
      gallery.nextCursor = cursorOf(page);
      gallery.pages += 1;
      const hadFocus = document.activeElement === button;
      renderGalleryChrome();
      if (hadFocus && button.hidden && fresh.length > 0) fresh[0].focus();
    } catch (err) {
      if (gen === gallery.gen) reportError(err, statusError);
    }
  });
}

/** Shows exactly `items`, reusing tiles (and their thumbnails) that are already built. */
function showFirstPage(items) {
  const keep = new Set(items.map((image) => String(image.id)));
  for (const key of [...gallery.tiles.keys()]) if (!keep.has(key)) dropTile(key);
  $('gallery').replaceChildren(...items.map(upsertTile));
}

function upsertTile(image) {
  const key = String(image.id);
  gallery.images.set(key, image);
  const existing = gallery.tiles.get(key);
  if (existing) {
    labelTile(existing, image);
    return existing;
  }
  const tile = buildTile(key, image);
  gallery.tiles.set(key, tile);
  return tile;
}

function buildTile(key, image) {
  const tile = el('button', 'tile');
  tile.type = 'button';
  tile.dataset.id = key;
  const frame = el('span', 'tile-frame');
  const img = el('img');
  img.decoding = 'async';
  img.draggable = false;
  frame.append(img);
  const name = el('span', 'tile-name');
  name.setAttribute('aria-hidden', 'true'); // the img alt already names the tile
  tile.append(frame, name);
  labelTile(tile, image);
  const cached = gallery.thumbs.get(key);
  if (cached) img.src = cached;
  else if (thumbObserver) thumbObserver.observe(tile);
  else requestThumb(key);
  return tile;
}

function labelTile(tile, image) {
  const filename = String(image.filename || 'Photo');
  const img = tile.querySelector('img');
  if (img.alt !== filename) img.alt = filename;
  setText(tile.querySelector('.tile-name'), filename);
  if (tile.title !== filename) tile.title = filename;
}

function dropTile(key) {
  const tile = gallery.tiles.get(key);
  if (tile) {
    if (thumbObserver) thumbObserver.unobserve(tile);
    tile.remove();
  }
  gallery.tiles.delete(key);
  gallery.images.delete(key);
}

function renderGalleryChrome() {
  $('gallery-empty').hidden = !(gallery.loaded && gallery.tiles.size === 0);
  $('load-more').hidden = !gallery.nextCursor;
}

function onTilesVisible(entries) {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    thumbObserver.unobserve(entry.target);
    requestThumb(entry.target.dataset.id);
  }
}

function requestThumb(key) {
  if (gallery.thumbs.has(key) || gallery.wanted.has(key)) return;
  gallery.wanted.add(key);
  gallery.queue.push(key);
  pumpThumbs();
}

/** A few thumbnail commands at a time, so a fast scroll does not flood the IPC. */
function pumpThumbs() {
  while (gallery.inFlight < MAX_THUMB_REQUESTS && gallery.queue.length > 0) {
    const key = gallery.queue.shift();
    const epoch = gallery.epoch;
    gallery.inFlight += 1;
    fetchThumb(key, epoch).finally(() => {
      if (epoch !== gallery.epoch) return; // counters were reset on sign-out
      gallery.inFlight -= 1;
      gallery.wanted.delete(key);
      pumpThumbs();
    });
  }
}

/** The bytes a command returned (ArrayBuffer, or a plain number array) as a Blob. */
function toBlob(bytes, type) {
  const data = bytes instanceof ArrayBuffer || ArrayBuffer.isView(bytes) ? bytes : new Uint8Array(bytes || []);
  return type ? new Blob([data], { type }) : new Blob([data]);
}

async function fetchThumb(key, epoch) {
  const image = gallery.images.get(key);
  if (!image) return;
  try {
    const url = URL.createObjectURL(toBlob(await call('thumbnail', { id: image.id })));
    if (epoch !== gallery.epoch) {
      URL.revokeObjectURL(url);
      return;
    }
    gallery.thumbs.set(key, url);
    const tile = gallery.tiles.get(key);
    if (tile) tile.querySelector('img').src = url;
  } catch (err) {
    if (epoch === gallery.epoch) showThumbError(key, err);
  }
}

function showThumbError(key, err) {
  if (err.code === 'session_expired') return reportError(err, statusError);
  const tile = gallery.tiles.get(key);
  if (!tile) return;
  const frame = tile.querySelector('.tile-frame');
  const note = frame.querySelector('.tile-error') || frame.appendChild(el('span', 'tile-error'));
  note.textContent = err.message;
}

/** Removes one image from the gallery (it was deleted). */
function forgetImage(key) {
  dropTile(key);
  const url = gallery.thumbs.get(key);
  if (url) URL.revokeObjectURL(url);
  gallery.thumbs.delete(key);
  renderGalleryChrome();
}

/** Sign-out: nothing of one account's gallery survives into the next. */
function resetGallery() {
  gallery.gen += 1;
  gallery.epoch += 1;
  if (thumbObserver) thumbObserver.disconnect();
  for (const url of gallery.thumbs.values()) URL.revokeObjectURL(url);
  gallery.thumbs.clear();
  gallery.tiles.clear();
  gallery.images.clear();
  gallery.wanted.clear();
  gallery.queue = [];
  gallery.inFlight = 0;
  gallery.loaded = false;
  gallery.stale = false;
  gallery.pages = 0;
  gallery.nextCursor = null;
  $('gallery').replaceChildren();
  $('gallery').setAttribute('aria-busy', 'false');
  renderGalleryChrome();
}

// ---------------------------------------------------------------------------
// Viewer: the full image in a <dialog>, with a two-step delete
// ---------------------------------------------------------------------------

const viewer = { key: null, fullUrl: null, token: 0, focusAfter: null };

const SAFE_IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif']);

function onGalleryClick(event) {
  const tile = event.target.closest('button.tile');
  if (tile) openViewer(tile.dataset.id);
}

function openViewer(key) {
  const image = gallery.images.get(key);
  if (!image) return;
  viewer.key = key;
  viewer.focusAfter = null;
  const token = ++viewer.token;
  fillViewerDetails(image);
  const img = $('viewer-image');
  img.alt = String(image.filename || 'Photo');
  const thumb = gallery.thumbs.get(key);
  if (thumb) img.src = thumb; // a soft stand-in until the full image arrives
  else img.removeAttribute('src');
  $('viewer-figure').classList.add('loading');
  disarmDelete();
  clearMessage($('viewer-message'));
  if (!$('viewer').open) $('viewer').showModal();
  loadFullImage(image, token);
}

function fillViewerDetails(image) {
  $('viewer-name').textContent = String(image.filename || 'Photo');
  $('viewer-size').textContent = formatBytes(image.size) || '—';
  const dims = formatDims(image.width, image.height);
  $('viewer-dims').textContent = dims ? `${dims} pixels` : '—';
  $('viewer-type').textContent = String(image.content_type || '—');
  const time = $('viewer-date');
  const date = toDate(image.created_at);
  if (date && !Number.isNaN(date.getTime())) {
    time.dateTime = date.toISOString();
    time.textContent = DATE_FORMAT.format(date);
  } else {
    time.removeAttribute('datetime');
    time.textContent = image.created_at ? String(image.created_at) : '—';
  }
}

async function loadFullImage(image, token) {
  try {
    const type = SAFE_IMAGE_TYPES.has(image.content_type) ? image.content_type : '';
    const url = URL.createObjectURL(toBlob(await call('image_content', { id: image.id }), type));
    if (token !== viewer.token) {
      URL.revokeObjectURL(url); // the viewer closed or moved on meanwhile
      return;
    }
    viewer.fullUrl = url;
    $('viewer-image').src = url;
  } catch (err) {
    if (token === viewer.token) reportError(err, (message) => setMessage($('viewer-message'), message, 'error'));
  } finally {
    if (token === viewer.token) $('viewer-figure').classList.remove('loading');
  }
}

function closeViewer() {
  if ($('viewer').open) $('viewer').close();
}

/** The dialog closed (Close, Escape, backdrop, delete): free the full image. */
function onViewerClosed() {
  viewer.token += 1;
  if (viewer.fullUrl) URL.revokeObjectURL(viewer.fullUrl);
  viewer.fullUrl = null;
  $('viewer-image').removeAttribute('src');
  disarmDelete();
  const back = gallery.tiles.get(viewer.key) || viewer.focusAfter;
  viewer.key = null;
  viewer.focusAfter = null;
  if (back && back.isConnected && session.account) back.focus();
}

function disarmDelete() {
  const button = $('viewer-delete');
  button.textContent = 'Delete';
  button.classList.remove('danger');
  button.classList.add('danger-quiet');
  delete button.dataset.armed;
}

/** First click asks ("Really delete?"), the second deletes. */
async function onViewerDelete() {
  const button = $('viewer-delete');
  if (isBusy(button) || viewer.key === null) return;
  if (button.dataset.armed !== 'true') {
    button.dataset.armed = 'true';
    button.textContent = 'Really delete?';
    button.classList.replace('danger-quiet', 'danger');
    return;
  }
  const key = viewer.key;
  const image = gallery.images.get(key);
  if (!image) return;
  await withBusy(button, 'Deleting…', async () => {
    try {
      await call('delete_image', { id: image.id });
      const tile = gallery.tiles.get(key);
      viewer.focusAfter = tile ? tile.nextElementSibling || tile.previousElementSibling || $('refresh-gallery') : null;
      forgetImage(key);
      closeViewer();
      showStatus(`Deleted ${String(image.filename || 'the photo')}.`);
    } catch (err) {
      reportError(err, (message) => setMessage($('viewer-message'), message, 'error'));
    }
  });
  disarmDelete();
}

// ---------------------------------------------------------------------------
// Wiring and start-up
// ---------------------------------------------------------------------------

function wireForms() {
  $('signin-form').addEventListener('submit', onSignIn);
  $('resend').addEventListener('click', onResendFromSignIn);
  $('show-register').addEventListener('click', onShowRegister);
  $('register-form').addEventListener('submit', onRegister);
  $('reg-password').addEventListener('input', refreshRules);
  $('reg-email').addEventListener('input', refreshRules);
  $('show-signin').addEventListener('click', onShowSignIn);
  $('resend-verification').addEventListener('click', onResendVerification);
  $('back-to-signin').addEventListener('click', onBackToSignIn);
  $('settings-form').addEventListener('submit', onSaveSettings);
  $('choose-ca-file').addEventListener('click', onChooseCaFile);
  $('clear-ca-file').addEventListener('click', onClearCaFile);
}

function wireMain() {
  for (const [name, ids] of Object.entries(TABS)) $(ids.tab).addEventListener('click', () => showTab(name));
  $('sign-out').addEventListener('click', onSignOut);
  $('choose-files').addEventListener('click', (e) => onChoose('choose_files', e.currentTarget));
  $('choose-folder').addEventListener('click', (e) => onChoose('choose_folder', e.currentTarget));
  $('upload-button').addEventListener('click', onUploadAccepted);
  $('cancel-all').addEventListener('click', onCancelAll);
  $('clear-finished').addEventListener('click', onClearFinished);
  $('cards').addEventListener('click', onCardAction);
  $('gallery').addEventListener('click', onGalleryClick);
  $('refresh-gallery').addEventListener('click', () => refreshGallery(true));
  $('load-more').addEventListener('click', onLoadMore);
  $('gallery-to-upload').addEventListener('click', () => showTab('upload'));
}

function wireViewer() {
  const dialog = $('viewer');
  dialog.addEventListener('close', onViewerClosed);
  // A click on the backdrop lands on the <dialog> itself (its content fills it).
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) closeViewer();
  });
  $('viewer-close').addEventListener('click', closeViewer);
  $('viewer-delete').addEventListener('click', onViewerDelete);
  $('status-dismiss').addEventListener('click', clearStatus);
}

/** Drops are Rust's job; keep the web view from opening a dropped file itself. */
function guardNativeDrops() {
  for (const type of ['dragover', 'drop']) window.addEventListener(type, (event) => event.preventDefault());
}

async function start() {
  wireForms();
  wireMain();
  wireViewer();
  guardNativeDrops();
  if (!tauri) {
    showSignIn(NO_BRIDGE_MESSAGE);
    return;
  }
  try {
    await listenToRust();
  } catch (err) {
    statusError(toAppError(err).message);
  }
  await loadSettings();
  await restoreSession();
}

start();
