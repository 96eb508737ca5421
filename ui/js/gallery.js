/*
 * The gallery: pages of the account's images as tiles, and their thumbnails loaded
 * lazily and cached as blob URLs for the session.
 *
 * The gallery's state is private to this module; the viewer and the cards reach it
 * through the small functions exported at the bottom. Which tiles are chosen for a
 * share link is selection.js's: this module only tells it when tiles come and go.
 * Every answer carries a generation (gen, epoch) so one that arrives after a refresh
 * or a sign-out is dropped instead of drawn into the wrong list or account.
 */

import { call, toBlob } from './bridge.js';
import { $, el, setText, withBusy } from './dom.js';
import { reportError, statusError } from './notices.js';
import { markTile, resetSelection, unselect } from './selection.js';
import { session, ui } from './state.js';
import { refreshUsage } from './usage.js';

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

export function onGalleryShown() {
  if (!gallery.loaded) refreshGallery(true);
  else if (gallery.stale) refreshGallery(false);
}

/** Reloads after uploads finish, when the gallery is the tab in view. */
export function maybeRefreshGallery() {
  if (gallery.stale && ui.uploadsActive === 0 && ui.currentTab === 'gallery' && session.account) {
    refreshGallery(!gallery.loaded);
  }
}

/**
 * Fetches the newest page. `full` (first load, Refresh button) shows exactly that
 * page; otherwise newer images are put in front of the ones already loaded, so
 * older pages the person fetched stay put.
 */
export async function refreshGallery(full) {
  const gen = ++gallery.gen;
  gallery.stale = false;
  $('gallery').setAttribute('aria-busy', 'true');
  refreshUsage(); // the header's count follows what the gallery lists
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

export async function onLoadMore() {
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
  markTile(tile);
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
  unselect(key);
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
export function forgetImage(key) {
  dropTile(key);
  const url = gallery.thumbs.get(key);
  if (url) URL.revokeObjectURL(url);
  gallery.thumbs.delete(key);
  renderGalleryChrome();
}

/** Sign-out: nothing of one account's gallery survives into the next. */
export function resetGallery() {
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
  resetSelection();
  renderGalleryChrome();
}

/** An upload finished: the next look at the gallery lists again. */
export function markGalleryStale() {
  gallery.stale = true;
}

/** The image record, tile and cached thumbnail URL behind a tile's data-id. */
export const galleryImage = (key) => gallery.images.get(key);
export const galleryTile = (key) => gallery.tiles.get(key);
export const galleryThumb = (key) => gallery.thumbs.get(key);
