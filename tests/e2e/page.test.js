// page.test.js - the page in headless Chromium, served by lighttpd, driven by
// real mouse and touch strokes through playwright-core.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./helpers');
const { digitStrokes, rng } = require('./digits');

const SHOTS = h.SHOTS;
let server, browser;
h.servedSite(test, (site) => ({ server, browser } = site));

async function fresh(options) {
  const o = await h.openPage(browser, server.url, options);
  o.clear = async () => { await o.page.click('#clear'); return h.settle(o.page); };
  return o;
}

test('a blank canvas shows no digit but an invitation to draw', async () => {
  const { page, context } = await fresh();
  const r = await h.settle(page);
  assert.strictEqual(r.text, '');
  assert.strictEqual(r.state, 'empty');
  assert.match(await page.textContent('#hint'), /Draw a digit/);
  assert.match(await page.textContent('#status'), /Draw a digit/);
  await context.close();
});

test('reads hand-drawn digits 0-9 at different sizes and places', async () => {
  const { page, context, clear } = await fresh();
  const places = [[150, 40, 180, 280], [30, 20, 90, 120], [330, 200, 110, 140]]; // centre, small top-left, bottom-right
  const wrong = [];
  for (const [x, y, w, hh] of places) {
    for (let d = 0; d <= 9; d++) {
      await h.drawStrokes(page, digitStrokes(d, x, y, w, hh));
      const r = await h.settle(page);
      if (r.text !== String(d)) wrong.push(`${d} at ${x},${y} (${w}x${hh}) read as '${r.text}'`);
      const sum = r.probs.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 0.002, `probabilities sum to ${sum}`);
      await clear();
    }
  }
  assert.deepStrictEqual(wrong, []);
  await context.close();
});

test('a 7 drawn small, off-centre and thick is still a 7', async () => {
  const { page, context } = await fresh();
  // three parallel passes make a thick 7 about 60 pixels tall in the top-right corner
  const strokes = [];
  for (const dx of [0, 5, 10]) strokes.push(...digitStrokes(7, 390 + dx, 12, 45, 60));
  await h.drawStrokes(page, strokes);
  const r = await h.settle(page);
  assert.strictEqual(r.text, '7');
  await page.screenshot({ path: path.join(SHOTS, 'seven-small-thick.png') });
  await context.close();
});

test('reads MNIST test digits traced as strokes', async () => {
  const { page, context, clear } = await fresh();
  const mnist = h.mnistTest();
  let right = 0;
  const n = 40, misses = [];
  for (let k = 0; k < n; k++) {
    const i = k * 97; // spread over the test set
    const strokes = h.strokesOf(mnist.image(i));
    const scale = 6 + (k % 5) * 1.5; // 6..12 canvas pixels per MNIST pixel
    const ox = 20 + (k * 53) % Math.max(1, 480 - 28 * scale - 40), oy = 10 + (k * 31) % Math.max(1, 360 - 28 * scale - 20);
    await h.drawStrokes(page, h.place(strokes, ox, oy, scale));
    const r = await h.settle(page);
    if (r.text === String(mnist.label(i))) right++;
    else misses.push(`#${i} (${mnist.label(i)}) read '${r.text}'`);
    await clear();
  }
  console.log(`  traced MNIST digits: ${right}/${n} read right; misses: ${misses.join(', ') || 'none'}`);
  assert.ok(right >= 0.9 * n, `${right}/${n} right, want >= 90%: ${misses.join(', ')}`);
  await context.close();
});

