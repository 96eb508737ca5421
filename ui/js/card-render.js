/*
 * One upload card: the states a card can be in (the `intake` and `upload` events of
 * the desktop contract) and how a single card record is drawn.
 *
 * It draws one record at a time and keeps no state of its own, so cards.js can
 * redraw any card in any order within its one frame pass. The state sets live
 * here, not in cards.js, so this module stays a leaf that cards.js imports.
 */

import { el, formatBytes, formatDims, setText } from './dom.js';

export const INTAKE_STATES = new Set(['checking', 'accepted', 'refused']);
export const UPLOAD_STATES = new Set(['queued', 'uploading', 'retrying', 'done', 'failed', 'cancelled']);
export const ACTIVE_STATES = new Set(['queued', 'uploading', 'retrying']);
export const FINISHED_STATES = new Set(['done', 'refused', 'cancelled', 'failed']);

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

export function buildCard(card) {
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

function displayName(card) {
  return card.name || `Photo ${card.key}`;
}

export function renderCard(card) {
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
  if (card.origin) parts.push(`from ${card.origin}`);
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
