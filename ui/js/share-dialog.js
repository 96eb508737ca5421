/*
 * The share dialog: the settings for a new link to the photos chosen in the gallery
 * (#share-form), then the link itself (#share-result), in the #share-dialog <dialog>.
 *
 * Why it is written this way:
 * - The server keeps only a fingerprint of a link, so its address exists in this
 *   window only from create_share's answer until the dialog closes: it is copied to
 *   the clipboard at once, shown in a readonly field to copy again or by hand, and
 *   dropped (with the typed password) when the dialog closes. A click on the backdrop
 *   does not close it, so the link is not lost by a stray click; Escape, Cancel and
 *   Done do.
 * - What can be checked here is checked first (title, password and view limit), so
 *   the message points at the field; the server checks everything again and its
 *   invalid_share message is shown as it comes. Empty fields are sent as null.
 * - A token guards create_share's answer: a link made after the dialog closed
 *   (Escape during "Creating…") cannot be shown any more, and a notice says so
 *   rather than losing it without a word.
 * - Once a link is made, closing the dialog leaves select mode: those photos are shared.
 *
 * Imports go one way: app.js and auth.js call in here.
 */

import { call, copyText } from './bridge.js';
import { $, clearMessage, fieldError, isBusy, plural, setMessage, setText, withBusy } from './dom.js';
import { galleryImage } from './gallery.js';
import { reportError, statusError } from './notices.js';
import { leaveSelectMode, selectedKeys } from './selection.js';
import { shareSettings, timeNode } from './shares.js';
import { session } from './state.js';
import { showTab } from './views.js';

// The server's limits (common/src/api.rs ShareRequest).
const MAX_PHOTOS = 500;
const TITLE_MAX = 100;
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 128;
const VIEWS_MAX = 1000000;

const COPIED = 'Link copied to the clipboard.';
const LATE_LINK = 'A link was made after the share dialog closed, so it cannot be shown. '
  + 'If you do not need it, revoke it under Shared links.';
const CHECKED_FIELDS = ['share-title', 'share-password', 'share-max-views'];

const share = {
  token: 0,        // bumps whenever the dialog closes; older answers are dropped
  keys: [],        // the tiles chosen when the dialog opened
  created: false,  // a link was made: closing leaves select mode
  toList: false,   // "See your shared links": closing shows that tab
};

const box = () => $('share-message');

// ---------------------------------------------------------------- opening

/** "Share…" in the selection bar: the settings for the chosen photos. */
export function onShareSelected() {
  const keys = selectedKeys();
  if (keys.length === 0 || $('share-dialog').open) return;
  clearDialog();
  share.keys = keys;
  setText($('share-heading'), `Share ${plural(keys.length, 'photo', 'photos')}`);
  if (keys.length > MAX_PHOTOS) setMessage(box(), tooMany(keys.length), 'error');
  $('share-dialog').showModal();
  $('share-title').focus();
}

const tooMany = (count) =>
  `A link can show at most ${MAX_PHOTOS} photos, and ${count} are chosen. Cancel and choose fewer.`;

export function closeShareDialog() {
  if ($('share-dialog').open) $('share-dialog').close();
}

/** "See your shared links": close, then show the Shared links tab. */
export function onOpenShareList() {
  share.toList = true;
  closeShareDialog();
}

/**
 * The dialog closed (Escape, Cancel, Done, the link to the list, sign-out): forget the
 * link and the password, and put focus back in the gallery (or on the list).
 */
export function onShareClosed() {
  share.token += 1;
  const { created, toList } = share;
  clearDialog();
  if (!session.account) return;
  if (created) leaveSelectMode();
  if (toList) {
    showTab('shares');
    $('refresh-shares').focus();
    return;
  }
  const back = $('share-selected');
  (back.disabled || back.offsetParent === null ? $('gallery-select') : back).focus();
}

/** Back to an empty form: nothing typed or made survives a closing. */
function clearDialog() {
  $('share-form').reset();
  clearInvalid();
  clearMessage(box());
  $('share-link').value = '';
  clearCopied();
  $('share-summary').replaceChildren();
  $('share-form').hidden = false;
  $('share-result').hidden = true;
  share.keys = [];
  share.created = false;
  share.toList = false;
}

/** Sign-out: close the dialog and drop any answer still on its way (auth.js leaveMain). */
export function resetShareDialog() {
  share.token += 1;
  closeShareDialog();
  clearDialog();
}

// ---------------------------------------------------------------- the form

/** Typing in a field that was pointed at as wrong takes the mark away. */
export function onShareInput(event) {
  if (event.target && event.target.removeAttribute) event.target.removeAttribute('aria-invalid');
}

