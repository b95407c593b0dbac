// teach.js - teach mode: the page asks for each digit a few times, fine-tunes
// the network on those drawings in a Web Worker (teach-worker.js, the C of
// src/finetune.c), reports how it reads drawings kept back from the
// fine-tuning before and after, and keeps the personal model in IndexedDB.
// The model never leaves the device unless "Download my model" is pressed.
'use strict';
(function () {
  const PER_DIGIT = 5;   // drawings of each digit to learn from
  const HELD = 1;        // and kept back to check the result
  const STEPS = 200;     // fine-tuning steps of 16 images, half of them the person's drawings (src/finetune.c)
  const DB = 'digit-reader', STORE = 'models', KEY = 'personal';
  const $ = (sel) => document.querySelector(sel);
  const body = document.body;
  const panel = $('#teach-panel');
  const teachBtn = $('#teach');
  const chips = $('#teach-digits');
  const modelName = $('#model-name');
  const hint = $('#hint');

  // ---- IndexedDB: one record, the personal model ----------------------------------------
  function open() {
    return new Promise((resolve, reject) => {
      const r = indexedDB.open(DB, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(STORE);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }
  function op(mode, fn) {
    return open().then((db) => new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => { db.close(); resolve(req.result); };
      tx.onerror = tx.onabort = () => { db.close(); reject(tx.error || new Error('IndexedDB transaction failed')); };
    }));
  }
  // whether the database was ever made here: opening one that is not there creates it, which takes a first
  // visit 100-300 ms that the first reading would wait for
  const exists = () => (indexedDB.databases ? indexedDB.databases().then((l) => l.some((d) => d.name === DB), () => true)
    : Promise.resolve(true));
  // resolves to the stored record or null (also when IndexedDB is unavailable)
  const stored = () => ('indexedDB' in self ? exists().then((yes) => (yes ? op('readonly', (s) => s.get(KEY)) : null))
    : Promise.resolve(null))
    .then((r) => (r && r.bytes instanceof ArrayBuffer ? r : null), (e) => { console.log('no stored model: ' + e.message); return null; });
  const save = (rec) => op('readwrite', (s) => s.put(rec, KEY));
  const forget = () => op('readwrite', (s) => s.delete(KEY));

  // ---- the model in use -------------------------------------------------------------------
  let shipped = null;  // ArrayBuffer of model.bin
  let personal = null; // the stored record in use, or null
  let useModel = null; // main.js: loads bytes into the reader, returns an error message or null
  let trial = null;    // a model learned in the page ("watch it learn") reading for now: its description

  function showModel() {
    body.dataset.model = trial ? 'learned' : personal ? 'personal' : 'shipped';
    if (trial) {
      modelName.textContent = 'Model: ' + trial + ' (not kept)';
    } else if (personal) {
      const when = new Date(personal.saved).toLocaleDateString();
      modelName.textContent = 'Model: yours, taught ' + when + ' on ' + personal.drawings + ' drawings';
    } else {
      modelName.textContent = 'Model: the shipped one, trained on MNIST and real pen digits';
    }
    $('#model-reset').hidden = !personal && !trial;
    $('#model-reset').textContent = trial && personal ? 'Back to my model' : 'Back to the shipped model';
    $('#model-export').hidden = !personal || !!trial;
  }

  // learn.js: read with a model learned in the page until "Back to ..." (it is not stored)
  function use(bytes, what) {
    const err = useModel(bytes);
    if (err) return err;
    trial = what;
    showModel();
    return null;
  }

  // main.js calls this once the wasm module and the weights are ready
  function ready(opts) {
    shipped = opts.shipped;
    personal = opts.personal;
    useModel = opts.useModel;
    showModel();
    teachBtn.disabled = false;
  }

  $('#model-reset').addEventListener('click', () => {
    if (trial) { // back to the model in use before, which stays stored
      const bad = useModel(personal ? personal.bytes : shipped);
      if (bad) return say(bad);
      trial = null;
      return showModel();
    }
    const err = useModel(shipped);
    if (err) return say(err);
    personal = null;
    showModel();
    forget().catch((e) => console.warn('could not delete the stored model: ' + e.message));
  });

  $('#model-export').addEventListener('click', () => {
    if (!personal) return;
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([personal.bytes], { type: 'application/octet-stream' }));
    a.download = 'digit-model-personal.bin';
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  });

  // ---- teaching -----------------------------------------------------------------------------
  let plan = [];      // { digit, held } in the order asked
  let drawings = [];  // { digit, held, pixels: Uint8Array(784) }
  let worker = null;
  let result = null;  // the fine-tuned model waiting for keep / discard (personal is still the one before it)

  // where focus goes when a step opens and the control that had it is hidden with the step before
  const FOCUS = { off: '#teach', choose: '#teach-intro', collect: '#canvas', training: '[data-step="training"] .teach-cancel',
    done: '#teach-keep' };

  function setStep(step) {
    const lost = document.activeElement === body || panel.contains(document.activeElement);
    body.dataset.teach = step;
    panel.hidden = step === 'off';
    teachBtn.setAttribute('aria-pressed', String(step !== 'off'));
    $('#multi').disabled = step !== 'off';
    if (lost) $(FOCUS[step]).focus();
  }

  // #teach-message is an alert; #teach-say tells screen readers what the steps show (written when it changes)
  function say(msg) { $('#teach-message').textContent = msg; }
  function announce(msg) { if ($('#teach-say').textContent !== msg) $('#teach-say').textContent = msg; }

  for (let d = 0; d <= 9; d++) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = String(d);
    b.dataset.choice = String(d);
    b.setAttribute('aria-pressed', 'true');
    b.addEventListener('click', () => b.setAttribute('aria-pressed', String(b.getAttribute('aria-pressed') !== 'true')));
    chips.appendChild(b);
  }

  teachBtn.addEventListener('click', () => {
    if (body.dataset.teach && body.dataset.teach !== 'off') return cancel();
    if ($('#multi').getAttribute('aria-pressed') === 'true') $('#multi').click(); // one digit at a time
    say('');
    announce('');
    setStep('choose');
    $(FOCUS.choose).focus();
  });

  function shuffle(a) {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }

  $('#teach-start').addEventListener('click', () => {
    const digits = Array.from(chips.querySelectorAll('button'))
      .filter((b) => b.getAttribute('aria-pressed') === 'true').map((b) => Number(b.dataset.choice));
    if (!digits.length) return say('Pick at least one digit.');
    plan = [];
    for (const d of digits) {
      const held = Math.floor(Math.random() * (PER_DIGIT + HELD)); // which of its drawings is kept back
      for (let k = 0; k < PER_DIGIT + HELD; k++) plan.push({ digit: d, held: k === held });
    }
    shuffle(plan);
    drawings = [];
    Module._app_clear();
    say('');
    setStep('collect');
    prompt();
  });

  function prompt() {
    const next = plan[drawings.length];
    $('#teach-digit').textContent = String(next.digit);
    body.dataset.teachDigit = String(next.digit);
    $('#teach-count').textContent = 'Drawing ' + (drawings.length + 1) + ' of ' + plan.length;
    $('#teach-collected').max = plan.length;
    $('#teach-collected').value = drawings.length;
    hint.textContent = 'Draw a ' + next.digit + ' here';
    announce('Draw a ' + next.digit + ', then press Next or Enter. Drawing ' + (drawings.length + 1) + ' of ' + plan.length + '.');
    $('#canvas').focus();
  }

  function next() {
    if (body.dataset.teach !== 'collect') return;
    const p = Module._app_teach_input();
    if (!p) return say('Draw the ' + plan[drawings.length].digit + ' first, then press Next.');
    const f = Module.HEAPF32.subarray(p >> 2, (p >> 2) + 784);
    const pixels = Uint8Array.from(f, (v) => Math.round(255 * Math.min(1, Math.max(0, v))));
    drawings.push(Object.assign({ pixels: pixels }, plan[drawings.length]));
    Module._app_clear();
    say('');
    if (drawings.length < plan.length) return prompt();
    train();
  }
  $('#teach-next').addEventListener('click', next);
  // Enter anywhere but on a control (which Enter presses) is Next
  addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || body.dataset.teach !== 'collect' || e.target.closest('button, summary, a, input, select, textarea')) return;
    e.preventDefault();
    next();
  });

  function pack(list) {
    const pixels = new Uint8Array(784 * list.length), labels = new Uint8Array(list.length);
    list.forEach((d, i) => { pixels.set(d.pixels, 784 * i); labels[i] = d.digit; });
    return { pixels, labels };
  }

  function train() {
    setStep('training');
    hint.textContent = 'Draw a digit here';
    const learn = drawings.filter((d) => !d.held), held = drawings.filter((d) => d.held);
    const progress = $('#teach-progress');
    progress.max = STEPS;
    progress.value = 0;
    $('#teach-train-status').textContent = 'Learning from your ' + learn.length + ' drawings…';
    announce($('#teach-train-status').textContent);
    worker = new Worker('teach-worker.js');
    worker.onmessage = (e) => {
      const m = e.data;
      if (m.type === 'progress') {
        progress.value = m.step;
        $('#teach-train-status').textContent = 'Step ' + m.step + ' of ' + m.steps + ', loss ' + m.loss.toFixed(3) +
          ' (' + (m.ms / 1000).toFixed(1) + ' s)';
      } else if (m.type === 'done') {
        worker.terminate();
        worker = null;
        finished(m, learn, held);
      } else if (m.type === 'error') {
        worker.terminate();
        worker = null;
        setStep('choose');
        say('Teaching failed: ' + m.message);
      }
    };
    worker.onerror = (e) => {
      if (worker) worker.terminate();
      worker = null;
      setStep('choose');
      say('Teaching failed: ' + (e.message || 'the worker stopped'));
    };
    const current = personal ? personal.bytes : shipped;
    worker.postMessage({ cmd: 'teach', model: current.slice(0), train: pack(learn), held: pack(held), steps: STEPS,
      seed: Math.floor(Math.random() * 2147483647) });
  }

  function finished(m, learn, held) {
    const right = (pred) => held.filter((d, i) => pred[i] === d.digit).length;
    const before = right(m.before), after = right(m.after);
    const misses = (pred) => held.map((d, i) => (pred[i] === d.digit ? null : d.digit + ' read as ' + pred[i])).filter(Boolean);
    result = { bytes: m.model, saved: new Date().toISOString(), drawings: learn.length, held: held.length, before, after,
      steps: m.steps, ms: Math.round(m.ms) };
    const err = useModel(m.model);
    if (err) { setStep('choose'); return say('The new model did not load: ' + err); }
    trial = null; // a model learned in the page no longer reads
    body.dataset.teachBefore = String(before);
    body.dataset.teachAfter = String(after);
    body.dataset.teachHeld = String(held.length);
    body.dataset.teachMs = String(Math.round(m.ms));
    const mb = misses(m.before), ma = misses(m.after);
    $('#teach-result').textContent = 'Your ' + held.length + ' kept-back drawings, read right: ' + before + ' before, ' +
      after + ' after (' + m.steps + ' steps in ' + (m.ms / 1000).toFixed(1) + ' s).' +
      (mb.length ? ' Before: ' + mb.join(', ') + '.' : '') + (ma.length ? ' After: ' + ma.join(', ') + '.' : '') +
      ' The new model is reading now: try it, then keep it or discard it.';
    announce('Done. ' + $('#teach-result').textContent);
    setStep('done');
  }

  $('#teach-keep').addEventListener('click', () => {
    if (!result) return;
    personal = result;
    result = null;
    showModel();
    setStep('off');
    body.dataset.saved = 'pending';
    save(personal).then(() => { body.dataset.saved = 'true'; },
      (e) => { body.dataset.saved = 'false'; say('Kept for this visit only: this browser would not store it (' + e.message + ').'); panel.hidden = false; });
  });

  $('#teach-discard').addEventListener('click', () => {
    result = null;
    const err = useModel(personal ? personal.bytes : shipped);
    if (err) say(err);
    showModel();
    setStep('off');
  });

  function cancel() {
    if (worker) { worker.terminate(); worker = null; }
    if (result) return $('#teach-discard').click();
    hint.textContent = 'Draw a digit here';
    setStep('off');
  }
  panel.querySelectorAll('.teach-cancel').forEach((b) => b.addEventListener('click', cancel));

  setStep('off');
  window.digitTeach = { stored: stored, ready: ready, use: use, shipped: () => shipped };
})();
