// Multi-head attention O = softmax(Q·Kᵀ·scale)·V for each (batch b, head h), over token-major
// tensors [B, T, H·D] (head h owns channels h·D .. h·D + D - 1 of every token).
//
// Flash-style: one invocation per query row keeps its scaled query and its output accumulator
// in registers and streams the keys in tiles of BK with an online softmax (running max m and
// denominator l; the accumulator is rescaled by exp(m_old - m_new) when the max grows), so no
// T×T score matrix exists and workgroup memory stays fixed for every sequence length. A
// workgroup is BQ queries of one (b, h); a 1-D grid folded over x and y enumerates
// (b, h, query block).
//
// Each K/V tile is staged in workgroup memory (2 · KV_TILE elements, 8 KiB, half the 16 KiB
// every device has) so it is read from global memory once per workgroup rather than once per
// query. Software adapters use attention_qk/pv.wgsl instead: this kernel's large unrolled body
// compiles slowly there and its per-query loads are emulated gathers.
//
// The host prepends `alias Elem` (vec4<f32>, or f32 when D % 4 != 0), EW (its width), KV_TILE
// and edot (the dot product of two Elems).

override DE: u32 = 1u; // head dim in Elem units, ≤ MAX_DE
override BQ: u32 = 64u; // queries per workgroup
override BK: u32 = 16u; // keys per tile, ≤ MAX_BK and BK·DE ≤ KV_TILE

const MAX_DE: u32 = 128u / EW;
const MAX_BK: u32 = 32u;
// The lowest finite f32 (WGSL constants cannot be -inf): the running max before any key.
const NEG_MAX: f32 = -0x1.fffffep+127f;

struct Params {
  Tq: u32,
  Tk: u32,
  H: u32,
  row: u32, // Elems per token: H·DE
  qBlocks: u32, // ⌈Tq / BQ⌉
  work: u32, // B·H·qBlocks workgroups
  scale: f32,
}

@group(0) @binding(0) var<storage, read> Q: array<Elem>;
@group(0) @binding(1) var<storage, read> K: array<Elem>;
@group(0) @binding(2) var<storage, read_write> O: array<Elem>;
@group(0) @binding(3) var<storage, read> V: array<Elem>;
@group(0) @binding(15) var<uniform> p: Params;

var<workgroup> ks: array<Elem, KV_TILE>;
var<workgroup> vs: array<Elem, KV_TILE>;

@compute @workgroup_size(BQ, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let wid = wg.y * nwg.x + wg.x;
  if (wid >= p.work) {
    return;
  }
  let qb = wid % p.qBlocks;
  let bh = wid / p.qBlocks;
  let h = bh % p.H;
  let b = bh / p.H;
  // Queries past the end compute a copy of the last one (they must reach the barriers) and
  // do not store it.
  let i = qb * BQ + lid;
  let qo = (b * p.Tq + min(i, p.Tq - 1u)) * p.row + h * DE;
  let kv = b * p.Tk * p.row + h * DE;

  var q = array<Elem, MAX_DE>();
  var o = array<Elem, MAX_DE>();
  for (var d = 0u; d < DE; d++) {
    q[d] = Q[qo + d] * p.scale;
  }
  var m = NEG_MAX;
  var l = 0.0;
  var s = array<f32, MAX_BK>();
  for (var k0 = 0u; k0 < p.Tk; k0 += BK) {
    let n = min(BK, p.Tk - k0);
    workgroupBarrier(); // the previous tile is no longer read
    for (var e = lid; e < n * DE; e += BQ) {
      let g = kv + (k0 + e / DE) * p.row + e % DE;
      ks[e] = K[g];
      vs[e] = V[g];
    }
    workgroupBarrier();
    var mt = m;
    for (var j = 0u; j < BK; j++) {
      if (j < n) {
        var acc = 0.0;
        for (var d = 0u; d < DE; d++) {
          acc += edot(q[d], ks[j * DE + d]);
        }
        s[j] = acc;
        mt = max(mt, acc);
      }
    }
    let corr = exp(m - mt);
    l *= corr;
    for (var d = 0u; d < DE; d++) {
      o[d] *= corr;
    }
    for (var j = 0u; j < BK; j++) {
      if (j < n) {
        let e = exp(s[j] - mt);
        l += e;
        for (var d = 0u; d < DE; d++) {
          o[d] = fma(Elem(e), vs[j * DE + d], o[d]);
        }
      }
    }
    m = mt;
  }
  if (i < p.Tq) {
    let inv = 1.0 / l;
    for (var d = 0u; d < DE; d++) {
      O[qo + d] = o[d] * inv;
    }
  }
}