test('undo and clear, with the buttons and the keyboard', async () => {
  const { page, context } = await fresh();
  const one = digitStrokes(1, 220, 40, 100, 280);
  const bar = [[[150, 40], [300, 40]]];
  await h.drawStrokes(page, one);
  let r = await h.settle(page);
  assert.strictEqual(r.text, '1');
  await h.drawStrokes(page, [[[170, 45], [230, 44], [290, 45]]].concat([]));
  r = await h.settle(page);
  assert.notStrictEqual(r.text, '', 'two strokes read as something');
  const before = r.inferences;
  await page.click('#undo');
  r = await h.settle(page);
  assert.strictEqual(r.text, '1', 'undo removes the last stroke');
  assert.ok(r.inferences > before, 'undo triggers a new reading');
  await page.click('#undo');
  r = await h.settle(page);
  assert.strictEqual(r.state, 'empty', 'undoing the only stroke empties the canvas');
  // keyboard: Ctrl+Z and Backspace undo, Escape clears (the canvas has focus after drawing)
  await h.drawStrokes(page, one);
  await h.drawStrokes(page, bar);
  await page.keyboard.press('Control+z');
  r = await h.settle(page);
  assert.strictEqual(r.text, '1', 'Ctrl+Z undoes');
  await h.drawStrokes(page, bar);
  await page.keyboard.press('Backspace');
  r = await h.settle(page);
  assert.strictEqual(r.text, '1', 'Backspace undoes');
  await page.keyboard.press('Escape');
  r = await h.settle(page);
  assert.strictEqual(r.state, 'empty', 'Escape clears');
  await h.drawStrokes(page, one);
  await page.click('#clear');
  r = await h.settle(page);
  assert.strictEqual(r.text, '');
  assert.strictEqual(r.state, 'empty');
  assert.ok(r.probs.every((p) => p === 0), 'bars reset');
  await context.close();
});

test('several digits are read as a number', async () => {
  const { page, context } = await fresh();
  await h.drawStrokes(page, digitStrokes(4, 30, 60, 110, 200));
  await h.drawStrokes(page, digitStrokes(2, 180, 60, 110, 200));
  await h.drawStrokes(page, digitStrokes(7, 330, 60, 110, 200));
  const r = await h.settle(page);
  assert.strictEqual(r.text, '427');
  await page.screenshot({ path: path.join(SHOTS, 'number.png') });
  await context.close();
});

test('writing a number on the wide canvas: boxes, labels and #number while drawing', async () => {
  const { page, context } = await fresh();
  await page.click('#multi');
  assert.strictEqual(await page.getAttribute('#multi', 'aria-pressed'), 'true');
  await page.waitForFunction(() => document.querySelector('#canvas').width === 960);
  assert.ok(await page.isVisible('#number-line'), 'the number line is shown when writing a number');
  // 2, 0, 2, 5 written left to right; the number grows as each digit is drawn
  const seen = [];
  for (const [i, d] of [2, 0, 2, 5].entries()) {
    await h.drawStrokes(page, digitStrokes(d, 60 + i * 200, 70, 120, 210));
    seen.push((await h.settle(page)).number);
  }
  assert.deepStrictEqual(seen, ['2', '20', '202', '2025']);
  const r = await h.settle(page);
  assert.strictEqual(r.digits.length, 4);
  for (let k = 1; k < 4; k++) assert.ok(r.digits[k].box[0] > r.digits[k - 1].box[2], 'boxes left to right, apart');
  await page.screenshot({ path: path.join(SHOTS, 'number-wide.png') });
  // a 2 whose base runs into a 3: one blob of ink, still two digits
  await page.keyboard.press('Escape');
  await h.drawStrokes(page, digitStrokes(2, 100, 70, 120, 210));
  await h.drawStrokes(page, digitStrokes(3, 205, 70, 120, 210));
  const t = await h.settle(page);
  await page.screenshot({ path: path.join(SHOTS, 'number-touching.png') });
  assert.strictEqual(t.number, '23', 'a 2 touching a 3 read as ' + t.number);
  // back to one digit: the narrow canvas, cleared
  await page.click('#multi');
  await page.waitForFunction(() => document.querySelector('#canvas').width === 480);
  assert.strictEqual((await h.settle(page)).number, '');
  await context.close();
});

test('numbers written small with the thick brush, close or touching, and a long one', async () => {
  // the brush does not shrink with the digits: half of a small thick 0 looks like a 1, and the reader
  // must still not cut it in two; the long number has 1s right against their neighbours
  const { page, context } = await fresh();
  await page.click('#multi');
  await page.waitForFunction(() => document.querySelector('#canvas').width === 960);
  const cases = [
    ['2025', [300, 375, 450, 525], 55, 90],
    ['90210', [300, 370, 440, 510, 560], 55, 90],
    ['2025', [300, 360, 420, 480], 55, 90],
    ['31415926', [40, 140, 200, 300, 360, 460, 560, 660], 90, 150],
  ];
  for (const [number, xs, w, hgt] of cases) {
    await page.keyboard.press('Escape');
    for (const [k, x] of xs.entries()) {
      const d = +number[k];
      await h.drawStrokes(page, digitStrokes(d, x, 80, w, hgt, { rand: rng(d + x), jitter: 0.03 }), { fast: true });
    }
    const r = await h.settle(page);
    if (r.number !== number) await page.screenshot({ path: path.join(SHOTS, `number-${number}-misread.png`) });
    assert.strictEqual(r.number, number, `${number} written ${w} px wide read as ${r.number}`);
  }
  await context.close();
});

