// Live password rules on the register and reset pages.
//
// The policy lives in one place, the server (common/src/password.rs); this script only
// asks it. Each li of #password-rules names, in data-rules, the rule codes it stands
// for ("too_short too_long", "no_digit", "too_common", ...); an li is marked fail when
// the server reports any of its codes broken, ok otherwise.
//
// The check is debounced, only the answer for the newest value is drawn, and a request
// made obsolete by further typing is aborted. Any answer but 200 (rate limited, server
// error, network failure) leaves the marks as they were: no mark is better than a
// wrong one, and the server checks again when the form is submitted.
(() => {
  'use strict';

  const ENDPOINT = '/api/v1/password-policy/check';
  const DEBOUNCE_MS = 250;
  // If a 429 comes without a usable Retry-After, wait this long before asking again.
  const DEFAULT_RETRY_MS = 10000;
  const EMAIL_RULE = 'contains_email';

  /** Milliseconds to wait from a Retry-After header (delta-seconds or HTTP date). */
  function retryAfterMs(value) {
    const text = (value || '').trim();
    if (/^\d+$/.test(text)) return Number(text) * 1000;
    const when = Date.parse(text);
    if (!Number.isNaN(when)) return Math.max(0, when - Date.now());
    return DEFAULT_RETRY_MS;
  }

  /** The failed rules of a 200 answer, or null if the body is not what was promised. */
  function failedRulesOf(body) {
    if (!body || !Array.isArray(body.failed_rules)) return null;
    const rules = [];
    for (const item of body.failed_rules) {
      if (!item || typeof item.rule !== 'string') return null;
      rules.push({ rule: item.rule, message: typeof item.message === 'string' ? item.message : '' });
    }
    return rules;
  }

  const codesOf = (li) => (li.dataset.rules || '').split(/\s+/).filter(Boolean);

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
    let timer = 0;
    let controller = null; // of the request in flight, if any
    let latest = 0; // number of the newest check; older answers are dropped
    let pausedUntil = 0; // after a 429: no requests before this time (ms since epoch)

    // Draws one answer. `emailGiven` says whether an address was sent: without one the
    // server cannot judge the email rule, so its item stays unmarked rather than "ok".
    function draw(failed, emailGiven) {
      const broken = new Set(failed.map((f) => f.rule));
      const shown = new Set();
      for (const li of list.querySelectorAll('li[data-server-rule]')) li.remove();
      for (const li of list.querySelectorAll('li[data-rules]')) {
        const codes = codesOf(li);
        if (codes.length === 0) continue;
        codes.forEach((code) => shown.add(code));
        const unknown = !emailGiven && codes.includes(EMAIL_RULE) && !broken.has(EMAIL_RULE);
        const met = !codes.some((code) => broken.has(code));
        li.classList.toggle('ok', met && !unknown);
        li.classList.toggle('fail', !met);
      }
      // A rule the page has no item for (added on the server since) is still shown,
      // in the server's words, rather than silently passed over.
      for (const { rule, message } of failed) {
        if (shown.has(rule)) continue;
        shown.add(rule);
        const li = document.createElement('li');
        li.className = 'fail';
        li.dataset.serverRule = rule;
        li.textContent = message || rule;
        list.append(li);
      }
      if (failed.length > 0) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }

    // Forgets any answer still to come: it would describe an older value.
    function cancel() {
      clearTimeout(timer);
      timer = 0;
      latest += 1;
      if (controller) controller.abort();
      controller = null;
    }

    async function check() {
      timer = 0;
      if (Date.now() < pausedUntil) return;
      const id = ++latest;
      const own = new AbortController();
      controller = own;
      const password = input.value;
      const email = emailOf();
      try {
        const res = await fetch(ENDPOINT, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ password, email }),
          credentials: 'same-origin',
          cache: 'no-store',
          signal: own.signal,
        });
        if (id !== latest) return;
        if (res.status === 429) {
          pausedUntil = Date.now() + retryAfterMs(res.headers.get('Retry-After'));
          return;
        }
        if (res.status !== 200) return;
        const failed = failedRulesOf(await res.json().catch(() => null));
        if (failed === null || id !== latest) return;
        draw(failed, email.trim() !== '');
      } catch {
        // Aborted (a newer check replaced this one) or the network failed: keep the
        // marks as they are.
      } finally {
        if (controller === own) controller = null;
      }
    }

    function schedule() {
      cancel();
      if (Date.now() < pausedUntil) return; // rate limited: wait for input after the pause
      timer = setTimeout(check, DEBOUNCE_MS);
    }

    input.addEventListener('input', () => {
      touched = true;
      schedule();
    });
    if (emailInput) {
      emailInput.addEventListener('input', () => {
        if (touched || input.value) schedule();
      });
    }
    // A value the browser restored (back button, autofill) is checked straight away;
    // an empty field is not flagged before the user has typed anything.
    if (input.value) check();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init, { once: true });
  } else {
    init();
  }
})();
