// y[row] = sum, mean or max of x[row, :] over the last axis. Needs rows.wgsl.

override OP: u32 = 0u; // 0 sum, 1 mean, 2 max

struct Params {
  rows: u32,
  C: u32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(15) var<uniform> p: Params;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let r = rowOf(wg, nwg, lid, p.rows, p.C);
  let isMax = OP == 2u;
  var acc = select(0.0, NEG_MAX, isMax);
  for (var c = r.lane; c < p.C; c += S) {
    let v = X[r.base + c];
    acc = select(acc + v, max(acc, v), isMax);
  }
  acc = rowReduce(vec2<f32>(acc, 0.0), lid, isMax).x;
  if (r.live && r.lane == 0u) {
    Y[r.base / p.C] = select(acc, acc / f32(p.C), OP == 1u);
  }
}
