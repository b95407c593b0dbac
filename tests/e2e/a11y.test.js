// a11y.test.js - the page audited with axe-core (WCAG 2.1 A and AA rules) in
// every state a user sees, at 1280 and 360 px wide; every control reached with
// Tab and worked with Enter or Space alone, with a visible focus ring; and the
// live regions announcing a reading once a stroke ends, not on every pen move.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const h = require('./helpers');
const { digitStrokes, rng } = require('./digits');

const AXE = require.resolve('axe-core/axe.min.js');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const WIDTHS = [1280, 360];
let server, browser;
h.servedSite(test, (site) => ({ server, browser } = site));

// a page with axe-core served from the site's own origin (so the page's CSP, which allows only 'self'
// scripts, stays in force) and the service worker off (so that routes see every request); logging on
// sets the page's log endpoint as `make serve` does, and accepts every post
async function open(width, { logging = false } = {}) {
  const context = await browser.newContext({ viewport: { width, height: 800 }, serviceWorkers: 'block', acceptDownloads: true });
  await context.route('**/__axe.min.js', (r) => r.fulfill({ path: AXE, contentType: 'text/javascript' }));
  if (logging) {
    await context.route(server.url, async (r) => {
      const res = await r.fetch();
      const html = (await res.text()).replace('name="digit-log-endpoint" content=""', 'name="digit-log-endpoint" content="log-endpoint"');
      await r.fulfill({ response: res, body: html });
    });
    await context.route('**/log-endpoint', (r) => r.fulfill({ status: 204 }));
  }
  const { page, errors } = await h.openIn(context, server.url);
  await page.addScriptTag({ url: '/__axe.min.js' });
  return { context, page, errors };
}

// axe-core's WCAG 2.1 A and AA results on the page as it is: { violations, incomplete }, each a list of
// { id, impact, help, targets }; incomplete are the checks axe-core could not decide (printed, not failed)
function audit(page) {
  const list = (results) => results.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  return page.evaluate((tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } })
    .then((r) => ({ violations: r.violations, incomplete: r.incomplete })), TAGS)
    .then((r) => ({ violations: list(r.violations), incomplete: list(r.incomplete) }));
}

const attr = (page, name) => page.getAttribute('body', 'data-' + name);
// strokes drawn with the mouse on the canvas, scrolled into view first (at 360 px the page is long)
async function draw(page, strokes, opts) {
  await page.locator('#canvas').scrollIntoViewIfNeeded();
  await h.drawStrokes(page, strokes, opts);
}
const one = (d) => digitStrokes(d, 150, 40, 180, 280);
const ambiguous = [[[240, 60], [240, 300]], [[120, 180], [360, 180]]]; // a plus: two strokes, no digit

// teach mode for the digit 3 alone: choose, collect (six drawings); the replay sample the worker fetches
// first is held back until hold() resolves, so that the training step stays on screen
async function teachThree(page, context, { each = async () => {}, hold = Promise.resolve() } = {}) {
  await context.route('**/replay-images-idx3-ubyte', async (r) => { await hold; await r.continue().catch(() => {}); });
  const rand = rng(3);
  while ((await attr(page, 'teach')) === 'collect') {
    await draw(page, digitStrokes(3, 120 + 80 * rand(), 30 + 40 * rand(), 170, 260), { fast: true });
    await h.settle(page);
    await each();
  }
}

