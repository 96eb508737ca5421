// Single sign-on in Debian's Chromium, driven by server/tests/chromium.rs against the
// real server and a real OpenID Provider (e2e/oidc-provider.mjs): the sign-in page's
// button → the provider's own login and consent pages → back at ImageVault, signed in,
// on the gallery → the account page lists the link. The sign-in page with the button
// is scanned with axe-core and photographed (`sso-login.png`); the console must show no
// CSP violation. Exits 0 when every check passed, 1 with the reason on stderr.
//
// Environment: BASE_URL (the server), LOGIN and PROVIDER_PASSWORD (the person at the
// provider), EMAIL (their address), BUTTON (the button's words), SCREENSHOTS (a
// folder; optional), CHROMIUM (default /usr/bin/chromium).

import { mkdirSync } from 'node:fs';
import { launchChromium, seriousViolations } from './chromium.mjs';

const base = process.env.BASE_URL;
const shots = process.env.SCREENSHOTS || '';
const problems = [];

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function accessible(page, name) {
  problems.push(...await seriousViolations(page, name));
}

async function main() {
  if (shots) mkdirSync(shots, { recursive: true });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy/.test(msg.text())) {
        problems.push(`${msg.text()} (${msg.location().url})`);
      }
    });
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    const button = page.getByRole('link', { name: process.env.BUTTON });
    check(await button.isVisible(), `the sign-in page shows "${process.env.BUTTON}"`);
    await accessible(page, 'sign-in page with single sign-on');
    if (shots) await page.screenshot({ path: `${shots}/sso-login.png`, fullPage: true });

    // The keyboard reaches the button: Tab from the last field of the password form.
    await page.focus('#password');
    let focused = '';
    for (let i = 0; i < 4 && focused !== 'sso-button'; i += 1) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id || '');
    }
    check(focused === 'sso-button', 'Tab reaches the single sign-on button');
    await page.keyboard.press('Enter');

    // The provider's own pages.
    await page.waitForSelector('input[name=login]');
    check(!page.url().startsWith(base), `the provider's login page: ${page.url()}`);
    await page.fill('input[name=login]', process.env.LOGIN);
    await page.fill('input[name=password]', process.env.PROVIDER_PASSWORD);
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector('button:has-text("Continue")');
    await Promise.all([page.waitForURL(`${base}/`), page.click('button:has-text("Continue")')]);

    // Back at ImageVault, signed in: the gallery, then the account page.
    check(await page.getByText('No images yet').isVisible(), 'signed in: the empty gallery');
    await page.goto(`${base}/account`);
    check(await page.getByText(process.env.EMAIL).first().isVisible(), 'the account is theirs');
    check(await page.locator('#sso-list').isVisible(), 'the account page lists the link');
    await accessible(page, 'account page with single sign-on');
    await context.close();
  } finally {
    await browser.close();
  }
  check(problems.length === 0, problems.join('\n'));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err.stack || String(err));
    process.exit(1);
  },
);
