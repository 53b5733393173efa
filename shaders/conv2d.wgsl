// 2-D convolution as an implicit GEMM, NHWC, for groups whose input and output channel counts
// are multiples of 4; weights [KH, KW, Cin/groups, Cout] read as vec4 over output channels.
// Each thread computes TP output columns × 4·COV output channels; per tap and 4 input channels
// it loads TP input vec4s and 4·COV weight vec4s for 16·TP·COV multiply-adds. On software
// adapters loads, not arithmetic, are the cost, so the ratio is what matters.

override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override COV: u32 = 2u; // vec4s of output channels per thread: 2, or 1 when Cout/groups % 8 ≠ 0

struct Params {
  N: u32, H: u32, W: u32, Cin: u32,
  Ho: u32, Wo: u32, Cout: u32, groups: u32,
  padT: u32, padL: u32, cinG: u32, coutG: u32,
}

@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> Wt: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Y: array<vec4<f32>>;
@group(0) @binding(15) var<uniform> p: Params;

const TP: u32 = 4u;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let co4 = p.Cout / 4u;
  let cq0 = gid.x * COV; // first output vec4
  let wo0 = gid.y * TP;
  let nh = gid.z; // n · Ho + ho
  if (cq0 >= co4 || wo0 >= p.Wo) {
    return;
  }
  let n = nh / p.Ho;
  let ho = nh % p.Ho;
  let ci4Base = (cq0 * 4u / p.coutG) * p.cinG / 4u;
  let cin4 = p.Cin / 4u;
  let ci4G = p.cinG / 4u;
  var acc = array<vec4<f32>, 8>(); // TP × COV
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
        xoff[t] = (rowBase + u32(max(iw, 0))) * cin4 + ci4Base;
      }
      var wi = ((kh * KW + kw) * p.cinG) * co4 + cq0;
      for (var c = 0u; c < ci4G; c++) {
        var xv = array<vec4<f32>, TP>();
        for (var t = 0u; t < TP; t++) {
          if (xok[t]) {
            xv[t] = X[xoff[t] + c];
          }
        }
        for (var j = 0u; j < 4u; j++) {
          for (var v = 0u; v < COV; v++) {
            let w = Wt[wi + j * co4 + v];
            for (var t = 0u; t < TP; t++) {
              acc[t * COV + v] = fma(vec4<f32>(xv[t][j]), w, acc[t * COV + v]);
            }
          }
        }
        wi += 4u * co4;
      }
    }
  }
  for (var t = 0u; t < TP; t++) {
    let wo = wo0 + t;
    if (wo < p.Wo) {
      for (var v = 0u; v < COV; v++) {
        let o = (nh * p.Wo + wo) * co4 + cq0 + v;
        Y[o] = epilogue4(acc[t * COV + v], (cq0 + v) * 4u, o * 4u);
      }
    }
  }
}
