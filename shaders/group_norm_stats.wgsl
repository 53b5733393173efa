// GroupNorm statistics over NHWC data: for each (image n, group g), the mean and 1/√(var + eps)
// of H·W pixels × the Cg channels of the group. Two launches share this source (STAGE):
//   0: each workgroup reduces one chunk of `pix` consecutive pixels of one (n, g) to its mean
//      and M2 (sum of squared deviations), two-pass, so large offsets cost no accuracy. Chunks
//      keep the reduction parallel when N·G alone would leave most of a GPU idle.
//   1: an invocation per (n, g) merges its chunks with Chan's parallel-variance formula.
// Needs rows.wgsl (S = WG: the whole workgroup reduces together in stage 0).

override STAGE: u32 = 0u;

struct Params {
  HW: u32, // pixels per image
  C: u32,
  Cg: u32, // channels per group
  G: u32,
  chunks: u32, // per (n, g)
  pix: u32, // pixels per chunk; the last chunk may have fewer
  groups: u32, // N·G
  eps: f32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(5) var<storage, read_write> part: array<vec2<f32>>; // (mean, M2) per chunk
@group(0) @binding(6) var<storage, read_write> stats: array<vec2<f32>>; // (mean, rstd) per (n, g)
@group(0) @binding(15) var<uniform> p: Params;

fn chunkCount(chunk: u32) -> u32 {
  return min(p.pix, p.HW - chunk * p.pix) * p.Cg;
}

fn partials(wid: u32, lid: u32) {
  let w = min(wid, p.groups * p.chunks - 1u);
  let chunk = w % p.chunks;
  let ng = w / p.chunks;
  let count = chunkCount(chunk);
  let base = ((ng / p.G) * p.HW + chunk * p.pix) * p.C + (ng % p.G) * p.Cg;
  var sum = 0.0;
  for (var e = lid; e < count; e += WG) {
    sum += X[base + (e / p.Cg) * p.C + e % p.Cg];
  }
  let n = f32(count);
  let mean = rowReduce(vec2<f32>(sum, 0.0), lid, false).x / n;
  var acc = vec2<f32>(0.0);
  for (var e = lid; e < count; e += WG) {
    let d = X[base + (e / p.Cg) * p.C + e % p.Cg] - mean;
    acc += vec2<f32>(d, d * d);
  }
  acc = rowReduce(acc, lid, false);
  if (wid == w && lid == 0u) {
    part[w] = vec2<f32>(mean + acc.x / n, max(acc.y - acc.x * acc.x / n, 0.0));
  }
}

fn combine(i: u32) {
  if (i >= p.groups) {
    return;
  }
  var n = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var c = 0u; c < p.chunks; c++) {
    let nb = f32(chunkCount(c));
    let pc = part[i * p.chunks + c];
    let delta = pc.x - mean;
    let total = n + nb;
    mean += delta * (nb / total);
    m2 += pc.y + delta * delta * (n * nb / total);
    n = total;
  }
  stats[i] = vec2<f32>(mean, inverseSqrt(m2 / n + p.eps));
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let wid = wg.y * nwg.x + wg.x;
  if (STAGE == 0u) {
    partials(wid, lid);
  } else {
    combine(wid * WG + lid);
  }
}