// the states: each is [name, what leads to it from the one before]
function states(page, context) {
  let release;
  const hold = new Promise((r) => { release = r; });
  return [
    ['blank', async () => {}],
    ['a digit read', async () => {
      await draw(page, one(4));
      assert.strictEqual((await h.settle(page)).text, '4');
    }],
    ['unsure', async () => {
      await page.click('#clear');
      await draw(page, ambiguous);
      assert.strictEqual((await h.settle(page)).state, 'unsure');
      assert.strictEqual(await page.getAttribute('#prediction', 'data-state'), 'unsure');
    }],
    ['look inside and the preparation steps open', async () => {
      await page.click('#clear');
      await draw(page, one(8));
      await h.settle(page);
      await page.click('#inside summary');
      await page.click('.layers button >> nth=1');
      await page.click('#steps summary');
      await page.waitForSelector('.steps-row canvas');
    }],
    ['how it was trained open', async () => {
      await page.click('#training summary');
      await page.waitForSelector('#training-body table');
      await page.waitForFunction(() => [...document.querySelectorAll('#training-body img')].every((i) => i.complete));
    }],
    ['watch it learn, paused', async () => {
      await page.click('#training summary');
      await page.click('#learn summary');
      await page.waitForSelector('#learn[data-state="idle"]', { timeout: 30000 });
      await page.click('#learn-start');
      await page.waitForFunction(() => Number(document.querySelector('#learn').dataset.evals) >= 2, null, { timeout: 60000 });
      await page.click('#learn-pause');
      await page.waitForSelector('#learn[data-state="paused"]');
    }],
    ['a number on the wide canvas', async () => {
      await page.click('#learn summary');
      await page.click('#inside summary');
      await page.click('#multi');
      await page.waitForFunction(() => document.querySelector('#canvas').width === 960);
      for (const [i, d] of [2, 0, 2, 5].entries()) await draw(page, digitStrokes(d, 60 + i * 200, 70, 120, 210));
      assert.strictEqual((await h.settle(page)).number, '2025');
    }],
    ['teach: choose the digits', async () => {
      await page.click('#teach');
      await page.waitForSelector('body[data-teach="choose"]');
      for (let d = 0; d <= 9; d++) if (d !== 3) await page.click(`#teach-digits [data-choice="${d}"]`);
    }],
    ['teach: draw', async () => {
      await page.click('#teach-start');
      await page.waitForSelector('body[data-teach="collect"]');
    }],
    ['teach: draw, Next on a blank canvas', async () => {
      await page.click('#teach-next');
      assert.match(await page.textContent('#teach-message'), /Draw the 3 first/);
    }],
    ['teach: training', async () => {
      await teachThree(page, context, { each: () => page.click('#teach-next'), hold });
      await page.waitForSelector('body[data-teach="training"]');
    }],
    ['teach: done, keep or discard', async () => {
      release();
      await page.waitForSelector('body[data-teach="done"]', { timeout: 120000 });
    }],
    ['teach: kept, a personal model', async () => {
      await page.click('#teach-keep');
      await page.waitForSelector('body[data-saved="true"]');
      assert.ok(await page.isVisible('#model-reset'));
    }],
  ];
}

// for the summary after the tests: rule id -> { impact, count of nodes, where: Set of 'state @ width' }
const found = { violations: new Map(), incomplete: new Map() };
function record(kind, list, where) {
  for (const v of list) {
    const f = found[kind].get(v.id) || { impact: v.impact, count: 0, where: new Set() };
    f.count += v.targets.length;
    f.where.add(where);
    found[kind].set(v.id, f);
  }
}

// audits the page in the state `name`; adds a line per violation to `report`
async function check(page, name, width, report) {
  const r = await audit(page);
  record('violations', r.violations, `${name} @ ${width}`);
  record('incomplete', r.incomplete, `${name} @ ${width}`);
  for (const x of r.violations) report.push(`${name} @ ${width}px: ${x.id} (${x.impact}) ${x.help}\n    ${x.targets.join('\n    ')}`);
}

for (const width of WIDTHS) {
  test(`axe-core finds no WCAG 2.1 A/AA violation in any state at ${width} px`, async () => {
    const report = [];
    const { page, context, errors } = await open(width);
    for (const [name, reach] of states(page, context)) {
      await reach();
      await check(page, name, width, report);
    }
    await context.close();
    // the correction buttons show only when the page logs (make serve)
    const logged = await open(width, { logging: true });
    await draw(logged.page, one(2));
    await h.settle(logged.page);
    assert.ok(await logged.page.isVisible('#correct'), 'the correction buttons show');
    await check(logged.page, 'correction offered', width, report);
    await logged.context.close();
    if (report.length) console.log(report.join('\n'));
    assert.deepStrictEqual(errors.concat(logged.errors), [], 'console errors');
    assert.strictEqual(report.length, 0, `${report.length} violations:\n${report.join('\n')}`);
  });
}

