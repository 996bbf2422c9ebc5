// Signs in to keymanager's Developer Portal through another provider (oidc-provider's development login and
// consent pages) in headless Chromium, creates an application, and signs out.
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
try {
  const page = await (await browser.newContext()).newPage();
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
  await page.getByRole('link', { name: label }).waitFor();
  summary.steps.push('signed out');
} catch (e) {
  summary.error = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(summary));
process.exit(summary.error ? 1 : 0);
