// main.js - binds the page to the WebAssembly module built from emscripten/app.c.
// C does the drawing, the reading and the pictures; this file only moves its
// results into the page and the page's buttons into C.
(function () {
  'use strict'; // inside the function: app.js joins this file with others
  const $ = (sel) => document.querySelector(sel);
  const body = document.body;
  const canvas = $('#canvas');
  const pred = $('#prediction');
  const status = $('#status');
  const timing = $('#timing');
  const hint = $('#hint');
  const number = $('#number');
  const multi = $('#multi');
  const bars = Array.from(document.querySelectorAll('#bars li'));
  const inputView = $('#input-view').getContext('2d');
  const featureCanvas = $('#features');
  let arch = null;
  let featureLayer = 0;
  let last = null;

  function fail(msg) {
    hint.textContent = msg;
    hint.classList.add('error');
    status.textContent = msg;
  }

  // #status is the live region screen readers speak: it is written when its text changes and the pen is
  // up, so each stroke is announced once, not on every reading while the pen moves (C reads after every
  // move; the digit, the bars and the pictures follow the pen)
  let penDown = false;
  let news = status.textContent;
  function say(text) {
    news = text;
    if (!penDown && status.textContent !== text) status.textContent = text;
  }
  function penUp() {
    if (!penDown) return;
    penDown = false;
    // C reads the moves still queued at the next frame and calls update(); if there were none, the
    // reading of the last move is the one to say
    requestAnimationFrame(() => requestAnimationFrame(() => {
      say(news);
      if ($('#steps').open) drawSteps(); // drawn when the stroke ends, not on every move
    }));
  }
  canvas.addEventListener('pointerdown', () => { penDown = true; });
  addEventListener('pointerup', penUp);
  addEventListener('pointercancel', penUp);

  // logging (log.js) only where the page names an endpoint (`make serve` does; GitHub Pages does not)
  const logTo = document.querySelector('meta[name="digit-log-endpoint"]');
  if (logTo && logTo.content.trim()) document.body.appendChild(Object.assign(document.createElement('script'), { src: 'log.js' }));

  // the first reading waits on two downloads, the weights and the wasm: both are asked for here (the page's
  // preloads have them on the way), the wasm compiles as it streams in, and C starts once both are in, so
  // that main() loads the model before the first frame. A personal model taught on this device (teach.js,
  // IndexedDB) replaces the shipped one a moment later, when there is one
  const model = fetch('model.bin').then((r) => {
    if (!r.ok) throw new Error('model.bin: HTTP ' + r.status);
    return r.arrayBuffer();
  }).catch((e) => e);
  const stored = window.digitModels ? window.digitModels.stored() : Promise.resolve(null);
  const compiled = fetch('digits.wasm').then((r) => {
    if (!r.ok) throw new Error('digits.wasm: HTTP ' + r.status);
    // compiled as it streams in, where the server says what it is (GitHub Pages and lighttpd do)
    if (/^application\/wasm\b/.test(r.headers.get('Content-Type') || '')) return WebAssembly.compileStreaming(r);
    return r.arrayBuffer().then((b) => WebAssembly.compile(b));
  });
  let shipped = null;

  window.Module = {
    canvas: canvas,
    print: (t) => console.log(t),
    printErr: (t) => console.warn(t),
    instantiateWasm: (imports, done) => {
      Promise.all([compiled, model]).then(([wasm, bytes]) => WebAssembly.instantiate(wasm, imports).then((inst) => {
        shipped = bytes;
        done(inst, wasm);
      })).catch((e) => fail('Could not start the reader: ' + e.message));
      return {}; // the exports come later, through done()
    },
    postRun: [() => shipped instanceof Error ? fail('Could not load the model: ' + shipped.message) : load(shipped)],
  };

  // loads model bytes into the reader; returns null, or what is wrong with them
  function useModel(buf) {
    const p = Module._malloc(buf.byteLength);
    if (!p) return 'out of memory';
    Module.HEAPU8.set(new Uint8Array(buf), p);
    const rc = Module._app_load_model(p, buf.byteLength);
    Module._free(p);
    if (rc !== 0) return Module.UTF8ToString(Module._app_error());
    body.dataset.modelVersion = Module.UTF8ToString(Module._app_model_version());
    buildInside(); // the model may have another architecture (one learned in the page)
    return null;
  }

  // the shipped model first, so that reading can start; a personal model, when IndexedDB (slow to open on a
  // first visit) has one, replaces it a moment later
  function load(shipped) {
    const err = useModel(shipped);
    if (err) return fail(err);
    hint.textContent = multi.getAttribute('aria-pressed') === 'true' ? 'Write a number here' : 'Draw a digit here';
    body.dataset.readyMs = String(Math.round(performance.now())); // for the benchmark: when reading becomes possible
    body.dataset.ready = 'true';
    stored.then((personal) => {
      if (personal) {
        const bad = useModel(personal.bytes);
        if (bad) console.warn('the stored personal model is unusable (' + bad + '); using the shipped one');
        if (bad) personal = null; /* the shipped model stays loaded */
      }
      if (window.digitModels) window.digitModels.ready({ shipped: shipped, personal: personal, useModel: useModel });
    });
  }

  const pct = (p) => (100 * p).toFixed(1) + '%';

  // called from C (js_update in app.c) after every reading
  function update(json) {
    const r = JSON.parse(json);
    last = r;
    body.dataset.inferences = String(r.inferences);
    body.dataset.drawn = r.digits.length ? 'true' : 'false';
    pred.dataset.state = r.state;
    pred.textContent = r.number;
    // a long number takes the whole width, in a size that fits a phone (style.css)
    pred.parentElement.classList.toggle('long', r.number.length > 3);
    number.textContent = r.number;
    const d = r.digits[r.selected];
    if (r.error) {
      say('Could not read the drawing: ' + r.error + '. Undo or clear.');
      timing.textContent = '';
    } else if (!d) {
      say(r.dots ? 'A dot is not a digit. Draw one with a stroke.' : 'Draw a digit.');
      timing.textContent = '';
    } else if (r.truncated) {
      say('So many strokes that only the first ones are read. Undo or clear.');
    } else if (r.digits.length > 1) {
      say('The number ' + r.number + (r.state === 'unsure' ? ', but some digits are unclear.' : '.') +
        ' Bars: the last digit.');
    } else if (r.state === 'unsure') {
      say('Not sure. Maybe ' + d.digit + ' (' + pct(d.confidence) + ')?');
    } else {
      say(d.digit + ', ' + pct(d.confidence) + ' sure.');
    }
    if (d) timing.textContent = 'Read in ' + r.ms.toFixed(2) + ' ms.';
    bars.forEach((li, i) => {
      const p = d ? d.probs[i] : 0;
      li.dataset.prob = p.toFixed(4);
      li.querySelector('.bar span').style.width = (100 * p).toFixed(2) + '%';
      li.querySelector('.v').textContent = d ? pct(p) : '–';
      li.classList.toggle('top', !!d && i === d.digit);
    });
    drawInput();
    if ($('#inside').open) drawFeatures();
    if ($('#steps').open && !penDown) drawSteps();
    // drawings made while teaching are not logged
    if (window.digitLog && !(body.dataset.teach && body.dataset.teach !== 'off')) window.digitLog.reading(r);
    document.dispatchEvent(new Event('digit-reading')); // for learn.js, once loaded
  }

  function drawInput() {
    const p = Module._app_input();
    const f = p ? Module.HEAPF32.subarray(p >> 2, (p >> 2) + 784) : null;
    paint(inputView, 28, 28, (x, y) => (f ? f[28 * y + x] : 0));
  }

  function drawFeatures() {
    const p = Module._app_features(featureLayer);
    if (!p) return;
    const w = Module._app_features_w();
    const h = Module._app_features_h();
    if (!w || !h) return;
    featureCanvas.width = w;
    featureCanvas.height = h;
    const px = new Uint8ClampedArray(Module.HEAPU8.buffer, p, w * h * 4).slice();
    featureCanvas.getContext('2d').putImageData(new ImageData(px, w, h), 0, 0);
    const convs = arch.layers.filter((l) => l.kind === 'conv');
    const c = convs[featureLayer];
    $('#features-caption').textContent = 'Convolution ' + (featureLayer + 1) + ' (' + c.desc + '): ' + c.out[0] +
      ' feature maps of ' + c.out[1] + '×' + c.out[2] + ', after batch norm and ReLU' +
      (last && last.digits.length ? '.' : '. Draw something to see them light up.');
  }

  // ---- how each digit is prepared (src/preprocess.c), from the reading: its ink on the canvas, the ink scaled
  // to fit 20×20, that box in 28×28 with its centre of mass, and the input shifted to centre it
  const STEPS = ['The ink, cut to its box', 'Scaled to fit 20×20', 'Its centre of mass (red), the centre (blue)',
    'Moved to the centre: the 28×28 input'];

  function stepCanvas(fig, w, h, label) {
    const c = fig.appendChild(el('canvas', undefined, { width: w, height: h, role: 'img', 'aria-label': label }));
    return c.getContext('2d');
  }

  // white paper, ink dark: v in [0, 1] at (x, y) of a w×h image, read by get(x, y)
  function paint(ctx, w, h, get) {
    const img = ctx.createImageData(w, h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const v = 255 - Math.round(255 * Math.min(1, Math.max(0, get(x, y))));
      const i = 4 * (y * w + x);
      img.data[i] = img.data[i + 1] = img.data[i + 2] = v, img.data[i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  const mark = (ctx, x, y, color) => { ctx.fillStyle = color; ctx.fillRect(Math.floor(x), Math.floor(y), 1, 1); };

  function stepRow(d, k) {
    const row = el('div', undefined, { class: 'steps-row', role: 'group', 'aria-label': 'Digit ' + (k + 1) + ', read as ' + d.digit });
    const figs = STEPS.map((cap) => [row.appendChild(el('figure')), el('figcaption', cap)]);
    const p = Module._app_digit_input(k);
    const input = Module.HEAPF32.subarray(p >> 2, (p >> 2) + 784);
    const at = (x, y) => (x >= 0 && y >= 0 && x < 28 && y < 28 ? input[28 * y + x] : 0);
    const [bx, by, bw, bh] = d.place;
    // 1: the canvas's ink in the digit's box (on a number, a neighbour's ink may show at the edges)
    const cw = Module._app_canvas_w(), at0 = Module._app_ink(), ink = Module.HEAPU8.subarray(at0, at0 + cw * 360);
    const [x0, y0, x1, y1] = d.box, iw = x1 - x0 + 1, ih = y1 - y0 + 1;
    paint(stepCanvas(figs[0][0], iw, ih, STEPS[0]), iw, ih, (x, y) => ink[(y0 + y) * cw + x0 + x] / 255);
    // 2: the scaled box, in the middle of a 20×20 frame
    const ox = (20 - bw) >> 1, oy = (20 - bh) >> 1;
    paint(stepCanvas(figs[1][0], 20, 20, STEPS[1] + ': ' + bw + '×' + bh + ' pixels'), 20, 20,
      (x, y) => (x >= ox && y >= oy && x < ox + bw && y < oy + bh ? at(bx + x - ox, by + y - oy) : 0));
    // 3: the box in the middle of 28×28, its centre of mass and the image's centre
    const gx = (28 - bw) >> 1, gy = (28 - bh) >> 1;
    const c3 = stepCanvas(figs[2][0], 28, 28, STEPS[2]);
    paint(c3, 28, 28, (x, y) => at(x - gx + bx, y - gy + by));
    mark(c3, 14, 14, '#2563eb'), mark(c3, d.com[0] - bx + gx, d.com[1] - by + gy, '#dc2626');
    // 4: the input itself
    const c4 = stepCanvas(figs[3][0], 28, 28, STEPS[3]);
    paint(c4, 28, 28, at);
    mark(c4, 14, 14, '#2563eb');
    figs.forEach(([fig, fc]) => fig.appendChild(fc));
    return row;
  }

  function drawSteps() {
    const rows = $('#steps-rows');
    if (!last || !last.digits.length) return;
    rows.replaceChildren(...last.digits.map(stepRow));
  }
  $('#steps').addEventListener('toggle', () => { if ($('#steps').open) drawSteps(); });

  // ---- how it was trained: the model card's figures (report/summary.json, written by the `make eval` run that
  // wrote weights/MODEL.md) and the report's pictures, fetched when the panel is first opened
  const PICTURES = [['curves.png', 'Loss and accuracy per epoch, on training and validation images'],
    ['confusion.png', 'Confusion matrix of the MNIST test set: true digit by row, reading by column'],
    ['misclassified.png', 'Every MNIST test digit the network reads wrong, with its label and the reading'],
    ['pen-misread.png', 'Every pen digit of the test writers read wrong, with its label and the reading']];

  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
    return e;
  }

  function table(caption, head, rows) {
    const t = el('table');
    t.appendChild(el('caption', caption));
    const tr = el('tr');
    head.forEach((h) => tr.appendChild(el('th', h, { scope: 'col' })));
    t.appendChild(el('thead')).appendChild(tr);
    const body = t.appendChild(el('tbody'));
    rows.forEach((r) => { const row = body.appendChild(el('tr')); r.forEach((v) => row.appendChild(el('td', String(v)))); });
    return t;
  }

  function showTraining(s) {
    const last = s.epochs[s.epochs.length - 1];
    const figures = [
      ['MNIST test digits read right', s.mnist.accuracy + '% (' + s.mnist.wrong + ' wrong of ' + thousands(s.mnist.images) + ')'],
      ['Real pen digits of writers it never saw', s.pen.accuracy + '% (' + thousands(s.pen.digits) + ' digits, ' + s.pen.writers + ' writers)'],
      ['Pen digits read wrong but shown as sure', s.pen.sure_wrong + '%'],
      ['Pen digits read right and shown as sure', s.pen.sure_right + '%'],
      ['Numbers of 2-8 MNIST digits read exactly', 'apart ' + s.numbers.apart + '%, touching ' + s.numbers.touching + '%'],
      ['Numbers of 2-8 pen digits of one writer', 'apart ' + s.pen.apart + '%, touching ' + s.pen.touching + '%'],
      ['The same pen digits written small (43-90 pixels tall)', s.pen.small + '%'],
      ['Training', s.epochs.length + ' epochs; last validation accuracy ' + (100 * last[3]).toFixed(2) + '%']];
    const body = $('#training-body');
    body.replaceChildren(table('The test, in figures', ['measure', 'result'], figures),
      table('Each digit on the MNIST test set: of the readings of a digit, how many were right (precision); of ' +
        'the images of a digit, how many were read (recall)', ['digit', 'precision', 'recall', 'images'],
      s.classes.map((c) => [c.digit, c.precision + '%', c.recall + '%', thousands(c.images)])));
    PICTURES.forEach(([f, alt]) => {
      const fig = body.appendChild(el('figure'));
      fig.appendChild(el('img', undefined, { src: 'report/' + f, alt: alt, loading: 'lazy' }));
      fig.appendChild(el('figcaption', alt));
    });
  }

  let training = null;
  $('#training').addEventListener('toggle', () => {
    if (!$('#training').open || training) return;
    training = fetch('report/summary.json').then((r) => {
      if (!r.ok) throw new Error('report/summary.json: HTTP ' + r.status);
      return r.json();
    }).then(showTraining, (e) => {
      training = null; // try again when reopened
      $('#training-body').replaceChildren(el('p', 'Could not load the training report: ' + e.message));
    });
  });

  // 105162 -> "105,162" (toLocaleString would first load the browser's locale data: tens of ms at startup)
  const thousands = (n) => String(n).replace(/\B(?=(\d{3})+$)/g, ',');

  function buildInside() {
    arch = JSON.parse(Module.UTF8ToString(Module._app_arch_json()));
    featureLayer = 0;
    const tbody = $('#arch tbody');
    tbody.replaceChildren();
    arch.layers.forEach((l, i) => {
      const tr = tbody.appendChild(el('tr'));
      [i + 1, l.desc, l.out.join('×'), thousands(l.params), l.mflops.toFixed(3)].forEach((v) => tr.appendChild(el('td', String(v))));
    });
    $('#arch-summary').textContent = thousands(arch.params) + ' parameters, ' + arch.mflops.toFixed(2) +
      ' million floating-point operations per reading. Softmax temperature ' + arch.temperature.toFixed(3) +
      ', calibrated on held-out training images.';
    const group = $('.layers');
    group.replaceChildren();
    for (let k = 0; k < Module._app_conv_layers(); k++) {
      const b = el('button', 'Convolution ' + (k + 1), { type: 'button', 'aria-pressed': String(k === featureLayer) });
      b.addEventListener('click', () => {
        featureLayer = k;
        group.querySelectorAll('button').forEach((x, j) => x.setAttribute('aria-pressed', String(j === k)));
        drawFeatures();
      });
      group.appendChild(b);
    }
  }

  $('#inside').addEventListener('toggle', () => { if ($('#inside').open && arch) drawFeatures(); });

  // watch it learn: its script (and, from there, its worker and data) only once the panel is opened
  $('#learn').addEventListener('toggle', () => {
    if (!$('#learn').open || $('#learn').dataset.state !== 'closed' || body.dataset.ready !== 'true') return;
    $('#learn').dataset.state = 'opening';
    const s = document.createElement('script');
    s.src = 'learn.js';
    s.onerror = () => { $('#learn-status').textContent = 'Could not load learn.js.'; $('#learn').dataset.state = 'closed'; };
    document.body.appendChild(s);
  });
  $('#clear').addEventListener('click', () => { if (Module._app_clear) Module._app_clear(); canvas.focus(); });
  $('#undo').addEventListener('click', () => { if (Module._app_undo) Module._app_undo(); canvas.focus(); });
  // the wide canvas for a number: C resizes the SDL window (the canvas) and clears it
  multi.addEventListener('click', () => {
    if (!Module._app_set_multi) return;
    const on = multi.getAttribute('aria-pressed') !== 'true';
    Module._app_set_multi(on ? 1 : 0);
    multi.setAttribute('aria-pressed', String(on));
    body.dataset.multi = String(on);
    if (body.dataset.ready === 'true') hint.textContent = on ? 'Write a number here' : 'Draw a digit here';
    canvas.focus();
  });
  canvas.addEventListener('pointerdown', () => canvas.focus());
  // SDL takes the keys of the focused canvas and cancels the browser's action for Tab, the arrows, F1-F15
  // and Ctrl combinations, which traps keyboard users in the canvas: the app uses only Escape, Backspace
  // and Ctrl+Z, so the others never reach SDL and do what they do elsewhere (Tab moves on)
  const appKey = (e) => /^(Escape|Backspace|Control|Shift|Alt|Meta)$/.test(e.key) || (e.ctrlKey && e.key.toLowerCase() === 'z');
  const freeKey = (e) => e.key === 'Tab' || /^(Arrow|F\d)/.test(e.key) || ((e.ctrlKey || e.metaKey) && !appKey(e));
  ['keydown', 'keyup'].forEach((type) => addEventListener(type, (e) => {
    if (e.target === canvas && freeKey(e)) e.stopPropagation();
  }, true));
  window.digitApp = { update: update, last: () => last };

  // offline: a service worker keeps the site's own files
  if ('serviceWorker' in navigator && location.protocol !== 'file:') {
    navigator.serviceWorker.register('sw.js').catch((e) => console.log('offline cache unavailable: ' + e.message));
  }
})();
