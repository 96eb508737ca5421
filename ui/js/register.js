/*
 * Creating an account: the register form with its live password rules, the "check
 * your email" view, and the links back and forth to sign-in.
 *
 * The rules are Rust's (the password_rules command, the same check the server
 * makes), so the view never holds a copy that could drift from the server's.
 */

import { call } from './bridge.js';
import { $, clearMessage, el, fieldError, setMessage, withBusy } from './dom.js';
import { showSignIn } from './auth.js';
import { saveServerIfChanged } from './settings.js';
import { showView } from './views.js';

export function onShowRegister() {
  if (!$('reg-email').value) $('reg-email').value = $('email').value.trim();
  clearMessage($('register-message'));
  showView('view-register');
  refreshRules();
  $($('reg-email').value ? 'reg-password' : 'reg-email').focus();
}

export function onShowSignIn() {
  if (!$('email').value) $('email').value = $('reg-email').value.trim();
  $('reg-password').value = '';
  showSignIn('');
}

let rulesRequest = 0; // only the newest password_rules answer is drawn

export async function refreshRules() {
  const request = ++rulesRequest;
  const password = $('reg-password').value;
  try {
    const rules = await call('password_rules', { email: $('reg-email').value.trim(), password });
    if (request === rulesRequest) renderRules(Array.isArray(rules) ? rules : [], password !== '');
  } catch (err) {
    if (request === rulesRequest) setMessage($('register-message'), err.message, 'error');
  }
}

/** One li per rule still failing; neutral before typing, marked failed after. */
function renderRules(rules, typed) {
  const items = rules.map((rule) => {
    const li = el('li', typed ? 'fail' : 'todo', String(rule.message || rule.rule || ''));
    if (rule.rule) li.dataset.rule = String(rule.rule);
    return li;
  });
  $('reg-rules').replaceChildren(...items);
  $('reg-rules-ok').hidden = !(typed && rules.length === 0);
  if (typed && rules.length > 0) $('reg-password').setAttribute('aria-invalid', 'true');
  else $('reg-password').removeAttribute('aria-invalid');
}

export async function onRegister(event) {
  event.preventDefault();
  const box = $('register-message');
  const email = $('reg-email').value.trim();
  const password = $('reg-password').value;
  if (!email) return fieldError(box, 'Enter your email address.', 'reg-email');
  if (!password) return fieldError(box, 'Choose a password.', 'reg-password');
  await withBusy($('register'), 'Creating account…', async () => {
    try {
      await saveServerIfChanged();
      await call('register', { email, password });
      clearMessage(box);
      $('reg-password').value = '';
      showCheckEmail(email);
    } catch (err) {
      const rules = err.failed_rules.map((rule) => String(rule.message || rule.rule || ''));
      setMessage(box, err.message, 'error', rules);
    }
  });
}

let verificationEmail = ''; // the address the check-email view is about

function showCheckEmail(email) {
  verificationEmail = email;
  $('check-email-address').textContent = email;
  clearMessage($('check-email-message'));
  showView('view-check-email');
  $('back-to-signin').focus();
}

export async function onResendVerification() {
  const box = $('check-email-message');
  await withBusy($('resend-verification'), 'Sending…', async () => {
    try {
      await call('resend_verification', { email: verificationEmail });
      setMessage(box, `We sent the link again to ${verificationEmail}.`, 'success');
    } catch (err) {
      setMessage(box, err.message, 'error');
    }
  });
}

export function onBackToSignIn() {
  $('email').value = verificationEmail;
  showSignIn('');
}
