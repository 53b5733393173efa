// pixel_shuffle / pixel_unshuffle on channels-last tensors, with PyTorch's channel order:
// channel c·r² + i·r + j of the small tensor [N, H, W, C·r²] is sub-pixel (i, j) of channel c
// in the large tensor [N, H·r, W·r, C]. One thread per element of the large tensor; shuffling
// gathers from the small tensor, unshuffling scatters to it (the map is a bijection, so every
// element is written exactly once). Moves raw 32-bit words: any dtype, bit-exact.

override UNSHUFFLE: bool = false;

struct Params {
  total: u32, // elements
  C: u32, // channels of the large tensor
  WR: u32, // W · r: width of the large tensor
  R: u32,
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
  let xl = t % p.WR; // column in the large tensor
  let yl = t / p.WR; // row in the large tensor, counted across the batch (n·H·r + y)
  // yl / r = n·H + h indexes rows of the small tensor across the batch just the same.
  let small = ((yl / p.R) * (p.WR / p.R) + xl / p.R) * (p.C * p.R * p.R) +
    c * p.R * p.R + (yl % p.R) * p.R + xl % p.R;
  if (UNSHUFFLE) {
    dst[small] = src[e];
  } else {
    dst[e] = src[small];
  }
}
