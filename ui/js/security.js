/*
 * The account's security, in Settings: two-step sign-in (turn on with a QR code and
 * a confirming code; turn off or renew the recovery codes with the password and a
 * code) and the account's sessions (list, sign one out).
 *
 * Rust makes every server call and keeps the codes for "Save to a file…"; this
 * module only shows what Rust answers. What is secret (the setup key, its QR code,
 * the recovery codes, the typed password) is dropped from the page by
 * resetSecurity when the person leaves the main view, so nothing carries over to
 * the next account. Answers are checked against a generation (the epoch, and one
 * token per list) so one that arrives after a sign-out or a newer load is thrown away.
 *
 * Imports go one way: views.js and auth.js call in here; this module never calls
 * them. Signing this computer's own session out goes back to sign-in through
 * notices.js, the same way a rejected command does.
 */

import { call } from './bridge.js';
import { $, DATE_FORMAT, clearMessage, el, fieldError, plural, setMessage, toDate, withBusy } from './dom.js';
import { reportError, sessionEnded } from './notices.js';
import { session } from './state.js';

const sec = {
  epoch: 0,          // bumps when the account's UI is reset; older answers are dropped
  statusToken: 0,    // newest two_step_status call
  sessionsToken: 0,  // newest list_sessions call
};

const DEVICE_KINDS = { browser: 'Browser', api: 'Desktop app or API' };
const SIGNED_OUT_HERE = 'You signed this computer out.';

const twoStepBox = () => $('two-step-message');
const sessionsBox = () => $('sessions-message');

/** Is an answer that was asked for in `epoch` still for the account on screen? */
function stillHere(epoch) {
  return epoch === sec.epoch && session.account !== null;
}

/** The server's words for a wrong password speak of an email nobody typed here. */
const WRONG_PASSWORD = 'That password is not right.';

/** Shows a rejected command in `box`, or ends the session if that is what it says. */
function showError(box, err) {
  const shown = err.code === 'invalid_credentials' ? { ...err, message: WRONG_PASSWORD } : err;
  reportError(shown, (message) => setMessage(box, message, 'error'));
}

/** The Settings tab came into view: both parts are read afresh. */
export function onSettingsShown() {
  if (!session.account) return;
  clearMessage(twoStepBox());
  clearMessage(sessionsBox());
  refreshTwoStep();
  loadSessions();
}

// ---------------------------------------------------------------- two-step status

export async function refreshTwoStep() {
  const token = ++sec.statusToken;
  try {
    const status = await call('two_step_status');
    if (token === sec.statusToken && session.account) renderTwoStep(status);
  } catch (err) {
    if (token !== sec.statusToken) return;
    $('two-step-status').textContent = '';
    showError(twoStepBox(), err);
  }
}

function statusText(status) {
  const passkeys = Number(status.passkeys) || 0;
  const keys = passkeys > 0
    ? ` You have ${plural(passkeys, 'passkey', 'passkeys')} for signing in from the browser.`
    : '';
  if (!status.totp) return `Off. Signing in here asks only for your password.${keys}`;
  const left = Number(status.recovery_codes_left) || 0;
  return `On. ${plural(left, 'recovery code', 'recovery codes')} left.${keys}`;
}

/** Shows the part that fits: Turn on (unless setting up), or the on-form. */
function renderTwoStep(status) {
  const on = Boolean(status && status.totp);
  $('two-step-status').textContent = statusText(status || {});
  if (on) hideSetup();
  $('two-step-off-part').hidden = on || !$('two-step-setup').hidden;
  $('two-step-manage').hidden = !on;
}

/** Focus goes to the first control still visible once a part is hidden. */
function focusTwoStep() {
  const target = ['two-step-start', 'two-step-password'].map($).find((node) => node.offsetParent !== null);
  if (target) target.focus();
}

// ---------------------------------------------------------------- turning it on

/** The password comes first: someone at an unlocked computer must not be able to
 * tie the account to their own phone. */
export async function onStartTwoStep() {
  const field = $('two-step-start-password');
  const password = field.value;
  if (!password) return fieldError(twoStepBox(), 'Enter your password.', field.id);
  const epoch = sec.epoch;
  await withBusy($('two-step-start'), 'Starting…', async () => {
    try {
      const setup = await call('start_two_step', { password });
      field.value = '';
      if (stillHere(epoch)) showSetup(setup);
    } catch (err) {
      if (!stillHere(epoch)) return;
      showError(twoStepBox(), err);
      if (err.code === 'invalid_credentials') {
        field.value = '';
        field.focus();
      }
      if (err.code === 'mfa_already_enabled') refreshTwoStep();
    }
  });
}

function showSetup(setup) {
  clearMessage(twoStepBox());
  const qr = String((setup && setup.qr_code) || '');
  // Rust checked it is an SVG; an <img> runs no script in it either way.
  if (qr.startsWith('data:image/svg+xml')) $('two-step-qr').src = qr;
  else $('two-step-qr').removeAttribute('src');
  $('two-step-secret').textContent = String((setup && setup.secret) || '');
  $('two-step-confirm-code').value = '';
  $('two-step-off-part').hidden = true;
  $('two-step-setup').hidden = false;
  $('two-step-confirm-code').focus();
}