function clearInvalid() {
  for (const id of CHECKED_FIELDS) $(id).removeAttribute('aria-invalid');
}

/** Marks a field as wrong, says why and puts the person in it; null for readRequest. */
function invalid(id, text) {
  $(id).setAttribute('aria-invalid', 'true');
  fieldError(box(), text, id);
  return null;
}

/** The view limit: a whole number, null when empty, NaN when it is not one we accept. */
function viewLimit() {
  const field = $('share-max-views');
  const raw = field.value.trim();
  if (field.validity.badInput) return NaN;
  if (raw === '') return null;
  const views = Number(raw);
  return Number.isInteger(views) && views >= 1 && views <= VIEWS_MAX ? views : NaN;
}

/** The image ids behind the chosen tiles, in the gallery's order. */
const imageIds = () => share.keys.map((key) => {
  const image = galleryImage(key);
  return String(image ? image.id : key);
});

/** The form as create_share's request, or null after pointing at what is wrong. */
function readRequest() {
  if (share.keys.length > MAX_PHOTOS) {
    setMessage(box(), tooMany(share.keys.length), 'error');
    return null;
  }
  const title = $('share-title').value.trim();
  if ([...title].length > TITLE_MAX) {
    return invalid('share-title', `The title can have at most ${TITLE_MAX} characters.`);
  }
  const password = $('share-password').value;
  const length = [...password].length;
  if (password && (length < PASSWORD_MIN || length > PASSWORD_MAX)) {
    return invalid('share-password',
      `The password needs ${PASSWORD_MIN} to ${PASSWORD_MAX} characters. Leave it empty for a link without one.`);
  }
  const maxViews = viewLimit();
  if (Number.isNaN(maxViews)) {
    return invalid('share-max-views',
      'The view limit must be a whole number from 1 to 1,000,000. Leave it empty for no limit.');
  }
  return {
    image_ids: imageIds(),
    title: title || null,
    expires_in_seconds: Number($('share-expiry').value),
    password: password || null,
    max_views: maxViews,
    allow_download: $('share-download').checked,
    watermark: $('share-watermark').checked,
  };
}

/** "Create link": make it, show it, copy it. */
export async function onCreateShare(event) {
  event.preventDefault();
  const button = $('share-create');
  if (isBusy(button)) return;
  clearInvalid();
  clearMessage(box());
  const request = readRequest();
  if (!request) return;
  const token = share.token;
  await withBusy(button, 'Creating…', async () => {
    try {
      const created = await call('create_share', { request });
      if (token === share.token) await showResult(created);
      else if (session.account) statusError(LATE_LINK);
    } catch (err) {
      if (token === share.token) reportError(err, (message) => setMessage(box(), message, 'error'));
      else if (session.account) reportError(err, statusError);
    }
  });
}

// ---------------------------------------------------------------- the link

/** Swaps the form for the link, which is copied at once. */
async function showResult(created) {
  share.created = true;
  $('share-form').reset(); // the password is not needed any more
  const count = Number(created && created.image_count) || share.keys.length;
  setText($('share-heading'), 'Link created');
  setText($('share-link-label'), `Link to ${plural(count, 'photo', 'photos')}`);
  $('share-link').value = String((created && created.url) || '');
  $('share-summary').replaceChildren(...summary(created || {}));
  $('share-form').hidden = true;
  $('share-result').hidden = false;
  $('share-copy').focus();
  await copyLink();
}

/** "Works until <date>; view only, watermarked; at most 10 views." */
function summary(created) {
  const limit = created.max_views != null
    ? `; at most ${plural(Number(created.max_views), 'view', 'views')}`
    : '';
  return ['Works until ', timeNode(created.expires_at), `; ${shareSettings(created)}${limit}.`];
}

function clearCopied() {
  const status = $('share-copied');
  status.textContent = '';
  delete status.dataset.kind;
}

/**
 * Copies the link. The line is emptied first so that copying again is announced
 * again; when the clipboard refuses, the link is selected for copying by hand.
 */
async function copyLink() {
  const token = share.token;
  const link = $('share-link');
  const status = $('share-copied');
  clearCopied();
  try {
    await copyText(link.value);
    if (token !== share.token) return;
    status.textContent = COPIED;
    status.dataset.kind = 'success';
  } catch (err) {
    if (token !== share.token) return;
    const why = err.message.replace(/[\s.]+$/, '');
    status.textContent = `Could not copy: ${why}. Select the link and copy it by hand.`;
    status.dataset.kind = 'error';
    link.focus();
    link.select();
  }
}

/** "Copy link": copy it again (the button keeps its words; the line below answers). */
export async function onCopyShare() {
  await withBusy($('share-copy'), '', copyLink);
}
