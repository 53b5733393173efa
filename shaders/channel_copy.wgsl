// Copies a block of channels between two channels-last tensors with the same leading
// dimensions: dst[row, dOff + c] = src[row, sOff + c] for c < n. `slice` is one launch;
// `concat` is one launch per input into its channel range of the output (one pipeline serves
// any number of inputs within the binding limits). Moves raw 32-bit words: any dtype.

struct Params {
  total: u32, // rows · n
  n: u32,
  CS: u32, // channels of src
  SOFF: u32,
  CD: u32, // channels of dst
  DOFF: u32,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(15) var<uniform> p: Params;

@compute @workgroup_size(WG1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = flat_index(gid, nwg);
  if (e >= p.total) {
    return;
  }
  let row = e / p.n;
  let c = e - row * p.n;
  dst[row * p.CD + p.DOFF + c] = src[row * p.CS + p.SOFF + c];
}
