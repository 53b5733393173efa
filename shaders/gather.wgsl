// out[m, d] = codebook[clamp(idx[m], 0, K − 1), d]. Clamping keeps a corrupt or hostile index
// stream from reading outside the codebook (the CPU reference clamps the same way). Moves raw
// 32-bit words, so any dtype of codebook works and values are copied bit-exactly.

struct Params {
  total: u32, // M · D
  D: u32,
  K: u32,
}

@group(0) @binding(0) var<storage, read> cb: array<u32>;
@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(15) var<uniform> p: Params;

@compute @workgroup_size(WG1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let m = i / p.D;
  let d = i - m * p.D;
  let k = u32(clamp(idx[m], 0, i32(p.K) - 1));
  out[i] = cb[k * p.D + d];
}
