// Row reductions shared by the last-axis kernels (softmax, layer_norm, reduce). Each row of C
// elements is owned by S consecutive invocations of a 64-invocation workgroup, so one
// workgroup covers 64 / S rows. S = 1 (a thread per row) needs no workgroup memory or barriers,
// which suits software adapters and short rows; S > 1 spreads long rows over lanes whose loads
// are coalesced on GPUs. Prepended to the kernel source by src/ops/rows.ts.

const WG: u32 = 64u;
override S: u32 = 1u; // invocations per row: a power of two ≤ WG
// The lowest finite f32: the identity of max for finite data (WGSL constants cannot be -inf).
const NEG_MAX: f32 = -0x1.fffffep+127f;

var<workgroup> red: array<vec2<f32>, WG>;

// Which row an invocation serves. Dead invocations (past the last row, or in the spare
// workgroups of a folded dispatch) keep a valid row so they can still take part in barriers.
struct Row {
  base: u32, // flat index of the row's first element
  lane: u32, // 0 ≤ lane < S
  live: bool,
}

fn rowOf(wg: vec3<u32>, nwg: vec3<u32>, lid: u32, rows: u32, C: u32) -> Row {
  let row = (wg.y * nwg.x + wg.x) * (WG / S) + lid / S;
  return Row(min(row, rows - 1u) * C, lid % S, row < rows);
}

// Combines v over the S invocations of the caller's row: componentwise max when isMax,
// else sum. Must be called in uniform control flow by every invocation of the workgroup.
fn rowReduce(v: vec2<f32>, lid: u32, isMax: bool) -> vec2<f32> {
  if (S == 1u) {
    return v;
  }
  red[lid] = v;
  for (var s = S / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid % S < s) {
      let a = red[lid];
      let b = red[lid + s];
      red[lid] = select(a + b, max(a, b), isMax);
    }
  }
  workgroupBarrier();
  let r = red[lid - lid % S];
  // The next reduction overwrites red; every lane must have read its result first.
  workgroupBarrier();
  return r;
}
