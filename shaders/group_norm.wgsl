// GroupNorm apply: y = act((x - mean[n, g]) · rstd[n, g] · gamma[c] + beta[c]) over NHWC data,
// one element per invocation, with the statistics from group_norm_stats.wgsl. Needs
// activate.wgsl.

override AFFINE: bool = false;

struct Params {
  total: u32, // elements
  C: u32,
  Cg: u32,
  G: u32,
  imageSize: u32, // H·W·C
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read> stats: array<vec2<f32>>;
@group(0) @binding(15) var<uniform> p: Params;

const WG: u32 = 256u;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid;
  if (i >= p.total) {
    return;
  }
  let c = i % p.C;
  let st = stats[(i / p.imageSize) * p.G + c / p.Cg];
  var y = (X[i] - st.x) * st.y;
  if (AFFINE) {
    y = y * gamma[c] + beta[c];
  }
  Y[i] = activate(y);
}
