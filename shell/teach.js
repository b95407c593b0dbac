// teach.js - teach mode: the page asks for each digit a few times, fine-tunes
// the network on those drawings in a Web Worker (teach-worker.js, the C of
// src/finetune.c), reports how it reads drawings kept back from the
// fine-tuning before and after, and keeps the personal model (models.js, in
// IndexedDB). Loaded by models.js when "Teach it my writing" is first pressed.
'use strict';
(function () {
  const PER_DIGIT = 5;   // drawings of each digit to learn from
  const HELD = 1;        // and kept back to check the result
  const STEPS = 200;     // fine-tuning steps of 16 images, half of them the person's drawings (src/finetune.c)
  const $ = (sel) => document.querySelector(sel);
  const body = document.body;
  const panel = $('#teach-panel');
  const teachBtn = $('#teach');
  const chips = $('#teach-digits');
  const models = window.digitModels;
  const hint = $('#hint');

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

  // models.js calls this when "Teach it my writing" is pressed
  function toggle() {
    if (body.dataset.teach && body.dataset.teach !== 'off') return cancel();
    if ($('#multi').getAttribute('aria-pressed') === 'true') $('#multi').click(); // one digit at a time
    say('');
    announce('');
    setStep('choose');
    $(FOCUS.choose).focus();
  }

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
    worker.postMessage({ cmd: 'teach', model: models.current().slice(0), train: pack(learn), held: pack(held), steps: STEPS,
      seed: Math.floor(Math.random() * 2147483647) });
  }

  function finished(m, learn, held) {
    const right = (pred) => held.filter((d, i) => pred[i] === d.digit).length;
    const before = right(m.before), after = right(m.after);
    const misses = (pred) => held.map((d, i) => (pred[i] === d.digit ? null : d.digit + ' read as ' + pred[i])).filter(Boolean);
    result = { bytes: m.model, saved: new Date().toISOString(), drawings: learn.length, held: held.length, before, after,
      steps: m.steps, ms: Math.round(m.ms) };
    const err = models.load(m.model);
    if (err) { setStep('choose'); return say('The new model did not load: ' + err); }
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
    const rec = result;
    result = null;
    setStep('off');
    body.dataset.saved = 'pending';
    models.keep(rec).then(() => { body.dataset.saved = 'true'; },
      (e) => { body.dataset.saved = 'false'; say('Kept for this visit only: this browser would not store it (' + e.message + ').'); panel.hidden = false; });
  });

  $('#teach-discard').addEventListener('click', () => {
    result = null;
    const err = models.restore();
    if (err) say(err);
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
  window.digitTeach = { toggle };
})();
