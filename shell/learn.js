// learn.js - "watch it learn": a new network trained from scratch in a Web Worker (teach-worker.js: the C of
// src/finetune.c and src/train.c, as `mnist learn` runs it natively), with its loss and validation curves, its
// first layer's filters, and its reading of the canvas while it learns. Loaded when the panel is first opened.
'use strict';
(function () {
  const $ = (sel) => document.querySelector(sel);
  const panel = $('#learn');
  const status = $('#learn-status');
  const reading = $('#learn-reading');
  const curves = $('#learn-curves');
  const filters = $('#learn-filters');
  const buttons = { start: $('#learn-start'), pause: $('#learn-pause'), reset: $('#learn-reset'), use: $('#learn-use'),
    download: $('#learn-download') };
  const fields = [$('#learn-preset'), $('#learn-lr'), $('#learn-batch')];

  let presets = [];
  let run = null;       // { preset, lr, batch, t0, points: [{ step, loss, val }] }
  let pending = null;   // what to do with the next saved model: 'use' or 'download'
  const worker = new Worker('teach-worker.js');

  function setState(state) {
    panel.dataset.state = state;
    const live = state === 'running' || state === 'paused';
    buttons.start.disabled = state !== 'idle' && state !== 'error';
    buttons.pause.disabled = !live;
    buttons.pause.textContent = state === 'paused' ? 'Resume' : 'Pause';
    buttons.pause.setAttribute('aria-pressed', String(state === 'paused'));
    buttons.reset.disabled = state === 'idle';
    buttons.use.disabled = buttons.download.disabled = !live || !run.points.length;
    fields.forEach((f) => { f.disabled = state !== 'idle' && state !== 'error'; });
    // a keyboard user whose button was just disabled (Start, Reset) goes on from the next one that works
    if (document.activeElement && document.activeElement.disabled && panel.contains(document.activeElement)) {
      const next = [buttons.pause, buttons.reset, buttons.start].find((b) => !b.disabled);
      if (next) next.focus();
    }
  }

  // the shipped CNN's architecture is the one in model.bin: its string follows the magic, version and length
  function shippedArch() {
    const b = window.digitModels.shipped();
    const len = new DataView(b).getUint32(12, true);
    return new TextDecoder().decode(new Uint8Array(b, 16, len));
  }

  function choose(name) {
    const p = presets.find((x) => x.name === name);
    $('#learn-lr').value = String(p.lr);
    $('#learn-batch').value = String(p.batch);
  }

  function showPresets(list) {
    presets = list;
    $('#learn-preset').replaceChildren(...list.map((p) => new Option(p.label, p.name, false, p.name === 'small-cnn')));
    choose('small-cnn');
    status.textContent = 'Pick a network and press Start.';
    setState('idle');
  }
  $('#learn-preset').addEventListener('change', (e) => choose(e.target.value));

  buttons.start.addEventListener('click', () => {
    const preset = presets.find((p) => p.name === $('#learn-preset').value);
    const lr = Number($('#learn-lr').value), batch = Number($('#learn-batch').value);
    if (!(lr > 0 && lr <= 0.1)) return (status.textContent = 'The learning rate must be above 0 and at most 0.1.');
    run = { preset, lr, batch, t0: performance.now(), points: [] };
    panel.dataset.step = '0';
    panel.dataset.evals = '0';
    panel.dataset.filterUpdates = '0';
    delete panel.dataset.val;
    delete panel.dataset.ms97;
    delete panel.dataset.step97;
    draw();
    setState('loading');
    status.textContent = 'Fetching 10,000 MNIST training digits and 1,000 to check on (1.8 MB)…';
    worker.postMessage({ cmd: 'learn', arch: preset.arch || shippedArch(), lr, batch, seed: Math.floor(Math.random() * 2147483647) });
    sendInput();
  });

  buttons.pause.addEventListener('click', () => {
    const paused = panel.dataset.state === 'paused';
    worker.postMessage({ cmd: paused ? 'resume' : 'pause' });
    setState(paused ? 'running' : 'paused');
  });

  buttons.reset.addEventListener('click', () => {
    worker.postMessage({ cmd: 'stop' });
    run = null;
    panel.dataset.step = '0';
    delete panel.dataset.val;
    draw();
    filters.getContext('2d').clearRect(0, 0, filters.width, filters.height);
    reading.textContent = '';
    status.textContent = 'Reset. Pick a network and press Start.';
    setState('idle');
  });

  buttons.use.addEventListener('click', () => { pending = 'use'; worker.postMessage({ cmd: 'save' }); });
  buttons.download.addEventListener('click', () => { pending = 'download'; worker.postMessage({ cmd: 'save' }); });

  function saved(m) {
    const val = lastVal();
    const what = run.preset.label + ' learned here, ' + m.step + ' steps' + (val !== null ? ', validation ' + pct(val) : '');
    if (pending === 'use') {
      const err = window.digitModels.use(m.model, what);
      status.textContent = err ? 'The new model did not load: ' + err : 'The canvas now reads with it: ' + what + '.';
    } else if (pending === 'download') {
      window.digitModels.download(m.model, 'digit-model-learned.bin');
    }
    pending = null;
  }

  const pct = (p) => (100 * p).toFixed(1) + '%';
  // the latest validation accuracy, or null before the first
  const lastVal = () => run.points.reduce((v, p) => (p.val !== null ? p.val : v), null);

  function progress(m) {
    if (!run) return;
    if (panel.dataset.state === 'loading') setState('running');
    if (m.loss !== null || m.val !== null) run.points.push({ step: m.step, loss: m.loss, val: m.val });
    panel.dataset.step = String(m.step);
    if (m.val !== null) {
      panel.dataset.val = m.val.toFixed(4);
      panel.dataset.evals = String(Number(panel.dataset.evals) + 1);
      if (m.val >= 0.97 && !panel.dataset.ms97) {
        panel.dataset.ms97 = String(Math.round(m.ms));
        panel.dataset.step97 = String(m.step);
        panel.dataset.wall97 = String(Math.round(performance.now() - run.t0));
      }
    }
    const val = lastVal();
    status.textContent = 'Step ' + m.step + ' · ' + m.seen.toLocaleString('en') + ' images seen · ' +
      (m.loss !== null ? 'loss ' + m.loss.toFixed(3) + ' · ' : '') +
      (val !== null ? 'validation ' + pct(val) + ' · ' : '') + (m.ms / 1000).toFixed(1) + ' s training';
    if (buttons.use.disabled && panel.dataset.state !== 'paused') setState(panel.dataset.state);
    draw();
    if (m.filters) drawFilters(m.filters, m.shape);
    if (m.probs) showReading(m.probs);
  }

  // ---- pictures ---------------------------------------------------------------------------------

  // the training batches' loss (red, left scale 0-2.5) and the validation accuracy (blue, right scale 80-100%)
  function draw() {
    const ctx = curves.getContext('2d'), W = curves.width, H = curves.height, L = 34, R = 40, T = 10, B = 22;
    ctx.clearRect(0, 0, W, H);
    ctx.font = '11px system-ui, sans-serif';
    ctx.strokeStyle = '#d1d5db';
    ctx.fillStyle = '#4b5563';
    ctx.strokeRect(L, T, W - L - R, H - T - B);
    const pts = run ? run.points : [];
    const steps = Math.max(200, pts.length ? pts[pts.length - 1].step : 0);
    const x = (s) => L + (W - L - R) * s / steps;
    const yLoss = (v) => T + (H - T - B) * (1 - Math.min(v, 2.5) / 2.5);
    const yAcc = (v) => T + (H - T - B) * (1 - Math.max(0, v - 0.8) / 0.2);
    ctx.fillText('2.5', 2, yLoss(2.5) + 10);
    ctx.fillText('0', 2, yLoss(0));
    ctx.fillText('100%', W - R + 4, yAcc(1) + 10);
    ctx.fillText('97%', W - R + 4, yAcc(0.97) + 4);
    ctx.fillText('80%', W - R + 4, yAcc(0.8));
    ctx.fillText('step ' + steps, W - R - 60, H - 6);
    ctx.setLineDash([3, 3]);
    ctx.beginPath(), ctx.moveTo(L, yAcc(0.97)), ctx.lineTo(W - R, yAcc(0.97)), ctx.stroke();
    ctx.setLineDash([]);
    const line = (color, list, y) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      list.forEach((p, i) => (i ? ctx.lineTo(x(p[0]), y(p[1])) : ctx.moveTo(x(p[0]), y(p[1]))));
      ctx.stroke();
      ctx.lineWidth = 1;
    };
    line('#dc2626', pts.filter((p) => p.loss !== null).map((p) => [p.step, p.loss]), yLoss);
    line('#1d4ed8', pts.filter((p) => p.val !== null).map((p) => [p.step, p.val]), yAcc);
  }

  // each filter scaled by its largest weight: positive weights dark, negative ones light, zero mid-grey
  function drawFilters(w, [n, h, wd]) {
    const cell = Math.max(2, Math.floor(48 / Math.max(h, wd))), cols = 8, gap = 4;
    const rows = Math.ceil(n / cols);
    filters.width = cols * (wd * cell + gap);
    filters.height = rows * (h * cell + gap);
    const ctx = filters.getContext('2d');
    for (let f = 0; f < n; f++) {
      const k = w.subarray(f * h * wd, (f + 1) * h * wd);
      const max = k.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
      const ox = (f % cols) * (wd * cell + gap), oy = Math.floor(f / cols) * (h * cell + gap);
      for (let i = 0; i < h * wd; i++) {
        const g = Math.round(128 - 127 * k[i] / max);
        ctx.fillStyle = 'rgb(' + g + ',' + g + ',' + g + ')';
        ctx.fillRect(ox + (i % wd) * cell, oy + Math.floor(i / wd) * cell, cell, cell);
      }
    }
    panel.dataset.filterUpdates = String(Number(panel.dataset.filterUpdates) + 1);
  }

  function showReading(p) {
    const order = p.map((v, d) => [v, d]).sort((a, b) => b[0] - a[0]);
    reading.dataset.digit = String(order[0][1]);
    reading.textContent = 'The network learning here reads your drawing as ' + order[0][1] + ' (' + pct(order[0][0]) +
      '), then ' + order[1][1] + ' (' + pct(order[1][0]) + ').';
  }

  // the canvas's 28×28 input goes to the worker whenever the drawing changes
  function sendInput() {
    const p = Module._app_teach_input();
    worker.postMessage({ cmd: 'input', x: p ? Module.HEAPF32.slice(p >> 2, (p >> 2) + 784) : null });
    if (!p) reading.textContent = run ? 'Draw a digit to see how the network learning here reads it.' : '';
  }
  document.addEventListener('digit-reading', sendInput);

  worker.onmessage = (e) => {
    const m = e.data;
    if (m.type === 'presets') showPresets(m.presets);
    else if (m.type === 'learning') progress(m);
    else if (m.type === 'reading' && m.probs) showReading(m.probs);
    else if (m.type === 'model') saved(m);
    else if (m.type === 'paused') panel.dataset.step = String(m.step);
    else if (m.type === 'error') {
      status.textContent = 'Training stopped: ' + m.message;
      setState('error');
    }
  };
  worker.onerror = (e) => {
    status.textContent = 'The training worker stopped: ' + (e.message || 'unknown error');
    setState('error');
  };
  setState('loading');
  buttons.start.disabled = true;
  status.textContent = 'Loading the trainer…';
  worker.postMessage({ cmd: 'presets' });
})();