test.after(() => {
  for (const [kind, title] of [['violations', 'violations'], ['incomplete', 'needs review (axe-core could not decide; not a failure)']]) {
    if (!found[kind].size) continue;
    console.log(`axe-core ${title}, by rule:`);
    for (const [id, f] of found[kind]) console.log(`  ${id} (${f.impact}): ${f.count} nodes; ${[...f.where].join('; ')}`);
  }
});

// ---- keyboard ----------------------------------------------------------------------------------

// what shows focus on an element: its outline and box shadow
const ring = (page, sel) => page.$eval(sel, (el) => {
  const s = getComputedStyle(el);
  return { outline: s.outlineStyle === 'none' || parseFloat(s.outlineWidth) === 0 ? 'none' : `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`,
    shadow: s.boxShadow };
});

// presses Tab until `sel` has focus (at most 80 times, once round the page); asserts that it gets there
// and that its focus is visible: an outline or a box shadow it does not have unfocused
async function tabTo(page, sel) {
  await page.waitForSelector(sel, { state: 'visible' });
  const isFocused = () => page.$eval(sel, (el) => el === document.activeElement);
  if (await isFocused()) await page.keyboard.press('Tab');
  const rest = await ring(page, sel);
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    if (await isFocused()) {
      const focused = await ring(page, sel);
      const shows = (focused.outline !== 'none' && focused.outline !== rest.outline) ||
        (focused.shadow !== 'none' && focused.shadow !== rest.shadow);
      assert.ok(shows, `${sel}: no visible focus indicator (${JSON.stringify(rest)} unfocused, ${JSON.stringify(focused)} focused)`);
      return i + 1;
    }
  }
  assert.fail(`${sel} is not reached with Tab`);
}

// Tab to `sel`, press `key` (Enter or Space), wait for `done` (a function run in the page) to hold
async function use(page, sel, key, done, arg) {
  await tabTo(page, sel);
  await page.keyboard.press(key);
  await page.waitForFunction(done, arg, { timeout: 5000 }).catch(() => assert.fail(`${key} on ${sel} did nothing`));
}

// a step that hides the control with focus moves focus on, never to nowhere
async function focusIs(page, sel, why) {
  assert.ok(await page.$eval(sel, (el) => el === document.activeElement), `${why}: focus is on ${await page.evaluate(() =>
    document.activeElement.id || document.activeElement.tagName)}, not ${sel}`);
}

const teachIs = (step) => document.body.dataset.teach === step;
const pressed = ([sel, v]) => document.querySelector(sel).getAttribute('aria-pressed') === v;

// teach mode for the 3 alone, driven by the keyboard but for the drawing; ends at the done step
async function teachByKeyboard(page, context) {
  await use(page, '#teach', 'Enter', teachIs, 'choose');
  await use(page, '#teach-start', 'Space', teachIs, 'collect');
  let n = 0;
  await teachThree(page, context, {
    each: async () => {
      const before = await page.textContent('#teach-count');
      if (n++ % 2) await page.keyboard.press('Enter'); // Enter on the canvas, as the prompt says
      else await use(page, '#teach-next', n % 4 ? 'Space' : 'Enter', (t) => document.body.dataset.teach !== 'collect' ||
        document.querySelector('#teach-count').textContent !== t, before);
    },
  });
  await page.waitForSelector('body[data-teach="done"]', { timeout: 120000 });
}

