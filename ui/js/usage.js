/*
 * The header's storage meter: how much of the account's quota its photos take.
 *
 * It is a convenience, not a task the person started, so a failed refresh keeps
 * the last value and says nothing (no notice, no dialog; a session that ended is
 * Rust's `signed-out` event to report). Refreshes asked for while one is running
 * fold into one more after it, so a burst of finished uploads costs two calls. An
 * answer that arrives after sign-out is dropped (epoch): one account's usage never
 * shows for the next.
 */

import { call } from './bridge.js';
import { $, plural, setText } from './dom.js';
import { session } from './state.js';

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];
const PER_MILLE = 1000; // the meter's max, in index.html

const usage = { epoch: 0, running: false, again: false };

/**
 * Bytes in the server's words (its quota_exceeded message names the quota so), so
 * the header and the refusal agree: whole bytes below 1 KiB, then KiB to TiB with at
 * most one decimal and no trailing ".0" ("1.5 MiB", "10 GiB").
 */
export function formatStorage(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1024) return plural(bytes, 'byte', 'bytes');
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${Number(value.toFixed(1))} ${UNITS[unit]}`;
}

/** Asks Rust for the usage again; silent on failure. */
export async function refreshUsage() {
  if (!session.account) return;
  if (usage.running) {
    usage.again = true;
    return;
  }
  usage.running = true;
  const epoch = usage.epoch;
  try {
    const answer = await call('storage_usage');
    if (epoch === usage.epoch) showUsage(answer);
  } catch (_err) {
    // Deliberately silent: the meter keeps its last value.
  } finally {
    if (epoch === usage.epoch) finishRefresh();
  }
}

function finishRefresh() {
  usage.running = false;
  if (!usage.again) return;
  usage.again = false;
  refreshUsage();
}

/** Draws {bytes_used, quota_bytes, image_count}; no quota (an older server) hides it. */
function showUsage(answer) {
  const used = Number(answer && answer.bytes_used);
  const quota = Number(answer && answer.quota_bytes);
  if (!Number.isFinite(used) || !Number.isFinite(quota) || quota <= 0) return;
  const perMille = Math.min(PER_MILLE, Math.max(0, Math.round((used / quota) * PER_MILLE)));
  const text = `${formatStorage(used)} of ${formatStorage(quota)}`;
  const meter = $('storage-meter');
  meter.value = perMille;
  meter.setAttribute('aria-valuetext', `${perMille / 10}% used`);
  setText($('storage-text'), text);
  const count = Number(answer.image_count);
  $('storage').title = Number.isFinite(count) ? `${plural(count, 'photo', 'photos')}, ${text}` : text;
  $('storage').hidden = false;
}

/** Sign-out: hide the meter and drop any answer still on its way. */
export function resetUsage() {
  usage.epoch += 1;
  usage.running = false;
  usage.again = false;
  $('storage').hidden = true;
  $('storage').removeAttribute('title');
  $('storage-meter').value = 0;
  $('storage-meter').removeAttribute('aria-valuetext');
  setText($('storage-text'), '');
}
