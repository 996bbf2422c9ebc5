// Signs in to keymanager's Developer Portal through another provider (oidc-provider's development login and
// consent pages) in headless Chromium, creates an application, signs out (at the provider too), and checks that
// signing in again asks for the login.
// Usage: node portal-sign-in.mjs BASE_URL BUTTON_LABEL LOGIN APPLICATION SCREENSHOT_DIR
// Prints a JSON summary; exits non-zero on failure.
import { chromium } from 'playwright-core';

const [base, label, login, application, shots] = process.argv.slice(2);
if (!base || !label || !login || !application || !shots) {
  console.error('usage: BASE_URL BUTTON_LABEL LOGIN APPLICATION SCREENSHOT_DIR');
  process.exit(2);
}
const summary = { steps: [] };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let page;
try {
  page = await (await browser.newContext()).newPage();
  await page.goto(`${base}/portal`);
  await page.screenshot({ path: `${shots}/11-sign-in-choices-desktop.png`, fullPage: true });
  await page.getByRole('link', { name: label }).click();
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('anything');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL(`${base}/portal/applications`);
  summary.steps.push('signed in through the provider');
  const who = await page.locator('.user strong').textContent();
  summary.user = who;
  await page.getByLabel('Name').fill(application);
  await page.getByRole('button', { name: 'Create application' }).click();
  await page.getByRole('heading', { name: application, level: 1 }).waitFor();
  summary.owner = (await page.locator('.meta strong').textContent()).trim();
  summary.steps.push('created an application');
  await page.getByRole('button', { name: 'Sign out' }).click();
  // The provider ends its own session too (RP-Initiated Logout): it asks to confirm, then sends the browser back.
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.getByRole('link', { name: label }).waitFor();
  summary.steps.push('signed out, at the provider too');
  // So signing in again asks who is signing in.
  await page.getByRole('link', { name: label }).click();
  await page.locator('input[name="login"]').waitFor();
  summary.steps.push('signing in again asks for the login');
} catch (e) {
  summary.error = String(e && e.stack || e);
  // Where it stopped, for whoever reads the failure.
  if (page) {
    summary.url = page.url();
    await page.screenshot({ path: `${shots}/19-failure.png`, fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(summary));
process.exit(summary.error ? 1 : 0);
