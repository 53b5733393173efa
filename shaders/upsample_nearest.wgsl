// Nearest-neighbour upsampling by an integer factor s on NHWC: out[n, y, x, c] =
// in[n, y / s, x / s, c]. One thread per output element. Moves raw 32-bit words.

struct Params {
  total: u32, // output elements
  C: u32,
  WS: u32, // output width W · s
  S: u32,
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
  let c = e % p.C;
  let t = e / p.C;
  let xo = t % p.WS;
  let yo = t / p.WS; // output row across the batch; / s gives the input row across the batch
  dst[e] = src[((yo / p.S) * (p.WS / p.S) + xo / p.S) * p.C + c];
}
