// Fused epilogue shared by the GEMM-like kernels (matmul, conv2d, depthwise conv):
//   y = act(acc + bias[c]) * scale[c] + shift[c];  y = y * mul[i];  y = y + res[i]
// Each step is switched by an override constant so one source serves every combination;
// absent tensors are bound to a placeholder buffer. Bindings 10–14 are reserved for it.
// Prepended, after activate.wgsl, to the kernel source by src/ops/epilogue.ts.

override HAS_BIAS: bool = false;
override HAS_AFFINE: bool = false;
override HAS_MUL: bool = false;
override HAS_RES: bool = false;

@group(0) @binding(10) var<storage, read> ep_bias: array<f32>;
@group(0) @binding(11) var<storage, read> ep_scale: array<f32>;
@group(0) @binding(12) var<storage, read> ep_shift: array<f32>;
@group(0) @binding(13) var<storage, read> ep_mul: array<f32>;
@group(0) @binding(14) var<storage, read> ep_res: array<f32>;

// v: the accumulator for channel c; i: the flat index of the element in the output tensor.
fn epilogue1(v: f32, c: u32, i: u32) -> f32 {
  var y = v;
  if (HAS_BIAS) { y += ep_bias[c]; }
  y = activate(y);
  if (HAS_AFFINE) { y = y * ep_scale[c] + ep_shift[c]; }
  if (HAS_MUL) { y *= ep_mul[i]; }
  if (HAS_RES) { y += ep_res[i]; }
  return y;
}

// Four consecutive channels c..c+3 at flat indices i..i+3.
fn epilogue4(v: vec4<f32>, c: u32, i: u32) -> vec4<f32> {
  return vec4<f32>(
    epilogue1(v.x, c, i),
    epilogue1(v.y, c + 1u, i + 1u),
    epilogue1(v.z, c + 2u, i + 2u),
    epilogue1(v.w, c + 3u, i + 3u),
  );
}
