// The browser gallery's full journey in Debian's Chromium, driven by
// server/tests/chromium.rs, which runs the real server and SMTP sink.
//
// Protocol with the driver: this script prints `MAIL <address>` when it needs the
// link emailed to <address>, and reads the link as one line on stdin. It exits 0 when
// every check passed, 1 with the reason on stderr otherwise.
//
// Environment: BASE_URL, FILES (three paths, comma-separated: two good images, one
// refused), SECOND_EMAIL/PASSWORD (an existing verified user, who turns on two-step
// sign-in), SCREENSHOTS (a folder; optional), CHROMIUM (default /usr/bin/chromium).
// BASE_URL names the server as `localhost`: WebAuthn (passkeys) refuses IP addresses.

import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { launchChromium, seriousViolations } from './chromium.mjs';

const base = process.env.BASE_URL;
const password = process.env.PASSWORD;
const files = process.env.FILES.split(',');
const shots = process.env.SCREENSHOTS || '';
const email = 'journey@example.com';
const sharePassword = 'sea air and salt';
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const problems = [];

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function mailLink(address) {
  console.log(`MAIL ${address}`);
  const { value } = await lines.next();
  return value.trim();
}

/** Records CSP violations and console errors of every page of a context. */
async function watched(browser, options) {
  const context = await browser.newContext(options);
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  context.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy|CSP violation/.test(msg.text())) {
      problems.push(`${msg.text()} (${msg.location().url})`);
    }
  });
  return context;
}

/** Fails on serious or critical accessibility violations of the current page. */
async function accessible(page, name) {
  problems.push(...await seriousViolations(page, name));
}

async function shot(page, name) {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

async function signIn(page, address) {
  await page.goto(`${base}/login`);
  await page.fill('#email', address);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
}

/** The RFC 6238 code (SHA-1, 6 digits, 30 s) an authenticator app shows at unix time t. */
function totp(secret, t) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const seed = [];
  for (const c of secret.replace(/\s/g, '').toUpperCase()) {
    value = ((value << 5) | alphabet.indexOf(c)) & 0x1fff;
    bits += 5;
    if (bits >= 8) {
      seed.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(t / 30)));
  const h = createHmac('sha1', Buffer.from(seed)).update(counter).digest();
  const o = h[19] & 15;
  const n = (((h[o] & 127) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]) % 1000000;
  return String(n).padStart(6, '0');
}

/** Turns on two-step sign-in from the account page, then signs in with a code. */
async function twoStep(browser, page, address) {
  await page.goto(`${base}/account`);
  await accessible(page, 'account');
  await shot(page, 'account');
  await page.fill('#start-password', password);
  await page.click('text=Turn on two-step sign-in');
  await page.waitForSelector('figure.qr svg');
  await accessible(page, 'two-step setup');
  await shot(page, 'two-step-setup');
  const secret = (await page.textContent('#totp-secret')).trim();
  const enrolledAt = Date.now() / 1000;
  await page.fill('#code', totp(secret, enrolledAt));
  await page.click('button[type=submit].primary');
  await page.waitForSelector('#recovery-codes');
  check(await page.locator('#recovery-codes li').count() === 10, 'ten recovery codes shown');
  await accessible(page, 'recovery codes');
  await shot(page, 'two-step-recovery-codes');

  const context = await watched(browser, { viewport: { width: 1280, height: 800 } });
  const fresh = await context.newPage();
  await fresh.goto(`${base}/login`);
  await fresh.fill('#email', address);
  await fresh.fill('#password', password);
  await fresh.click('button[type=submit]');
  await fresh.waitForSelector('#code');
  check(fresh.url() === `${base}/login`, `the code page follows the password: ${fresh.url()}`);
  await accessible(fresh, 'second step');
  await shot(fresh, 'two-step-code');
  // The next step's code: the enrolling one is spent (a code works once).
  await fresh.fill('#code', totp(secret, enrolledAt + 30));
  await Promise.all([fresh.waitForURL(`${base}/`), fresh.click('button[type=submit]')]);
  await context.close();
}

