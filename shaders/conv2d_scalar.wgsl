// General 2-D convolution for any channel counts (the vec4 implicit GEMM in conv2d.wgsl needs
// multiples of 4), NHWC, weights [KH, KW, Cin/groups, Cout], then the fused epilogue.
// Each thread computes 4 output channels × TP output columns; weights for the 4 channels are
// loaded once per tap and reused across the TP columns. COB = 4 when a group's output channels
// are a multiple of 4 (the 4 channels share a group), else 1 (one channel per thread).

override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override COB: u32 = 4u;

struct Params {
  N: u32, H: u32, W: u32, Cin: u32,
  Ho: u32, Wo: u32, Cout: u32, groups: u32,
  padT: u32, padL: u32, cinG: u32, coutG: u32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(15) var<uniform> p: Params;

const TP: u32 = 4u;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let co0 = gid.x * COB;
  let wo0 = gid.y * TP;
  let nh = gid.z; // n * Ho + ho
  if (co0 >= p.Cout || wo0 >= p.Wo) {
    return;
  }
  let n = nh / p.Ho;
  let ho = nh % p.Ho;
  let g = co0 / p.coutG;
  let ciBase = g * p.cinG;
  var acc = array<vec4<f32>, TP>();
  for (var kh = 0u; kh < KH; kh++) {
    let ih = i32(ho * SH + kh) - i32(p.padT);
    if (ih < 0 || ih >= i32(p.H)) {
      continue;
    }
    let rowBase = (n * p.H + u32(ih)) * p.W;
    for (var kw = 0u; kw < KW; kw++) {
      var xoff = array<u32, TP>();
      var xok = array<bool, TP>();
      for (var t = 0u; t < TP; t++) {
        let iw = i32((wo0 + t) * SW + kw) - i32(p.padL);
        xok[t] = iw >= 0 && iw < i32(p.W) && wo0 + t < p.Wo;
        xoff[t] = (rowBase + u32(max(iw, 0))) * p.Cin + ciBase;
      }
      var wi = ((kh * KW + kw) * p.cinG) * p.Cout + co0;
      for (var ci = 0u; ci < p.cinG; ci++) {
        var w = vec4<f32>();
        if (COB == 4u) {
          w = vec4<f32>(Wt[wi], Wt[wi + 1u], Wt[wi + 2u], Wt[wi + 3u]);
        } else {
          w = vec4<f32>(Wt[wi], 0.0, 0.0, 0.0);
        }
        wi += p.Cout;
        for (var t = 0u; t < TP; t++) {
          if (xok[t]) {
            acc[t] = fma(vec4<f32>(X[xoff[t] + ci]), w, acc[t]);
          }
        }
      }
    }
  }
  for (var t = 0u; t < TP; t++) {
    let wo = wo0 + t;
    if (wo < p.Wo) {
      let o = (nh * p.Wo + wo) * p.Cout + co0;
      if (COB == 4u) {
        let v = epilogue4(acc[t], co0, o);
        Y[o] = v.x;
        Y[o + 1u] = v.y;
        Y[o + 2u] = v.z;
        Y[o + 3u] = v.w;
      } else {
        Y[o] = epilogue1(acc[t].x, co0, o);
      }
    }
  }
}
