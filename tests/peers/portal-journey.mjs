// Drives headless Chromium (Debian's /usr/bin/chromium) through keymanager's Developer Portal as three people: a
// developer (alice) signs in, creates an application, generates production keys with PKCE, copies the secret, adds
// a second one, deletes the first with its tokens, tries a token, meets an inline error and signs out; a second
// developer (bob) sees none of it; an administrator (root) sees the key managers and the audit trail. Every page is
// screenshotted at desktop width and at 375 px, and checked with axe-core.
// Usage: node portal-journey.mjs BASE_URL ARTIFACTS_DIR PASSWORD
// Prints a JSON summary; exits non-zero on the first failed step.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const [base, artifacts, password] = process.argv.slice(2);
if (!base || !artifacts || !password) {
  console.error('usage: BASE_URL ARTIFACTS_DIR PASSWORD');
  process.exit(2);
}
fs.mkdirSync(artifacts, { recursive: true });
const summary = { pages: [], violations: [], steps: [] };
const step = (text) => summary.steps.push(text);
const must = (ok, text) => { if (!ok) throw new Error(text); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function person() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(base).origin });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') summary.steps.push(`console error: ${m.text()}`); });
  return { context, page };
}

// Screenshot at desktop and at 375 px, and axe at both; serious and critical violations are collected.
async function look(page, name) {
  for (const [suffix, width] of [['desktop', 1280], ['375', 375]]) {
    await page.setViewportSize({ width, height: width === 375 ? 812 : 900 });
    await page.screenshot({ path: `${artifacts}/${name}-${suffix}.png`, fullPage: true });
    await page.evaluate(axeSource);
    const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
    for (const v of result.violations) {
      if (v.impact === 'serious' || v.impact === 'critical') {
        summary.violations.push({ page: name, width, id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) });
      }
    }
    // No horizontal scrolling of the page itself at this width.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    must(overflow <= 1, `${name} scrolls sideways at ${width} px (${overflow} px)`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  summary.pages.push(name);
}

