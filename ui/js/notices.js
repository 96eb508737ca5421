/*
 * #status, the short notices for everything that has no form or card of its own,
 * and reportError, which decides where a rejected command's message goes.
 *
 * Every rejected command shows its `message` where the person is looking: the
 * form's message area, the card, the viewer, or here.
 */

import { $, setText } from './dom.js';
import { session } from './state.js';

let statusTimer = 0;

/** Info notices fade after a few seconds; errors stay until dismissed or replaced. */
export function showStatus(text, kind = 'info') {
  const toast = $('toast');
  setText($('status'), text);
  toast.classList.toggle('error', kind === 'error');
  toast.classList.add('shown');
  $('status-dismiss').hidden = false;
  clearTimeout(statusTimer);
  if (kind !== 'error') statusTimer = setTimeout(clearStatus, 6000);
}

export function clearStatus() {
  clearTimeout(statusTimer);
  $('toast').classList.remove('shown', 'error');
  $('status').textContent = '';
  $('status-dismiss').hidden = true;
}

export const statusError = (message) => showStatus(message, 'error');

// Leaving the main view (auth.js leaveMain) resets the gallery and viewer, which
// themselves report errors through here; the entry module hands leaveMain over at
// start-up so that the imports stay one-way.
let endSession = null;

/** Sets what reportError does when the session has ended (called once by app.js). */
export function setSessionEndHandler(handler) {
  endSession = handler;
}

/**
 * This computer's session ended without a rejected command (security.js: the
 * person signed this computer's own session out). Rust's `signed-out` event says
 * the same and may arrive first; whichever comes second finds no account and the
 * view is already at sign-in.
 */
export function sessionEnded(message) {
  if (session.account) endSession(message);
}

/**
 * Shows a rejected command's message via `show`, unless the session ended: then
 * the person goes back to sign-in and reads the message there.
 */
export function reportError(err, show) {
  if ((err.code === 'session_expired' || err.code === 'not_signed_in') && session.account) {
    endSession(err.message);
    return;
  }
  show(err.message);
}
