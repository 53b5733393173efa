// vq_search for software adapters (llvmpipe, SwiftShader): the same result as vq_search.wgsl,
// tuned for a CPU. On Mesa's llvmpipe every storage or workgroup load costs tens of cycles
// per lane and component (it loops over lanes with bounds checks), while arithmetic and
// registers are cheap, so this kernel maximises arithmetic per load: each thread keeps 16 rows
// of x × 32 codes of accumulators (512 floats; stack spills cost far less than loads) and scans
// the whole codebook itself, so no cross-thread reduction or barrier is needed. Per step of
// four dimensions it loads 16 + 32 vec4 for 2048 FMAs, against 12 vec4 for 128 FMAs in the
// GPU kernel: about 3× faster here. Rows are unrolled by hand because llvmpipe turns loops
// over large private arrays into indexed scratch memory and takes minutes to compile them.
//
// CT comes from vq_prep.wgsl with codes padded to a multiple of 32 (padding codes have norm
// f32 max and never win). Each thread scans codes in increasing order with a strict `<`, so
// the lowest index wins exact ties.
//
// llvmpipe silently stops any loop after 65535 iterations per invocation, counting nested
// loops together. Large codebooks are therefore split over several launches, each scanning
// the code chunks [J0, J1) and carrying (best, second) per row in `state` and the index in
// `out_idx` from one launch to the next (launches run in order).