/** The browser's WebAuthn answers as the server's JSON (base64url), run in the page. */
async function passkeyAssertion(page, tamperUserHandle) {
  return page.evaluate(async (otherUser) => {
    const fromB64u = (t) => {
      const b = t.replace(/-/g, '+').replace(/_/g, '/');
      return Uint8Array.from(atob(b + '='.repeat((4 - (b.length % 4)) % 4)), (c) => c.charCodeAt(0)).buffer;
    };
    const toB64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
      .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    const uuidBytes = (u) => Uint8Array.from(u.replace(/-/g, '').match(/../g), (h) => parseInt(h, 16)).buffer;
    const start = await (await fetch('/api/v1/auth/passkey/start', { method: 'POST' })).json();
    const key = start.publicKey;
    const cred = await navigator.credentials.get({
      publicKey: { ...key, challenge: fromB64u(key.challenge), allowCredentials: [] },
    });
    const r = cred.response;
    const userHandle = otherUser ? uuidBytes(otherUser) : r.userHandle;
    const credential = {
      id: cred.id, rawId: toB64u(cred.rawId), type: cred.type, extensions: {},
      response: {
        authenticatorData: toB64u(r.authenticatorData), clientDataJSON: toB64u(r.clientDataJSON),
        signature: toB64u(r.signature), userHandle: toB64u(userHandle),
      },
    };
    const finish = async () => {
      const res = await fetch('/api/v1/auth/passkey/finish', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ challenge_id: start.challenge_id, credential }),
      });
      return { status: res.status, body: await res.json() };
    };
    return [await finish(), await finish()];
  }, tamperUserHandle || null);
}

/**
 * Passkeys with Chromium's virtual authenticator (a platform authenticator with user
 * verification): add one on the account page, sign in with it from a signed-out
 * browser, and see the server refuse an assertion passed off as another user's and a
 * replayed one.
 */
