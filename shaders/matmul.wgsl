// C[b, m, n] = Σ_k A[b, m, k] · B[b, k, n], then the fused epilogue. K and N multiples of 4.
// Each thread keeps an 8-row × 4-column block in registers and streams K with vec4 loads,
// without workgroup memory: on software adapters register blocking beats tiling (barriers are
// emulated), and on GPUs the B row loads are coalesced across the 16 threads of a row.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  strideA: u32, // per batch, in vec4 units; 0 broadcasts
  strideB: u32,
  strideC: u32,
}

@group(0) @binding(0) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> C: array<vec4<f32>>;
@group(0) @binding(15) var<uniform> p: Params;

const TM: u32 = 8u;

@compute @workgroup_size(16, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n4 = p.N / 4u;
  let k4 = p.K / 4u;
  let col = gid.x;
  let row0 = gid.y * TM;
  if (col >= n4 || row0 >= p.M) {
    return;
  }
  var rows = array<u32, TM>();
  for (var r = 0u; r < TM; r++) {
    rows[r] = gid.z * p.strideA + min(row0 + r, p.M - 1u) * k4;
  }
  var acc = array<vec4<f32>, TM>();
  var bi = gid.z * p.strideB + col;
  for (var k = 0u; k < k4; k++) {
    let b0 = B[bi];
    let b1 = B[bi + n4];
    let b2 = B[bi + 2u * n4];
    let b3 = B[bi + 3u * n4];
    bi += 4u * n4;
    for (var r = 0u; r < TM; r++) {
      let a = A[rows[r] + k];
      acc[r] = fma(vec4<f32>(a.x), b0, acc[r]);
      acc[r] = fma(vec4<f32>(a.y), b1, acc[r]);
      acc[r] = fma(vec4<f32>(a.z), b2, acc[r]);
      acc[r] = fma(vec4<f32>(a.w), b3, acc[r]);
    }
  }
  for (var r = 0u; r < TM; r++) {
    let m = row0 + r;
    if (m < p.M) {
      let o = gid.z * p.strideC + m * n4 + col;
      C[o] = epilogue4(acc[r], col * 4u, o * 4u);
    }
  }
}
