// The browser gallery's full journey in Debian's Chromium, driven by
// server/tests/chromium.rs, which runs the real server and SMTP sink.
//
// Protocol with the driver: this script prints `MAIL <address>` when it needs the
// link emailed to <address>, and reads the link as one line on stdin. It exits 0 when
// every check passed, 1 with the reason on stderr otherwise.
//
// Environment: BASE_URL, FILES (three paths, comma-separated: two good images, one
// refused), SECOND_EMAIL/PASSWORD (an existing verified user), SCREENSHOTS (a folder;
// optional), CHROMIUM (default /usr/bin/chromium).

import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const base = process.env.BASE_URL;
const password = process.env.PASSWORD;
const files = process.env.FILES.split(',');
const shots = process.env.SCREENSHOTS || '';
const email = 'journey@example.com';
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
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const serious = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  for (const v of serious) {
    problems.push(`${name}: ${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }
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

async function main() {
  if (shots) mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const desktop = await watched(browser, { viewport: { width: 1280, height: 800 } });
    const page = await desktop.newPage();
    await register(page);
    await signIn(page, email);
    check(await page.getByText('No images yet').isVisible(), 'empty state explains what to do');
    await accessible(page, 'empty gallery');
    await shot(page, 'gallery-empty');
    await uploadThree(page);
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