test('no console errors and no request leaves the site, under the page\'s own content security policy', async () => {
  const { page, context, errors, requests } = await fresh();
  // the policy holds where no header can be set (GitHub Pages): a <meta>, enforced - an inline script is refused
  const csp = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
  const inline = await page.evaluate(() => new Promise((resolve) => {
    window.__inlineRan = false;
    document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), { once: true });
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = true';
    document.head.appendChild(s);
    setTimeout(() => resolve(window.__inlineRan ? 'ran' : 'no event'), 1000);
  }));
  assert.match(inline, /^script-src/);
  errors.length = 0; // the refusal above is logged as an error; nothing else may be
  await h.drawStrokes(page, digitStrokes(3, 150, 40, 180, 280));
  await h.settle(page);
  await page.click('#inside summary');
  await page.waitForTimeout(200);
  assert.deepStrictEqual(errors, []);
  const foreign = requests.filter((u) => !u.startsWith(server.url) && !u.startsWith('data:'));
  assert.deepStrictEqual(foreign, []);
  await context.close();
});

test('look inside: feature maps of every conv layer and the architecture', async () => {
  const { page, context } = await fresh();
  await h.drawStrokes(page, digitStrokes(8, 150, 40, 180, 280));
  await h.settle(page);
  await page.click('#inside summary');
  const buttons = page.locator('.layers button');
  const n = await buttons.count();
  assert.ok(n >= 2, `${n} conv layers listed`);
  for (let k = 0; k < n; k++) {
    await buttons.nth(k).click();
    const info = await page.evaluate(() => {
      const c = document.querySelector('#features');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let dark = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 200) dark++;
      return { w: c.width, h: c.height, dark, caption: document.querySelector('#features-caption').textContent };
    });
    assert.ok(info.w > 20 && info.h > 20, `layer ${k}: mosaic ${info.w}x${info.h}`);
    assert.ok(info.dark > 50, `layer ${k}: the maps respond to the drawing (${info.dark} active pixels)`);
    assert.match(info.caption, new RegExp('Convolution ' + (k + 1)));
  }
  const rows = await page.locator('#arch tbody tr').count();
  assert.ok(rows >= 5, `${rows} layers in the table`);
  await page.screenshot({ path: path.join(SHOTS, 'inside.png'), fullPage: true });
  await context.close();
});

// the steps of one digit's row, as numbers: the ink that each canvas shows and the marks drawn on them
function stepsOf(page) {
  return page.evaluate(() => [...document.querySelectorAll('.steps-row')].map((row) => [...row.querySelectorAll('canvas')].map((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const grey = [], marks = [];
    for (let i = 0; i < d.length; i += 4) {
      const p = i / 4;
      if (d[i] !== d[i + 1] || d[i + 1] !== d[i + 2]) marks.push([p % c.width, Math.floor(p / c.width), d[i] > d[i + 2] ? 'red' : 'blue']);
      grey.push(1 - d[i] / 255);
    }
    return { w: c.width, h: c.height, grey, marks, label: c.getAttribute('aria-label') };
  })));
}

