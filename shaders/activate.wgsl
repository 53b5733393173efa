// The activation functions shared by every kernel that applies one, selected by an override
// constant so the compiler folds the switch away. Formulas match `activate` in
// src/ops/epilogue.ts exactly (GELU uses the tanh form; arguments of tanh are clamped because
// some implementations return NaN for large inputs).

override ACT: u32 = 0u; // 0 none, 1 relu, 2 leaky_relu, 3 silu, 4 gelu, 5 sigmoid, 6 tanh
override ACT_ALPHA: f32 = 0.01;

fn activate(x: f32) -> f32 {
  switch ACT {
    case 1u: { return max(x, 0.0); }
    case 2u: { return select(ACT_ALPHA * x, x, x >= 0.0); }
    case 3u: { return x / (1.0 + exp(-x)); }
    case 4u: {
      let t = clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -15.0, 15.0);
      return 0.5 * x * (1.0 + tanh(t));
    }
    case 5u: { return 1.0 / (1.0 + exp(-x)); }
    case 6u: { return tanh(clamp(x, -15.0, 15.0)); }
    default: { return x; }
  }
}
