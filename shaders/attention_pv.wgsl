// Attention output for the software-adapter path: O[b, i, h] = Σ_j P[bh, i, j] · v[b, j, h],
// with P the row-softmaxed scores of attention_qk.wgsl (one chunk of batch·heads). A GEMM with
// an 8-query × 1-Elem register block per invocation; consecutive invocations take consecutive
// Elems of the head, so the V loads of a row are contiguous. The host prepends `alias Elem`.

const RQ: u32 = 8u;
const WG: u32 = 64u;

struct Params {
  Tq: u32,
  Tk: u32,
  H: u32,
  row: u32,
  DE: u32,
  bh0: u32,
  bhCount: u32,
  qBlocks: u32,
}

@group(0) @binding(2) var<storage, read_write> O: array<Elem>;
@group(0) @binding(3) var<storage, read> V: array<Elem>;
@group(0) @binding(5) var<storage, read> P: array<f32>;
@group(0) @binding(15) var<uniform> p: Params;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wg.y * nwg.x + wg.x) * WG + lid;
  let col = t % p.DE;
  let qb = (t / p.DE) % p.qBlocks;
  let lbh = t / (p.DE * p.qBlocks);
  if (lbh >= p.bhCount) {
    return;
  }
  let bh = p.bh0 + lbh;
  let b = bh / p.H;
  let head = (bh % p.H) * p.DE + col;
  var po = array<u32, RQ>();
  for (var r = 0u; r < RQ; r++) {
    po[r] = (lbh * p.Tq + min(qb * RQ + r, p.Tq - 1u)) * p.Tk;
  }
  var acc = array<Elem, RQ>();
  var vo = b * p.Tk * p.row + head;
  for (var j = 0u; j < p.Tk; j++) {
    let v = V[vo];
    vo += p.row;
    for (var r = 0u; r < RQ; r++) {
      acc[r] = fma(Elem(P[po[r] + j]), v, acc[r]);
    }
  }
  for (var r = 0u; r < RQ; r++) {
    let i = qb * RQ + r;
    if (i < p.Tq) {
      O[(b * p.Tq + i) * p.row + head] = acc[r];
    }
  }
}
