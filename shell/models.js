// models.js - the model the page reads with: the shipped one, a personal one taught on this device (kept in
// IndexedDB, never sent anywhere) or one learned in the page by "watch it learn" (kept for the visit only).
// It also loads teach.js, teach mode's interface, when "Teach it my writing" is first pressed.
(function () {
  'use strict'; // inside the function: app.js joins this file with others
  const DB = 'digit-reader', STORE = 'models', KEY = 'personal';
  const $ = (sel) => document.querySelector(sel);
  const body = document.body;
  const teachBtn = $('#teach');
  const modelName = $('#model-name');
  const say = (msg) => { modelName.textContent = msg; };

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

  // saves model bytes as a file, in the format the native tools read
  function download(bytes, name) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }
  $('#model-export').addEventListener('click', () => { if (personal) download(personal.bytes, 'digit-model-personal.bin'); });

  // teach mode (teach.js) asks for these
  const current = () => (personal ? personal.bytes : shipped);
  // reads with bytes (a fine-tuned model on trial) without changing which model is kept
  function load(bytes) {
    const err = useModel(bytes);
    if (!err) trial = null;
    return err;
  }
  // keeps a personal model: in use now and on the next visit; resolves once stored
  function keep(rec) {
    personal = rec;
    trial = null;
    showModel();
    return save(rec);
  }
  // back to the kept model
  function restore() {
    const err = useModel(current());
    trial = null;
    showModel();
    return err;
  }

  let teach = null; // loading teach.js
  teachBtn.addEventListener('click', () => {
    if (!teach) {
      teach = new Promise((resolve, reject) => {
        const s = document.createElement('script');
        s.src = 'teach.js';
        s.onload = resolve;
        s.onerror = () => reject(new Error('could not load teach.js'));
        document.body.appendChild(s);
      }).catch((e) => { teach = null; modelName.textContent = 'Teach mode: ' + e.message; throw e; });
    }
    teach.then(() => window.digitTeach.toggle(), () => {});
  });

  window.digitModels = { stored, ready, use, shipped: () => shipped, current, load, keep, restore, download };
})();
