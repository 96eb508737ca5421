/*
 * The bridge to Rust: the only module that talks to Tauri.
 *
 * Every server call, drop and file picker is Rust's job; the view reaches it through
 * the commands and events of the desktop contract shared with desktop/. Keeping the
 * bridge here means the rest of the UI sees one promise shape for every command
 * (rejections are always {code, message, failed_rules}).
 *
 * The app runs without `withGlobalTauri`: no `window.__TAURI__` for any script to
 * reach. The two API modules used are imported from ui/vendor/tauri-api, Tauri's own
 * @tauri-apps/api at the version of the Rust crate (scripts/vendor-ui copies them
 * from the npm registry; a test checks they are unchanged).
 */

import { invoke } from '../vendor/tauri-api/core.js';
import { listen } from '../vendor/tauri-api/event.js';

const FALLBACK_MESSAGE = 'Something went wrong. Please try again.';
export const NO_BRIDGE_MESSAGE = 'This window is not connected to ImageVault. Close it and start the app again.';

/** False when the page was opened outside the app (no IPC injected by Tauri). */
export const hasBridge = () => Boolean(window.__TAURI_INTERNALS__);

/** Turns whatever a command rejected with into {code, message, failed_rules}. */
export function toAppError(err) {
  if (err && typeof err === 'object' && typeof err.message === 'string' && err.message) {
    return {
      code: typeof err.code === 'string' ? err.code : 'error',
      message: err.message,
      failed_rules: Array.isArray(err.failed_rules) ? err.failed_rules : [],
    };
  }
  if (typeof err === 'string' && err) return { code: 'error', message: err, failed_rules: [] };
  return { code: 'error', message: FALLBACK_MESSAGE, failed_rules: [] };
}

/** Runs a Rust command. Always rejects with the shape toAppError gives. */
export async function call(name, args = {}) {
  if (!hasBridge()) throw toAppError({ code: 'no_bridge', message: NO_BRIDGE_MESSAGE });
  try {
    return await invoke(name, args);
  } catch (err) {
    throw toAppError(err);
  }
}

/**
 * Puts text on the system clipboard through Tauri's clipboard-manager plugin (the
 * window's capability lets it write text and nothing else: it cannot read the
 * clipboard back). Rejects with the same {code, message, failed_rules} as `call`.
 */
export function copyText(text) {
  return call('plugin:clipboard-manager|write_text', { text: String(text) });
}

/**
 * Subscribes to the events Rust sends, given as {eventName: handler}; each handler
 * gets the payload (or {}). Resolves once all are registered. The entry module
 * passes the handlers so this module needs none of the view's modules.
 */
export function listenToRust(handlers) {
  if (!hasBridge()) return Promise.resolve();
  const on = (name, handler) => listen(name, (event) => handler((event && event.payload) || {}));
  return Promise.all(Object.entries(handlers).map(([name, handler]) => on(name, handler)));
}

/** The bytes a command returned (ArrayBuffer, or a plain number array) as a Blob. */
export function toBlob(bytes, type) {
  const data = bytes instanceof ArrayBuffer || ArrayBuffer.isView(bytes) ? bytes : new Uint8Array(bytes || []);
  return type ? new Blob([data], { type }) : new Blob([data]);
}
