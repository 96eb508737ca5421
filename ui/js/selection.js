/*
 * The gallery's select mode: which photos are chosen for a share link, and the
 * #selection-bar that says how many.
 *
 * Select mode is a state of the gallery, not a view of its own: the tiles stay where
 * they are, and a click (or Enter, or Space: tiles are buttons) toggles a tile instead
 * of opening the viewer (viewer.js asks isSelecting()). A tile says whether it is
 * chosen with aria-pressed, which also draws its check mark (app.css), so screen
 * readers and eyes read the same state. Outside select mode tiles carry no
 * aria-pressed: they are plain buttons that open the viewer.
 *
 * The selection holds tile keys (String(image.id)) only and never outlives its tiles:
 * gallery.js calls unselect when a tile goes (the photo was deleted, or a refresh no
 * longer lists it) and resetSelection when the gallery is reset on sign-out, so
 * nothing chosen in one account carries over to the next.
 *
 * Imports go one way: gallery.js, viewer.js, share-dialog.js and app.js call in here;
 * this module imports only the DOM helpers and the shared state.
 */

import { $, setText } from './dom.js';
import { ui } from './state.js';

const selection = {
  on: false,         // select mode is on
  keys: new Set(),   // the chosen tiles' data-id
};

const tiles = () => $('gallery').querySelectorAll('button.tile');

export const isSelecting = () => selection.on;

/** The chosen keys, in the gallery's order (newest first), which the link keeps. */
export function selectedKeys() {
  return [...tiles()].map((tile) => tile.dataset.id).filter((key) => selection.keys.has(key));
}

/** The #gallery-select button: turns select mode on or off. */
export function onToggleSelect() {
  if (selection.on) leaveSelectMode();
  else enterSelectMode();
}

function enterSelectMode() {
  selection.on = true;
  selection.keys.clear();
  for (const tile of tiles()) tile.setAttribute('aria-pressed', 'false');
  renderSelection();
}

/**
 * Leaves select mode and forgets the choice. Focus inside the bar (which hides) moves
 * to the Select button, so a keyboard user is not dropped at the top of the page.
 */
export function leaveSelectMode() {
  const focusInBar = $('selection-bar').contains(document.activeElement);
  selection.on = false;
  selection.keys.clear();
  for (const tile of tiles()) tile.removeAttribute('aria-pressed');
  renderSelection();
  if (focusInBar) $('gallery-select').focus();
}

/** A click on a tile in select mode: chosen becomes unchosen and back. */
export function toggleTile(tile) {
  const key = tile.dataset.id;
  const chosen = !selection.keys.has(key);
  if (chosen) selection.keys.add(key);
  else selection.keys.delete(key);
  tile.setAttribute('aria-pressed', String(chosen));
  renderSelection();
}

/** A tile built while select mode is on starts unchosen (gallery.js buildTile). */
export function markTile(tile) {
  if (selection.on) tile.setAttribute('aria-pressed', String(selection.keys.has(tile.dataset.id)));
}

/** A tile left the gallery (deleted, or not on a refreshed page): it leaves the choice. */
export function unselect(key) {
  if (selection.keys.delete(key)) renderSelection();
}

/** Escape anywhere in the gallery tab leaves select mode; in an open dialog it is the dialog's. */
export function onSelectionKeydown(event) {
  if (event.key !== 'Escape' || event.defaultPrevented || !selection.on) return;
  if (ui.currentTab !== 'gallery' || document.querySelector('dialog[open]')) return;
  event.preventDefault();
  leaveSelectMode();
}

/** The gallery was reset (sign-out): select mode ends with nothing chosen. */
export function resetSelection() {
  selection.on = false;
  selection.keys.clear();
  renderSelection();
}

function renderSelection() {
  const count = selection.keys.size;
  $('gallery').classList.toggle('selecting', selection.on);
  $('gallery-select').setAttribute('aria-pressed', String(selection.on));
  $('selection-bar').hidden = !selection.on;
  setText($('selection-count'), count === 0 ? 'Choose photos to share' : `${count} selected`);
  $('share-selected').disabled = count === 0;
}
