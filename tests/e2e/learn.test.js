// learn.test.js - "watch it learn" in headless Chromium: a learner opens the panel, trains the small CNN from
// scratch in the page's Web Worker while drawing on the canvas, pauses, resumes, uses the new network on the
// canvas, downloads it for the native tools, resets, and trains the MLP preset.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('./helpers');
const { digitStrokes } = require('./digits');

const MNIST = path.join(h.ROOT, 'build', 'mnist');
let server, browser;
h.servedSite(test, (site) => ({ server, browser } = site));

const data = (page) => page.$eval('#learn', (e) => Object.assign({}, e.dataset));
const pixels = (page, sel) => page.$eval(sel, (c) => c.toDataURL());
// how many pixels of the curves canvas are mostly red (the loss) and mostly blue (the validation accuracy)
const curveInk = (page) => page.$eval('#learn-curves', (c) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let red = 0, blue = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] > 200 && d[i] > 180 && d[i + 1] < 90) red++;
    if (d[i + 3] > 200 && d[i + 2] > 180 && d[i] < 90) blue++;
  }
  return { red, blue };
});

async function draw(page, digit) {
  await page.evaluate(() => scrollTo(0, 0));
  await page.click('#clear');
  await h.drawStrokes(page, digitStrokes(digit, 150, 40, 180, 280), { fast: true });
  return h.settle(page);
}

async function startPreset(page, name) {
  await page.selectOption('#learn-preset', name);
  await page.click('#learn-start');
  await page.waitForSelector('#learn[data-state="running"]', { timeout: 60000 });
}

