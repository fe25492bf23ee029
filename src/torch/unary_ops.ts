/**
 * @module torchlight/torch/unary_ops: the names of the unary elementwise Tensor methods and
 * the ATen ops behind them (tensor.ts installs them on the prototype).
 */
/** Unary elementwise ops, all `(): Tensor` with an in-place `_` twin where ATen has one. */
export const UNARY = {
  neg: "neg", abs: "abs", exp: "exp", exp2: "exp2", log: "log", log2: "log2", log10: "log10", log1p: "log1p",
  expm1: "expm1", sqrt: "sqrt", rsqrt: "rsqrt", sin: "sin", cos: "cos", tan: "tan", asin: "asin", acos: "acos",
  atan: "atan", sinh: "sinh", cosh: "cosh", tanh: "tanh", sigmoid: "sigmoid", relu: "relu", silu: "silu",
  floor: "floor", ceil: "ceil", round: "round", trunc: "trunc", frac: "frac", sign: "sign", reciprocal: "reciprocal",
  square: "square", erf: "erf", erfinv: "erfinv", logicalNot: "logical_not", isnan: "isnan", isinf: "isinf",
  isfinite: "isfinite", bitwiseNot: "bitwise_not", digamma: "digamma", lgamma: "lgamma", sgn: "sgn",
} as const;
export const UNARY_INPLACE = ["neg", "abs", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "floor", "ceil",
  "round", "trunc", "reciprocal", "square", "silu"] as const;

