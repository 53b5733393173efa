// Pixel shuffle (depth-to-space) and unshuffle on NHWC with PyTorch's channel order: channel
// c·r² + i·r + j of the low-resolution tensor is sub-pixel (i, j) of channel c. One thread per
// output element; the direction is an override constant so one source serves both.

override UNSHUFFLE: bool = false;

struct Params {
  count: u32,
  H: u32, // low-resolution height and width
  W: u32,
  C: u32, // channels of the high-resolution tensor
  r: u32,
  rowWidth: u32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(15) var<uniform> p: Params;

// Flat index in the low-resolution tensor [N, H, W, C·r²] of high-resolution element
// (n, y, x, c) of [N, H·r, W·r, C].
fn lowIndex(n: u32, y: u32, x: u32, c: u32) -> u32 {
  let rr = p.r * p.r;
  return ((n * p.H + y / p.r) * p.W + x / p.r) * p.C * rr + c * rr + (y % p.r) * p.r + (x % p.r);
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.rowWidth + gid.x;
  if (i >= p.count) {
    return;
  }
  if (UNSHUFFLE) {
    // i indexes the low-resolution output: decompose it, read the high-resolution input.
    let rr = p.r * p.r;
    let cc = i % (p.C * rr);
    let pix = i / (p.C * rr);
    let xl = pix % p.W;
    let rest = pix / p.W;
    let yl = rest % p.H;
    let n = rest / p.H;
    let c = cc / rr;
    let y = yl * p.r + (cc % rr) / p.r;
    let x = xl * p.r + cc % p.r;
    Y[i] = X[((n * p.H * p.r + y) * p.W * p.r + x) * p.C + c];
  } else {
    // i indexes the high-resolution output.
    let c = i % p.C;
    let pix = i / p.C;
    let x = pix % (p.W * p.r);
    let rest = pix / (p.W * p.r);
    let y = rest % (p.H * p.r);
    let n = rest / (p.H * p.r);
    Y[i] = X[lowIndex(n, y, x, c)];
  }
}
