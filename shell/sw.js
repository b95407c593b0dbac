// sw.js - keeps the site's own files so the page works offline once loaded.
'use strict';
const CACHE = 'digit-reader-v2';
// what a first visit loads; teach mode's worker, trainer and replay sample are cached when first used
const FILES = ['./', 'index.html', 'style.css', 'main.js', 'log.js', 'teach.js', 'digits.js', 'digits.wasm', 'model.bin'];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// the network first (fresh files when online), the cache when offline; only GETs of this site
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.includes('/cgi-bin/')) return;
  e.respondWith(fetch(e.request).then((r) => {
    if (r.ok) {
      const copy = r.clone();
      caches.open(CACHE).then((c) => c.put(e.request, copy));
    }
    return r;
  }).catch(() => caches.match(e.request, { ignoreSearch: true })));
});
