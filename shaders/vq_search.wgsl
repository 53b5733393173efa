// Nearest-codebook search: idx[m] = argmin_k ‖x_m − c_k‖², lowest k on exact ties, and
// gap[m] = second-best − best distance. Distances are computed as ‖c_k‖² − 2·x_m·c_k: the
// dropped ‖x_m‖² is the same for every k, so neither the argmin nor the gap changes, and the
// dot products form a GEMM x · Cᵀ whose results never leave registers (argmin epilogue).
//
// CT is the transposed codebook from vq_prep.wgsl: D4 rows of KQ vec4s (four consecutive
// codes each), then one row of ‖c‖². A 16×8 workgroup owns 64 rows of x, each thread 8 rows ×
// 4 codes of accumulators (register blocking as in matmul.wgsl). The 16 threads of a row read
// 16 consecutive vec4 of CT (coalesced) and the same x vec4 (a broadcast). Thread column tx
// scans code chunks tx, tx+16, …, keeping the best and second-best distance per row; a final
// pass merges the 16 partial results of each row in workgroup memory (12 KiB), breaking ties
// by the lower index. Software adapters use vq_search_sw.wgsl instead.

struct Params {
  M: u32,
  DV: u32, // row length of x in vec4 (x is padded to a multiple of 4)
  KQ: u32, // padded codes / 4: vec4s per row of CT
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> ct: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out_idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out_gap: array<f32>;
@group(0) @binding(15) var<uniform> p: Params;

const TM: u32 = 8u;
const TX: u32 = 16u;
const TY: u32 = 8u;
const F32_MAX: f32 = 3.4028234663852886e38;

var<workgroup> w_best: array<f32, 1024>; // TY · TM · TX
var<workgroup> w_second: array<f32, 1024>;
var<workgroup> w_idx: array<u32, 1024>;

@compute @workgroup_size(16, 8, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let group = wid.y * nwg.x + wid.x;
  let row0 = (group * TY + lid.y) * TM;
  var rows = array<u32, TM>();
  for (var r = 0u; r < TM; r++) {
    rows[r] = min(row0 + r, p.M - 1u) * p.DV;
  }
  var best = array<f32, TM>();
  var second = array<f32, TM>();
  var bidx = array<u32, TM>();
  for (var r = 0u; r < TM; r++) {
    best[r] = F32_MAX;
    second[r] = F32_MAX;
  }
  let stride = p.KQ;
  for (var j = lid.x; j < p.KQ; j += TX) {
    // Explicit zero: wgpu hoists function-scope vars out of loops and does not re-zero them.
    var acc = array<vec4<f32>, TM>();
    var ci = j;
    for (var d = 0u; d < p.DV; d++) {
      let c0 = ct[ci];
      let c1 = ct[ci + stride];
      let c2 = ct[ci + 2u * stride];
      let c3 = ct[ci + 3u * stride];
      ci += 4u * stride;
      for (var r = 0u; r < TM; r++) {
        let a = x[rows[r] + d];
        acc[r] = fma(vec4<f32>(a.x), c0, acc[r]);
        acc[r] = fma(vec4<f32>(a.y), c1, acc[r]);
        acc[r] = fma(vec4<f32>(a.z), c2, acc[r]);
        acc[r] = fma(vec4<f32>(a.w), c3, acc[r]);
      }
    }
    let norms = ct[ci];
    let k0 = j * 4u;
    for (var r = 0u; r < TM; r++) {
      let dist = fma(vec4<f32>(-2.0), acc[r], norms);
      for (var c = 0u; c < 4u; c++) {
        let v = dist[c];
        let lt = v < best[r];
        second[r] = select(min(second[r], v), best[r], lt);
        bidx[r] = select(bidx[r], k0 + c, lt);
        best[r] = select(best[r], v, lt);
      }
    }
  }
  for (var r = 0u; r < TM; r++) {
    let s = ((lid.y * TM + r) * TX) + lid.x;
    w_best[s] = best[r];
    w_second[s] = second[r];
    w_idx[s] = bidx[r];
  }
  workgroupBarrier();
  let li = lid.y * TX + lid.x;
  if (li < TY * TM) {
    let row = group * TY * TM + li;
    var b = w_best[li * TX];
    var s2 = w_second[li * TX];
    var bi = w_idx[li * TX];
    for (var t = 1u; t < TX; t++) {
      let ob = w_best[li * TX + t];
      let os = w_second[li * TX + t];
      let oi = w_idx[li * TX + t];
      if (ob < b || (ob == b && oi < bi)) {
        s2 = min(os, b);
        b = ob;
        bi = oi;
      } else {
        s2 = min(s2, ob);
      }
    }
    if (row < p.M) {
      out_idx[row] = i32(bi);
      out_gap[row] = s2 - b;
    }
  }
}