test('how your digit is prepared: the ink, the 20x20 box, the centre of mass and the input, for each digit', async () => {
  const { page, context } = await fresh();
  await h.drawStrokes(page, digitStrokes(2, 60, 40, 300, 200)); // wide and off-centre: scaling and shifting show
  await h.settle(page);
  await page.click('#steps summary');
  await page.waitForSelector('.steps-row canvas');
  let rows = await stepsOf(page);
  assert.strictEqual(rows.length, 1, 'one digit, one row');
  const [ink, box, com, input] = rows[0];
  assert.ok(ink.grey.some((v) => v > 0.5) && box.grey.some((v) => v > 0.5), 'the ink and the box show the digit');
  assert.deepStrictEqual([box.w, box.h, input.w, input.h], [20, 20, 28, 28]);
  assert.match(box.label, /Scaled to fit 20×20: 20×\d+ pixels/, 'a wide 2 fills the box across');
  // the last step is exactly what the model read, to the rounding of a canvas pixel
  const model = await page.evaluate(() => {
    const p = Module._app_input();
    return Array.from(Module.HEAPF32.subarray(p >> 2, (p >> 2) + 784));
  });
  const off = input.grey.filter((v, i) => !input.marks.some(([x, y]) => y * 28 + x === i) && Math.abs(v - model[i]) > 1 / 255 + 1e-6);
  assert.strictEqual(off.length, 0, `${off.length} input pixels differ from the model's input`);
  // the centre of mass before the shift (red) is off the centre (blue); after it, the input's own mass is central
  assert.ok(com.marks.some((m) => m[2] === 'red') && com.marks.some((m) => m[2] === 'blue'), 'both marks drawn');
  let sx = 0, sy = 0, sum = 0;
  model.forEach((v, i) => { sx += v * (i % 28 + 0.5); sy += v * (Math.floor(i / 28) + 0.5); sum += v; });
  assert.ok(Math.abs(sx / sum - 14) <= 0.5 && Math.abs(sy / sum - 14) <= 0.5, `centre of mass ${sx / sum}, ${sy / sum}`);
  // a number: a row per digit, updated as it is written
  await page.click('#multi');
  await h.drawStrokes(page, [...digitStrokes(4, 60, 60, 140, 220), ...digitStrokes(7, 260, 60, 140, 220)]);
  const r = await h.settle(page);
  rows = await stepsOf(page);
  assert.strictEqual(rows.length, r.text.length, `${rows.length} rows for '${r.text}'`);
  assert.ok(rows.length === 2 && rows.every((row) => row.length === 4), 'two digits, four steps each');
  await page.locator('#steps').screenshot({ path: path.join(SHOTS, 'steps.png') });
  await context.close();
});

test('how it was trained: the panel loads when opened and shows the model card\'s own figures', async () => {
  const { page, context, requests } = await fresh();
  assert.ok(!requests.some((u) => u.includes('/report/')), 'nothing of the report is fetched before the panel opens');
  await page.click('#training summary');
  await page.waitForSelector('#training-body table');
  const text = (await page.innerText('#training-body')).replace(/\s+/g, ' ');
  const card = fs.readFileSync(path.join(h.ROOT, 'weights', 'MODEL.md'), 'utf8');
  const grab = (re) => { const m = card.match(re); assert.ok(m, `the card has ${re}`); return m; };
  const mnist = grab(/Test accuracy \(MNIST, 10,000 images\) \| \*\*([\d.]+)%\*\* \((\d+) wrong\)/);
  assert.ok(text.includes(`${mnist[1]}% (${mnist[2]} wrong of 10,000)`), `MNIST ${mnist[1]}% in: ${text.slice(0, 300)}`);
  const pen = grab(/Pen digits read right \| \*\*([\d.]+)%\*\* \((\d+) digits, (\d+) writers\)/);
  assert.ok(text.includes(`${pen[1]}% (${Number(pen[2]).toLocaleString('en')} digits, ${pen[3]} writers)`), `pen ${pen[1]}%`);
  const sure = grab(/Read wrong with confidence \(the page showed it as sure\) \| ([\d.]+)%/);
  assert.ok(text.includes(`shown as sure ${sure[1]}%`), `wrong and sure ${sure[1]}%`);
  const numbers = grab(/read exactly \(1000 each\) \| apart ([\d.]+)%, touching or overlapping ([\d.]+)%/);
  assert.ok(text.includes(`apart ${numbers[1]}%, touching ${numbers[2]}%`), 'MNIST numbers');
  // every row of the card's per-class table, as the page shows it
  const rows = [...card.matchAll(/^\| (\d) \| ([\d.]+)% \| ([\d.]+)% \| (\d+) \|$/gm)];
  assert.strictEqual(rows.length, 10);
  const cells = await page.$$eval('#training-body table:nth-of-type(2) tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  assert.deepStrictEqual(cells, rows.map((m) => [m[1], m[2] + '%', m[3] + '%', Number(m[4]).toLocaleString('en')]));
  // the report's pictures arrive
  await page.waitForFunction(() => [...document.querySelectorAll('#training-body img')].every((i) => i.complete && i.naturalWidth > 0));
  assert.strictEqual(await page.locator('#training-body img').count(), 4);
  await page.locator('#training').screenshot({ path: path.join(SHOTS, 'training.png') });
  await context.close();
});

// touch strokes through the DevTools protocol, as a phone sends them
async function touchStroke(page, cdp, pts) {
  const map = await h.canvasMapper(page);
  const at = (p) => { const [x, y] = map(p[0], p[1]); return [{ x, y, id: 1 }]; };
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: at(pts[0]) });
  for (const p of pts.slice(1)) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: at(p) });
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
}

