// log.js - optional logging of drawings and corrections to the site's own CGI
// endpoint. Off unless <meta name="digit-log-endpoint" content="URL"> names one
// (`make serve` writes it; GitHub Pages has none). A failed post never gets in
// the way of drawing: it is retried never, reported quietly, and forgotten.
'use strict';
(function () {
  const meta = document.querySelector('meta[name="digit-log-endpoint"]');
  const endpoint = meta ? meta.content.trim() : '';
  if (!endpoint) return;
  const box = document.querySelector('#correct');
  const keys = box.querySelector('.keys');
  const thanks = document.querySelector('#thanks');
  let current = null; // the single-digit reading on the canvas, until it is logged

  function snapshot(r) {
    if (r.digits.length !== 1) return null;
    const d = r.digits[0];
    const p = Module._app_input();
    if (!p) return null;
    const f = Module.HEAPF32.subarray(p >> 2, (p >> 2) + 784);
    return {
      model: Module.UTF8ToString(Module._app_model_version()),
      pixels: Array.from(f, (v) => Math.round(255 * Math.min(1, Math.max(0, v)))),
      predicted: d.digit,
      probs: d.probs.map((v) => Number(v.toFixed(6))),
      logged: false,
    };
  }

  function post(entry, label) {
    const body = { model: entry.model, pixels: entry.pixels, predicted: entry.predicted, probs: entry.probs };
    if (label !== undefined) body.label = label;
    entry.logged = true;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 5000);
    return fetch(endpoint, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), signal: ctl.signal,
    }).then((res) => res.ok).catch(() => false).finally(() => clearTimeout(timer));
  }

  for (let d = 0; d <= 9; d++) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = String(d);
    b.dataset.label = String(d);
    b.setAttribute('aria-label', 'It is a ' + d);
    b.addEventListener('click', () => {
      if (!current) return;
      const entry = current;
      thanks.textContent = 'Saving…';
      post(entry, d).then((ok) => {
        thanks.textContent = ok ? 'Thanks: saved as a ' + d + '.' : 'Could not save the correction.';
      });
      document.querySelector('#canvas').focus();
    });
    keys.appendChild(b);
  }

  // called by main.js after every reading
  function reading(r) {
    if (r.digits.length === 0) {
      // the canvas was cleared: the drawing before it is finished, so log it once
      if (current && !current.logged) post(current);
      current = null;
      box.hidden = true;
      return;
    }
    const next = snapshot(r);
    if (next) current = next;
    box.hidden = !next;
    if (next) thanks.textContent = '';
  }

  addEventListener('pagehide', () => {
    if (current && !current.logged && navigator.sendBeacon) {
      const { model, pixels, predicted, probs } = current;
      current.logged = true;
      navigator.sendBeacon(endpoint, new Blob([JSON.stringify({ model, pixels, predicted, probs })], { type: 'application/json' }));
    }
  });
  window.digitLog = { reading: reading, endpoint: endpoint };
})();
