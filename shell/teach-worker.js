// teach-worker.js - trains in a Web Worker, so the page stays smooth: teach
// mode's fine-tuning (teach.js) and "watch it learn" (learn.js). The work is C
// (src/finetune.c through emscripten/trainer.c, built as trainer.wasm); this
// file moves bytes in and out and reports progress.
//
// teach mode
// in:  { cmd: 'teach', model: ArrayBuffer, train: { pixels: Uint8Array (n·784), labels: Uint8Array (n) },
//        held: { pixels, labels }, steps, seed }
// out: { type: 'progress', step, steps, loss, ms }  every few steps
//      { type: 'done', model: ArrayBuffer, before: Uint8Array, after: Uint8Array, ms, steps, loss }
//      { type: 'error', message }
//
// watch it learn
// in:  { cmd: 'presets' }                                   -> { type: 'presets', presets }
//      { cmd: 'learn', arch, lr, batch, seed }  a new model, trained on the MNIST sample until paused
//      { cmd: 'pause' } / { cmd: 'resume' } / { cmd: 'stop' }
//      { cmd: 'input', x: Float32Array(784) or null }  the canvas's 28×28 input, read as it learns
//      { cmd: 'save' }                                      -> { type: 'model', model: ArrayBuffer, step }
// out: { type: 'loading' } while the sample is fetched
//      { type: 'learning', step, seen, loss, acc, val (after a validation, else null), ms, filters, shape, probs }
//      { type: 'paused', step }, { type: 'error', message }
'use strict';
const ready = new Promise((resolve) => {
  self.Module = { onRuntimeInitialized: resolve, print: (t) => console.log(t), printErr: (t) => console.warn(t) };
});
importScripts('trainer.js');

const CHUNK = 10; // steps between progress reports

function fail(what) {
  throw new Error(what + ': ' + Module.UTF8ToString(Module._teach_error()));
}

// copies bytes into the wasm heap; the caller frees
function copyIn(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const p = Module._malloc(Math.max(1, u8.length));
  if (!p) throw new Error('out of memory');
  Module.HEAPU8.set(u8, p);
  return p;
}

function withCopies(list, fn) {
  const ptrs = list.map(copyIn);
  try {
    return fn(...ptrs);
  } finally {
    ptrs.forEach((p) => Module._free(p));
  }
}

let replay = null;
function loadReplay() {
  const get = (f) => fetch(f).then((r) => {
    if (!r.ok) throw new Error(f + ': HTTP ' + r.status);
    return r.arrayBuffer();
  });
  return Promise.all([get('replay-images-idx3-ubyte'), get('replay-labels-idx1-ubyte')]).then(([img, lbl]) => {
    const n = withCopies([img, lbl], (a, b) => Module._teach_load_replay(a, img.byteLength, b, lbl.byteLength));
    if (n < 0) fail('replay sample');
    return n;
  });
}

function predict(set) {
  const n = set.labels.length;
  const out = Module._malloc(Math.max(1, n));
  try {
    withCopies([set.pixels], (p) => { if (Module._teach_predict(p, n, out) < 0) fail('reading'); });
    return Module.HEAPU8.slice(out, out + n);
  } finally {
    Module._free(out);
  }
}

// the model being trained, as a file in the project's format (an ArrayBuffer to transfer)
function serialized() {
  const p = Module._teach_serialize();
  if (!p) fail('saving');
  return Module.HEAPU8.slice(p, p + Module._teach_serialized_len()).buffer;
}

async function teach(m) {
  await ready;
  if (!replay) replay = loadReplay();
  await replay.catch((e) => { replay = null; throw e; });
  if (withCopies([m.model], (p) => Module._teach_load_model(p, m.model.byteLength)) < 0) fail('model');
  const before = predict(m.held);
  const n = m.train.labels.length;
  if (withCopies([m.train.pixels, m.train.labels], (p, l) => Module._teach_begin(p, l, n, m.steps, m.seed)) < 0) fail('fine-tuning');
  const t0 = performance.now();
  let loss = 0;
  for (let step = 0; step < m.steps;) {
    const k = Math.min(CHUNK, m.steps - step);
    loss = Module._teach_steps(k);
    if (loss < 0) fail('fine-tuning');
    step += k;
    self.postMessage({ type: 'progress', step, steps: m.steps, loss, ms: performance.now() - t0 });
  }
  const ms = performance.now() - t0;
  const after = predict(m.held);
  const file = serialized();
  self.postMessage({ type: 'done', model: file, before, after, ms, steps: m.steps, loss }, [file]);
}

// ---- watch it learn ---------------------------------------------------------------------------

const EVAL_EVERY = 50;   // steps between validations (LEARN_EVAL_EVERY in src/finetune.h)
const SLICE_MS = 60;     // the longest run of steps between two looks at the message queue
const FILTERS = 16;      // first-layer filters sent to the page

