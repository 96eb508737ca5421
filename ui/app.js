/*
 * ImageVault desktop — the window's entry module: wires every control to its
 * handler and starts the app. The behaviour lives in js/, one module per part:
 *
 *   js/bridge.js        Tauri's IPC (vendor/tauri-api): commands, errors, Rust's events
 *   js/dom.js           DOM, formatting and busy-button helpers
 *   js/notices.js       the #status notice; where a rejected command's message goes
 *   js/state.js         the session and the little state several modules read
 *   js/views.js         which view and which main tab is shown
 *   js/settings.js      server address and CA file
 *   js/auth.js          restore, sign in (password, then a code if asked), sign out
 *   js/register.js      register with live password rules, check-email
 *   js/cards.js         the upload card model, order, totals (card-render.js draws one card)
 *   js/upload-actions.js  the Upload panel's buttons and the drop-zone highlight
 *   js/gallery.js       gallery grid, paging, thumbnails
 *   js/selection.js     the gallery's select mode: the photos chosen for a share link
 *   js/viewer.js        the image viewer and delete
 *   js/share-dialog.js  a new share link's settings, then the link (shown once, copied)
 *   js/shares.js        the Shared links tab: list, status, revoke
 *   js/usage.js         the header's storage meter (silent on failure)
 *   js/security.js      Settings: two-step sign-in, recovery codes, sessions
 *   js/watch.js         Settings: watched folders and the pause switch
 *
 * Does not own: the network, the disk or the login token. Every server call is a
 * Rust command, and drops and file pickers are handled in Rust; the command and
 * event names used here are those of the desktop contract shared with desktop/.
 *
 * Why it is written this way:
 * - The window's CSP forbids inline scripts and styles: state reaches the page as
 *   classes, data-* attributes, `hidden` and <progress> elements, and the code is
 *   plain ES modules under ui/ (allowed by script-src 'self'; no build step).
 * - File names and server messages are untrusted: they enter the page through
 *   textContent and attributes only, never innerHTML.
 * - Hundreds of cards can arrive in a burst, in any order: events only update a
 *   model and mark ids dirty, and one requestAnimationFrame pass touches the DOM.
 * - Every rejected command shows its `message` where the person is looking: the
 *   form's message area, the card, the viewer, or the #status notice.
 * - Imports only go one way (no cycles); the one call that has to go back up,
 *   reportError → leaveMain, is handed over in start().
 */

import { NO_BRIDGE_MESSAGE, hasBridge, listenToRust, toAppError } from './js/bridge.js';
import { $ } from './js/dom.js';
import { clearStatus, setSessionEndHandler, statusError } from './js/notices.js';
import { TABS, showTab } from './js/views.js';
import { loadSettings, onChooseCaFile, onClearCaFile, onSaveSettings } from './js/settings.js';
import { onAddWatchedFolder, onWatchPaused } from './js/watch.js';
import {
  leaveMain, onCodeBack, onLinkBack, onResendFromSignIn, onServerChanged, onSignIn,
  onSignInSso, onSignOut, onSignedOut, onSubmitCode, onSubmitLink,
  restoreSession, showSignIn,
} from './js/auth.js';
import {
  onBackToSignIn, onRegister, onResendVerification, onShowRegister, onShowSignIn, refreshRules,
} from './js/register.js';
import { onIntake, onUpload } from './js/cards.js';
import {
  onCancelAll, onCardAction, onChoose, onClearFinished, onDropHover, onUploadAccepted,
} from './js/upload-actions.js';
import { onLoadMore, refreshGallery } from './js/gallery.js';
import { closeViewer, onGalleryClick, onViewerClosed, onViewerDelete } from './js/viewer.js';
import { leaveSelectMode, onSelectionKeydown, onToggleSelect } from './js/selection.js';
import {
  closeShareDialog, onCopyShare, onCreateShare, onOpenShareList, onShareClosed, onShareInput,
  onShareSelected,
} from './js/share-dialog.js';
import { onRefreshShares, onSharesClick } from './js/shares.js';
import {
  onCancelSetup, onConfirmTwoStep, onHideCodes, onNewCodes, onRefreshSessions, onSaveCodes,
  onSessionsClick, onStartTwoStep, onTurnOff,
} from './js/security.js';

