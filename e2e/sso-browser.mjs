// "The system browser" of the desktop app's single sign-on test (desktop/tests/e2e.rs):
// registered as the default handler of http URLs in the test's private XDG folders,
// so the app's opener (xdg-open) starts it with the server's start page. It opens the
// page in Debian's Chromium, signs in on the provider's own login and consent pages,
// and lets Chromium follow the provider's redirect to the app's loopback listener,
// whose answer it checks.
//
// Usage: node sso-browser.mjs <settings.json> <url>, where settings.json holds
// {"login", "password", "report"}: the person at the provider, and a file this script
// writes "ok" or the reason it failed into (the app, not the test, started it).

import { readFileSync, writeFileSync } from 'node:fs';
import { launchChromium } from './chromium.mjs';

const [settingsFile, url] = process.argv.slice(2);
const settings = JSON.parse(readFileSync(settingsFile, 'utf8'));

async function main() {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector('input[name=login]');
    await page.fill('input[name=login]', settings.login);
    await page.fill('input[name=password]', settings.password);
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector('button:has-text("Continue")');
    await Promise.all([
      page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/),
      page.click('button:has-text("Continue")'),
    ]);
    const text = await page.textContent('body');
    if (!text.includes('You are signed in to ImageVault')) {
      throw new Error(`the app's listener answered: ${text}`);
    }
  } finally {
    await browser.close();
  }
}

main().then(
  () => writeFileSync(settings.report, 'ok'),
  (err) => {
    writeFileSync(settings.report, String(err.stack || err));
    process.exit(1);
  },
);
