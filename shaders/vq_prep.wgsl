// First launch of vq_search: lays the codebook [K, D] out transposed as CT[d][k], then appends
// a row of squared norms ‖c_k‖². The search kernels then load four consecutive codes of one
// dimension as a vec4 and run a matmul-like inner loop (x · Cᵀ), coalesced on GPUs.
// Rows D … D4−1 (D rounded up to 4) are zero so the search can step through d four at a time;
// codes K … KP−1 (padding up to the search kernel's block of codes) are zero with norm f32 max,
// so their distance is f32 max and can never win.

struct Params {
  K: u32,
  D: u32,
  D4: u32, // D rounded up to a multiple of 4
  KP: u32, // K rounded up to the search kernel's code block: the row length of CT
}

@group(0) @binding(0) var<storage, read> cb: array<f32>;
@group(0) @binding(1) var<storage, read_write> ct: array<f32>;
@group(0) @binding(15) var<uniform> p: Params;

const F32_MAX: f32 = 3.4028234663852886e38;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = (wid.y * nwg.x + wid.x) * 64u + lid.x;
  if (k >= p.KP) {
    return;
  }
  var norm = F32_MAX;
  if (k < p.K) {
    norm = 0.0;
    for (var d = 0u; d < p.D; d++) {
      let v = cb[k * p.D + d];
      norm = fma(v, v, norm);
      ct[d * p.KP + k] = v;
    }
  } else {
    for (var d = 0u; d < p.D; d++) {
      ct[d * p.KP + k] = 0.0;
    }
  }
  for (var d = p.D; d < p.D4; d++) {
    ct[d * p.KP + k] = 0.0;
  }
  ct[p.D4 * p.KP + k] = norm;
}