test('watch it learn: the small CNN reaches 95% with live curves and filters; pause, use, download, reset', async () => {
  const { page, context, errors, requests } = await h.openPage(browser, server.url, { acceptDownloads: true });
  assert.ok(!requests.some((u) => /learn|teach-worker|trainer/.test(u)), 'nothing of it loads with the page');
  await draw(page, 3);
  await page.click('#learn summary');
  await page.waitForSelector('#learn[data-state="idle"]', { timeout: 30000 });
  const presets = await page.$$eval('#learn-preset option', (o) => o.map((x) => x.value));
  assert.deepStrictEqual(presets, ['mlp', 'small-cnn', 'shipped']);
  assert.strictEqual(await page.inputValue('#learn-preset'), 'small-cnn');

  await startPreset(page, 'small-cnn');
  await page.waitForFunction(() => Number(document.querySelector('#learn').dataset.evals) >= 2, null, { timeout: 60000 });
  const filters1 = await pixels(page, '#learn-filters');
  const early = await data(page);
  // the learner draws while it learns: the network learning reads the canvas
  const r = await draw(page, 7);
  assert.strictEqual(r.text, '7', 'the shipped model still reads the canvas');
  await page.waitForFunction(() => document.querySelector('#learn-reading').dataset.digit !== undefined, null, { timeout: 30000 });
  await page.waitForFunction(() => Number(document.querySelector('#learn').dataset.val) >= 0.95, null, { timeout: 120000 });
  const reached = await data(page);
  console.log(`  small CNN: ${(100 * reached.val).toFixed(1)}% on the 1,000 validation digits at step ${reached.step}` +
    (reached.ms97 ? `, 97% after ${(reached.ms97 / 1000).toFixed(1)} s of training` : ''));
  assert.ok(Number(reached.evals) > Number(early.evals), 'validations went on');
  assert.ok(Number(reached.filterUpdates) > Number(early.filterUpdates), 'the filters were redrawn');
  assert.notStrictEqual(await pixels(page, '#learn-filters'), filters1, 'the filters changed as it learned');
  const ink = await curveInk(page);
  assert.ok(ink.red > 50 && ink.blue > 50, `both curves are drawn (${ink.red} red, ${ink.blue} blue pixels)`);
  assert.match(await page.textContent('#learn-status'), /Step \d+ · [\d,]+ images seen · loss [\d.]+ · validation [\d.]+%/);
  assert.match(await page.textContent('#learn-reading'), /reads your drawing as \d \([\d.]+%\)/);
  await page.evaluate(() => scrollTo(0, document.body.scrollHeight));
  await page.screenshot({ path: path.join(h.SHOTS, 'learn-running.png'), fullPage: true });

  // pause: the steps stop; resume: they go on
  await page.click('#learn-pause');
  assert.strictEqual(await page.getAttribute('#learn-pause', 'aria-pressed'), 'true');
  await page.waitForTimeout(500); // reports already on their way arrive
  const paused = Number((await data(page)).step);
  await page.waitForTimeout(1500);
  assert.strictEqual(Number((await data(page)).step), paused, 'no steps while paused');
  await page.click('#learn-pause');
  await page.waitForFunction((s) => Number(document.querySelector('#learn').dataset.step) > s, paused, { timeout: 30000 });

  // paused, use it on the canvas: the page and the worker read a drawing the same way (same C, same weights);
  // then go back to the shipped model
  await page.click('#learn-pause');
  const shippedVersion = await page.getAttribute('body', 'data-model-version');
  await page.click('#learn-use');
  await page.waitForSelector('body[data-model="learned"]');
  assert.match(await page.textContent('#model-name'), /Small CNN .* learned here, \d+ steps, validation [\d.]+% \(not kept\)/);
  assert.notStrictEqual(await page.getAttribute('body', 'data-model-version'), shippedVersion);
  await page.$eval('#learn-reading', (e) => { delete e.dataset.digit; });
  const learned = await draw(page, 4);
  await page.waitForFunction(() => document.querySelector('#learn-reading').dataset.digit !== undefined, null, { timeout: 30000 });
  assert.strictEqual(learned.text, await page.getAttribute('#learn-reading', 'data-digit'),
    'the page with the learned model and the worker read the drawing alike');
  await page.click('#model-reset');
  await page.waitForSelector('body[data-model="shipped"]');
  assert.strictEqual(await page.getAttribute('body', 'data-model-version'), shippedVersion);

  await page.click('#learn-pause'); // resume
  // download: the project's model format, read by the native tools
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#learn-download')]);
  const file = path.join(h.tempDir('digit-learn-'), 'learned.bin');
  await download.saveAs(file);
  assert.strictEqual(fs.readFileSync(file).subarray(0, 8).toString('latin1'), 'DIGITCNN');
  const info = spawnSync(MNIST, ['info', '--model', file], { encoding: 'utf8' });
  assert.strictEqual(info.status, 0, info.stderr);
  assert.match(info.stdout, /conv8k5,bn,relu,pool2,conv16k5,bn,relu,pool2,fc10/);

  // reset: it stops, the pictures clear, a new run can start
  await page.click('#learn-reset');
  assert.strictEqual((await data(page)).state, 'idle');
  assert.strictEqual((await data(page)).step, '0');
  assert.deepStrictEqual(await curveInk(page), { red: 0, blue: 0 }, 'the curves are cleared');
  await page.waitForTimeout(1000);
  assert.strictEqual((await data(page)).step, '0', 'no steps after a reset');
  assert.ok(!(await page.isDisabled('#learn-start')));

  // the MLP: its first layer's weights are 28×28 images; it reads the canvas too, and "look inside" follows it
  await startPreset(page, 'mlp');
  await page.waitForFunction(() => Number(document.querySelector('#learn').dataset.val) >= 0.9, null, { timeout: 120000 });
  const w = await page.$eval('#learn-filters', (c) => [c.width, c.height]);
  assert.deepStrictEqual(w, [8 * (28 * 2 + 4), 2 * (28 * 2 + 4)], '16 hidden units as 28×28 images');
  await page.click('#learn-use');
  await page.waitForSelector('body[data-model="learned"]');
  await page.click('#inside summary');
  const layers = await page.$$eval('#arch tbody tr', (rows) => rows.map((r) => r.children[1].textContent));
  assert.strictEqual(layers.length, 3, 'the architecture table shows the MLP: ' + layers.join(', '));
  assert.strictEqual((await draw(page, 1)).text.length, 1, 'the MLP reads the canvas');
  await page.click('#model-reset');
  await page.waitForSelector('body[data-model="shipped"]');
  assert.ok((await page.$$eval('#arch tbody tr', (rows) => rows.length)) > 3, 'the table is the shipped CNN again');
  assert.deepStrictEqual(errors, []);
  await context.close();
});

test('watch it learn: a broken sample stops with a message that names it, and a fixed one trains', async () => {
  const { page, context } = await h.openPage(browser, server.url);
  const zlib = require('node:zlib');
  const good = fs.readFileSync(path.join(h.ROOT, 'dist', 'learn-val-images-idx3-ubyte.gz'));
  let broken = true;
  // the validation images cut short: the IDX header promises 1,000 images
  await context.route('**/learn-val-images-idx3-ubyte.gz', (route) => route.fulfill({ status: 200,
    body: broken ? zlib.gzipSync(zlib.gunzipSync(good).subarray(0, 5000)) : good }));
  await page.click('#learn summary');
  await page.waitForSelector('#learn[data-state="idle"]', { timeout: 30000 });
  await page.click('#learn-start');
  await page.waitForSelector('#learn[data-state="error"]', { timeout: 30000 });
  const msg = await page.textContent('#learn-status');
  assert.match(msg, /Training stopped: learning sample: validation sample: .+/);
  console.log('  ' + msg);
  assert.ok(!(await page.isDisabled('#learn-start')), 'Start can be pressed again');
  broken = false;
  await page.click('#learn-start');
  await page.waitForFunction(() => Number(document.querySelector('#learn').dataset.evals) >= 2, null, { timeout: 60000 });
  await context.close();
});