// the sample: gzipped IDX files, unpacked here (DecompressionStream) and handed to C, which checks them
let sample = null; // a promise: the sample is in C
function fetchGz(name) {
  return fetch(name + '.gz').then((r) => {
    if (!r.ok) throw new Error(name + '.gz: HTTP ' + r.status);
    return new Response(r.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer();
  }).catch((e) => { throw new Error(name + '.gz: ' + e.message); });
}
function loadSample() {
  const names = ['train-images-idx3', 'train-labels-idx1', 'val-images-idx3', 'val-labels-idx1'];
  return Promise.all(names.map((n) => fetchGz('learn-' + n + '-ubyte'))).then((files) => {
    const n = withCopies(files, (...p) => Module._learn_load_sample(p[0], files[0].byteLength, p[1], files[1].byteLength,
      p[2], files[2].byteLength, p[3], files[3].byteLength));
    if (n < 0) fail('learning sample');
    return n;
  });
}

const L = { on: false, paused: false, step: 0, ms: 0, input: null, timer: 0, batch: 32 };

function firstLayer() {
  const shape = Module._malloc(12);
  try {
    const p = Module._learn_first_layer(shape);
    if (!p) return null;
    const [n, h, w] = Module.HEAP32.slice(shape >> 2, (shape >> 2) + 3);
    const k = Math.min(n, FILTERS);
    return { shape: [k, h, w], filters: Module.HEAPF32.slice(p >> 2, (p >> 2) + k * h * w) };
  } finally {
    Module._free(shape);
  }
}

function validate() {
  const v = Module._learn_validate();
  if (v < 0) fail('validation');
  return v;
}

function probs() {
  if (!L.input) return null;
  return withCopies([new Uint8Array(L.input.buffer, L.input.byteOffset, L.input.byteLength)], (x) => {
    const p = Module._teach_probs(x);
    if (!p) fail('reading');
    return Array.from(Module.HEAPF32.subarray(p >> 2, (p >> 2) + 10));
  });
}

function report(val, loss, acc) {
  const f = firstLayer();
  self.postMessage({ type: 'learning', step: L.step, seen: L.step * L.batch, loss, acc, val, ms: L.ms,
    filters: f && f.filters, shape: f && f.shape, probs: probs() });
}

// steps until the next validation or SLICE_MS, then a report; again after the queue had its turn
function slice() {
  L.timer = 0;
  if (!L.on || L.paused) return;
  const t0 = performance.now();
  let loss = 0, acc = 0, k = 0, val = null;
  try {
    do {
      const l = Module._teach_steps(1);
      if (l < 0) fail('training');
      loss += l;
      acc += Module._teach_accuracy();
      k++, L.step++;
    } while (L.step % EVAL_EVERY && performance.now() - t0 < SLICE_MS);
    L.ms += performance.now() - t0;
    if (L.step % EVAL_EVERY === 0) val = validate();
    report(val, loss / k, acc / k);
  } catch (err) {
    L.on = false;
    return self.postMessage({ type: 'error', message: err.message });
  }
  L.timer = setTimeout(slice, 0);
}

async function learn(m) {
  L.on = false;
  clearTimeout(L.timer);
  await ready;
  self.postMessage({ type: 'loading' });
  if (!sample) sample = loadSample();
  await sample.catch((e) => { sample = null; throw e; });
  const arch = new TextEncoder().encode(m.arch + '\0');
  if (withCopies([arch], (a) => Module._learn_new(a, m.seed)) < 0) fail('architecture');
  if (Module._learn_begin(m.batch, m.lr, m.seed) < 0) fail('training');
  Object.assign(L, { on: true, paused: false, step: 0, ms: 0, batch: m.batch });
  report(validate(), null, null);
  L.timer = setTimeout(slice, 0);
}

function save() {
  const file = serialized();
  self.postMessage({ type: 'model', model: file, step: L.step }, [file]);
}

const commands = {
  teach: (m) => teach(m),
  presets: () => ready.then(() => self.postMessage({ type: 'presets', presets: JSON.parse(Module.UTF8ToString(Module._learn_presets_json())) })),
  learn: (m) => learn(m),
  pause: () => { L.paused = true; self.postMessage({ type: 'paused', step: L.step }); },
  resume: () => { if (L.on && L.paused) { L.paused = false; if (!L.timer) L.timer = setTimeout(slice, 0); } },
  stop: () => { L.on = false; clearTimeout(L.timer); L.timer = 0; },
  input: (m) => {
    L.input = m.x;
    if (L.on && L.paused) self.postMessage({ type: 'reading', probs: probs() });
  },
  save: () => ready.then(save),
};

self.onmessage = (e) => {
  const run = e.data && commands[e.data.cmd];
  if (!run) return;
  Promise.resolve().then(() => run(e.data)).catch((err) => self.postMessage({ type: 'error', message: err.message }));
};
