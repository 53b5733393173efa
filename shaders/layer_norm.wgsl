// y = act((x - mean) / sqrt(var + eps) · gamma + beta) over the last axis. Two passes: the mean
// first, then the centred sums Σd and Σd² (d = x - mean); var = (Σd² - (Σd)²/C) / C corrects
// the rounding of the mean, so inputs with a large offset (values near 100) keep full accuracy,
// unlike E[x²] - E[x]². Needs rows.wgsl and activate.wgsl.

override AFFINE: bool = false;

struct Params {
  rows: u32,
  C: u32,
  eps: f32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(15) var<uniform> p: Params;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = rowOf(wg, nwg, lid, p.rows, p.C);
  let n = f32(p.C);
  var sum = 0.0;
  for (var c = r.lane; c < p.C; c += S) {
    sum += X[r.base + c];
  }
  let mean = rowReduce(vec2<f32>(sum, 0.0), lid, false).x / n;
  var acc = vec2<f32>(0.0);
  for (var c = r.lane; c < p.C; c += S) {
    let d = X[r.base + c] - mean;
    acc += vec2<f32>(d, d * d);
  }
  acc = rowReduce(acc, lid, false);
  let variance = max(acc.y - acc.x * acc.x / n, 0.0) / n;
  let rstd = inverseSqrt(variance + p.eps);
  if (r.live) {
    for (var c = r.lane; c < p.C; c += S) {
      var y = (X[r.base + c] - mean) * rstd;
      if (AFFINE) {
        y = y * gamma[c] + beta[c];
      }
      Y[r.base + c] = activate(y);
    }
  }
}
