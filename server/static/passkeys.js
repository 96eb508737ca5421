// Passkeys in the browser: "Sign in with a passkey" on the sign-in page, "Add a passkey"
// on the account page. The server's WebAuthn options carry binary fields as base64url;
// navigator.credentials wants ArrayBuffers, and the answer goes back as base64url JSON.
// Without JavaScript or WebAuthn both stay hidden and the password forms work as ever.
// No innerHTML: messages go in through textContent.
(() => {
  'use strict';

  const NETWORK_ERROR = 'Network error — check your connection and try again.';

  function fromB64u(text) {
    const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
  }

  function toB64u(buffer) {
    let raw = '';
    for (const byte of new Uint8Array(buffer)) raw += String.fromCharCode(byte);
    return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  const withIds = (list) => (list || []).map((c) => ({ ...c, id: fromB64u(c.id) }));

  function creationOptions(publicKey) {
    return {
      ...publicKey,
      challenge: fromB64u(publicKey.challenge),
      user: { ...publicKey.user, id: fromB64u(publicKey.user.id) },
      excludeCredentials: withIds(publicKey.excludeCredentials),
    };
  }

  function requestOptions(publicKey) {
    return {
      ...publicKey,
      challenge: fromB64u(publicKey.challenge),
      allowCredentials: withIds(publicKey.allowCredentials),
    };
  }

  function answer(credential, response) {
    return {
      id: credential.id,
      rawId: toB64u(credential.rawId),
      type: credential.type,
      response,
      extensions: credential.getClientExtensionResults(),
    };
  }

  function registrationAnswer(credential) {
    const r = credential.response;
    return answer(credential, {
      attestationObject: toB64u(r.attestationObject),
      clientDataJSON: toB64u(r.clientDataJSON),
      transports: typeof r.getTransports === 'function' ? r.getTransports() : [],
    });
  }

  function assertionAnswer(credential) {
    const r = credential.response;
    return answer(credential, {
      authenticatorData: toB64u(r.authenticatorData),
      clientDataJSON: toB64u(r.clientDataJSON),
      signature: toB64u(r.signature),
      userHandle: r.userHandle ? toB64u(r.userHandle) : null,
    });
  }

  /** POSTs JSON; resolves to the parsed answer, rejects with a person-readable Error. */
  async function post(url, body, csrf) {
    let res;
    try {
      res = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        redirect: 'manual',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: JSON.stringify(body || {}),
      });
    } catch (_) {
      throw new Error(NETWORK_ERROR);
    }
    // The browser sign-in answers with a redirect to the gallery once the cookie is set.
    if (res.type === 'opaqueredirect') return null;
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const message = data && data.error && data.error.message;
      throw new Error(message || `The server answered ${res.status}. Please try again.`);
    }
    return data;
  }

  /** What the authenticator's refusal means to the person. */
  function ceremonyError(err) {
    if (err && err.name === 'NotAllowedError') {
      return new Error('The passkey request was cancelled or timed out. Try again when you are ready.');
    }
    if (err && err.name === 'InvalidStateError') {
      return new Error('This device already holds a passkey for your account.');
    }
    return err instanceof Error ? err : new Error('The passkey could not be used.');
  }

  function show(box, message) {
    box.querySelector('p').textContent = message;
    box.hidden = false;
    box.focus();
  }

  async function busy(button, label, work) {
    const before = button.textContent;
    button.disabled = true;
    button.textContent = label;
    try {
      await work();
    } finally {
      button.disabled = false;
      button.textContent = before;
    }
  }

  function initSignIn(supported) {
    const panel = document.getElementById('passkey-sign-in');
    const form = document.getElementById('login-form');
    if (!panel || !form || !supported) return;
    const button = document.getElementById('passkey-button');
    const box = document.getElementById('passkey-message');
    const csrf = form.querySelector('input[name="csrf_token"]').value;
    panel.hidden = false;
    button.addEventListener('click', () => busy(button, 'Waiting for your passkey…', async () => {
      box.hidden = true;
      try {
        const start = await post('/api/v1/auth/passkey/start', {}, csrf);
        let credential;
        try {
          credential = await navigator.credentials.get({ publicKey: requestOptions(start.publicKey) });
        } catch (err) {
          throw ceremonyError(err);
        }
        await post('/login/passkey', {
          challenge_id: start.challenge_id,
          credential: assertionAnswer(credential),
        }, csrf);
        window.location.assign('/');
      } catch (err) {
        show(box, err.message);
      }
    }));
  }

  function initAccount(supported) {
    const form = document.getElementById('add-passkey-form');
    if (!form) return;
    if (!supported) {
      document.getElementById('passkeys-unsupported').hidden = false;
      return;
    }
    const meta = document.querySelector('meta[name="csrf-token"]');
    const csrf = meta ? meta.content : '';
    const button = document.getElementById('add-passkey');
    const box = document.getElementById('passkey-message');
    form.hidden = false;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      busy(button, 'Waiting for your device…', async () => {
        box.hidden = true;
        try {
          const code = document.getElementById('passkey-code');
          const start = await post('/api/v1/me/passkeys/register/start', {
            password: document.getElementById('passkey-password').value,
            code: code ? code.value : '',
          }, csrf);
          let credential;
          try {
            credential = await navigator.credentials.create({ publicKey: creationOptions(start.publicKey) });
          } catch (err) {
            throw ceremonyError(err);
          }
          await post('/api/v1/me/passkeys/register/finish', {
            credential: registrationAnswer(credential),
            name: document.getElementById('passkey-name').value,
          }, csrf);
          window.location.assign('/account');
        } catch (err) {
          show(box, err.message);
        }
      });
    });
  }

  function init() {
    const supported = typeof window.PublicKeyCredential === 'function'
      && Boolean(navigator.credentials);
    initSignIn(supported);
    initAccount(supported);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
