// C[b, m, n] = Σ_k A[b, m, k] · B[b, k, n] for any K and N (the vec4 kernel needs multiples
// of 4). Each thread computes a 4-row × 1-column block.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  strideA: u32, // per batch, in elements; 0 broadcasts
  strideB: u32,
  strideC: u32,
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(15) var<uniform> p: Params;

const TM: u32 = 4u;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let row0 = gid.y * TM;
  if (n >= p.N || row0 >= p.M) {
    return;
  }
  var rows = array<u32, TM>();
  for (var r = 0u; r < TM; r++) {
    rows[r] = gid.z * p.strideA + min(row0 + r, p.M - 1u) * p.K;
  }
  var acc = array<f32, TM>();
  var bi = gid.z * p.strideB + n;
  for (var k = 0u; k < p.K; k++) {
    let b = B[bi];
    bi += p.N;
    for (var r = 0u; r < TM; r++) {
      acc[r] = fma(A[rows[r] + k], b, acc[r]);
    }
  }
  for (var r = 0u; r < TM; r++) {
    let m = row0 + r;
    if (m < p.M) {
      let o = gid.z * p.strideC + m * p.N + n;
      C[o] = epilogue1(acc[r], n, o);
    }
  }
}