async function passkeys(browser, address, otherUserId) {
  const context = await watched(browser, { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  await signIn(page, address);
  await page.goto(`${base}/account`);
  await page.fill('#passkey-name', 'Journey laptop');
  await page.fill('#passkey-password', password);
  await Promise.all([
    page.waitForURL(`${base}/account`, { waitUntil: 'load' }),
    page.click('#add-passkey'),
  ]);
  await page.locator('#passkey-list').getByText('Journey laptop').waitFor();
  await accessible(page, 'account with a passkey');
  await shot(page, 'passkeys');

  // Signed out, the passkey alone signs in: no password, no code.
  await context.clearCookies();
  await page.goto(`${base}/login`);
  await page.locator('#passkey-button').waitFor({ state: 'visible' });
  await accessible(page, 'login with passkey');
  await Promise.all([page.waitForURL(`${base}/`), page.click('#passkey-button')]);
  check(await page.locator('.gallery-grid, .empty-state').count() > 0, 'the passkey signed in to the gallery');

  // An assertion passed off as another account's, then the same answer again.
  const [forged, replayed] = await passkeyAssertion(page, otherUserId);
  check(forged.status === 401 && forged.body.error.code === 'invalid_credentials',
    `assertion for another user: ${JSON.stringify(forged)}`);
  check(replayed.status === 401, `a spent challenge: ${JSON.stringify(replayed)}`);
  // Over the JSON API the passkey signs in too; its challenge then works only once.
  const [api, again] = await passkeyAssertion(page, null);
  check(api.status === 200 && typeof api.body.token === 'string', `passkey over the API: ${JSON.stringify(api)}`);
  check(again.status === 401, `replayed assertion: ${JSON.stringify(again)}`);
  await context.close();
}

async function register(page) {
  await page.goto(`${base}/register`);
  await accessible(page, 'register');
  await page.fill('#email', email);
  // The marks come from the server (POST /api/v1/password-policy/check, debounced), so
  // they arrive a moment after typing: wait for them rather than read them at once.
  await page.fill('#password', 'short');
  await page.waitForFunction(
    () => document.querySelectorAll('#password-rules li.fail').length >= 3,
    null, { timeout: 10000 },
  ).catch(() => {});
  check(await page.locator('#password-rules li.fail').count() >= 3, 'live rules show failures');
  check(await page.locator('#password').getAttribute('aria-invalid') === 'true',
    'the field is marked invalid while rules fail');
  await page.fill('#password', password);
  await page.waitForFunction(() => {
    const items = [...document.querySelectorAll('#password-rules li')];
    return items.length > 0 && items.every((li) => li.classList.contains('ok'));
  }, null, { timeout: 10000 }).catch(() => {});
  const rules = await page.locator('#password-rules li').count();
  const met = await page.locator('#password-rules li.ok').count();
  check(rules >= 7 && met === rules, `live rules all pass, strength included: ${met} of ${rules}`);
  check(await page.locator('#password').getAttribute('aria-invalid') === null,
    'the field is no longer marked invalid');
  await shot(page, 'register');
  await page.click('button[type=submit]');
  await page.getByText('Check your email').waitFor();
  const link = await mailLink(email);
  await page.goto(link);
  await accessible(page, 'verify');
  await page.click('button[type=submit]');
  await page.getByText(/verified|confirmed/i).first().waitFor();
}

async function uploadThree(page) {
  await page.goto(`${base}/upload`);
  await accessible(page, 'upload');
  await page.setInputFiles('#file-input', files);
  const items = page.locator('#upload-list li.upload-item');
  await page.waitForFunction(() => {
    const all = [...document.querySelectorAll('#upload-list li.upload-item')];
    return all.length === 3 && all.every((li) => ['done', 'error'].includes(li.dataset.state));
  }, null, { timeout: 30000 });
  check(await items.count() === 3, 'three cards');
  const refused = page.locator('#upload-list li[data-state=error] .status');
  check(await refused.count() === 1, 'one refused');
  const reason = await refused.textContent();
  check(/JPEG, PNG and GIF/.test(reason), `refusal reason shown in plain words: ${reason}`);
  await shot(page, 'upload');

  // The size limit is the server's, stated by the page: the label says it and the
  // script refuses a bigger file before sending it.
  const maxBytes = Number(await page.locator('#upload-form').getAttribute('data-max-bytes'));
  check(Number.isSafeInteger(maxBytes) && maxBytes > 0, `upload form states the limit: ${maxBytes}`);
  const limit = `${maxBytes / (1024 * 1024)} MiB`;
  const label = await page.locator('label[for=file-input]').textContent();
  check(label.includes(limit), `upload label states the limit (${limit}): ${label}`);
  await page.setInputFiles('#file-input', {
    name: 'too-big.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(maxBytes + 1),
  });
  await page.waitForFunction(() => document.querySelectorAll('#upload-list li.upload-item').length === 4);
  const tooBig = page.locator('#upload-list li.upload-item').nth(3);
  check(await tooBig.getAttribute('data-state') === 'error', 'a file over the limit is refused');
  const tooBigReason = await tooBig.locator('.status').textContent();
  check(tooBigReason.includes(`the limit is ${limit}`),
    `a file over the limit is refused before sending: ${tooBigReason}`);
}

/**
 * Sharing: the owner ticks both images, gives a title and a password, and gets the link
 * once (the copy button copies it); an anonymous browser opens it, is asked the password
 * (a wrong one is refused), sees both photos and the large view, and finds no download
 * anywhere (the API refuses it too); the owner sees the view and revokes; the page is gone.
 */
async function shareTwo(browser, page) {
  await page.goto(`${base}/`);
  const boxes = page.locator('.gallery-grid input[name=image]');
  check(await boxes.count() === 2, 'a tick box on each image');
  check(await page.locator('#share-selected').isDisabled(), 'nothing to share until something is ticked');
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  const count = await page.locator('#selection-count').textContent();
  check(count.includes('2 selected'), `the count follows the ticks: ${count}`);
  await accessible(page, 'gallery with a selection');
  await Promise.all([page.waitForURL(/\/shares\/new\?/), page.click('#share-selected')]);
  check(await page.locator('.share-chosen img').count() === 2, 'the chosen images are shown');
  check(!(await page.locator('#share-download').isChecked()), 'view only unless asked');
  check(await page.locator('#share-watermark').isChecked(), 'watermarked unless asked not to');
  await page.fill('#share-title', 'Weekend by the sea');
  await page.fill('#share-password', sharePassword);
  await accessible(page, 'share settings');
  await shot(page, 'share-settings');
  await Promise.all([page.waitForURL(`${base}/shares/new`), page.click('#share-settings button[type=submit]')]);
  const shown = await page.inputValue('#share-url');
  const path = new URL(shown).pathname;
  check(/^\/s\/[\w-]{43}$/.test(path), `the link is shown: ${shown}`);
  // PUBLIC_URL names no port (it is not known before the server starts): same path here.
  const link = `${base}${path}`;
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  await page.click('button[data-copy=share-url]');
  await page.waitForFunction(() => document.getElementById('copy-status').textContent.startsWith('Copied'));
  check(await page.evaluate(() => navigator.clipboard.readText()) === shown, 'the copy button copies the link');
  await accessible(page, 'link created');
  await shot(page, 'share-created');

  const anonymous = await watched(browser, { viewport: { width: 1280, height: 800 } });
  const visitor = await anonymous.newPage();
  const asked = await visitor.goto(link);
  check(asked.status() === 401, `a password is asked first: ${asked.status()}`);
  check(/noindex/.test(asked.headers()['x-robots-tag'] || ''), 'not for search engines');
  await visitor.fill('#share-password', 'not the password');
  await visitor.click('button[type=submit]');
  check(await visitor.locator('#form-error').isVisible(), 'a wrong password is refused, said so');
  await accessible(visitor, 'share password');
  await shot(visitor, 'share-password');
  await visitor.fill('#share-password', sharePassword);
  await Promise.all([visitor.waitForURL(link), visitor.click('button[type=submit]')]);
  const photos = visitor.locator('#shared-grid img');
  check(await photos.count() === 2, 'both photos are shown');
  await visitor.waitForFunction(() => [...document.querySelectorAll('#shared-grid img')]
    .every((img) => img.complete && img.naturalWidth > 0));
  const html = await visitor.content();
  for (const secret of [email, 'harbour', 'diagram']) {
    check(!html.includes(secret), `the public page does not show ${secret}`);
  }
  await accessible(visitor, 'shared photos');
  await shot(visitor, 'share-public');
  await Promise.all([visitor.waitForURL(`${link}/1`), photos.first().click()]);
  await visitor.waitForFunction(() => document.getElementById('shared-image').naturalWidth > 0);
  check(await visitor.locator('#view-only').isVisible(), 'view only, said so');
  check(await visitor.locator('a[href*="/download"]').count() === 0, 'no download button');
  const view = await visitor.locator('#shared-image').getAttribute('src');
  const download = await visitor.request.get(`${base}${view.replace('/view?', '/download?')}`);
  check(download.status() === 404, `the original cannot be downloaded: ${download.status()}`);
  await accessible(visitor, 'shared photo');
  await shot(visitor, 'share-view');

  await page.goto(`${base}/shares`);
  const row = page.locator('#share-list tbody tr');
  check(await row.count() === 1, 'the owner lists the link');
  check((await row.locator('td.views').textContent()).trim() === '1', 'one opening counted');
  check(await page.locator('#share-events', { hasText: 'A wrong password was tried' }).count() === 1,
    'the wrong password is in the owner\'s activity');
  check(!(await page.content()).includes(path), 'the list never shows the link again');
  await accessible(page, 'shared links');
  await shot(page, 'shares-list');
  page.once('dialog', (dialog) => dialog.accept());
  await Promise.all([page.waitForURL(`${base}/shares?revoked=1`), row.locator('button.danger').click()]);
  check((await row.locator('td.status').textContent()).trim() === 'Revoked', 'revoked, said so');
  const gone = await visitor.goto(link);
  check(gone.status() === 404, `a revoked link is gone: ${gone.status()}`);
  await anonymous.close();
}

async function galleryAndDelete(page) {
  await page.goto(`${base}/`);
  const tiles = page.locator('.gallery-grid a.tile');
  check(await tiles.count() === 2, 'two images in the gallery');
  await page.waitForFunction(() => [...document.querySelectorAll('.gallery-grid img')]
    .every((img) => img.complete && img.naturalWidth > 0));
  await accessible(page, 'gallery');
  await shot(page, 'gallery');
  await tiles.first().click();
  await page.waitForURL(/\/images\/[0-9a-f-]{36}$/);
  const imageUrl = page.url();
  await page.waitForFunction(() => document.querySelector('figure.image-view img').naturalWidth > 0);
  await accessible(page, 'image');
  await shot(page, 'image');
  page.once('dialog', (dialog) => dialog.accept());
  await Promise.all([page.waitForURL(`${base}/`), page.click('button.danger')]);
  check(await page.locator('.gallery-grid a.tile').count() === 1, 'one image left after delete');
  return imageUrl;
}

/**
 * The admin console: accounts and the audit log, with no photo or file name anywhere;
 * disabling the second user ends its session at once.
 */
async function adminConsole(browser, otherPage) {
  const context = await watched(browser, { viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('dialog', (dialog) => dialog.accept());
  await signIn(page, process.env.ADMIN_EMAIL);
  await page.goto(`${base}/admin`);
  check(await page.locator('#user-list tbody tr').count() >= 3, 'the accounts are listed');
  await accessible(page, 'admin accounts');
  await shot(page, 'admin-users');
  await page.fill('#query', process.env.SECOND_EMAIL.split('@')[0]);
  await Promise.all([page.waitForURL(/query=/), page.click('form[role=search] button')]);
  check(await page.locator('#user-list tbody tr').count() === 1, 'search finds the one account');
  await Promise.all([page.waitForURL(/\/admin\/users\//), page.getByRole('button', { name: /^Disable / }).click()]);
  check(await page.getByText('is disabled and signed out everywhere').isVisible(), 'disabled, and said so');
  const gone = await otherPage.request.get(`${base}/api/v1/me`);
  check(gone.status() === 401, `the disabled account's session ended: ${gone.status()}`);
  await page.goto(`${base}/admin/audit`);
  check(await page.locator('#audit-list .kind', { hasText: 'admin_disabled' }).count() === 1, 'the action is in the audit log');
  await accessible(page, 'admin audit log');
  await shot(page, 'admin-audit');
  for (const path of ['/admin', '/admin/audit']) {
    await page.goto(`${base}${path}`);
    const html = await page.content();
    for (const name of ['harbour', 'diagram', 'notes.jpg']) {
      check(!html.includes(name), `${path} shows no file name (${name})`);
    }
    check(await page.locator('img').count() === 0, `${path} shows no image`);
  }
  const refused = await otherPage.request.get(`${base}/admin`);
  check(refused.status() === 404, `the admin console is 404 to others: ${refused.status()}`);
  await context.close();
}

async function main() {
  if (shots) mkdirSync(shots, { recursive: true });
  const browser = await launchChromium();
  try {
    const desktop = await watched(browser, { viewport: { width: 1280, height: 800 } });
    const page = await desktop.newPage();
    await register(page);
    await signIn(page, email);
    check(await page.getByText('No images yet').isVisible(), 'empty state explains what to do');
    await accessible(page, 'empty gallery');
    await shot(page, 'gallery-empty');
    await uploadThree(page);
    await shareTwo(browser, page);
    const kept = await galleryAndDelete(page);
    const keptUrl = await page.locator('.gallery-grid a.tile').first().getAttribute('href');

    // A form posted without its CSRF token is refused.
    const forged = await desktop.request.post(`${base}${keptUrl}/delete`, {
      form: { confirmed: 'yes' }, maxRedirects: 0,
    });
    check(forged.status() === 403, `delete without CSRF token: ${forged.status()}`);

    // A second user cannot open the first user's image.
    const other = await watched(browser, { viewport: { width: 1280, height: 800 } });
    const otherPage = await other.newPage();
    await signIn(otherPage, process.env.SECOND_EMAIL);
    const stolen = await otherPage.goto(`${base}${keptUrl}`);
    check(stolen.status() === 404, `another user's image page: ${stolen.status()}`);
    const stolenContent = await otherPage.goto(`${base}/api/v1${keptUrl}/content`);
    check(stolenContent.status() === 404, 'another user cannot fetch the bytes');
    check(kept !== `${base}${keptUrl}`, 'the deleted image was the one opened');
    const otherUserId = await otherPage.evaluate(async () => (await (await fetch('/api/v1/me')).json()).id);
    await twoStep(browser, otherPage, process.env.SECOND_EMAIL);
    await passkeys(browser, email, otherUserId);

    // Phone width.
    const phone = await watched(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const phonePage = await phone.newPage();
    await signIn(phonePage, email);
    await phonePage.waitForFunction(() => [...document.querySelectorAll('.gallery-grid img')]
      .every((img) => img.complete && img.naturalWidth > 0));
    await accessible(phonePage, 'gallery (phone)');
    await shot(phonePage, 'gallery-phone');
    await phonePage.goto(`${base}/upload`);
    await shot(phonePage, 'upload-phone');

    // Sign out: the gallery now sends the browser to sign in.
    await Promise.all([page.waitForURL(`${base}/login`), page.click('nav.site-nav button.link-button')]);
    await page.goto(`${base}/`);
    check(page.url() === `${base}/login`, `signed out, the gallery redirects to login: ${page.url()}`);
    await accessible(page, 'login');
    await shot(page, 'login');

    await adminConsole(browser, otherPage);
  } finally {
    await browser.close();
  }
  check(problems.length === 0, `problems:\n${problems.join('\n')}`);
}

main().then(() => process.exit(0), (err) => {
  console.error(err.stack || String(err));
  if (problems.length) console.error(problems.join('\n'));
  process.exit(1);
});