test('phone: drawing with a finger reads the digit and never scrolls or zooms', async () => {
  const { page, context } = await fresh({ viewport: { width: 390, height: 700 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const cdp = await context.newCDPSession(page);
  const before = await page.evaluate(() => ({ y: window.scrollY, scale: window.visualViewport.scale }));
  await touchStroke(page, cdp, [[240, 180]]); // a tap leaves a dot, which no digit is (it read as a sure 0)
  const tap = await h.settle(page);
  assert.strictEqual(tap.text, '');
  assert.strictEqual(tap.state, 'empty');
  assert.match(await page.textContent('#status'), /A dot is not a digit/);
  await page.click('#clear');
  for (const s of digitStrokes(5, 140, 40, 200, 280)) await touchStroke(page, cdp, s);
  const r = await h.settle(page);
  const after = await page.evaluate(() => ({ y: window.scrollY, scale: window.visualViewport.scale }));
  assert.strictEqual(r.text, '5');
  assert.deepStrictEqual(after, before, 'the page moved while drawing');
  await page.screenshot({ path: path.join(SHOTS, 'phone.png'), fullPage: true });
  await context.close();
});

test('the layout works from 320 px wide', async () => {
  for (const width of [320, 768, 1280]) {
    const { page, context } = await fresh({ viewport: { width, height: 800 } });
    await h.drawStrokes(page, digitStrokes(2, 150, 40, 180, 280));
    await h.settle(page);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${width}px: the page scrolls sideways by ${overflow}px`);
    const box = await page.locator('#canvas').boundingBox();
    assert.ok(box.width >= Math.min(width - 40, 480) - 2, `${width}px: canvas only ${box.width}px wide`);
    await page.screenshot({ path: path.join(SHOTS, `width-${width}.png`), fullPage: true });
    if (width === 320) { // the longest number the reader gives, twelve 7s on the wide canvas, fits too
      await page.click('#multi');
      await page.evaluate(() => window.scrollTo(0, 0));
      const sevens = Array.from({ length: 12 }, (_, i) => [[25 + i * 78, 100], [75 + i * 78, 100], [40 + i * 78, 280]]);
      await h.drawStrokes(page, sevens);
      const r = await h.settle(page);
      assert.strictEqual(r.number, '777777777777');
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(wide <= 0, `${width}px: a 12-digit number makes the page scroll sideways by ${wide}px`);
      await page.screenshot({ path: path.join(SHOTS, `width-${width}-number.png`), fullPage: true });
    }
    await context.close();
  }
});

test('works offline once loaded', async () => {
  const { page, context } = await fresh();
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  await context.setOffline(true);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 10000 });
  await h.drawStrokes(page, digitStrokes(6, 150, 40, 180, 280));
  const r = await h.settle(page);
  assert.strictEqual(r.text, '6');
  await context.close();
});

test('a corrupt or missing model.bin, or a missing digits.wasm, is said on the page, and nothing is read', async () => {
  const good = fs.readFileSync(path.join(h.ROOT, 'dist', 'model.bin'));
  const flipped = Buffer.from(good);
  flipped[flipped.length >> 1] ^= 0x40; // a weight byte: the CRC no longer matches
  const cases = [
    ['model.bin', (route) => route.fulfill({ status: 200, contentType: 'application/octet-stream', body: flipped }), /model\.bin.*(CRC|checksum)/i],
    ['model.bin', (route) => route.fulfill({ status: 404, body: 'gone' }), /Could not load the model: model\.bin: HTTP 404/],
    ['digits.wasm', (route) => route.fulfill({ status: 404, body: 'gone' }), /Could not start the reader: digits\.wasm: HTTP 404/],
  ];
  for (const [file, answer, says] of cases) {
    const context = await browser.newContext();
    await context.route('**/' + file, answer);
    const page = await context.newPage();
    await page.goto(server.url);
    await page.waitForSelector('#hint.error', { timeout: 20000 });
    assert.match(await page.textContent('#hint'), says, file);
    assert.match(await page.textContent('#status'), says, file);
    assert.notStrictEqual(await page.getAttribute('body', 'data-ready'), 'true', file + ': not ready to read');
    await context.close();
  }
});