/** Forgets the setup key and its QR code (they let anyone make codes). */
function hideSetup() {
  $('two-step-setup').hidden = true;
  $('two-step-qr').removeAttribute('src');
  $('two-step-secret').textContent = '';
  $('two-step-confirm-code').value = '';
}

export function onCancelSetup() {
  hideSetup();
  clearMessage(twoStepBox());
  $('two-step-off-part').hidden = false;
  $('two-step-start').focus();
}

export async function onConfirmTwoStep(event) {
  event.preventDefault();
  const box = twoStepBox();
  const field = $('two-step-confirm-code');
  const code = field.value.trim();
  if (!code) return fieldError(box, 'Enter the 6-digit code your app shows now.', field.id);
  const epoch = sec.epoch;
  await withBusy($('two-step-confirm'), 'Turning on…', async () => {
    try {
      const codes = await call('confirm_two_step', { code });
      if (!stillHere(epoch)) return;
      hideSetup();
      showCodes(codes, 'Two-step sign-in is on. Save your recovery codes now.');
      await refreshTwoStep();
    } catch (err) {
      if (stillHere(epoch)) codeRefused(err, field);
    }
  });
}

/** A wrong code is cleared for another try; other errors leave the field alone. */
function codeRefused(err, field) {
  showError(twoStepBox(), err);
  if (err.code !== 'invalid_code') return;
  field.value = '';
  field.focus();
}

// ---------------------------------------------------------------- recovery codes

function showCodes(codes, message) {
  const list = Array.isArray(codes) ? codes : [];
  $('recovery-codes').replaceChildren(...list.map((code) => {
    const li = el('li');
    li.append(el('code', '', String(code)));
    return li;
  }));
  $('recovery-codes-part').hidden = false;
  setMessage(twoStepBox(), message, 'success');
  $('save-recovery-codes').focus();
}

function hideCodes() {
  $('recovery-codes').replaceChildren();
  $('recovery-codes-part').hidden = true;
}

export function onHideCodes() {
  hideCodes();
  clearMessage(twoStepBox());
  focusTwoStep();
}

/** Rust writes the codes it kept to a file chosen in its native picker. */
export async function onSaveCodes() {
  const box = twoStepBox();
  await withBusy($('save-recovery-codes'), 'Saving…', async () => {
    try {
      if (await call('save_recovery_codes')) setMessage(box, 'Your recovery codes are saved.', 'success');
    } catch (err) {
      showError(box, err);
    }
  });
}

// ---------------------------------------------------------------- when it is on

/** The password and code the on-form holds, or null after pointing at the empty one. */
function proof() {
  const box = twoStepBox();
  const password = $('two-step-password').value;
  const code = $('two-step-code').value.trim();
  if (!password) fieldError(box, 'Enter your password.', 'two-step-password');
  else if (!code) fieldError(box, 'Enter a code from your app, or a recovery code.', 'two-step-code');
  else return { password, code };
  return null;
}

function clearProof() {
  $('two-step-start-password').value = '';
  $('two-step-password').value = '';
  $('two-step-code').value = '';
}

/** A refused proof: empty the field that was wrong and put the person back in it. */
function proofRefused(err) {
  showError(twoStepBox(), err);
  const wrong = { invalid_credentials: 'two-step-password', invalid_code: 'two-step-code' }[err.code];
  if (!wrong) return;
  $(wrong).value = '';
  $(wrong).focus();
}

export async function onTurnOff() {
  const args = proof();
  if (!args) return;
  const epoch = sec.epoch;
  await withBusy($('two-step-off'), 'Turning off…', async () => {
    try {
      await call('turn_off_two_step', args);
      if (!stillHere(epoch)) return;
      clearProof();
      hideCodes();
      setMessage(twoStepBox(), 'Two-step sign-in is off.', 'success');
      await refreshTwoStep();
      focusTwoStep();
    } catch (err) {
      if (stillHere(epoch)) proofRefused(err);
    }
  });
}

export async function onNewCodes() {
  const args = proof();
  if (!args) return;
  const epoch = sec.epoch;
  await withBusy($('two-step-new-codes'), 'Making codes…', async () => {
    try {
      const codes = await call('new_recovery_codes', args);
      if (!stillHere(epoch)) return;
      clearProof();
      showCodes(codes, 'New recovery codes are ready. The old ones no longer work.');
      await refreshTwoStep();
    } catch (err) {
      if (stillHere(epoch)) proofRefused(err);
    }
  });
}

// ---------------------------------------------------------------- sessions