for (const width of WIDTHS) {
  test(`every control is reached with Tab and works with Enter or Space, focus visible, at ${width} px`, async () => {
    const { page, context, errors } = await open(width);
    await tabTo(page, '#canvas');
    // drawing needs a pointer; the rest is the keyboard
    await draw(page, one(1));
    await draw(page, [[[170, 45], [230, 44], [290, 45]]]);
    const inferences = Number(await attr(page, 'inferences'));
    await use(page, '#undo', 'Enter', (n) => Number(document.body.dataset.inferences) > n &&
      document.querySelector('#prediction').textContent === '1', inferences);
    await use(page, '#clear', 'Space', () => document.querySelector('#prediction').dataset.state === 'empty');
    await draw(page, one(7));
    await page.keyboard.press('Escape'); // the canvas has focus after drawing: Escape clears
    await page.waitForFunction(() => document.querySelector('#prediction').dataset.state === 'empty');
    await use(page, '#multi', 'Space', pressed, ['#multi', 'true']);
    await use(page, '#multi', 'Enter', pressed, ['#multi', 'false']);
    await draw(page, one(8));
    await use(page, '#inside summary', 'Enter', () => document.querySelector('#inside').open);
    await use(page, '.layers button:nth-child(2)', 'Space', pressed, ['.layers button:nth-child(2)', 'true']);
    await use(page, '.layers button:nth-child(1)', 'Enter', pressed, ['.layers button:nth-child(1)', 'true']);
    await tabTo(page, '.table-scroll'); // the architecture table's scrolling region, where it does not fit
    await use(page, '#inside summary', 'Space', () => !document.querySelector('#inside').open);
    await use(page, '#steps summary', 'Enter', () => document.querySelector('#steps').open);
    await use(page, '#steps summary', 'Space', () => !document.querySelector('#steps').open);
    await use(page, '#training summary', 'Enter', () => document.querySelector('#training').open);
    await use(page, '#training summary', 'Space', () => !document.querySelector('#training').open);
    // watch it learn: start, pause, reset by keyboard; focus goes on from a button that is disabled by its press
    const learnIs = (s) => document.querySelector('#learn').dataset.state === s;
    await use(page, '#learn summary', 'Enter', learnIs, 'idle');
    await use(page, '#learn-start', 'Space', (s) => s.includes(document.querySelector('#learn').dataset.state), ['loading', 'running']);
    assert.ok(await page.evaluate(() => document.activeElement.closest('#learn') && !document.activeElement.disabled), 'focus stays in the panel');
    await page.waitForSelector('#learn[data-state="running"]', { timeout: 30000 });
    await use(page, '#learn-pause', 'Enter', learnIs, 'paused');
    await use(page, '#learn-pause', 'Space', learnIs, 'running');
    await use(page, '#learn-reset', 'Enter', learnIs, 'idle');
    await focusIs(page, '#learn-start', 'after a reset');
    await use(page, '#learn summary', 'Space', () => !document.querySelector('#learn').open);

    // teach mode: the digit chips, start, next, cancel at every step, discard, keep
    await use(page, '#teach', 'Enter', teachIs, 'choose');
    await focusIs(page, '#teach-intro', 'teach mode opened');
    for (let d = 0; d <= 9; d++) {
      if (d === 3) continue;
      const sel = `#teach-digits [data-choice="${d}"]`;
      await use(page, sel, d % 2 ? 'Enter' : 'Space', pressed, [sel, 'false']);
    }
    await use(page, '[data-step="choose"] .teach-cancel', 'Enter', teachIs, 'off');
    await focusIs(page, '#teach', 'teach mode cancelled');
    await use(page, '#teach', 'Space', teachIs, 'choose');
    await use(page, '#teach-start', 'Enter', teachIs, 'collect');
    await use(page, '#teach-next', 'Space', () => /Draw the 3 first/.test(document.querySelector('#teach-message').textContent));
    await use(page, '[data-step="collect"] .teach-cancel', 'Enter', teachIs, 'off');
    await use(page, '#teach', 'Enter', teachIs, 'choose');
    await use(page, '#teach-start', 'Space', teachIs, 'collect');
    let release;
    const hold = new Promise((r) => { release = r; });
    await teachThree(page, context, { each: () => use(page, '#teach-next', 'Enter', () => true), hold });
    await page.waitForSelector('body[data-teach="training"]');
    await focusIs(page, '[data-step="training"] .teach-cancel', 'Next pressed for the last drawing');
    await use(page, '[data-step="training"] .teach-cancel', 'Space', teachIs, 'off');
    release();
    await context.unroute('**/replay-images-idx3-ubyte');
    await teachByKeyboard(page, context);
    await use(page, '#teach-discard', 'Space', teachIs, 'off');
    await focusIs(page, '#teach', 'the taught model discarded');
    assert.strictEqual(await attr(page, 'model'), 'shipped');
    await context.unroute('**/replay-images-idx3-ubyte');
    await teachByKeyboard(page, context);
    await use(page, '#teach-keep', 'Enter', () => document.body.dataset.saved === 'true');
    assert.strictEqual(await attr(page, 'model'), 'personal');
    const download = page.waitForEvent('download');
    await use(page, '#model-export', 'Enter', () => true);
    assert.strictEqual((await download).suggestedFilename(), 'digit-model-personal.bin');
    await use(page, '#model-reset', 'Space', () => document.body.dataset.model === 'shipped');
    assert.deepStrictEqual(errors, []);
    await context.close();

    // the correction buttons, when the page logs
    const logged = await open(width, { logging: true });
    await draw(logged.page, one(2));
    await h.settle(logged.page);
    await use(logged.page, '#correct button[data-label="5"]', 'Enter',
      () => /saved as a 5/.test(document.querySelector('#thanks').textContent));
    assert.deepStrictEqual(logged.errors, []);
    await logged.context.close();
  });
}

