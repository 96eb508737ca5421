/*
 * The upload cards as a whole: the model fed by Rust's `intake` and `upload`
 * events, their order in #cards, and the totals above them (summary, toolbar,
 * overall progress).
 *
 * Hundreds of cards can arrive in a burst, in any order: events only update the
 * model and mark ids dirty, and one requestAnimationFrame pass (flush) touches the
 * DOM. The model is private to this module; other modules reach it through the
 * functions exported at the bottom.
 */

import { $, plural, setText } from './dom.js';
import {
  ACTIVE_STATES, FINISHED_STATES, INTAKE_STATES, UPLOAD_STATES, buildCard, renderCard,
} from './card-render.js';
import { markGalleryStale, maybeRefreshGallery } from './gallery.js';
import { ui } from './state.js';
import { refreshUsage } from './usage.js';

const cards = new Map();       // String(id) → card record (model, plus its DOM once built)
let cardOrder = [];            // records in DOM order (ascending id), for late arrivals
const removedIds = new Set();  // cards the person removed: late events for them are dropped
const dirty = new Set();       // ids whose DOM is behind their model
const batch = new Set();       // ids in the current upload run (for #total-progress)
let batchOpen = false;         // false once every card of the run has finished
let frameRequested = false;

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

export function onIntake(p) {
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
  if (typeof p.origin === 'string') card.origin = p.origin;
  if (intakeMayOverride(card.state, p.state)) {
    card.state = p.state;
    card.actionError = '';
  }
  markDirty(card.key);
}

export function onUpload(p) {
  if (!UPLOAD_STATES.has(p.state)) return;
  const card = cardFor(p.id);
  if (!card) return;
  if (ACTIVE_STATES.has(p.state) && !batchOpen) {
    batch.clear(); // a new run starts: the overall bar counts from zero again
    batchOpen = true;
  }
  batch.add(card.key);
  if (p.state === 'done' && card.state !== 'done') {
    markGalleryStale();
    refreshUsage(); // a burst of finished uploads folds into one or two calls
  }
  card.state = p.state;
  if (Number.isFinite(p.sent)) card.sent = p.sent;
  if (Number.isFinite(p.total)) card.total = p.total;
  if (p.state === 'done') card.sent = card.total;
  card.message = typeof p.message === 'string' ? p.message : '';
  card.actionError = '';
  markDirty(card.key);
}

export function markDirty(key) {
  dirty.add(key);
  scheduleFlush();
}

export function scheduleFlush() {
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

/** Counts, summary text, toolbar buttons and the overall bar. */
function renderTotals() {
  const counts = countStates();
  ui.uploadsActive = counts.queued + counts.uploading;
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
export function removeCards(keys) {
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

/** Sign-out: Rust cancels and forgets every card, and the view follows. */
export function removeAllCards() {
  removeCards([...cards.keys()]);
}

/** The record behind a card's data-id (undefined once removed). */
export const getCard = (key) => cards.get(key);

export const hasCard = (key) => cards.has(key);

/** Keys of the cards that clear_finished makes Rust forget. */
export function finishedCardKeys() {
  const finished = [];
  for (const card of cards.values()) if (FINISHED_STATES.has(card.state)) finished.push(card.key);
  return finished;
}
