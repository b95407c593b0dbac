// sw.js - keeps the site's own files so the page works offline once loaded.
'use strict';
const CACHE = 'digit-reader-v5';
// what reading needs offline; the rest is cached when first used: teach mode's and watch-it-learn's files
// (teach.js, learn.js, the worker, the trainer, the samples), log.js where logging is on, and the large icon
// (which only installing the app fetches)
const FILES = ['./', 'index.html', 'style.css', 'app.js', 'digits.wasm', 'model.bin',
  'manifest.webmanifest', 'icon-192.png'];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// the network first, the cache when offline; only GETs of this site. The browser's HTTP cache is asked to
// revalidate (a 304 costs little), so that once a new version is served, the next load runs all of it and
// not a mix of new and cached files (GitHub Pages lets files be cached for 10 minutes)
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.includes('/cgi-bin/')) return;
  const req = e.request.mode === 'navigate' ? e.request : new Request(e.request, { cache: 'no-cache' });
  e.respondWith(fetch(req).then((r) => {
    if (r.ok) {
      const copy = r.clone();
      caches.open(CACHE).then((c) => c.put(e.request, copy));
    }
    return r;
  }).catch(() => caches.match(e.request, { ignoreSearch: true })));
});
