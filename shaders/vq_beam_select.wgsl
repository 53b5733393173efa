// One stage of a residual-VQ beam search. Position p holds BI ≤ MAXB beams: rows p·BI …
// p·BI + BI − 1 of r, with dots[row, k] = r_row · c_k precomputed (a matmul). Every candidate
// (beam b, code k) costs ‖r_b − c_k‖² = ‖r_b‖² − 2·r_b·c_k + ‖c_k‖²; the BO cheapest, in
// ascending order with the lower candidate number b·K + k first on exact ties, become the next
// stage's beams: out_rows = p·BI + b (the parent row of r), out_codes = k.
//
// One workgroup per position. Each thread scans candidates t, t + WG, … in increasing order and
// keeps a sorted list of its BO best (a strict < on insertion keeps the earlier candidate first
// on ties); a tree of pairwise merges in workgroup memory then reduces the WG lists to one.

struct Params {
  P: u32,
  BI: u32,
  BO: u32, // ≤ MAXB
  K: u32,
  D: u32,
}

@group(0) @binding(0) var<storage, read> r: array<f32>;
@group(0) @binding(1) var<storage, read> dots: array<f32>;
@group(0) @binding(2) var<storage, read> cnorm: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_rows: array<i32>;
@group(0) @binding(4) var<storage, read_write> out_codes: array<i32>;
@group(0) @binding(15) var<uniform> p: Params;

const WG: u32 = 128u;
const MAXB: u32 = 8u;
const F32_MAX: f32 = 3.4028234663852886e38;
const NONE: u32 = 0xffffffffu;

var<workgroup> w_dist: array<f32, 1024>; // WG · MAXB
var<workgroup> w_cand: array<u32, 1024>;
var<workgroup> w_rnorm: array<f32, MAXB>;

fn before(da: f32, ca: u32, db: f32, cb: u32) -> bool {
  return da < db || (da == db && ca < cb);
}

@compute @workgroup_size(128, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  // Workgroups past P (a folded grid) run the barriers with an empty scan and write nothing.
  let pos = wid.y * nwg.x + wid.x;
  let live = pos < p.P;
  let t = lid.x;
  let row0 = min(pos, p.P - 1u) * p.BI;
  if (t < p.BI) {
    var s = 0.0;
    for (var d = 0u; d < p.D; d++) {
      let v = r[(row0 + t) * p.D + d];
      s = fma(v, v, s);
    }
    w_rnorm[t] = s;
  }
  workgroupBarrier();

  var bd = array<f32, MAXB>();
  var bc = array<u32, MAXB>();
  for (var i = 0u; i < MAXB; i++) {
    bd[i] = F32_MAX;
    bc[i] = NONE;
  }
  let n = select(0u, p.BI * p.K, live);
  let last = p.BO - 1u;
  for (var c = t; c < n; c += WG) {
    let b = c / p.K;
    let k = c - b * p.K;
    let dist = fma(-2.0, dots[(row0 + b) * p.K + k], w_rnorm[b] + cnorm[k]);
    if (dist < bd[last]) {
      var j = last;
      while (j > 0u && dist < bd[j - 1u]) {
        bd[j] = bd[j - 1u];
        bc[j] = bc[j - 1u];
        j--;
      }
      bd[j] = dist;
      bc[j] = c;
    }
  }
  for (var i = 0u; i < MAXB; i++) {
    w_dist[t * MAXB + i] = bd[i];
    w_cand[t * MAXB + i] = bc[i];
  }
  workgroupBarrier();

  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (t < half) {
      let a0 = t * MAXB;
      let b0 = (t + half) * MAXB;
      var ia = 0u;
      var ib = 0u;
      for (var i = 0u; i < p.BO; i++) {
        let da = w_dist[a0 + ia];
        let ca = w_cand[a0 + ia];
        let db = w_dist[b0 + ib];
        let cb = w_cand[b0 + ib];
        if (before(da, ca, db, cb)) {
          bd[i] = da;
          bc[i] = ca;
          ia++;
        } else {
          bd[i] = db;
          bc[i] = cb;
          ib++;
        }
      }
      for (var i = 0u; i < p.BO; i++) {
        w_dist[a0 + i] = bd[i];
        w_cand[a0 + i] = bc[i];
      }
    }
    workgroupBarrier();
  }

  if (live && t < p.BO) {
    // NONE only when nothing beat f32 max (NaN or infinite inputs): fall back to a valid index
    let c = select(w_cand[t], 0u, w_cand[t] == NONE);
    let b = c / p.K;
    out_rows[pos * p.BO + t] = i32(row0 + b);
    out_codes[pos * p.BO + t] = i32(c - b * p.K);
  }
}
