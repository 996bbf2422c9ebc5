// Drives headless Chromium (Debian's /usr/bin/chromium) through keymanager's login and consent page with a PKCE
// client, like a person would: open the authorization URL, screenshot the page, fill the form, allow, and catch the
// redirect at a callback served here.
// Usage: node browser-login.mjs AUTHORIZATION_URL CALLBACK_PORT USERNAME PASSWORD SCREENSHOT_PATH
// Prints the callback URL (with code, state and iss) as JSON; exits non-zero on failure.
import http from 'node:http';
import { chromium } from 'playwright-core';

const [authUrl, port, username, password, screenshot] = process.argv.slice(2);
if (!authUrl || !port || !username || !password || !screenshot) {
  console.error('usage: AUTHORIZATION_URL CALLBACK_PORT USERNAME PASSWORD SCREENSHOT_PATH');
  process.exit(2);
}
let callback;
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/cb')) callback = `http://127.0.0.1:${port}${req.url}`;
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('signed in');
});
await new Promise((resolve) => server.listen(Number(port), '127.0.0.1', resolve));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(authUrl);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.screenshot({ path: screenshot, fullPage: true });
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in and allow' }).click();
  await page.waitForURL((url) => url.port === String(port), { timeout: 15000 });
  await page.getByText('signed in').waitFor();
  console.log(JSON.stringify({ callback }));
} finally {
  await browser.close();
  server.close();
}
