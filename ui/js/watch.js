/*
 * Settings → Watched folders: the list, "Add a folder…" (Rust's native picker, so the
 * view never names a path), Remove (by position) and the pause switch. Photos found
 * in a folder arrive as ordinary cards in the Upload tab, marked "from <folder>".
 */

import { call } from './bridge.js';
import { $, clearMessage, el, setMessage, withBusy } from './dom.js';
import { reportError } from './notices.js';

function show(watching) {
  const list = $('watched-list');
  list.replaceChildren(...watching.folders.map((folder, index) => {
    const item = el('li', 'watched');
    const path = el('span', 'path');
    path.textContent = folder;
    const remove = el('button', 'link-button');
    remove.type = 'button';
    remove.textContent = 'Stop watching';
    remove.setAttribute('aria-label', `Stop watching ${folder}`);
    remove.addEventListener('click', () => change('remove_watched_folder', { index }));
    item.append(path, remove);
    return item;
  }));
  if (watching.folders.length === 0) {
    const none = el('li', 'hint');
    none.textContent = 'No folders are watched.';
    list.append(none);
  }
  $('watch-paused').checked = watching.paused;
  const box = $('watch-message');
  if (watching.problems.length > 0) setMessage(box, watching.problems.join(' '), 'error');
  else if (watching.paused && watching.folders.length > 0) {
    setMessage(box, 'Watching is paused. Photos added meanwhile are taken up when it resumes.', 'info');
  } else clearMessage(box);
}

async function change(command, args) {
  try {
    show(await call(command, args));
  } catch (err) {
    reportError(err, (message) => setMessage($('watch-message'), message, 'error'));
  }
}

export async function loadWatching() {
  await change('watched_folders');
}

export async function onAddWatchedFolder() {
  await withBusy($('add-watched-folder'), 'Choosing…', () => change('add_watched_folder'));
}

export async function onWatchPaused() {
  await change('set_watch_paused', { paused: $('watch-paused').checked });
}
