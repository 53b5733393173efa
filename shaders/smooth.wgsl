// smooth: y = x + strength · (B x − x), where B is the separable [1 2 1] ⊗ [1 2 1] / 16 blur
// with edges replicated (clamp-to-edge), on a channels-last tensor [N, H, W, C]. One thread
// per output element; the nine taps are summed in the same order as the CPU reference.

struct Params {
  total: u32,
  H: u32,
  W: u32,
  C: u32,
  strength: f32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(15) var<uniform> p: Params;

@compute @workgroup_size(WG1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = flat_index(gid, nwg);
  if (e >= p.total) {
    return;
  }
  let c = e % p.C;
  let x = (e / p.C) % p.W;
  let t = e / (p.C * p.W);
  let y = t % p.H;
  let base = (t - y) * p.W; // first pixel of this image
  let xs = array<u32, 3>(select(x - 1u, 0u, x == 0u), x, min(x + 1u, p.W - 1u));
  let ys = array<u32, 3>(select(y - 1u, 0u, y == 0u), y, min(y + 1u, p.H - 1u));
  let w = array<f32, 3>(1.0, 2.0, 1.0);
  var acc = 0.0;
  for (var i = 0u; i < 3u; i++) {
    var row = 0.0;
    for (var j = 0u; j < 3u; j++) {
      row += w[j] * X[(base + ys[i] * p.W + xs[j]) * p.C + c];
    }
    acc += w[i] * row;
  }
  let v = X[e];
  Y[e] = v + p.strength * (acc / 16.0 - v);
}