async function signIn(page, user, lookAtLogin = false) {
  await page.goto(`${base}/portal`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Username').waitFor();
  if (lookAtLogin) {
    // The resident's login page belongs to the product: the portal's stylesheet, the application named, each
    // scope said in words (issue 30); axe and screenshots at both widths like every portal page.
    must(await page.getByText('keymanager Developer Portal asks you to sign in').isVisible(), 'the login page names the application');
    must(await page.getByText('Manage your applications and their keys').isVisible(), 'scopes are described');
    must((await page.locator('style').count()) === 1 && (await page.locator('script').count()) === 0, 'styled, no script');
    await look(page, '01b-login-page');
  }
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in and allow' }).click();
  await page.waitForURL(`${base}/portal/applications`);
  await page.getByRole('heading', { name: 'Applications' }).waitFor();
}

try {
  // Alice, a developer.
  const alice = await person();
  let page = alice.page;
  // The welcome page loads nothing that is missing (it once logged a 404 for the icon browsers ask for).
  const missing = [];
  const onResponse = (r) => { if (r.status() === 404) missing.push(r.url()); };
  page.on('response', onResponse);
  await page.goto(`${base}/portal`, { waitUntil: 'networkidle' });
  await page.getByRole('heading', { name: 'Developer Portal' }).waitFor();
  const icon = await page.locator('link[rel="icon"]').getAttribute('href');
  const iconAnswer = await page.request.get(`${base}${icon}`);
  must(iconAnswer.status() === 200, `the page's icon is served (got ${iconAnswer.status()})`);
  must(missing.length === 0, `the welcome page asked for nothing missing: ${missing.join(', ')}`);
  page.off('response', onResponse);
  await look(page, '01-signed-out');
  await signIn(page, 'alice', true);
  must(await page.getByText('Signed in as').isVisible(), 'the header names the user');
  must(!(await page.getByRole('link', { name: 'Audit trail' }).count()), 'a developer sees no admin pages');
  await look(page, '02-applications-empty');
  step('alice signed in');

  // An inline error: the server's message next to the field it names.
  await page.getByRole('button', { name: 'Create application' }).click();
  await page.locator('#app-name-error').waitFor();
  must((await page.getByLabel('Name').getAttribute('aria-invalid')) === 'true', 'the field is marked invalid');
  await look(page, '03-inline-error');
  step('an empty name is refused beside the field');

  await page.getByLabel('Name').fill('orders');
  await page.getByLabel('Description (optional)').fill('Takes orders from the shop');
  await page.getByRole('button', { name: 'Create application' }).click();
  await page.getByRole('heading', { name: 'orders', level: 1 }).waitFor();
  await look(page, '04-application');
  step('created orders');
  // The list pages through the API's search: a search finds it, and a page number far past the end shows the last page.
  await page.goto(`${base}/portal/applications?q=ORD`);
  await page.getByRole('link', { name: 'orders' }).waitFor();
  const farPast = await page.goto(`${base}/portal/applications?page=18446744073709551615`);
  must(farPast.status() === 200, `a page far past the end answers ${farPast.status()}`);
  await page.getByRole('link', { name: 'orders' }).waitFor();
  await page.getByRole('link', { name: 'orders' }).click();
  await page.getByRole('heading', { name: 'orders', level: 1 }).waitFor();
  step('searched and paged the list');

  // Production keys with PKCE, for the code flow and client credentials.
  await page.getByLabel('authorization_code').check();
  await page.getByLabel('Callback URL').fill('https://orders.example.com/callback');
  await page.getByLabel('Require PKCE (S256)').check();
  await page.getByRole('button', { name: 'Generate keys' }).click();
  await page.getByText('Copy the secret now.').waitFor();
  const first = (await page.locator('#once-secret').textContent()).trim();
  await page.getByRole('button', { name: 'Copy secret' }).click();
  await page.getByText('Copied to the clipboard.').waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  must(copied === first, 'the copy button copies the secret');
  await look(page, '05-secret-shown-once');
  // Post/Redirect/Get (issue 30): the secret page is a GET after a redirect; reloading it submits nothing again
  // and shows the secret no more.
  must(page.url() === `${base}/portal/shown`, `the secret is shown after a redirect (at ${page.url()})`);
  const continueTo = await page.getByRole('link', { name: 'I have copied it — continue' }).getAttribute('href');
  await page.reload();
  must(page.url() === `${base}/portal/applications`, `a reload leads back to the applications (at ${page.url()})`);
  must(!(await page.content()).includes(first), 'a reload shows the secret no more');
  await page.goto(`${base}${continueTo}`);
  must(!(await page.content()).includes(first), 'the secret is never shown again');
  must(await page.getByText('required, S256 only').isVisible(), 'PKCE is required');
  await look(page, '06-keys');
  step('generated production keys with PKCE; copied the secret');

  // A second secret.
  await page.getByLabel('Description', { exact: false }).first().fill('second');
  await page.getByRole('button', { name: 'Add secret' }).click();
  await page.getByText('Copy the secret now.').waitFor();
  const second = (await page.locator('#once-secret').textContent()).trim();
  await page.getByRole('link', { name: 'I have copied it — continue' }).click();
  const rows = page.locator('table:has(caption:has-text("Secrets of")) tbody tr');
  must((await rows.count()) === 2, 'two secrets');
  step('added a second secret');

  // Delete the first, revoking its tokens.
  const firstRow = rows.filter({ hasNotText: 'second' });
  await firstRow.getByLabel('Also revoke the tokens issued with it').check();
  await firstRow.getByRole('button', { name: /^Delete secret/ }).click();
  await page.getByRole('heading', { name: 'orders', level: 1 }).waitFor();
  must((await rows.count()) === 1, 'one secret left');
  must((await rows.first().textContent()).includes('second'), 'the second secret is the one left');
  step('deleted the first secret with its tokens');

  // A CSRF-less form is refused.
  const forged = await page.request.post(`${base}/portal/applications`, { form: { name: 'forged', csrf: 'not-the-token' }, maxRedirects: 0 });
  must(forged.status() === 403, `a forged form is refused (got ${forged.status()})`);
  step('a forged form is refused');

  // Try it with a wrong secret: the message on the same page, still signed in (issue 30, item 1).
  await page.getByLabel('Consumer secret').fill('not-the-secret');
  await page.getByRole('button', { name: 'Generate token' }).click();
  await page.getByText('consumer secret was not accepted').waitFor();
  must(await page.getByRole('heading', { name: 'orders', level: 1 }).isVisible(), 'still on the application page');
  must(await page.getByRole('button', { name: 'Sign out' }).isVisible(), 'still signed in');
  step('a wrong secret on Try it is said on the same page');

  // Try it.
  await page.getByLabel('Consumer secret').fill(second);
  await page.getByRole('button', { name: 'Generate token' }).click();
  await page.getByRole('heading', { name: 'Test token' }).waitFor();
  must(await page.getByText('"client_id"').isVisible(), 'the token claims are shown');
  must(await page.getByText("curl -H 'Authorization: Bearer").isVisible(), 'a curl command is shown');
  await look(page, '07-test-token');
  await page.getByRole('link', { name: 'Back to the application' }).click();
  step('generated a test token');

  // What deleting would do (not done).
  await page.getByRole('link', { name: 'Delete application…' }).click();
  await page.getByRole('heading', { name: 'Delete orders?' }).waitFor();
  must(await page.getByText('will be deleted at their key managers').isVisible(), 'the confirmation says what happens');
  await look(page, '08-delete-confirmation');
  await page.getByRole('link', { name: 'Cancel' }).click();

  // Sign out: the session is gone.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in' }).waitFor();
  await page.goto(`${base}/portal/applications`);
  await page.getByRole('link', { name: 'Sign in' }).waitFor();
  // The resident's login session ended too: signing in again in this browser asks for the password.
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Password').waitFor();
  must(page.url().startsWith(`${base}/oauth2/authorize`), `the sign-in asks for a password again, at ${page.url()}`);
  step('alice signed out, at the portal and at the resident');
  await alice.context.close();

  // Bob, another developer: none of alice's applications.
  const bob = await person();
  page = bob.page;
  await signIn(page, 'bob');
  must(await page.getByText('No applications yet.').isVisible(), 'bob has no applications');
  must(!(await page.getByRole('link', { name: 'orders' }).count()), "bob sees none of alice's");
  step('bob sees none of alice\'s applications');
  await bob.context.close();

  // Root, an administrator: every application, the key managers and the audit trail.
  const root = await person();
  page = root.page;
  await signIn(page, 'root');
  must(await page.getByRole('link', { name: 'orders' }).isVisible(), 'an administrator sees every application');
  await page.getByRole('link', { name: 'Key managers' }).click();
  await page.getByRole('heading', { name: 'Key managers' }).waitFor();
  await look(page, '09-key-managers');
  // Scopes and what they mean to people, set through the portal (issue 30).
  await page.getByRole('link', { name: 'Scopes of Resident Key Manager' }).click();
  await page.getByRole('heading', { name: 'Scopes of Resident Key Manager' }).waitFor();
  await page.getByLabel('Scope', { exact: false }).first().fill('orders:read');
  await page.getByLabel('What it lets an application do').fill('Read your orders');
  await page.getByRole('button', { name: 'Add scope' }).click();
  await page.getByRole('cell', { name: 'Read your orders' }).waitFor();
  must(page.url().endsWith('/portal/key-managers/Resident%20Key%20Manager/scopes'), `back on the list after adding (at ${page.url()})`);
  await look(page, '09b-scopes');
  await page.getByRole('link', { name: 'Back to the key managers' }).click();
  await page.getByRole('link', { name: 'Audit trail' }).click();
  await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
  must(await page.getByText('application.create').first().isVisible(), 'the trail shows the creation');
  await look(page, '10-audit-trail');
  step('root sees the key managers and the audit trail');
  await root.context.close();
} catch (e) {
  summary.error = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(summary));
process.exit(summary.error ? 1 : 0);
