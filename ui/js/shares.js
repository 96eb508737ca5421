/*
 * The "Shared links" tab: the account's share links with their views and status,
 * and revoking one.
 *
 * The links themselves are never listed: the server keeps only a fingerprint of
 * each, so a link's address is shown once, in the share dialog, when it is made.
 * The list is read afresh every time the tab comes into view (views change while
 * nobody looks). Revoking asks once more on the same button, as the viewer's Delete
 * does, since it cannot be undone. Answers are checked against a generation (the
 * epoch, and one token per list call) so one that arrives after a sign-out or a newer
 * load is thrown away.
 *
 * Imports go one way: views.js, share-dialog.js and auth.js call in here; this
 * module never calls them.
 */

import { call } from './bridge.js';
import { $, DATE_FORMAT, clearMessage, el, isBusy, setMessage, toDate, withBusy } from './dom.js';
import { reportError } from './notices.js';
import { session } from './state.js';

const shares = {
  epoch: 0, // bumps on sign-out; older answers are dropped
  token: 0, // newest list_shares call
};

const box = () => $('shares-message');

function stillHere(epoch) {
  return epoch === shares.epoch && session.account !== null;
}

function showError(err) {
  reportError(err, (message) => setMessage(box(), message, 'error'));
}

/** The tab came into view: read the list again. */
export function onSharesShown() {
  if (!session.account) return;
  clearMessage(box());
  loadShares();
}

export async function onRefreshShares() {
  clearMessage(box());
  await withBusy($('refresh-shares'), 'Refreshing…', loadShares);
}

export async function loadShares() {
  const token = ++shares.token;
  const table = $('shares-table');
  table.setAttribute('aria-busy', 'true');
  try {
    const list = await call('list_shares');
    if (token === shares.token && session.account) renderShares(list);
  } catch (err) {
    if (token === shares.token) showError(err);
  } finally {
    if (token === shares.token) table.setAttribute('aria-busy', 'false');
  }
}

// ---------------------------------------------------------------- words for a link

const titleOf = (item) => (item.title ? String(item.title) : 'Untitled');

/** One of "Active", "Expired", "View limit reached", "Revoked" (the browser's words). */
export function shareStatus(item, now = Date.now()) {
  if (item.revoked) return 'Revoked';
  const expires = toDate(item.expires_at);
  if (expires && expires.getTime() <= now) return 'Expired';
  if (item.max_views != null && Number(item.views) >= Number(item.max_views)) return 'View limit reached';
  return 'Active';
}

const STATUS_KINDS = {
  'Active': 'active', 'Expired': 'expired', 'View limit reached': 'used-up', 'Revoked': 'revoked',
};

/** "view only, watermarked, password": what a visitor gets. */
export function shareSettings(item) {
  const parts = [item.allow_download ? 'downloads allowed' : 'view only'];
  if (item.watermark) parts.push('watermarked');
  if (item.has_password) parts.push('password');
  return parts.join(', ');
}

/** "3", or "3 of 10" when the link has a view limit. */
export function shareViews(item) {
  const views = Number(item.views) || 0;
  return item.max_views != null ? `${views} of ${Number(item.max_views)}` : String(views);
}

/** A date as the rest of the window writes it, in a <time>; '—' when it cannot be read. */
export function timeNode(value) {
  const date = toDate(value);
  if (!date || Number.isNaN(date.getTime())) return document.createTextNode(value ? String(value) : '—');
  const time = el('time', '', DATE_FORMAT.format(date));
  time.dateTime = date.toISOString();
  return time;
}

// ---------------------------------------------------------------- the table

function renderShares(list) {
  const items = (list && Array.isArray(list.items) ? list.items : []).filter((item) => item && item.id);
  const now = Date.now();
  $('shares-rows').replaceChildren(...items.map((item) => shareRow(item, now)));
  $('shares-table').hidden = items.length === 0;
  $('shares-empty').hidden = items.length > 0;
}

