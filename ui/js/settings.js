/*
 * Settings: the server address and the CA file, in every field that shows them.
 *
 * Rust owns the settings file; this module shows what Rust answers and sends the
 * person's changes back. The CA file is chosen in Rust's native picker, so the view
 * never names a file itself. sign_in and register use the saved server address,
 * hence saveServerIfChanged for the sign-in and register forms.
 */

import { call } from './bridge.js';
import { $, setMessage, withBusy } from './dom.js';
import { reportError } from './notices.js';
import { session } from './state.js';

/** Puts settings from Rust into every field that shows them. */
function applySettings(settings) {
  const serverUrl = (settings && settings.server_url) || '';
  const caFile = (settings && settings.ca_file) || null;
  session.settings = { server_url: serverUrl, ca_file: caFile };
  $('server-url').value = serverUrl;
  $('settings-server-url').value = serverUrl;
  $('settings-ca-file').textContent = caFile || 'None: only the system\'s certificate authorities';
  $('clear-ca-file').hidden = !caFile;
  $('reg-server').textContent = serverUrl || 'not set yet (see the sign-in form)';
}

export async function loadSettings() {
  try {
    applySettings(await call('settings'));
  } catch (err) {
    setMessage($('signin-message'), err.message, 'error');
  }
}

/**
 * sign_in and register take no server address: they use the saved one. So a
 * changed #server-url is saved first. Throws on invalid_setting.
 */
export async function saveServerIfChanged() {
  const wanted = $('server-url').value.trim();
  if (session.settings && wanted === session.settings.server_url) return;
  applySettings(await call('save_settings', { serverUrl: wanted }));
}

export async function onSaveSettings(event) {
  event.preventDefault();
  const box = $('settings-message');
  await withBusy($('save-settings'), 'Saving…', async () => {
    try {
      applySettings(await call('save_settings', {
        serverUrl: $('settings-server-url').value.trim(),
      }));
      setMessage(box, 'Settings saved.', 'success');
    } catch (err) {
      reportError(err, (message) => setMessage(box, message, 'error'));
    }
  });
}

/** The CA file is chosen in Rust's native picker (the view never names a file). */
export async function onChooseCaFile() {
  const box = $('settings-message');
  await withBusy($('choose-ca-file'), 'Choosing…', async () => {
    try {
      const before = session.settings ? session.settings.ca_file : null;
      const saved = await call('choose_ca_file');
      applySettings(saved);
      if (saved.ca_file && saved.ca_file !== before) {
        setMessage(box, 'The certificate authority is trusted for this server.', 'success');
      }
    } catch (err) {
      reportError(err, (message) => setMessage(box, message, 'error'));
    }
  });
}

export async function onClearCaFile() {
  const box = $('settings-message');
  try {
    applySettings(await call('clear_ca_file'));
    setMessage(box, 'Only the system\'s certificate authorities are trusted now.', 'success');
  } catch (err) {
    reportError(err, (message) => setMessage(box, message, 'error'));
  }
}