// ---- live regions ------------------------------------------------------------------------------

test('live regions announce a reading once per stroke, not on every pen move', async () => {
  const { page, context } = await open(1280);
  // every live region: aria-live (not off), or a role that is live by default (<output> is a status)
  await page.evaluate(() => {
    const live = Array.from(document.querySelectorAll('[aria-live], [role="status"], [role="alert"], [role="log"], output'))
      .filter((el) => el.getAttribute('aria-live') !== 'off');
    window.__live = live.map((el) => ({ el: el.id || el.className || el.tagName, writes: 0, texts: [] }));
    live.forEach((el, i) => new MutationObserver(() => {
      window.__live[i].writes++;
      window.__live[i].texts.push(el.textContent.trim());
    }).observe(el, { childList: true, characterData: true, subtree: true }));
    window.__moves = 0;
    document.querySelector('#canvas').addEventListener('pointermove', () => window.__moves++);
  });
  // a 5 in two strokes, its bar last, then a 7 with a crossbar over it: four strokes, each point of them
  // four pointer moves, so hundreds of moves and readings
  const dense = (s) => s.flatMap((p, i) => (i ? [1, 2, 3, 4].map((k) => p.map((v, j) => s[i - 1][j] + ((v - s[i - 1][j]) * k) / 4)) : [p]));
  const five = [...digitStrokes(5, 150, 40, 180, 280).slice(1), digitStrokes(5, 150, 40, 180, 280)[0]];
  const strokes = [...five, ...one(7), [[180, 170], [250, 168], [300, 170]]].map(dense);
  await draw(page, strokes);
  await h.settle(page);
  await page.waitForTimeout(300);
  const { live, moves, inferences } = await page.evaluate(() =>
    ({ live: window.__live, moves: window.__moves, inferences: Number(document.body.dataset.inferences) }));
  console.log(`  ${strokes.length} strokes, ${moves} pointer moves, ${inferences} readings; live regions: ` +
    live.map((l) => `${l.el} ${l.writes} writes${l.writes ? ' (' + l.texts.join(' | ') + ')' : ''}`).join(', '));
  assert.ok(moves > 50 * strokes.length, 'many moves per stroke');
  const status = live.find((l) => l.el === 'status');
  assert.ok(status && status.writes >= 1, 'the reading is in a live region, and is announced');
  for (const l of live) {
    assert.ok(l.writes <= strokes.length, `${l.el} written ${l.writes} times for ${strokes.length} strokes: ${l.texts.join(' | ')}`);
  }
  // once the pen is up, the status says the last reading: its digit and confidence
  const { digit, confidence } = await page.evaluate(() => window.digitApp.last().digits[0]);
  const said = await page.textContent('#status');
  assert.match(said, new RegExp(`^(Not sure\\. Maybe )?${digit}(, | \\()${(100 * confidence).toFixed(1)}%`), said);
  await context.close();
});
