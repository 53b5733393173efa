// Window partition and its inverse, pure permutations of NHWC data:
//   image   [N, H, W, C]
//   windows [N·(H/ws)·(W/ws), ws·ws, C], window-major, raster order within each window.
// One invocation per element (a vec4 of channels when C % 4 == 0: the host prepends the
// `Elem` alias). Invocations walk the windows tensor in order, so reads (partition) or writes
// (reverse) are contiguous; the other side moves in runs of ws·C elements.

override REVERSE: bool = false; // false: image → windows; true: windows → image

struct Params {
  total: u32, // elements of either tensor, in Elem units
  Cu: u32, // channels in Elem units
  H: u32,
  W: u32,
  ws: u32,
}

@group(0) @binding(0) var<storage, read> X: array<Elem>;
@group(0) @binding(2) var<storage, read_write> Y: array<Elem>;
@group(0) @binding(15) var<uniform> p: Params;

const WG: u32 = 256u;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * nwg.x + wg.x) * WG + lid;
  if (i >= p.total) {
    return;
  }
  let cu = i % p.Cu;
  let t = i / p.Cu; // token in the windows tensor
  let area = p.ws * p.ws;
  let tok = t % area;
  let win = t / area;
  let nw = p.W / p.ws;
  let nh = p.H / p.ws;
  let wx = win % nw;
  let wy = (win / nw) % nh;
  let n = win / (nw * nh);
  let y = wy * p.ws + tok / p.ws;
  let x = wx * p.ws + tok % p.ws;
  let img = ((n * p.H + y) * p.W + x) * p.Cu + cu;
  if (REVERSE) {
    Y[img] = X[i];
  } else {
    Y[i] = X[img];
  }
}
