/*
 * What the person does on the Upload panel: choose files or a folder, upload the
 * accepted ones, cancel, remove or clear cards, and the drop-zone highlight.
 *
 * Drops and pickers are handled in Rust (the view never sees a path); these
 * handlers only send the command and let Rust's events update the cards. Kept apart
 * from cards.js, which only mirrors what Rust reports.
 */

import { call } from './bridge.js';
import { $, plural, withBusy } from './dom.js';
import {
  finishedCardKeys, getCard, hasCard, markDirty, removeCards, scheduleFlush,
} from './cards.js';
import { reportError, showStatus, statusError } from './notices.js';
import { session, ui } from './state.js';
import { showTab } from './views.js';

let uploadPending = false;     // upload_accepted in flight

/** Clicks on a card's Cancel/Remove button (one listener for all cards). */
export async function onCardAction(event) {
  const button = event.target.closest('button.card-action');
  if (!button) return;
  const card = getCard(button.closest('li.card').dataset.id);
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
    if (hasCard(card.key)) markDirty(card.key);
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

export async function onChoose(command, button) {
  await withBusy(button, '', async () => {
    try {
      const added = await call(command);
      if (Number.isFinite(added) && added > 0) showStatus(`${plural(added, 'photo', 'photos')} added.`);
    } catch (err) {
      reportError(err, statusError);
    }
  });
}

export async function onUploadAccepted() {
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

export async function onCancelAll() {
  try {
    await call('cancel_all');
  } catch (err) {
    reportError(err, statusError);
  }
}

export async function onClearFinished() {
  try {
    await call('clear_finished');
    removeCards(finishedCardKeys());
  } catch (err) {
    reportError(err, statusError);
  }
}

/** A drag is over the window: light up the drop zone (and bring it into view). */
export function onDropHover(p) {
  const active = p.active === true;
  $('drop-zone').classList.toggle('drop-active', active);
  document.body.classList.toggle('dropping', active && session.account !== null);
  if (active && session.account && ui.currentTab !== 'upload') showTab('upload');
}