/** A cell; data-label names the column when the table is stacked on narrow windows. */
function cell(label, className = '', content = '') {
  const td = el('td', className);
  td.dataset.label = label;
  if (content) td.append(content);
  return td;
}

function titleCell(item) {
  const td = el('td', 'share-title');
  td.append(el('span', 'share-name', titleOf(item)), el('span', 'share-settings', shareSettings(item)));
  return td;
}

function shareRow(item, now) {
  const row = el('tr');
  row.dataset.id = String(item.id);
  const status = shareStatus(item, now);
  row.dataset.status = STATUS_KINDS[status];
  row.append(
    titleCell(item),
    cell('Photos', 'share-count', String(Number(item.image_count) || 0)),
    cell('Views', 'share-views', shareViews(item)),
    cell('Expires', '', timeNode(item.expires_at)),
    cell('Status', 'status', status),
    actionCell(item, status),
  );
  return row;
}

/** Revoke, for links that still open or may again (not revoked, not expired). */
function actionCell(item, status) {
  const td = el('td', 'share-action');
  if (status === 'Revoked' || status === 'Expired') return td;
  const button = el('button', 'revoke danger-quiet', 'Revoke');
  button.type = 'button';
  button.dataset.id = String(item.id);
  button.dataset.title = titleOf(item);
  button.setAttribute('aria-label', `Revoke ${button.dataset.title}`);
  td.append(button);
  return td;
}

const revokeButtons = () => [...$('shares-rows').querySelectorAll('button.revoke')];

// ---------------------------------------------------------------- revoking

/** Clicks on any row's Revoke button (one listener for the whole table). */
export async function onSharesClick(event) {
  const button = event.target.closest('button.revoke');
  if (button) await onRevoke(button);
}

function armRevoke(button) {
  for (const other of revokeButtons()) if (other !== button) disarmRevoke(other);
  button.dataset.armed = 'true';
  button.textContent = 'Really revoke?';
  button.setAttribute('aria-label', `Really revoke ${button.dataset.title}? The link stops working at once.`);
  button.classList.replace('danger-quiet', 'danger');
}

function disarmRevoke(button) {
  button.textContent = 'Revoke';
  button.setAttribute('aria-label', `Revoke ${button.dataset.title}`);
  button.classList.replace('danger', 'danger-quiet');
  delete button.dataset.armed;
}

/** First press asks ("Really revoke?"), the second revokes and reads the list again. */
async function onRevoke(button) {
  if (isBusy(button)) return;
  if (button.dataset.armed !== 'true') return armRevoke(button);
  const epoch = shares.epoch;
  const index = revokeButtons().indexOf(button);
  const hadFocus = document.activeElement === button;
  const title = button.dataset.title;
  await withBusy(button, 'Revoking…', async () => {
    try {
      await call('revoke_share', { id: button.dataset.id });
      if (!stillHere(epoch)) return;
      setMessage(box(), `Revoked “${title}”: the link no longer opens.`, 'success');
      await loadShares();
      if (hadFocus) focusRowButton(index);
    } catch (err) {
      if (!stillHere(epoch)) return;
      showError(err);
      if (err.code === 'not_found') loadShares(); // revoked or gone elsewhere: show what is
    }
  });
  if (button.isConnected) disarmRevoke(button);
}

/** After a link is revoked its button goes: focus the one that took its place (or Refresh). */
function focusRowButton(index) {
  const buttons = revokeButtons();
  const target = buttons[Math.min(index, buttons.length - 1)] || $('refresh-shares');
  if (target && target.offsetParent !== null) target.focus();
}

// ---------------------------------------------------------------- leaving

/** Forgets the account's links (called by auth.js leaveMain). */
export function resetShares() {
  shares.epoch += 1;
  shares.token += 1;
  clearMessage(box());
  $('shares-rows').replaceChildren();
  $('shares-table').hidden = false;
  $('shares-table').setAttribute('aria-busy', 'false');
  $('shares-empty').hidden = true;
}
