// teach-worker.js - fine-tunes the model in a Web Worker, so the page stays
// smooth. The work is C (src/finetune.c through emscripten/trainer.c, built as
// trainer.wasm); this file moves bytes in and out and reports progress.
//
// in:  { cmd: 'teach', model: ArrayBuffer, train: { pixels: Uint8Array (n·784), labels: Uint8Array (n) },
//        held: { pixels, labels }, steps, seed }
// out: { type: 'progress', step, steps, loss, ms }  every few steps
//      { type: 'done', model: ArrayBuffer, before: Uint8Array, after: Uint8Array, ms, steps, loss }
//      { type: 'error', message }
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
  const p = Module._teach_serialize();
  if (!p) fail('saving');
  const file = Module.HEAPU8.slice(p, p + Module._teach_serialized_len()).buffer;
  self.postMessage({ type: 'done', model: file, before, after, ms, steps: m.steps, loss }, [file]);
}

self.onmessage = (e) => {
  if (!e.data || e.data.cmd !== 'teach') return;
  teach(e.data).catch((err) => self.postMessage({ type: 'error', message: err.message }));
};
