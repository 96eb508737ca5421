/*
 * The little state that several modules read: kept here, in objects, so each
 * module imports the same live values without a circular import. Each field has one
 * writer, named beside it.
 */

/**
 * What Rust last told us: the account (null when signed out) and the settings.
 * Written by auth.js (account) and settings.js (settings).
 */
export const session = { account: null, settings: null };

export const ui = {
  currentTab: 'upload', // the tab in view; written by views.js showTab
  uploadsActive: 0,     // queued + uploading + retrying, as of the last card frame; written by cards.js
};
