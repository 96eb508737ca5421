/*
 * Small DOM and formatting helpers shared by every part of the window.
 *
 * File names and server messages are untrusted, so everything here puts text in
 * through textContent and attributes, never innerHTML. The CSP forbids inline
 * styles, so state reaches the page as classes, data-* attributes and `hidden`.
 */

export const $ = (id) => document.getElementById(id);

/** Creates an element; text always goes in as text. */
export function el(tag, className = '', text = '') {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

/** Writes text only when it changed (cheap on the hot card-render path). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Fills a .message area: a sentence, optionally followed by a list. */
export function setMessage(node, text, kind = 'error', items = []) {
  const parts = [el('p', '', text)];
  if (items.length > 0) {
    const list = el('ul');
    for (const item of items) list.append(el('li', '', item));
    parts.push(list);
  }
  node.dataset.kind = kind;
  node.replaceChildren(...parts);
}

export function clearMessage(node) {
  node.replaceChildren();
  delete node.dataset.kind;
}

export const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1024) return plural(bytes, 'byte', 'bytes');
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

export function formatDims(width, height) {
  return Number.isFinite(width) && Number.isFinite(height) ? `${width}×${height}` : '';
}

export const DATE_FORMAT = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** Reads created_at: an ISO string, or a Unix time in seconds or milliseconds. */
export function toDate(value) {
  if (typeof value === 'number') return new Date(value < 1e12 ? value * 1000 : value);
  if (typeof value === 'string' && value) return new Date(value);
  return null;
}

/** Is `button` in the middle of its command? (Busy buttons ignore clicks.) */
export const isBusy = (button) => button.dataset.busy === 'true';

/**
 * Runs `task` with `button` marked busy. aria-disabled rather than disabled, so a
 * keyboard user's focus stays on the button instead of falling to <body>.
 */
export async function withBusy(button, busyText, task) {
  if (isBusy(button)) return undefined;
  const label = button.textContent;
  button.dataset.busy = 'true';
  button.setAttribute('aria-disabled', 'true');
  if (busyText) button.textContent = busyText;
  try {
    return await task();
  } finally {
    delete button.dataset.busy;
    button.removeAttribute('aria-disabled');
    if (busyText) button.textContent = label;
  }
}

/** Shows a form error next to the field it is about, and focuses the field. */
export function fieldError(messageNode, text, inputId) {
  setMessage(messageNode, text, 'error');
  $(inputId).focus();
}
