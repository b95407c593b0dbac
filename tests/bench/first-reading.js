// first-reading.js - time from navigation to the page's first possible reading (body[data-ready], set when
// the model is loaded), against the browser's floor: the same index.html with its scripts and preloads taken
// out, to its load event. Cold loads (a new browser context each), taken in turn, in one browser; medians.
//
// make bench calls it on dist/. To compare builds side by side, give it several built sites; the first one's
// HTML makes the floor. For example, against the page of an older commit:
//   git worktree add /tmp/old <commit> && make -C /tmp/old web
//   node tests/bench/first-reading.js 31 dist /tmp/old/dist
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const h = require('../e2e/helpers');

// the median of a list of numbers (the upper one of the middle two); make bench uses it too
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };

// a copy of dir's files, with static.html beside index.html
function siteCopy(dir) {
  const root = h.tempDir('digit-site-');
  for (const f of fs.readdirSync(dir)) if (fs.statSync(path.join(dir, f)).isFile()) fs.copyFileSync(path.join(dir, f), path.join(root, f));
  const html = fs.readFileSync(path.join(root, 'index.html'), 'utf8');
  fs.writeFileSync(path.join(root, 'static.html'), html.replace(/<script[^>]*><\/script>\n?/g, '').replace(/<link rel="preload"[^>]*>\n?/g, ''));
  return root;
}

// n cold loads of each site and of the first one's static page. onPage(page, when), if given, is called with
// each page before it loads ('before') and once it is ready ('ready'): make bench notes what the page asks for.
// Returns { sites: [{ ms, loads }], static: { ms, loads } }
async function firstReading(dirs, n, onPage) {
  const servers = [];
  const browser = await h.launch();
  try {
    for (const d of dirs) servers.push(await h.startServer({ root: siteCopy(d) }));
    const loads = dirs.map(() => []), floor = [];
    for (let i = 0; i < n; i++) {
      for (let k = 0; k <= dirs.length; k++) {
        const context = await browser.newContext();
        const page = await context.newPage();
        if (k < dirs.length) {
          if (onPage) await onPage(page, 'before');
          await page.goto(servers[k].url);
          await page.waitForSelector('body[data-ready="true"]');
          loads[k].push(Number(await page.getAttribute('body', 'data-ready-ms')));
          if (onPage) await onPage(page, 'ready');
        } else {
          await page.goto(servers[0].url + 'static.html', { waitUntil: 'load' });
          floor.push(await page.evaluate(() => new Promise((r) => setTimeout(() => r(performance.getEntriesByType('navigation')[0].loadEventEnd), 0))));
        }
        await context.close();
      }
    }
    return { sites: loads.map((l) => ({ ms: median(l), loads: l })), static: { ms: median(floor), loads: floor } };
  } finally {
    await browser.close();
    for (const s of servers) await s.stop();
  }
}

module.exports = { firstReading, median };

if (require.main === module) {
  const n = Number(process.argv[2]);
  const dirs = process.argv.slice(3);
  if (!(n > 0) || !dirs.length) {
    console.error('usage: node tests/bench/first-reading.js LOADS SITE_DIR...');
    process.exit(2);
  }
  firstReading(dirs, n).then((r) => {
    console.log(`static page (${dirs[0]}): median ${r.static.ms.toFixed(0)} ms`);
    r.sites.forEach((s, k) => console.log(`${dirs[k]}: first reading median ${s.ms} ms, ${(s.ms / r.static.ms).toFixed(2)}x the floor; ` +
      `loads ${s.loads.join(' ')}`));
  }, (e) => { console.error(e.message); process.exit(1); });
}
