// Attention scores for the software-adapter path: S[bh, i, j] = scale · q[b, i, h] · k[b, j, h]
// for the batch·heads bh0 .. bh0 + bhCount - 1 of one chunk (S holds only the chunk).
// A GEMM with an 8-query × 4-key register block per invocation and the head dimension
// streamed by a loop with a runtime bound: no workgroup memory, and a small loop body that
// compiles quickly for every head size. The host prepends `alias Elem` and edot as for
// attention.wgsl.

const RQ: u32 = 8u; // queries per invocation
const RK: u32 = 4u; // keys per invocation (one vec4 of scores)
const WG: u32 = 64u;

struct Params {
  Tq: u32,
  Tk: u32,
  H: u32,
  row: u32, // Elems per token: H·DE
  DE: u32, // head dim in Elems
  bh0: u32,
  bhCount: u32,
  qBlocks: u32, // ⌈Tq / RQ⌉
  kBlocks: u32, // ⌈Tk / RK⌉
  scale: f32,
}

@group(0) @binding(0) var<storage, read> Q: array<Elem>;
@group(0) @binding(1) var<storage, read> K: array<Elem>;
@group(0) @binding(5) var<storage, read_write> S: array<f32>;
@group(0) @binding(15) var<uniform> p: Params;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wg.y * nwg.x + wg.x) * WG + lid;
  let kb = t % p.kBlocks;
  let qb = (t / p.kBlocks) % p.qBlocks;
  let lbh = t / (p.kBlocks * p.qBlocks);
  if (lbh >= p.bhCount) {
    return;
  }
  let bh = p.bh0 + lbh;
  let b = bh / p.H;
  let head = (bh % p.H) * p.DE;
  // Rows past the end repeat the last row; their results are not stored.
  var qo = array<u32, RQ>();
  for (var r = 0u; r < RQ; r++) {
    qo[r] = (b * p.Tq + min(qb * RQ + r, p.Tq - 1u)) * p.row + head;
  }
  let j0 = kb * RK;
  let k0 = (b * p.Tk + min(j0, p.Tk - 1u)) * p.row + head;
  let k1 = (b * p.Tk + min(j0 + 1u, p.Tk - 1u)) * p.row + head;
  let k2 = (b * p.Tk + min(j0 + 2u, p.Tk - 1u)) * p.row + head;
  let k3 = (b * p.Tk + min(j0 + 3u, p.Tk - 1u)) * p.row + head;
  var acc = array<vec4<f32>, RQ>();
  for (var d = 0u; d < p.DE; d++) {
    let a = K[k0 + d];
    let b1 = K[k1 + d];
    let c = K[k2 + d];
    let e = K[k3 + d];
    for (var r = 0u; r < RQ; r++) {
      let q = Q[qo[r] + d];
      acc[r] += vec4<f32>(edot(q, a), edot(q, b1), edot(q, c), edot(q, e));
    }
  }
  for (var r = 0u; r < RQ; r++) {
    let i = qb * RQ + r;
    if (i < p.Tq) {
      let so = (lbh * p.Tq + i) * p.Tk;
      for (var c = 0u; c < RK; c++) {
        if (j0 + c < p.Tk) {
          S[so + j0 + c] = acc[r][c] * p.scale;
        }
      }
    }
  }
}
