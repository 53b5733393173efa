// C[b, m, n] = Σ_k A[b, m, k] · B[b, k, n], then the fused epilogue, for software adapters
// (llvmpipe, SwiftShader). K and N multiples of 4. There each WGSL load is a gather across the
// SIMD lanes and costs far more than an FMA, so each thread owns a large 32-row × 2-vec4 block:
// per 4 steps of K it loads 8 vec4s of B and 32 of A for 256 vec4 FMAs. Measured on llvmpipe:
// 2.1–2.3× faster than the 8 × 1 block of matmul.wgsl, which suits GPUs (this block would spill).
// 32 × 2 rather than 16 × 4 (same work per thread): a workgroup then spans 128 columns, not 256,
// so the N = 256 matmuls of the codec's blocks get two workgroup columns; on lavapipe the engine
// benchmark's codec graph took 3153 ms against 3844 (the GEMMs alike), bench/RESULTS.md.

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

const TM: u32 = 32u;
const TN: u32 = 2u;

@compute @workgroup_size(16, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n4 = p.N / 4u;
  let k4 = p.K / 4u;
  let col0 = gid.x * TN;
  let row0 = gid.y * TM;
  if (col0 >= n4 || row0 >= p.M) {
    return;
  }
  var rows = array<u32, TM>();
  for (var r = 0u; r < TM; r++) {
    rows[r] = gid.z * p.strideA + min(row0 + r, p.M - 1u) * k4;
  }
  var cols = array<u32, TN>();
  for (var c = 0u; c < TN; c++) {
    cols[c] = min(col0 + c, n4 - 1u);
  }
  var acc = array<vec4<f32>, 64>(); // TM × TN
  var bi = gid.z * p.strideB;
  for (var k = 0u; k < k4; k++) {
    var b = array<vec4<f32>, 8>(); // 4 rows of B × TN
    for (var c = 0u; c < TN; c++) {
      for (var j = 0u; j < 4u; j++) {
        b[j * TN + c] = B[bi + j * n4 + cols[c]];
      }
    }
    bi += 4u * n4;
    for (var r = 0u; r < TM; r++) {
      let a = A[rows[r] + k];
      for (var c = 0u; c < TN; c++) {
        var s = acc[r * TN + c];
        s = fma(vec4<f32>(a.x), b[c], s);
        s = fma(vec4<f32>(a.y), b[TN + c], s);
        s = fma(vec4<f32>(a.z), b[2u * TN + c], s);
        s = fma(vec4<f32>(a.w), b[3u * TN + c], s);
        acc[r * TN + c] = s;
      }
    }
  }
  for (var r = 0u; r < TM; r++) {
    let m = row0 + r;
    if (m < p.M) {
      for (var c = 0u; c < TN; c++) {
        if (col0 + c < n4) {
          let o = gid.z * p.strideC + m * n4 + col0 + c;
          C[o] = epilogue4(acc[r * TN + c], (col0 + c) * 4u, o * 4u);
        }
      }
    }
  }
}
