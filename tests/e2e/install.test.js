// install.test.js - the page as an installable app: Chromium finds nothing that stops it being
// installed, and once installed (its service worker in control) a new version of the site served
// is what the next reload runs, online and then offline.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./helpers');
const { digitStrokes } = require('./digits');

// Chromium calls every context of a launched browser "incognito", where nothing installs: these tests
// open a persistent profile, as a person's browser is
async function openInstalled(url) {
  const context = await h.launchProfile(h.tempDir('digit-profile-'));
  const { page, errors } = await h.openIn(context, url);
  return { page, context, errors };
}

// a copy of the built site that a test may change, served by lighttpd
async function siteCopy() {
  const root = h.tempDir('digit-site-');
  fs.cpSync(path.join(h.ROOT, 'dist'), root, { recursive: true });
  return { root, server: await h.startServer({ root }) };
}

async function controlled(page) {
  await page.evaluate(() => navigator.serviceWorker.ready);
  if (!(await page.evaluate(() => !!navigator.serviceWorker.controller))) {
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
  }
  assert.ok(await page.evaluate(() => !!navigator.serviceWorker.controller), 'the service worker controls the page');
}

test('Chromium reports no installability errors, and the manifest is the one served', async () => {
  const { server } = await siteCopy();
  const { page, context, errors } = await openInstalled(server.url);
  await controlled(page);
  const cdp = await context.newCDPSession(page);
  const inst = await cdp.send('Page.getInstallabilityErrors');
  console.log('Page.getInstallabilityErrors:', JSON.stringify(inst));
  assert.deepStrictEqual(inst.installabilityErrors, [], JSON.stringify(inst.installabilityErrors));
  const man = await cdp.send('Page.getAppManifest');
  assert.deepStrictEqual(man.errors, [], JSON.stringify(man.errors));
  assert.match(man.url, /manifest\.webmanifest$/);
  const m = JSON.parse(man.data);
  assert.strictEqual(m.display, 'standalone');
  for (const size of [192, 512]) {
    const icon = m.icons.find((i) => i.sizes === `${size}x${size}`);
    assert.ok(icon, `an icon of ${size} px`);
    const png = await page.evaluate(async (src) => {
      const r = await fetch(src);
      const img = await createImageBitmap(await r.blob());
      return { type: r.headers.get('content-type'), w: img.width, h: img.height };
    }, icon.src);
    assert.deepStrictEqual(png, { type: 'image/png', w: size, h: size });
  }
  const type = await page.evaluate(async () => (await fetch('manifest.webmanifest')).headers.get('content-type'));
  assert.strictEqual(type, 'application/manifest+json');
  assert.deepStrictEqual(errors, []);
  await context.close();
  await server.stop();
});

test('after a new version is served, a reload runs it, and offline it is the new version that runs', async () => {
  const { root, server } = await siteCopy();
  const { page, context, errors } = await openInstalled(server.url);
  await controlled(page);
  assert.strictEqual(await page.evaluate(() => document.body.dataset.siteVersion), undefined);
  // the next version: its script, its page and its service worker all change
  fs.appendFileSync(path.join(root, 'app.js'), "\ndocument.body.dataset.siteVersion = 'next';\n");
  const index = path.join(root, 'index.html');
  fs.writeFileSync(index, fs.readFileSync(index, 'utf8').replace('<h1>Digit reader</h1>', '<h1>Digit reader next</h1>'));
  const sw = path.join(root, 'sw.js');
  fs.writeFileSync(sw, fs.readFileSync(sw, 'utf8').replace(/const CACHE = '([^']+)'/, "const CACHE = '$1-next'"));
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert.strictEqual(await page.evaluate(() => document.body.dataset.siteVersion), 'next', 'the new app.js runs');
  assert.strictEqual(await page.textContent('h1'), 'Digit reader next', 'the new index.html');
  // offline, the cache holds the new version (and the page still reads)
  await page.waitForTimeout(500); // the responses are put in the cache after they are served
  await context.setOffline(true);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
  assert.strictEqual(await page.evaluate(() => document.body.dataset.siteVersion), 'next', 'offline: the new app.js');
  await h.drawStrokes(page, digitStrokes(3, 150, 40, 180, 280));
  assert.strictEqual((await h.settle(page)).text, '3');
  assert.deepStrictEqual(errors.filter((e) => !/ERR_INTERNET_DISCONNECTED|Failed to fetch/.test(e)), []);
  await context.close();
  await server.stop();
});
