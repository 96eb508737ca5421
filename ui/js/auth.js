/*
 * The session as the window sees it: restore at start-up, sign in, sign out, and
 * moving between the sign-in view and the main view.
 *
 * The login token never reaches this page: Rust keeps it in the OS keychain and
 * only says who is signed in. Leaving the main view forgets everything that
 * belonged to the account (viewer, gallery, cards) so nothing carries over to the
 * next one.
 */

import { call } from './bridge.js';
import { $, clearMessage, fieldError, setMessage, withBusy } from './dom.js';
import { removeAllCards } from './cards.js';
import { resetGallery } from './gallery.js';
import { saveServerIfChanged } from './settings.js';
import { session } from './state.js';
import { closeViewer } from './viewer.js';
import { showTab, showView } from './views.js';

export async function restoreSession() {
  try {
    const account = await call('restore_session');
    if (account) enterMain(account);
    else showSignIn();
  } catch (err) {
    showSignIn(err.message);
  }
}

/**
 * Shows the sign-in view. `message`: a string to show, '' to clear the old one,
 * undefined to leave whatever is there (e.g. a settings error from start-up).
 */
export function showSignIn(message) {
  const box = $('signin-message');
  if (message) setMessage(box, message, 'error');
  else if (message === '') clearMessage(box);
  $('resend').hidden = true;
  $('password').value = '';
  showView('view-signin');
  $($('email').value ? 'password' : 'email').focus();
}

function enterMain(account) {
  session.account = account;
  const who = $('account-email');
  who.textContent = account.email || '';
  who.title = account.server_url ? `${account.email} on ${account.server_url}` : '';
  $('password').value = '';
  clearMessage($('signin-message'));
  showView('view-main');
  showTab('upload');
  $('choose-files').focus();
}

/** Back to sign-in from the main view: forget what belonged to the account. */
export function leaveMain(message) {
  session.account = null;
  closeViewer();
  resetGallery();
  showSignIn(message);
}

export function onSignedOut(payload) {
  const message = typeof payload.message === 'string' && payload.message
    ? payload.message
    : 'You have been signed out. Please sign in again.';
  leaveMain(message);
  // The next sign-in starts with no cards (Rust forgets them), so nothing dropped now
  // can go to another account.
  removeAllCards();
}

export async function onSignIn(event) {
  event.preventDefault();
  const box = $('signin-message');
  const email = $('email').value.trim();
  const password = $('password').value;
  if (!email) return fieldError(box, 'Enter your email address.', 'email');
  if (!password) return fieldError(box, 'Enter your password.', 'password');
  await withBusy($('sign-in'), 'Signing in…', async () => {
    $('resend').hidden = true;
    try {
      await saveServerIfChanged();
      enterMain(await call('sign_in', { email, password }));
    } catch (err) {
      setMessage(box, err.message, 'error');
      $('resend').hidden = err.code !== 'email_not_verified';
    }
  });
}

export async function onResendFromSignIn() {
  const box = $('signin-message');
  const email = $('email').value.trim();
  if (!email) return fieldError(box, 'Enter your email address.', 'email');
  await withBusy($('resend'), 'Sending…', async () => {
    try {
      await call('resend_verification', { email });
      setMessage(box, `We sent a new link to ${email}. Open it, then sign in here.`, 'info');
    } catch (err) {
      setMessage(box, err.message, 'error');
    }
  });
}

export async function onSignOut() {
  await withBusy($('sign-out'), 'Signing out…', async () => {
    try {
      await call('sign_out');
      leaveMain('');
    } catch (err) {
      // Signed out on this computer all the same; the message says what was not done.
      leaveMain(err.message);
    }
    // Rust cancels and forgets every card on sign-out; the view follows.
    removeAllCards();
  });
}