struct Params {
  M: u32,
  DV: u32, // D4 / 4: x row length in vec4
  KQ: u32, // padded codes / 4: vec4s per CT row, a multiple of 8
  J0: u32, // first and end vec4 chunk of codes this launch scans (multiples of 8)
  J1: u32,
  FIRST: u32, // 1: start from scratch instead of reading the state
  LAST: u32, // 1: write the gap instead of the state
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> ct: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out_idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out_gap: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<vec2<f32>>; // (best, second)
@group(0) @binding(15) var<uniform> p: Params;

const F32_MAX: f32 = 3.4028234663852886e38;

struct Best {
  best: f32,
  second: f32,
  idx: u32,
}

// 32 codes against four dimensions of one row: m[q] * xv sums c[d + i] · x[d + i] over i for
// codes 4q … 4q+3 (column i of m[q] is row d + i of CT).
fn accumulate(acc: ptr<function, array<vec4<f32>, 8>>, xv: vec4<f32>,
              m: array<mat4x4<f32>, 8>) {
  (*acc)[0] += m[0] * xv;
  (*acc)[1] += m[1] * xv;
  (*acc)[2] += m[2] * xv;
  (*acc)[3] += m[3] * xv;
  (*acc)[4] += m[4] * xv;
  (*acc)[5] += m[5] * xv;
  (*acc)[6] += m[6] * xv;
  (*acc)[7] += m[7] * xv;
}

fn update(st: ptr<function, Best>, acc: array<vec4<f32>, 8>, norms: array<vec4<f32>, 8>,
          k0: u32) {
  for (var q = 0u; q < 8u; q++) {
    let dist = fma(vec4<f32>(-2.0), acc[q], norms[q]);
    for (var c = 0u; c < 4u; c++) {
      let v = dist[c];
      let lt = v < (*st).best;
      (*st).second = select(min((*st).second, v), (*st).best, lt);
      (*st).idx = select((*st).idx, k0 + q * 4u + c, lt);
      (*st).best = select((*st).best, v, lt);
    }
  }
}

fn start(row: u32) -> Best {
  if (p.FIRST == 1u || row >= p.M) {
    return Best(F32_MAX, F32_MAX, 0u);
  }
  let st = state[row];
  return Best(st.x, st.y, u32(out_idx[row]));
}

fn finish(st: Best, row: u32) {
  if (row < p.M) {
    out_idx[row] = i32(st.idx);
    if (p.LAST == 1u) {
      out_gap[row] = st.second - st.best;
    } else {
      state[row] = vec2<f32>(st.best, st.second);
    }
  }
}

@compute @workgroup_size(8, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row0 = ((wid.y * nwg.x + wid.x) * 8u + lid.x) * 16u;
  let last = p.M - 1u;
  let x0 = min(row0, last) * p.DV;
  let x1 = min(row0 + 1u, last) * p.DV;
  let x2 = min(row0 + 2u, last) * p.DV;
  let x3 = min(row0 + 3u, last) * p.DV;
  let x4 = min(row0 + 4u, last) * p.DV;
  let x5 = min(row0 + 5u, last) * p.DV;
  let x6 = min(row0 + 6u, last) * p.DV;
  let x7 = min(row0 + 7u, last) * p.DV;
  let x8 = min(row0 + 8u, last) * p.DV;
  let x9 = min(row0 + 9u, last) * p.DV;
  let x10 = min(row0 + 10u, last) * p.DV;
  let x11 = min(row0 + 11u, last) * p.DV;
  let x12 = min(row0 + 12u, last) * p.DV;
  let x13 = min(row0 + 13u, last) * p.DV;
  let x14 = min(row0 + 14u, last) * p.DV;
  let x15 = min(row0 + 15u, last) * p.DV;
  var s0 = start(row0); var s1 = start(row0 + 1u);
  var s2 = start(row0 + 2u); var s3 = start(row0 + 3u);
  var s4 = start(row0 + 4u); var s5 = start(row0 + 5u);
  var s6 = start(row0 + 6u); var s7 = start(row0 + 7u);
  var s8 = start(row0 + 8u); var s9 = start(row0 + 9u);
  var s10 = start(row0 + 10u); var s11 = start(row0 + 11u);
  var s12 = start(row0 + 12u); var s13 = start(row0 + 13u);
  var s14 = start(row0 + 14u); var s15 = start(row0 + 15u);
  let n = p.KQ;
  for (var j = p.J0; j < p.J1; j += 8u) {
    let zero = array<vec4<f32>, 8>();
    var a0 = zero; var a1 = zero; var a2 = zero; var a3 = zero;
    var a4 = zero; var a5 = zero; var a6 = zero; var a7 = zero;
    var a8 = zero; var a9 = zero; var a10 = zero; var a11 = zero;
    var a12 = zero; var a13 = zero; var a14 = zero; var a15 = zero;
    var ci = j;
    for (var d = 0u; d < p.DV; d++) {
      let m = array<mat4x4<f32>, 8>(
        mat4x4<f32>(ct[ci], ct[ci + n], ct[ci + 2u * n], ct[ci + 3u * n]),
        mat4x4<f32>(ct[ci + 1u], ct[ci + 1u + n], ct[ci + 1u + 2u * n], ct[ci + 1u + 3u * n]),
        mat4x4<f32>(ct[ci + 2u], ct[ci + 2u + n], ct[ci + 2u + 2u * n], ct[ci + 2u + 3u * n]),
        mat4x4<f32>(ct[ci + 3u], ct[ci + 3u + n], ct[ci + 3u + 2u * n], ct[ci + 3u + 3u * n]),
        mat4x4<f32>(ct[ci + 4u], ct[ci + 4u + n], ct[ci + 4u + 2u * n], ct[ci + 4u + 3u * n]),
        mat4x4<f32>(ct[ci + 5u], ct[ci + 5u + n], ct[ci + 5u + 2u * n], ct[ci + 5u + 3u * n]),
        mat4x4<f32>(ct[ci + 6u], ct[ci + 6u + n], ct[ci + 6u + 2u * n], ct[ci + 6u + 3u * n]),
        mat4x4<f32>(ct[ci + 7u], ct[ci + 7u + n], ct[ci + 7u + 2u * n], ct[ci + 7u + 3u * n]),
      );
      ci += 4u * n;
      accumulate(&a0, x[x0 + d], m);
      accumulate(&a1, x[x1 + d], m);
      accumulate(&a2, x[x2 + d], m);
      accumulate(&a3, x[x3 + d], m);
      accumulate(&a4, x[x4 + d], m);
      accumulate(&a5, x[x5 + d], m);
      accumulate(&a6, x[x6 + d], m);
      accumulate(&a7, x[x7 + d], m);
      accumulate(&a8, x[x8 + d], m);
      accumulate(&a9, x[x9 + d], m);
      accumulate(&a10, x[x10 + d], m);
      accumulate(&a11, x[x11 + d], m);
      accumulate(&a12, x[x12 + d], m);
      accumulate(&a13, x[x13 + d], m);
      accumulate(&a14, x[x14 + d], m);
      accumulate(&a15, x[x15 + d], m);
    }
    let norms = array<vec4<f32>, 8>(ct[ci], ct[ci + 1u], ct[ci + 2u], ct[ci + 3u], ct[ci + 4u],
                                    ct[ci + 5u], ct[ci + 6u], ct[ci + 7u]);
    let k0 = j * 4u;
    update(&s0, a0, norms, k0);
    update(&s1, a1, norms, k0);
    update(&s2, a2, norms, k0);
    update(&s3, a3, norms, k0);
    update(&s4, a4, norms, k0);
    update(&s5, a5, norms, k0);
    update(&s6, a6, norms, k0);
    update(&s7, a7, norms, k0);
    update(&s8, a8, norms, k0);
    update(&s9, a9, norms, k0);
    update(&s10, a10, norms, k0);
    update(&s11, a11, norms, k0);
    update(&s12, a12, norms, k0);
    update(&s13, a13, norms, k0);
    update(&s14, a14, norms, k0);
    update(&s15, a15, norms, k0);
  }
  finish(s0, row0);
  finish(s1, row0 + 1u);
  finish(s2, row0 + 2u);
  finish(s3, row0 + 3u);
  finish(s4, row0 + 4u);
  finish(s5, row0 + 5u);
  finish(s6, row0 + 6u);
  finish(s7, row0 + 7u);
  finish(s8, row0 + 8u);
  finish(s9, row0 + 9u);
  finish(s10, row0 + 10u);
  finish(s11, row0 + 11u);
  finish(s12, row0 + 12u);
  finish(s13, row0 + 13u);
  finish(s14, row0 + 14u);
  finish(s15, row0 + 15u);
}
