// Copies [rows, C] into [rows, CP] (CP ≥ C) and zero-fills the extra columns, so a kernel that
// reads whole vec4s can serve a last axis that is not a multiple of 4. Moves raw 32-bit words,
// so it serves every dtype.

struct Params {
  total: u32, // rows · CP
  C: u32,
  CP: u32,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(15) var<uniform> p: Params;

@compute @workgroup_size(WG1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.total) {
    return;
  }
  let row = i / p.CP;
  let c = i - row * p.CP;
  var v = 0u;
  if (c < p.C) {
    v = src[row * p.C + c];
  }
  dst[i] = v;
}
