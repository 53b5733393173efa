// y = softmax(x) over the last axis: exp(x - max) / Σ exp(x - max). Subtracting the row max
// keeps exp from overflowing. Three sweeps over the row: the max; the exponentials, stored to
// y and summed; the scaling of y. The row is re-read rather than held in registers because its
// length is unbounded. IN_PLACE reads y instead of x (x is then a placeholder binding), for
// scratch data such as attention scores. Needs rows.wgsl.

override IN_PLACE: bool = false;

struct Params {
  rows: u32,
  C: u32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(15) var<uniform> p: Params;

fn load(i: u32) -> f32 {
  if (IN_PLACE) {
    return Y[i];
  }
  return X[i];
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = rowOf(wg, nwg, lid, p.rows, p.C);
  var m = NEG_MAX;
  for (var c = r.lane; c < p.C; c += S) {
    m = max(m, load(r.base + c));
  }
  m = rowReduce(vec2<f32>(m, 0.0), lid, true).x;
  var sum = 0.0;
  for (var c = r.lane; c < p.C; c += S) {
    let e = exp(load(r.base + c) - m);
    sum += e;
    // Dead invocations share the last row's storage and must not write it.
    if (r.live) {
      Y[r.base + c] = e;
    }
  }
  let inv = 1.0 / rowReduce(vec2<f32>(sum, 0.0), lid, false).x;
  if (r.live) {
    for (var c = r.lane; c < p.C; c += S) {
      Y[r.base + c] *= inv;
    }
  }
}
