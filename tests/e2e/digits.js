// digits.js - hand-drawn digits for the page tests: each is a list of strokes,
// each stroke a few key points in a unit box (x right, y down), smoothed
// through a Catmull-Rom spline the way a hand would round them.
'use strict';

const KEY = {
  0: [[[0.5, 0.0], [0.2, 0.12], [0.08, 0.5], [0.2, 0.88], [0.5, 1.0], [0.8, 0.88], [0.92, 0.5], [0.8, 0.12], [0.5, 0.0], [0.42, 0.04]]],
  1: [[[0.58, 0.0], [0.52, 0.5], [0.46, 1.0]]],
  2: [[[0.12, 0.28], [0.25, 0.08], [0.5, 0.0], [0.78, 0.08], [0.85, 0.28], [0.72, 0.5], [0.4, 0.75], [0.1, 0.98], [0.5, 0.97], [0.92, 0.98]]],
  3: [[[0.12, 0.12], [0.45, 0.0], [0.78, 0.1], [0.8, 0.3], [0.48, 0.48], [0.82, 0.62], [0.85, 0.85], [0.5, 1.0], [0.12, 0.88]]],
  4: [[[0.62, 0.0], [0.35, 0.35], [0.08, 0.68], [0.5, 0.68], [0.95, 0.68]], [[0.72, 0.3], [0.71, 0.65], [0.7, 1.0]]],
  5: [[[0.85, 0.02], [0.5, 0.02], [0.2, 0.02]], [[0.22, 0.0], [0.18, 0.45], [0.5, 0.38], [0.8, 0.52], [0.85, 0.78], [0.55, 0.98], [0.12, 0.9]]],
  6: [[[0.72, 0.0], [0.4, 0.2], [0.18, 0.55], [0.2, 0.85], [0.5, 1.0], [0.8, 0.85], [0.8, 0.6], [0.5, 0.48], [0.22, 0.62]]],
  7: [[[0.08, 0.02], [0.5, 0.02], [0.92, 0.02], [0.65, 0.5], [0.42, 1.0]]],
  8: [[[0.78, 0.15], [0.5, 0.0], [0.22, 0.15], [0.28, 0.35], [0.5, 0.5], [0.78, 0.68], [0.78, 0.9], [0.5, 1.0], [0.22, 0.9], [0.22, 0.68], [0.5, 0.5], [0.72, 0.33], [0.78, 0.15]]],
  9: [[[0.8, 0.22], [0.6, 0.02], [0.3, 0.04], [0.18, 0.28], [0.35, 0.46], [0.65, 0.42], [0.8, 0.22], [0.76, 0.6], [0.72, 1.0]]],
};

function spline(pts, per = 8) {
  if (pts.length < 3) {
    const out = [];
    for (let i = 0; i + 1 < pts.length; i++)
      for (let k = 0; k < per; k++) out.push([pts[i][0] + ((pts[i + 1][0] - pts[i][0]) * k) / per, pts[i][1] + ((pts[i + 1][1] - pts[i][1]) * k) / per]);
    out.push(pts[pts.length - 1]);
    return out;
  }
  const out = [];
  for (let i = 0; i + 1 < pts.length; i++) {
    const p0 = pts[Math.max(0, i - 1)], p1 = pts[i], p2 = pts[i + 1], p3 = pts[Math.min(pts.length - 1, i + 2)];
    for (let k = 0; k < per; k++) {
      const t = k / per, t2 = t * t, t3 = t2 * t;
      out.push([0, 1].map((d) => 0.5 * (2 * p1[d] + (-p0[d] + p2[d]) * t + (2 * p0[d] - 5 * p1[d] + 4 * p2[d] - p3[d]) * t2 +
        (-p0[d] + 3 * p1[d] - 3 * p2[d] + p3[d]) * t3)));
    }
  }
  out.push(pts[pts.length - 1]);
  return out;
}

// A deliberately unusual style, for teaching the page someone's handwriting:
// a 1 with an arrowhead flag, and a 7 with a crossbar and a foot (a Z). The
// shipped model reads the first as a 7 and the second as a 2 or a 7.
const UNUSUAL = {
  1: [[[0.1, 0.35], [0.5, 0.0], [0.9, 0.35]], [[0.5, 0.0], [0.5, 0.5], [0.5, 1.0]]],
  7: [[[0.08, 0.02], [0.92, 0.02], [0.2, 0.95], [0.9, 0.95]], [[0.25, 0.5], [0.75, 0.5]]],
};

// a small seeded generator (mulberry32), so that jittered drawings repeat
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// digit d as canvas strokes in the box (x, y, w, h); options: unusual (the
// style above, for 1 and 7), rand and jitter (each key point moved by up to
// ±jitter of the box, so no two drawings are the same)
function digitStrokes(d, x, y, w, h, { unusual = false, rand = null, jitter = 0 } = {}) {
  const keys = unusual && UNUSUAL[d] ? UNUSUAL[d] : KEY[d];
  const j = () => (rand ? (2 * rand() - 1) * jitter : 0);
  return keys.map((s) => spline(s.map(([u, v]) => [u + j(), v + j()])).map(([u, v]) => [x + u * w, y + v * h]));
}

module.exports = { digitStrokes, rng, UNUSUAL };
