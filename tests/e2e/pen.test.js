// pen.test.js - real people's pen strokes through the served page: digits of the
// development writers drawn stroke by stroke with the mouse (pen-up between
// strokes), read as `make eval` reads them; digits of several strokes apart
// on the one-digit canvas; a number of touching, slanted digits on the wide
// canvas, and undo stroke by stroke.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const h = require('./helpers');
const { digitStrokes } = require('./digits');

const MNIST = path.join(h.ROOT, 'build', 'mnist');
const SHOTS = h.SHOTS;
let server, browser;
h.servedSite(test, (site) => ({ server, browser } = site));

// a stroke file (src/pen.h) as a list of strokes of [x, y]
function readStrokes(file) {
  const strokes = [];
  let cur = null;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('.PEN_DOWN')) cur = [];
    else if (line.startsWith('.PEN_UP')) { strokes.push(cur); cur = null; }
    else if (cur && line.trim()) cur.push(line.trim().split(/\s+/).map(Number));
  }
  return strokes;
}

// what the page drew and read: its strokes as a stroke file, its ink's CRC, the reading
async function pageState(page) {
  const r = await h.settle(page);
  const s = await page.evaluate(() => ({
    text: Module.UTF8ToString(Module._app_strokes_text()),
    crc: (Module._app_ink_crc() >>> 0).toString(16).padStart(8, '0'),
  }));
  return Object.assign(r, s);
}

// `mnist classify --strokes` on files: file -> { number, crc }
function nativeRead(files, multi) {
  const out = execFileSync(MNIST, ['classify', '--strokes'].concat(multi ? ['--multi'] : [], files), { encoding: 'utf8' });
  const res = {};
  let cur = null;
  for (const line of out.split('\n')) {
    let m = line.match(/^(\S+): (?:number )?(\d+)/);
    if (m && !line.startsWith(' ')) { cur = m[1]; res[cur] = { number: m[2] }; continue; }
    m = line.match(/^\S+: blank/);
    if (m) { cur = line.split(':')[0]; res[cur] = { number: '' }; continue; }
    m = line.match(/ink crc32 ([0-9a-f]{8})/);
    if (m && cur) res[cur].crc = m[1];
  }
  return res;
}

test('development writers\' pen digits, drawn stroke by stroke, read as make eval reads them', async () => {
  const dir = h.tempDir('digit-pen-');
  // every dev digit where `make eval` would draw it; this test draws every 60th
  execFileSync(MNIST, ['pen', '--pen-writers', 'dev', '--export', dir, '--count', '2500']);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.tra')).sort().filter((f, i) => i % 60 === 0);
  assert.ok(files.length >= 40, `${files.length} digits to draw`);
  const { page, context } = await h.openPage(browser, server.url);
  const drawn = [];
  let right = 0;
  const misses = [];
  for (const f of files) {
    const label = f.match(/-(\d)\.tra$/)[1];
    await h.drawStrokes(page, readStrokes(path.join(dir, f)));
    const s = await pageState(page);
    const out = path.join(dir, 'page-' + f);
    fs.writeFileSync(out, s.text);
    drawn.push({ file: out, page: s.number, crc: s.crc, strokes: s.text.split('.PEN_DOWN').length - 1 });
    if (s.number === label) right++;
    else misses.push(`${f} read '${s.number}'`);
    await page.click('#clear');
  }
  // the same strokes, in the native build: the same ink to the byte and the same reading
  const native = nativeRead(drawn.map((d) => d.file), false);
  for (const d of drawn) {
    assert.ok(native[d.file], `native read ${d.file}`);
    assert.strictEqual(native[d.file].crc, d.crc, `${d.file}: ink differs between the page and native`);
    assert.strictEqual(native[d.file].number, d.page, `${d.file}: page read '${d.page}', native '${native[d.file].number}'`);
  }
  console.log(`  dev writers' digits through the page: ${right}/${files.length} right; misses: ${misses.join(', ') || 'none'}`);
  assert.ok(drawn.some((d) => d.strokes > 1), 'some digits have several strokes');
  assert.ok(right >= 0.95 * files.length, `${right}/${files.length} right: ${misses.join(', ')}`);
  await context.close();
});

// strokes through key points, one point every 4 canvas pixels
function line(...keys) {
  const out = [];
  for (let i = 0; i + 1 < keys.length; i++) {
    const [x0, y0] = keys[i], [x1, y1] = keys[i + 1];
    const n = 1 + Math.floor(Math.hypot(x1 - x0, y1 - y0) / 4);
    for (let k = 0; k < n; k++) out.push([x0 + ((x1 - x0) * k) / n, y0 + ((y1 - y0) * k) / n]);
  }
  out.push(keys[keys.length - 1]);
  return out;
}

