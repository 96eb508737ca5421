// Live password rules on the register and reset pages.
//
// Each rule mirrors the server's policy (common/src/password.rs) so the list never
// promises what the server then refuses. The strength rule (zxcvbn) is only known to
// the server, so li[data-rule="strength"] is left alone.
(() => {
  'use strict';

  const MIN_CHARS = 12;
  const MAX_CHARS = 128;
  // The server only looks for the local part once it is long enough to be the meat
  // of a password (see contains_email in password.rs).
  const MIN_LOCAL_PART = 4;

  // Rust's char::is_uppercase / is_lowercase are the Unicode Uppercase / Lowercase
  // properties (wider than Lu / Ll: they include e.g. Ⓐ); is_alphanumeric is
  // Alphabetic or any Numeric; is_whitespace is White_Space. The digit rule is
  // ASCII-only on the server, so it is here too.
  const UPPER = /\p{Uppercase}/u;
  const LOWER = /\p{Lowercase}/u;
  const DIGIT = /[0-9]/;
  const SPECIAL = /[^\p{Alphabetic}\p{N}\p{White_Space}]/u;

  // Returns true (met), false (broken) or null (cannot tell yet).
  function notEmail(password, rawEmail) {
    const email = rawEmail.trim().toLowerCase(); // the server normalises the same way
    if (!email) return null;
    const lowered = password.toLowerCase();
    const at = email.lastIndexOf('@');
    const local = at >= 0 ? email.slice(0, at) : email;
    if (lowered.includes(email)) return false;
    return !([...local].length >= MIN_LOCAL_PART && lowered.includes(local));
  }

  function check(password, email) {
    const chars = [...password].length; // code points, as the server counts them
    return {
      length: chars >= MIN_CHARS && chars <= MAX_CHARS,
      upper: UPPER.test(password),
      lower: LOWER.test(password),
      digit: DIGIT.test(password),
      special: SPECIAL.test(password),
      'not-email': notEmail(password, email),
    };
  }

  function init() {
    const input = document.getElementById('password');
    const list = document.getElementById('password-rules');
    if (!input || !list) return;
    const emailInput = document.getElementById('email');
    // Pages without an email field (password reset) may give the address as
    // data-email on the rules list.
    const emailOf = () => (emailInput ? emailInput.value : list.dataset.email || '');

    // Point the field at the rules if the template did not already.
    const describedBy = (input.getAttribute('aria-describedby') || '').split(/\s+/);
    if (list.id && !describedBy.includes(list.id)) {
      input.setAttribute('aria-describedby', describedBy.concat(list.id).join(' ').trim());
    }

    let touched = false;

    function update() {
      const results = check(input.value, emailOf());
      let anyFailed = false;
      for (const li of list.querySelectorAll('li[data-rule]')) {
        const rule = li.dataset.rule;
        if (!(rule in results)) continue; // "strength" and unknown rules: server's call
        const met = results[rule];
        li.classList.toggle('ok', met === true);
        li.classList.toggle('fail', met === false);
        if (met === false) anyFailed = true;
      }
      if (anyFailed) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }

    input.addEventListener('input', () => {
      touched = true;
      update();
    });
    if (emailInput) {
      emailInput.addEventListener('input', () => {
        if (touched || input.value) update();
      });
    }
    // A value the browser restored (back button, autofill) is checked straight away;
    // an empty field is not flagged before the user has typed anything.
    if (input.value) update();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init, { once: true });
  } else {
    init();
  }
})();