export async function loadSessions() {
  const token = ++sec.sessionsToken;
  const table = $('sessions-table');
  table.setAttribute('aria-busy', 'true');
  try {
    const list = await call('list_sessions');
    if (token === sec.sessionsToken && session.account) renderSessions(list);
  } catch (err) {
    if (token === sec.sessionsToken) showError(sessionsBox(), err);
  } finally {
    if (token === sec.sessionsToken) table.setAttribute('aria-busy', 'false');
  }
}

export async function onRefreshSessions() {
  clearMessage(sessionsBox());
  await withBusy($('refresh-sessions'), 'Refreshing…', loadSessions);
}

function renderSessions(list) {
  const items = (list && Array.isArray(list.items) ? list.items : []).filter((item) => item && item.id);
  const rows = items.map(sessionRow);
  if (rows.length === 0) {
    const cell = el('td', 'sessions-none', 'No sessions to show.');
    cell.colSpan = 5;
    const row = el('tr');
    row.append(cell);
    rows.push(row);
  }
  $('sessions-rows').replaceChildren(...rows);
}

const deviceName = (item) => DEVICE_KINDS[item.kind] || String(item.kind || 'Unknown device');

/** A time cell; data-label names the column when the table is stacked on narrow windows. */
function timeCell(value, label) {
  const td = el('td');
  td.dataset.label = label;
  const date = toDate(value);
  if (!date || Number.isNaN(date.getTime())) {
    td.textContent = value ? String(value) : '—';
    return td;
  }
  const time = el('time', '', DATE_FORMAT.format(date));
  time.dateTime = date.toISOString();
  td.append(time);
  return td;
}

function deviceCell(item) {
  const td = el('td', 'session-device');
  td.dataset.label = 'Device';
  td.append(el('span', 'session-kind', deviceName(item)));
  if (item.current) td.append(' ', el('span', 'badge', 'This device'));
  if (item.user_agent) td.append(el('span', 'session-agent', String(item.user_agent)));
  return td;
}

/** Says which session a Sign out button ends, for its aria-label and the message. */
function describe(item) {
  const parts = [deviceName(item)];
  if (item.user_agent) parts.push(String(item.user_agent));
  if (item.current) parts.push('this device');
  const seen = toDate(item.last_seen_at);
  if (seen && !Number.isNaN(seen.getTime())) parts.push(`last used ${DATE_FORMAT.format(seen)}`);
  return parts.join(', ');
}

function sessionRow(item) {
  const row = el('tr');
  if (item.current) row.classList.add('current');
  const address = el('td', 'session-address', item.address_hint ? String(item.address_hint) : '—');
  address.dataset.label = 'Address';
  const action = el('td', 'session-action');
  const button = el('button', 'session-revoke', 'Sign out');
  button.type = 'button';
  button.dataset.id = String(item.id);
  button.dataset.device = describe(item);
  button.setAttribute('aria-label', `Sign out ${button.dataset.device}`);
  action.append(button);
  row.append(deviceCell(item), timeCell(item.created_at, 'Created'),
    timeCell(item.last_seen_at, 'Last used'), address, action);
  return row;
}

/** Clicks on any row's Sign out button (one listener for the whole table). */
export async function onSessionsClick(event) {
  const button = event.target.closest('button.session-revoke');
  if (button) await revokeSession(button);
}

async function revokeSession(button) {
  const epoch = sec.epoch;
  const buttons = [...$('sessions-rows').querySelectorAll('button.session-revoke')];
  const index = buttons.indexOf(button);
  const hadFocus = document.activeElement === button;
  await withBusy(button, 'Signing out…', async () => {
    try {
      const wasThisComputer = await call('revoke_session', { id: button.dataset.id });
      if (!stillHere(epoch)) return; // the signed-out event got here first
      if (wasThisComputer) return sessionEnded(SIGNED_OUT_HERE);
      setMessage(sessionsBox(), `Signed out: ${button.dataset.device}.`, 'success');
      await loadSessions();
      if (hadFocus) focusRowButton(index);
    } catch (err) {
      if (stillHere(epoch)) showError(sessionsBox(), err);
    }
  });
}

/** After a row goes, focus the button that took its place (or Refresh). */
function focusRowButton(index) {
  const buttons = $('sessions-rows').querySelectorAll('button.session-revoke');
  const target = buttons[Math.min(index, buttons.length - 1)] || $('refresh-sessions');
  if (target && target.offsetParent !== null) target.focus();
}

// ---------------------------------------------------------------- leaving

/** Forgets everything of the account's security UI (called by auth.js leaveMain). */
export function resetSecurity() {
  sec.epoch += 1;
  sec.statusToken += 1;
  sec.sessionsToken += 1;
  hideSetup();
  hideCodes();
  clearProof();
  clearMessage(twoStepBox());
  clearMessage(sessionsBox());
  $('two-step-status').textContent = 'Checking…';
  $('two-step-off-part').hidden = true;
  $('two-step-manage').hidden = true;
  $('sessions-rows').replaceChildren();
  $('sessions-table').setAttribute('aria-busy', 'false');
}
