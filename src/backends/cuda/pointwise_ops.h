// The pointwise operations our CUDA elementwise kernels implement, shared by host (lowering)
// and device (evaluation) code.
#pragma once
#include <string>

namespace kiln::cuda {

enum class PointwiseOp : int {
  // binary
  kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kPRelu,
  // unary
  kIdentity, kRelu, kSigmoid, kTanh, kExp, kLog, kSqrt, kAbs, kNeg, kErf, kReciprocal, kGelu, kGeluTanh,
  kLeakyRelu, kHardSigmoid, kHardSwish, kClip, kSoftplus, kElu, kCeil, kFloor, kSin, kCos, kSoftsign, kSelu,
  kCelu, kMish, kSwish, kThresholdedRelu, kRound, kSign,
};

struct PointwiseParams {
  float alpha = 0.f, beta = 0.f;
};


#ifdef __CUDACC__
__device__ inline float apply_pointwise(PointwiseOp op, float x, float y, const PointwiseParams& p) {
  switch (op) {
    case PointwiseOp::kAdd: return x + y;
    case PointwiseOp::kSub: return x - y;
    case PointwiseOp::kMul: return x * y;
    case PointwiseOp::kDiv: return x / y;
    case PointwiseOp::kPow: return powf(x, y);
    case PointwiseOp::kMax: return fmaxf(x, y);
    case PointwiseOp::kMin: return fminf(x, y);
    case PointwiseOp::kPRelu: return x < 0.f ? x * y : x;
    case PointwiseOp::kIdentity: return x;
    case PointwiseOp::kRelu: return fmaxf(x, 0.f);
    case PointwiseOp::kSigmoid: return 1.f / (1.f + expf(-x));
    case PointwiseOp::kTanh: return tanhf(x);
    case PointwiseOp::kExp: return expf(x);
    case PointwiseOp::kLog: return logf(x);
    case PointwiseOp::kSqrt: return sqrtf(x);
    case PointwiseOp::kAbs: return fabsf(x);
    case PointwiseOp::kNeg: return -x;
    case PointwiseOp::kErf: return erff(x);
    case PointwiseOp::kReciprocal: return 1.f / x;
    case PointwiseOp::kGelu: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case PointwiseOp::kGeluTanh: return 0.5f * x * (1.f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case PointwiseOp::kLeakyRelu: return x < 0.f ? p.alpha * x : x;
    case PointwiseOp::kHardSigmoid: return fmaxf(0.f, fminf(1.f, p.alpha * x + p.beta));
    case PointwiseOp::kHardSwish: return x * fmaxf(0.f, fminf(1.f, x / 6.f + 0.5f));
    case PointwiseOp::kClip: return fminf(fmaxf(x, p.alpha), p.beta);
    case PointwiseOp::kSoftplus: return x > 20.f ? x : log1pf(expf(x));
    case PointwiseOp::kElu: return x < 0.f ? p.alpha * (expf(x) - 1.f) : x;
    case PointwiseOp::kCeil: return ceilf(x);
    case PointwiseOp::kFloor: return floorf(x);
    case PointwiseOp::kSin: return sinf(x);
    case PointwiseOp::kCos: return cosf(x);
    case PointwiseOp::kSoftsign: return x / (1.f + fabsf(x));
    case PointwiseOp::kSelu: return x <= 0.f ? p.beta * (p.alpha * expf(x) - p.alpha) : p.beta * x;
    case PointwiseOp::kCelu: return fmaxf(0.f, x) + fminf(0.f, p.alpha * (expf(x / p.alpha) - 1.f));
    case PointwiseOp::kMish: return x * tanhf(x > 20.f ? x : log1pf(expf(x)));
    case PointwiseOp::kSwish: return x / (1.f + expf(-p.alpha * x));
    case PointwiseOp::kThresholdedRelu: return x > p.alpha ? x : 0.f;
    case PointwiseOp::kRound: return rintf(x);
    case PointwiseOp::kSign: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
  }
  return x;
}
#endif

}  // namespace kiln::cuda