test('one digit is one digit: a two-stroke 4, a 5 with its bar drawn last, a 7 with a crossbar, strokes apart', async () => {
  const { page, context } = await h.openPage(browser, server.url);
  const cases = [
    ['4', [line([205, 50], [175, 200], [230, 200]), line([270, 110], [265, 320])]],
    ['5', [line([195, 85], [188, 175], [230, 160], [270, 185], [280, 235], [255, 285], [215, 300], [180, 285]), line([210, 50], [295, 48])]],
    ['7', [line([160, 60], [300, 60], [215, 310]), line([170, 185], [220, 185])]],
  ];
  for (const [want, strokes] of cases) {
    await h.drawStrokes(page, strokes);
    const r = await h.settle(page);
    await page.screenshot({ path: path.join(SHOTS, `one-digit-${want}.png`) });
    assert.strictEqual(r.text, want, `a ${want} in ${strokes.length} strokes apart read as '${r.text}'`);
    assert.strictEqual(r.digits.length, 1);
    await page.click('#clear');
  }
  await context.close();
});

// digit d slanted: each point (x, y) of the box (x0, y0, w, hh) moved right by slant × its height above the baseline
function slanted(d, x0, y0, w, hh, slant) {
  return digitStrokes(d, x0, y0, w, hh).map((s) => s.map(([x, y]) => [x + slant * (y0 + hh - y), y]));
}

test('a number of touching, slanted digits, written stroke by stroke on the wide canvas, and undo', async () => {
  const { page, context } = await h.openPage(browser, server.url, { viewport: { width: 1100, height: 860 } });
  await page.click('#multi');
  await page.waitForFunction(() => document.querySelector('#canvas').width === 960);
  // 4 7 1 3, each 110 wide and 220 tall, slanted by 0.3: each box starts 100 after the last, so the
  // slanted digits share columns (a 220-tall digit leans 66 pixels)
  const number = '4713';
  const strokes = [];
  for (const [k, ch] of [...number].entries()) strokes.push(...slanted(+ch, 110 + k * 160, 70, 110, 220, 0.3));
  for (const s of strokes) await h.drawStrokes(page, [s], { fast: true });
  let r = await h.settle(page);
  await page.screenshot({ path: path.join(SHOTS, 'number-slanted.png') });
  // the README's picture of the page: made here, by the test run, and committed
  await page.screenshot({ path: path.join(h.ROOT, 'docs', 'page.png') });
  assert.strictEqual(r.number, number, `${number} slanted and touching read as '${r.number}'`);
  // boxes follow the stroke groups: one per digit, left to right
  assert.strictEqual(r.digits.length, 4);
  for (let k = 1; k < 4; k++) assert.ok(r.digits[k].box[0] + r.digits[k].box[2] > r.digits[k - 1].box[0] + r.digits[k - 1].box[2]);
  // undo removes the last stroke (the 3) and the reading follows; then the 1, then the 7
  for (const want of ['471', '47', '4']) {
    const before = r.inferences;
    await page.click('#undo');
    r = await h.settle(page);
    assert.ok(r.inferences > before, 'undo reads again');
    assert.strictEqual(r.number, want, `after undo: '${r.number}', want '${want}'`);
  }
  // the 4 has two strokes: one undo leaves its first, still ink; the next empties the canvas
  await page.click('#undo');
  r = await h.settle(page);
  assert.notStrictEqual(r.state, 'empty');
  await page.click('#undo');
  r = await h.settle(page);
  assert.strictEqual(r.state, 'empty');
  await context.close();
});

test('thousands of strokes: the page reads the first ones, says so, and is not sure', async () => {
  const { page, context } = await h.openPage(browser, server.url);
  await page.click('#multi');
  await page.waitForFunction(() => document.querySelector('#canvas').width === 960);
  const ticks = [];
  for (let s = 0; s < 200; s++) {
    const x = 30 + (s % 30) * 30, y = 30 + Math.floor(s / 30) * 45;
    ticks.push([[x, y], [x + 8, y + 14]]);
  }
  await h.drawStrokes(page, ticks, { fast: true });
  const r = await h.settle(page);
  const json = await page.evaluate(() => window.digitApp.last());
  assert.strictEqual(json.strokes, 200);
  assert.strictEqual(json.truncated, true);
  assert.strictEqual(r.state, 'unsure');
  assert.match(await page.textContent('#status'), /only the first ones are read/);
  await context.close();
});
