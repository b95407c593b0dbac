// run.js - `make bench`: every speed and size figure in BENCHMARKS.md, with
// the peers measured on this machine in this run. Prints a table and writes
// build/bench/results.json.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const h = require('../e2e/helpers');
const { firstReading, median } = require('./first-reading');

const ROOT = h.ROOT;
const OUT = path.join(ROOT, 'build', 'bench');
const BENCH = path.join(OUT, 'bench');
const PY = '/usr/bin/python3';
const results = { date: new Date().toISOString(), machine: {}, rows: [] };

function sh(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: Object.assign({}, process.env, env || {}), maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}
function row(what, ours, peer, unit, peerName, better) {
  const ratio = better === 'higher' ? ours / peer : peer / ours;
  results.rows.push({ what, ours, peer, unit, peerName, ratio: Number(ratio.toFixed(2)) });
  console.log(`${what.padEnd(46)} ${String(ours).padStart(9)} ${unit.padEnd(7)} ${peerName.padEnd(22)} ${String(peer).padStart(9)}   ${ratio.toFixed(2)}x`);
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/);
  results.machine = { cpu: cpu ? cpu[1] : '?', cores: require('node:os').cpus().length };
  const arch = fs.readFileSync(path.join(ROOT, 'weights', 'model.bin')).subarray(16, 16 + fs.readFileSync(path.join(ROOT, 'weights', 'model.bin')).readUInt32LE(12)).toString();
  console.log(`machine: ${results.machine.cpu}, ${results.machine.cores} cores; model ${arch}\n`);
  console.log(`${'benchmark'.padEnd(46)} ${'ours'.padStart(9)} ${'unit'.padEnd(7)} ${'peer'.padEnd(22)} ${'peer'.padStart(9)}   ours vs peer`);

  // ---- training throughput: the same architecture and batch, synthetic data, 2 threads each
  for (const batch of (process.env.BENCH_SKIP_TRAIN ? [] : [64])) {
    const ours = sh(BENCH, ['train', arch, String(batch), '150'])[0];
    const torch = sh(PY, [path.join('tests', 'bench', 'torch_model.py'), 'train', arch, String(batch), '150'])[0];
    row(`training, batch ${batch} (images/s)`, ours.images_per_s, torch.images_per_s, 'img/s', `PyTorch ${torch.torch} CPU`, 'higher');
  }
  // ---- native inference latency, one image, one thread
  const inf = sh(BENCH, ['infer', path.join(ROOT, 'weights', 'model.bin'), '3000'], { OMP_NUM_THREADS: '1' })[0];
  const tinf = sh(PY, [path.join('tests', 'bench', 'torch_model.py'), 'infer', path.join(ROOT, 'weights', 'model.bin'), '3000'])[0];
  results.native_infer_ms = inf.ms;
  row('native inference, 1 image, 1 thread (ms)', Number(inf.ms.toFixed(3)), Number(tinf.ms.toFixed(3)), 'ms', `PyTorch ${tinf.torch} CPU`, 'lower');
  // ---- the GEMM kernel against OpenBLAS on the conv layers' shapes
  for (const g of (process.env.BENCH_SKIP_TRAIN ? [] : sh(BENCH, ['gemm']))) row(`sgemm ${g.shape} ${g.M}x${g.N}x${g.K} (GFLOP/s)`, g.ours_gflops, g.openblas_gflops, 'GFLOP/s', 'OpenBLAS sgemm', 'higher');

  // ---- in the browser: our wasm against ONNX Runtime Web, same weights, same Chromium
  const site = path.join(OUT, 'site');
  fs.rmSync(site, { recursive: true, force: true });
  fs.mkdirSync(site, { recursive: true });
  // the page's glue is inside dist/app.js; the bench page takes the same minified glue on its own
  fs.copyFileSync(path.join(ROOT, 'build', 'web', 'digits.min.js'), path.join(site, 'digits.js'));
  for (const f of ['digits.wasm', 'model.bin']) fs.copyFileSync(path.join(ROOT, 'dist', f), path.join(site, f));
  fs.copyFileSync(path.join(ROOT, 'tests', 'bench', 'bench.html'), path.join(site, 'index.html'));
  const ortDir = path.join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');
  for (const f of ['ort.wasm.min.js', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm']) fs.copyFileSync(path.join(ortDir, f), path.join(site, f));
  sh(PY, [path.join('tests', 'bench', 'torch_model.py'), 'export', path.join(ROOT, 'weights', 'model.bin'), path.join(site, 'model.onnx')]);
  const ortVersion = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'onnxruntime-web', 'package.json'))).version;

  const server = await h.startServer({ root: site });
  const browser = await h.launch();
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(server.url);
    await page.evaluate(() => Promise.all([window.ready.ours, window.ready.ort]));
    const mnist = h.mnistTest();
    const digit = Array.from(mnist.image(0), (v) => v / 255);
    const r = await page.evaluate(async (x) => {
      // performance.now() is coarsened to 0.1 ms in Chromium, so time blocks of
      // R calls and report the per-call mean of each block
      const BLOCKS = 25, R = 20;
      const px = Module._malloc(784 * 4);
      Module.HEAPF32.set(x, px >> 2);
      // a 480x360 canvas with the digit drawn large, for the whole pipeline
      const w = 480, hh = 360, g = Module._malloc(w * hh);
      for (let y = 0; y < hh; y++) for (let i = 0; i < w; i++) {
        const u = Math.floor((i - 100) / 10), v = Math.floor((y - 40) / 10);
        Module.HEAPU8[g + y * w + i] = u >= 0 && u < 28 && v >= 0 && v < 28 ? 255 - Math.round(255 * x[v * 28 + u]) : 255;
      }
      const time = (f) => { const t = []; for (let b = 0; b < BLOCKS; b++) { const t0 = performance.now(); for (let i = 0; i < R; i++) f(); t.push((performance.now() - t0) / R); } return t; };
      const timeAsync = async (f) => { const t = []; for (let b = 0; b < BLOCKS; b++) { const t0 = performance.now(); for (let i = 0; i < R; i++) await f(); t.push((performance.now() - t0) / R); } return t; };
      time(() => Module._app_forward(px)); // warm up
      const forward = time(() => Module._app_forward(px));
      time(() => Module._app_classify_gray(g, w, hh));
      const full = time(() => Module._app_classify_gray(g, w, hh));
      const ours = Array.from(Module.HEAPF32.subarray(Module._app_forward(px) >> 2, (Module._app_forward(px) >> 2) + 10));
      const tensor = new ort.Tensor('float32', Float32Array.from(x), [1, 1, 28, 28]);
      for (let i = 0; i < 50; i++) await session.run({ x: tensor });
      const ortT = await timeAsync(() => session.run({ x: tensor }));
      const theirs = Array.from((await session.run({ x: tensor })).probs.data);
      return { forward, full, ortT, ours, theirs };
    }, digit);
    const maxDiff = Math.max(...r.ours.map((p, i) => Math.abs(p - r.theirs[i])));
    results.browser = { forward_ms: median(r.forward), full_ms: median(r.full), ort_ms: median(r.ortT), max_prob_diff_vs_ort: maxDiff };
    row('browser: forward pass, 1 image (ms, median of blocks)', Number(median(r.forward).toFixed(3)), Number(median(r.ortT).toFixed(3)), 'ms', `ONNX Runtime Web ${ortVersion}`, 'lower');
    row('browser: canvas to probabilities (ms, median of blocks)', Number(median(r.full).toFixed(3)), Number(median(r.ortT).toFixed(3)), 'ms', `ORT Web (forward only)`, 'lower');
    console.log(`  (same weights: probabilities differ from ONNX Runtime's by at most ${maxDiff.toExponential(1)})`);
  } finally {
    await browser.close();
    await server.stop();
  }

  // ---- reading the wide canvas while a number is written: the page reads on every pointer move,
  // and each reading should fit in a frame (16 ms). Numbers of 7-8 pen digits, touching, drawn
  // stroke by stroke with the mouse; every reading's time as the page measures it (src/reader.c,
  // preprocessing and forward passes, with its cache of pieces).
  {
    const dir = path.join(OUT, 'numbers');
    fs.rmSync(dir, { recursive: true, force: true });
    spawnSync(path.join(ROOT, 'build', 'mnist'), ['pen', '--pen-writers', 'dev', '--export', dir, '--count', '40', '--multi', '--touching'], { cwd: ROOT });
    const long = fs.readdirSync(dir).filter((f) => /-\d{7,8}\.tra$/.test(f)).slice(0, 3);
    const wsrv = await h.startServer();
    const wbr = await h.launch();
    try {
      const page = await (await wbr.newContext()).newPage();
      await page.goto(wsrv.url);
      await page.waitForSelector('body[data-ready="true"]');
      await page.click('#multi');
      await page.evaluate(() => {
        window.readMs = [];
        const update = window.digitApp.update;
        window.digitApp.update = (json) => { window.readMs.push(JSON.parse(json).ms); update(json); };
      });
      for (const f of long) {
        const strokes = [];
        let cur = null;
        for (const l of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
          if (l.startsWith('.PEN_DOWN')) cur = [];
          else if (l.startsWith('.PEN_UP')) { strokes.push(cur); cur = null; }
          else if (cur && l.trim()) cur.push(l.trim().split(/\s+/).map(Number));
        }
        await page.keyboard.press('Escape');
        await h.drawStrokes(page, strokes);
      }
      const ms = (await page.evaluate(() => window.readMs)).filter((x) => x > 0).sort((a, b) => a - b);
      const p95 = ms[Math.floor(0.95 * (ms.length - 1))];
      results.wide = { readings: ms.length, median_ms: median(ms), p95_ms: p95, max_ms: ms[ms.length - 1], numbers: long };
      row('browser: wide canvas, one reading while writing (ms, p95)', Number(p95.toFixed(2)), 16, 'ms', 'one frame at 60 Hz', 'lower');
      console.log(`  (${ms.length} readings while writing ${long.map((f) => f.slice(5, -4)).join(', ')}: median ${median(ms).toFixed(2)} ms, max ${ms[ms.length - 1].toFixed(2)} ms)`);
    } finally {
      await wbr.close();
      await wsrv.stop();
    }
  }

  // ---- teach mode: fine-tuning in a Web Worker in Chromium, against our native build and PyTorch
  const STEPS = 200;
  const replay = ['replay-images-idx3-ubyte', 'replay-labels-idx1-ubyte'].map((f) => path.join(ROOT, 'dist', f));
  const ftNative = sh(BENCH, ['finetune', path.join(ROOT, 'weights', 'model.bin'), ...replay, String(STEPS)], { OMP_NUM_THREADS: '1' })[0];
  const ftTorch = sh(PY, [path.join('tests', 'bench', 'torch_model.py'), 'train', arch, String(ftNative.batch), String(STEPS)])[0];
  const ftTorchS = (STEPS * ftNative.batch) / ftTorch.images_per_s;
  const tsrv = await h.startServer();
  const tbr = await h.launch();
  try {
    const page = await (await tbr.newContext()).newPage();
    await page.goto(tsrv.url);
    await page.waitForSelector('body[data-ready="true"]');
    const runs = [];
    for (let i = 0; i < 3; i++) {
      // the page's own worker, given the first 50 replay images as someone's drawings
      runs.push(await page.evaluate(async (steps) => {
        const get = (f) => fetch(f).then((r) => r.arrayBuffer());
        const [model, img, lbl] = await Promise.all(['model.bin', 'replay-images-idx3-ubyte', 'replay-labels-idx1-ubyte'].map(get));
        const px = new Uint8Array(img, 16), lb = new Uint8Array(lbl, 8);
        const w = new Worker('teach-worker.js');
        const done = new Promise((resolve, reject) => {
          w.onmessage = (e) => { if (e.data.type === 'done') resolve(e.data.ms); if (e.data.type === 'error') reject(new Error(e.data.message)); };
        });
        w.postMessage({ cmd: 'teach', model, steps, seed: 1, train: { pixels: px.slice(0, 50 * 784), labels: lb.slice(0, 50) },
          held: { pixels: px.slice(50 * 784, 60 * 784), labels: lb.slice(50, 60) } });
        const ms = await done;
        w.terminate();
        return ms;
      }, STEPS));
    }
    results.teach = { steps: STEPS, batch: ftNative.batch, chromium_s: median(runs) / 1000, native_1thread_s: ftNative.s, torch_s: ftTorchS };
    row(`teach: ${STEPS} fine-tuning steps of ${ftNative.batch}, Chromium worker (s)`, Number((median(runs) / 1000).toFixed(2)),
      Number(ftNative.s.toFixed(2)), 's', 'ours native, 1 thread', 'lower');
    row(`teach: ${STEPS} fine-tuning steps of ${ftNative.batch}, Chromium worker (s)`, Number((median(runs) / 1000).toFixed(2)),
      Number(ftTorchS.toFixed(2)), 's', `PyTorch ${ftTorch.torch} CPU`, 'lower');
  } finally {
    await tbr.close();
    await tsrv.stop();
  }

  // ---- watch it learn: the small CNN from scratch in the page, as a learner runs it (Start, then watch the
  // validation curve), until 97% on the 1,000 validation digits; then our native build for as many steps
  {
    const lsrv = await h.startServer();
    const lbr = await h.launch();
    try {
      const page = await (await lbr.newContext()).newPage();
      await page.goto(lsrv.url);
      await page.waitForSelector('body[data-ready="true"]');
      await page.click('#learn summary');
      await page.waitForSelector('#learn[data-state="idle"]', { timeout: 30000 });
      const runs = [];
      for (let i = 0; i < 3; i++) {
        await page.click('#learn-start');
        await page.waitForFunction(() => document.querySelector('#learn').dataset.ms97, null, { timeout: 120000 });
        runs.push(await page.$eval('#learn', (e) => ({ ms: Number(e.dataset.ms97), wall: Number(e.dataset.wall97), step: Number(e.dataset.step97) })));
        await page.click('#learn-reset');
      }
      runs.sort((a, b) => a.ms - b.ms);
      const mid = runs[1];
      const nat = spawnSync(path.join(ROOT, 'build', 'mnist'), ['learn', '--preset', 'small-cnn', '--target', '1', '--steps', String(mid.step),
        '--threads', '1'], { cwd: ROOT, encoding: 'utf8' }).stdout.match(/([\d.]+) s of it training/);
      // the peer: TensorFlow.js in the same browser, the same network and sample (tests/bench/tfjs-learn.html),
      // up to TFJS_STEPS steps: its CPU backend takes about a second a step here
      const tsite = h.tempDir('digit-tfjs-');
      fs.copyFileSync(path.join(ROOT, 'tests', 'bench', 'tfjs-learn.html'), path.join(tsite, 'index.html'));
      fs.copyFileSync(path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs', 'dist', 'tf.min.js'), path.join(tsite, 'tf.min.js'));
      for (const f of fs.readdirSync(path.join(ROOT, 'dist')).filter((x) => x.startsWith('learn-'))) fs.copyFileSync(path.join(ROOT, 'dist', f), path.join(tsite, f));
      const TFJS_STEPS = 400;
      const tsrv2 = await h.startServer({ root: tsite });
      let tfjs = null;
      try {
        const tp = await (await lbr.newContext()).newPage();
        await tp.goto(tsrv2.url);
        tfjs = await tp.evaluate(([s, t]) => window.learn(s, t), [TFJS_STEPS, 0.97]);
      } finally {
        await tsrv2.stop();
      }
      results.learn = { runs, native_1thread_s: nat ? Number(nat[1]) : null, tfjs };
      row('watch it learn: small CNN to 97%, Chromium (s of training)', Number((mid.ms / 1000).toFixed(2)), 60, 's', 'the 60 s target', 'lower');
      if (nat) row(`watch it learn: the same ${mid.step} steps (s of training)`, Number((mid.ms / 1000).toFixed(2)), Number(nat[1]), 's', 'ours native, 1 thread', 'lower');
      if (tfjs.val >= 0.97) row('watch it learn: small CNN to 97%, Chromium (s of training)', Number((mid.ms / 1000).toFixed(2)), Number((tfjs.ms / 1000).toFixed(1)), 's', `TF.js ${tfjs.version} (CPU backend)`, 'lower');
      console.log(`  (TF.js: ${(100 * tfjs.val).toFixed(1)}% at step ${tfjs.step} after ${(tfjs.ms / 1000).toFixed(1)} s of training, ` +
        `${(tfjs.ms / tfjs.step).toFixed(0)} ms a step; ours ${(mid.ms / mid.step).toFixed(1)} ms a step)`);
      console.log(`  (three runs, random seeds: 97% at steps ${runs.map((r) => r.step).join(', ')}, after ${runs.map((r) => (r.ms / 1000).toFixed(1)).join(', ')} s ` +
        `of training; ${runs.map((r) => (r.wall / 1000).toFixed(1)).join(', ')} s from pressing Start, fetching the sample included)`);
    } finally {
      await lbr.close();
      await lsrv.stop();
    }
  }

  // ---- the site: size and time to first prediction. What a first visit loads is what the page asks for in
  // a cold load (below) and what its service worker caches on installing (FILES in sw.js); the rest of
  // dist/ (teach mode, watch it learn, log.js where logging is off, the large icon, the training panel's
  // report/) loads only when used
  const files = fs.readdirSync(path.join(ROOT, 'dist')).filter((f) => fs.statSync(path.join(ROOT, 'dist', f)).isFile());
  const sizes = {};
  for (const f of files) {
    const b = fs.readFileSync(path.join(ROOT, 'dist', f));
    sizes[f] = { bytes: b.length, gzip: zlib.gzipSync(b, { level: 9 }).length };
  }
  const precached = JSON.parse(fs.readFileSync(path.join(ROOT, 'dist', 'sw.js'), 'utf8').match(/const FILES = (\[[^\]]*\])/)[1].replace(/'/g, '"'));
  const firstVisit = new Set(precached.filter((f) => f in sizes).concat(['index.html', 'sw.js']));
  // time to the first possible prediction, against the browser's own floor (first-reading.js); what the
  // page fetches once it reads (the icon, the manifest) counts in the first visit
  const timed = await firstReading([path.join(ROOT, 'dist')], 15, async (page, when) => {
    if (when === 'before') page.on('request', (r) => { const f = new URL(r.url()).pathname.slice(1); if (f in sizes) firstVisit.add(f); });
    else await page.waitForTimeout(500);
  });
  results.site = { first_prediction_ms: timed.sites[0].ms, static_load_ms: timed.static.ms,
    first_prediction_ratio: Number((timed.sites[0].ms / timed.static.ms).toFixed(2)) };
  const first = [...firstVisit].sort((a, b) => sizes[b].gzip - sizes[a].gzip);
  const later = files.filter((f) => !firstVisit.has(f));
  const sum = (list, k) => list.reduce((t, f) => t + sizes[f][k], 0);
  results.site = Object.assign(results.site, { files: sizes, first_visit: first, bytes: sum(first, 'bytes'), gzip: sum(first, 'gzip'),
    later_gzip: sum(later, 'gzip') });
  console.log(`\nsite: a first visit loads ${first.length} files, ${(sum(first, 'bytes') / 1024).toFixed(0)} KB, ` +
    `${(sum(first, 'gzip') / 1024).toFixed(1)} KB gzipped (target <= 200 KB); ${later.length} more load when used ` +
    `(teach mode, watch it learn, logging, installing), ${(sum(later, 'gzip') / 1024).toFixed(1)} KB gzipped`);
  for (const f of first)
    console.log(`  ${f.padEnd(26)} ${(sizes[f].gzip / 1024).toFixed(1).padStart(6)} KB gzipped`);
  console.log(`first prediction possible ${results.site.first_prediction_ms} ms after navigation; the same HTML and CSS ` +
    `without scripts load in ${results.site.static_load_ms.toFixed(0)} ms: ${results.site.first_prediction_ratio}x ` +
    '(medians of 15 cold loads each; target <= 2x)');
  console.log(`native inference: ${inf.ms.toFixed(3)} ms per image (batch 1, 1 thread, ${inf.kernel} kernel)`);
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 2));
  console.log(`\nwrote ${path.relative(ROOT, path.join(OUT, 'results.json'))}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
