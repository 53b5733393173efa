// The element index of a one-thread-per-element launch (src/ops/launch1d.ts): workgroups of
// WG1D threads along x, their count folded over x and y so that large tensors stay under the
// per-dimension limit. Prepended to the kernel by launch1d.

const WG1D: u32 = 256u;

fn flat_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.y * nwg.x * WG1D + gid.x;
}