function wireForms() {
  $('signin-form').addEventListener('submit', onSignIn);
  $('resend').addEventListener('click', onResendFromSignIn);
  $('code-form').addEventListener('submit', onSubmitCode);
  $('code-back').addEventListener('click', onCodeBack);
  $('sign-in-sso').addEventListener('click', onSignInSso);
  $('server-url').addEventListener('change', onServerChanged);
  $('link-form').addEventListener('submit', onSubmitLink);
  $('link-back').addEventListener('click', onLinkBack);
  $('show-register').addEventListener('click', onShowRegister);
  $('register-form').addEventListener('submit', onRegister);
  $('reg-password').addEventListener('input', refreshRules);
  $('reg-email').addEventListener('input', refreshRules);
  $('show-signin').addEventListener('click', onShowSignIn);
  $('resend-verification').addEventListener('click', onResendVerification);
  $('back-to-signin').addEventListener('click', onBackToSignIn);
  $('settings-form').addEventListener('submit', onSaveSettings);
  $('choose-ca-file').addEventListener('click', onChooseCaFile);
  $('clear-ca-file').addEventListener('click', onClearCaFile);
  $('add-watched-folder').addEventListener('click', onAddWatchedFolder);
  $('watch-paused').addEventListener('change', onWatchPaused);
}

function wireSecurity() {
  $('two-step-start').addEventListener('click', onStartTwoStep);
  // Enter in the password starts it, as in any one-field form.
  $('two-step-start-password').addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    onStartTwoStep();
  });
  $('two-step-setup').addEventListener('submit', onConfirmTwoStep);
  $('two-step-cancel').addEventListener('click', onCancelSetup);
  $('save-recovery-codes').addEventListener('click', onSaveCodes);
  $('hide-recovery-codes').addEventListener('click', onHideCodes);
  // Two actions share one password and code, so Enter in a field picks neither.
  $('two-step-manage').addEventListener('submit', (event) => event.preventDefault());
  $('two-step-off').addEventListener('click', onTurnOff);
  $('two-step-new-codes').addEventListener('click', onNewCodes);
  $('refresh-sessions').addEventListener('click', onRefreshSessions);
  $('sessions-table').addEventListener('click', onSessionsClick);
}

function wireMain() {
  for (const [name, ids] of Object.entries(TABS)) $(ids.tab).addEventListener('click', () => showTab(name));
  $('sign-out').addEventListener('click', onSignOut);
  $('choose-files').addEventListener('click', (e) => onChoose('choose_files', e.currentTarget));
  $('choose-folder').addEventListener('click', (e) => onChoose('choose_folder', e.currentTarget));
  $('upload-button').addEventListener('click', onUploadAccepted);
  $('cancel-all').addEventListener('click', onCancelAll);
  $('clear-finished').addEventListener('click', onClearFinished);
  $('cards').addEventListener('click', onCardAction);
  $('gallery').addEventListener('click', onGalleryClick);
  $('refresh-gallery').addEventListener('click', () => refreshGallery(true));
  $('load-more').addEventListener('click', onLoadMore);
  $('gallery-to-upload').addEventListener('click', () => showTab('upload'));
}

function wireViewer() {
  const dialog = $('viewer');
  dialog.addEventListener('close', onViewerClosed);
  // A click on the backdrop lands on the <dialog> itself (its content fills it).
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) closeViewer();
  });
  $('viewer-close').addEventListener('click', closeViewer);
  $('viewer-delete').addEventListener('click', onViewerDelete);
  $('status-dismiss').addEventListener('click', clearStatus);
}

function wireSharing() {
  $('gallery-select').addEventListener('click', onToggleSelect);
  $('selection-cancel').addEventListener('click', () => leaveSelectMode());
  $('share-selected').addEventListener('click', onShareSelected);
  document.addEventListener('keydown', onSelectionKeydown);
  // No backdrop click here (unlike the viewer): the new link is shown only once, so
  // only Escape, Cancel, Done or the link to the list close the dialog.
  $('share-dialog').addEventListener('close', onShareClosed);
  $('share-form').addEventListener('submit', onCreateShare);
  $('share-form').addEventListener('input', onShareInput);
  $('share-cancel').addEventListener('click', closeShareDialog);
  $('share-copy').addEventListener('click', onCopyShare);
  $('share-done').addEventListener('click', closeShareDialog);
  $('share-open-list').addEventListener('click', onOpenShareList);
  $('refresh-shares').addEventListener('click', onRefreshShares);
  $('shares-table').addEventListener('click', onSharesClick);
  $('shares-to-gallery').addEventListener('click', () => showTab('gallery'));
}

/** Drops are Rust's job; keep the web view from opening a dropped file itself. */
function guardNativeDrops() {
  for (const type of ['dragover', 'drop']) window.addEventListener(type, (event) => event.preventDefault());
}

async function start() {
  setSessionEndHandler(leaveMain);
  wireForms();
  wireMain();
  wireSecurity();
  wireViewer();
  wireSharing();
  guardNativeDrops();
  if (!hasBridge()) {
    showSignIn(NO_BRIDGE_MESSAGE);
    return;
  }
  try {
    await listenToRust({
      'drop-hover': onDropHover,
      'intake': onIntake,
      'upload': onUpload,
      'signed-out': onSignedOut,
    });
  } catch (err) {
    statusError(toAppError(err).message);
  }
  await loadSettings();
  await restoreSession();
}

start();
