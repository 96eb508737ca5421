/*
 * Which view (sign-in, the two-step code, register, check-email, main) and which
 * main tab is shown.
 *
 * Views and tabs are plain `hidden` sections in index.html; only this module flips
 * them, so the one-view-at-a-time rule has a single home.
 */

import { $, clearMessage } from './dom.js';
import { ui } from './state.js';
import { onGalleryShown } from './gallery.js';
import { onSettingsShown } from './security.js';
import { loadWatching } from './watch.js';
import { onSharesShown } from './shares.js';

const VIEWS = ['view-loading', 'view-signin', 'view-code', 'view-link', 'view-register', 'view-check-email', 'view-main'];

export const TABS = {
  upload: { tab: 'tab-upload', panel: 'panel-upload' },
  gallery: { tab: 'tab-gallery', panel: 'panel-gallery' },
  shares: { tab: 'tab-shares', panel: 'panel-shares' },
  settings: { tab: 'tab-settings', panel: 'panel-settings' },
};

export function showView(id) {
  for (const view of VIEWS) $(view).hidden = view !== id;
}

export function showTab(name) {
  ui.currentTab = name;
  for (const [key, ids] of Object.entries(TABS)) {
    const on = key === name;
    $(ids.panel).hidden = !on;
    if (on) $(ids.tab).setAttribute('aria-current', 'page');
    else $(ids.tab).removeAttribute('aria-current');
  }
  if (name === 'gallery') onGalleryShown();
  if (name === 'shares') onSharesShown();
  if (name === 'settings') {
    clearMessage($('settings-message'));
    onSettingsShown();
    loadWatching();
  }
}
