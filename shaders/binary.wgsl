// out[i] = act(a[i] ∘ b[i mod |b|]) with ∘ ∈ {+, −, ×}: b broadcasts over a's leading axes
// (b's shape is a suffix of a's). One element per thread; the 1-D index is folded over x and y
// so large tensors stay under the per-dimension workgroup limit.

override OP: u32 = 0u; // 0 add, 1 sub, 2 mul

struct Params {
  count: u32,
  countB: u32,
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(15) var<uniform> p: Params;

@compute @workgroup_size(WG1D)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flat_index(gid, nwg);
  if (i >= p.count) {
    return;
  }
  let a = A[i];
  let b = B[i % p.countB];
  var y = f32();
  switch OP {
    case 1u: { y = a - b; }
    case 2u: { y = a * b; }
    default: { y = a + b; }
  }
  Y[i] = activate(y);
}
