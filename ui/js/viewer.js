/*
 * The image viewer: the full image in the #viewer <dialog>, its details, and the
 * two-step delete. In the gallery's select mode a tile toggles its selection
 * (selection.js) instead of opening the viewer.
 *
 * The full image is a blob URL that is freed whenever the dialog closes, however
 * it closes. A token guards the image_content answer, so one that arrives after the
 * viewer closed or moved to another image is thrown away.
 */

import { call, toBlob } from './bridge.js';
import {
  $, DATE_FORMAT, clearMessage, formatBytes, formatDims, isBusy, setMessage, toDate, withBusy,
} from './dom.js';
import { forgetImage, galleryImage, galleryThumb, galleryTile } from './gallery.js';
import { reportError, showStatus } from './notices.js';
import { isSelecting, toggleTile } from './selection.js';
import { session } from './state.js';
import { refreshUsage } from './usage.js';

const viewer = { key: null, fullUrl: null, token: 0, focusAfter: null };

// The only content types the blob takes over from the server's listing; any other
// claimed type is left off rather than passed through to the web view.
const SAFE_IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif']);

export function onGalleryClick(event) {
  const tile = event.target.closest('button.tile');
  if (!tile) return;
  if (isSelecting()) toggleTile(tile);
  else openViewer(tile.dataset.id);
}

function openViewer(key) {
  const image = galleryImage(key);
  if (!image) return;
  viewer.key = key;
  viewer.focusAfter = null;
  const token = ++viewer.token;
  fillViewerDetails(image);
  const img = $('viewer-image');
  img.alt = String(image.filename || 'Photo');
  const thumb = galleryThumb(key);
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

export function closeViewer() {
  if ($('viewer').open) $('viewer').close();
}

/** The dialog closed (Close, Escape, backdrop, delete): free the full image. */
export function onViewerClosed() {
  viewer.token += 1;
  if (viewer.fullUrl) URL.revokeObjectURL(viewer.fullUrl);
  viewer.fullUrl = null;
  $('viewer-image').removeAttribute('src');
  disarmDelete();
  const back = galleryTile(viewer.key) || viewer.focusAfter;
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
export async function onViewerDelete() {
  const button = $('viewer-delete');
  if (isBusy(button) || viewer.key === null) return;
  if (button.dataset.armed !== 'true') {
    button.dataset.armed = 'true';
    button.textContent = 'Really delete?';
    button.classList.replace('danger-quiet', 'danger');
    return;
  }
  const key = viewer.key;
  const image = galleryImage(key);
  if (!image) return;
  await withBusy(button, 'Deleting…', async () => {
    try {
      await call('delete_image', { id: image.id });
      const tile = galleryTile(key);
      viewer.focusAfter = tile ? tile.nextElementSibling || tile.previousElementSibling || $('refresh-gallery') : null;
      forgetImage(key);
      refreshUsage();
      closeViewer();
      showStatus(`Deleted ${String(image.filename || 'the photo')}.`);
    } catch (err) {
      reportError(err, (message) => setMessage($('viewer-message'), message, 'error'));
    }
  });
  disarmDelete();
}
