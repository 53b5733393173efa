// Depthwise 2-D convolution, NHWC with C a multiple of 4, weights [KH, KW, C], then the fused
// epilogue. Memory-bound (9 MACs per loaded value for 3×3), so each thread covers 4 channels
// (one vec4) × TP adjacent output columns and slides its window along the row, loading each
// input vec4 once for all the outputs that use it.

override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;

struct Params {
  N: u32, H: u32, W: u32, C: u32,
  Ho: u32, Wo: u32, padT: u32, padL: u32,
}

@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> Wt: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Y: array<vec4<f32>>;
@group(0) @binding(15) var<uniform> p: Params;

const TP: u32 = 8u;
// Input columns one thread's window may touch: (TP − 1)·SW + KW ≤ SPAN (checked on the host).
const SPAN: u32 = 24u;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c4 = p.C / 4u;
  let cq = gid.x;
  let wo0 = gid.y * TP;
  let nh = gid.z;
  if (cq >= c4 || wo0 >= p.Wo) {
    return;
  }
  let n = nh / p.Ho;
  let ho = nh % p.Ho;
  let span = (TP - 1u) * SW + KW;
  let iw0 = i32(wo0 * SW) - i32(p.padL);
  var acc = array<vec4<f32>, TP>();
  for (var kh = 0u; kh < KH; kh++) {
    let ih = i32(ho * SH + kh) - i32(p.padT);
    if (ih < 0 || ih >= i32(p.H)) {
      continue;
    }
    let rowBase = (n * p.H + u32(ih)) * p.W;
    var xs = array<vec4<f32>, SPAN>();
    for (var s = 0u; s < span; s++) {
      let iw = iw0 + i32(s);
      if (iw >= 0 && iw < i32(p.W)) {
        xs[s] = X[(rowBase + u32(iw)) * c4 + cq];
      } else {
        xs[s] = vec4<f32>(0.0);
      }
    }
    for (var kw = 0u; kw < KW; kw++) {
      let w = Wt[(kh * KW + kw) * c4 + cq];
      for (var t = 0u; t < TP; t++) {
        acc[t] = fma(xs[t * SW + kw], w, acc[t]);
      }
    }
  }
  for (var t = 0u; t < TP; t++) {
    let wo = wo0 + t;
    if (wo < p.Wo) {
      let o = (nh * p.Wo + wo) * c4 + cq;
      Y[o] = epilogue4(acc[t], cq * 4u, o * 4u);
    }
  }
}
