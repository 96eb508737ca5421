/*
 * The session as the window sees it: restore at start-up, sign in (the password,
 * then a code when two-step sign-in is on), sign out, and moving between the
 * sign-in views and the main view.
 *
 * The login token never reaches this page: Rust keeps it in the OS keychain and
 * only says who is signed in. Between the password and the code Rust also keeps
 * the sign-in's token; the view only learns that a code is needed, so the password
 * field is emptied as soon as it has been sent. Leaving the main view forgets
 * everything that belonged to the account (viewer, gallery and its selection, the
 * share dialog, the shared links, cards, the security part of Settings, the storage
 * meter) so nothing carries over to the next one.
 */

import { call } from './bridge.js';
import { $, clearMessage, fieldError, setMessage, withBusy } from './dom.js';
import { removeAllCards } from './cards.js';
import { resetGallery } from './gallery.js';
import { resetSecurity } from './security.js';
import { saveServerIfChanged } from './settings.js';
import { resetShareDialog } from './share-dialog.js';
import { resetShares } from './shares.js';
import { session } from './state.js';
import { refreshUsage, resetUsage } from './usage.js';
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
  $('signin-code').value = '';
  $('link-password').value = '';
  showView('view-signin');
  $($('email').value ? 'password' : 'email').focus();
  refreshSso();
}

/**
 * A new server address typed on the sign-in screen: saved (when usable) so the single
 * sign-on button reflects that server; a bad address is reported at sign-in instead.
 */
export async function onServerChanged() {
  try {
    await saveServerIfChanged();
  } catch {
    return;
  }
  await refreshSso();
}

/** Shows the single sign-on button when the server offers it, with the server's words. */
export async function refreshSso() {
  let words = null;
  try {
    words = await call('sso_available');
  } catch {
    words = null;
  }
  $('sign-in-sso').textContent = words || '';
  $('sso-box').hidden = !words;
}

function enterMain(account) {
  session.account = account;
  const who = $('account-email');
  who.textContent = account.email || '';
  who.title = account.server_url ? `${account.email} on ${account.server_url}` : '';
  $('password').value = '';
  $('signin-code').value = '';
  clearMessage($('signin-message'));
  clearMessage($('code-message'));
  showView('view-main');
  showTab('upload');
  $('choose-files').focus();
  refreshUsage();
}

/** Back to sign-in from the main view: forget what belonged to the account. */
export function leaveMain(message) {
  session.account = null;
  closeViewer();
  resetShareDialog();
  resetGallery();
  resetShares();
  resetSecurity();
  resetUsage();
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
      afterPassword(await call('sign_in', { email, password }));
    } catch (err) {
      setMessage(box, err.message, 'error');
      $('resend').hidden = err.code !== 'email_not_verified';
    }
  });
}

/**
 * sign_in answers {status: 'signed_in', account} or {status: 'code_needed'};
 * sign_in_sso may also answer {status: 'link_needed'}.
 */
function afterPassword(outcome) {
  if (outcome && outcome.status === 'code_needed') showCodeStep();
  else if (outcome && outcome.status === 'link_needed') showLinkStep();
  else enterMain(outcome.account);
}

/** Single sign-on: Rust opens the system browser and waits for it to come back. */
export async function onSignInSso() {
  const box = $('signin-message');
  await withBusy($('sign-in-sso'), 'Continue in your browser…', async () => {
    $('resend').hidden = true;
    try {
      await saveServerIfChanged();
      setMessage(box, 'Finish signing in in your web browser; this window waits for it.', 'info');
      afterPassword(await call('sign_in_sso'));
    } catch (err) {
      setMessage(box, err.message, 'error');
    }
  });
}

/** The account single sign-on found by its email: its password links it, once. */
function showLinkStep() {
  $('link-password').value = '';
  $('link-code').value = '';
  clearMessage($('signin-message'));
  clearMessage($('link-message'));
  showView('view-link');
  $('link-password').focus();
}

export async function onSubmitLink(event) {
  event.preventDefault();
  const box = $('link-message');
  const password = $('link-password').value;
  const code = $('link-code').value.trim();
  if (!password) return fieldError(box, 'Enter the password of your ImageVault account.', 'link-password');
  await withBusy($('submit-link'), 'Linking…', async () => {
    try {
      const account = await call('sign_in_sso_link', { password, code });
      $('link-password').value = '';
      enterMain(account);
    } catch (err) {
      if (err.code === 'sign_in_expired') return showSignIn(err.message);
      setMessage(box, err.message, 'error');
      $('link-password').value = '';
      $(err.code === 'invalid_code' ? 'link-code' : 'link-password').focus();
    }
  });
}

/** "Cancel" on the link step: back to sign-in; Rust forgets the waiting link. */
export function onLinkBack() {
  call('sign_out').catch(() => {});
  showSignIn('');
}

/** The second step: the password was right, Rust waits for a code. */
function showCodeStep() {
  $('password').value = '';
  $('signin-code').value = '';
  clearMessage($('signin-message'));
  clearMessage($('code-message'));
  showView('view-code');
  $('signin-code').focus();
}

/** Bumped when the person leaves the code step, so a late answer is dropped. */
let codeStep = 0;

export async function onSubmitCode(event) {
  event.preventDefault();
  const box = $('code-message');
  const code = $('signin-code').value.trim();
  if (!code) return fieldError(box, 'Enter the code from your authenticator app.', 'signin-code');
  const step = codeStep;
  await withBusy($('submit-code'), 'Checking…', async () => {
    try {
      const account = await call('sign_in_code', { code });
      if (step === codeStep) enterMain(account);
    } catch (err) {
      if (step === codeStep) codeRefused(err);
    }
  });
}

/**
 * A wrong code may be tried again (the field is emptied for it); once Rust says the
 * sign-in expired (time or tries used up), only the password starts a new one.
 */
function codeRefused(err) {
  if (err.code === 'sign_in_expired') return showSignIn(err.message);
  setMessage($('code-message'), err.message, 'error');
  if (err.code === 'invalid_code') {
    $('signin-code').value = '';
    $('signin-code').focus();
  }
}

/** "Use a different account": back to the password, with the email ready to change. */
export function onCodeBack() {
  codeStep += 1;
  // Rust forgets the waiting sign-in too (signing out is harmless when nobody is in).
  call('sign_out').catch(() => {});
  showSignIn('');
  $('email').focus();
  $('email').select();
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
