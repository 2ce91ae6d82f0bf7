#include "ops/common/matmul_core.h"

#include <type_traits>

#include "core/status.h"
#include "ops/common/broadcast.h"
#include "ops/common/conv_core.h"
#include "ops/common/gemm.h"

namespace kiln::ops {

MatMulPlan plan_matmul(const std::vector<int64_t>& a_in, const std::vector<int64_t>& b_in) {
  if (a_in.empty() || b_in.empty()) throw_error(StatusCode::kInvalidArgument, "MatMul operands must have rank >= 1");
  std::vector<int64_t> a = a_in, b = b_in;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  MatMulPlan p;
  p.m = a[a.size() - 2];
  p.k = a.back();
  p.n = b.back();
  if (b[b.size() - 2] != p.k)
    throw_error(StatusCode::kInvalidArgument,
                "MatMul shapes " + dims_to_string(a_in) + " and " + dims_to_string(b_in) + " do not multiply");
  std::vector<int64_t> ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  p.batch_dims = broadcast_dims(ab, bb);
  size_t r = p.batch_dims.size();
  p.a_batch.assign(r - ab.size(), 1);
  p.a_batch.insert(p.a_batch.end(), ab.begin(), ab.end());
  p.b_batch.assign(r - bb.size(), 1);
  p.b_batch.insert(p.b_batch.end(), bb.begin(), bb.end());
  p.out_dims = p.batch_dims;
  if (a_in.size() > 1) p.out_dims.push_back(p.m);
  if (b_in.size() > 1) p.out_dims.push_back(p.n);
  return p;
}

template <typename T>
void matmul_run(const MatMulPlan& p, const T* a, const T* b, T* y) {
  int64_t batches = 1;
  for (int64_t d : p.batch_dims) batches *= d;
  auto mm = [&](int64_t m, const T* pa, const T* pb, T* py) {
    if constexpr (std::is_same_v<T, float>)
      gemm_f32(false, false, m, p.n, p.k, 1.0f, pa, p.k, pb, p.n, 0.0f, py, p.n);
    else
      gemm_plain(m, p.n, p.k, pa, p.k, pb, p.n, py, p.n);
  };
  bool b_shared = true, a_full = true;
  for (size_t i = 0; i < p.batch_dims.size(); ++i) {
    b_shared = b_shared && p.b_batch[i] == 1;
    a_full = a_full && p.a_batch[i] == p.batch_dims[i];
  }
  if (b_shared && a_full) {  // one B for every batch: a single GEMM with the batches as rows
    mm(batches * p.m, a, b, y);
    return;
  }
  BroadcastWalker w(p.batch_dims, {p.a_batch, p.b_batch});
  for (int64_t i = 0; i < batches; ++i, w.next())
    mm(p.m, a + w.offset(0) * p.m * p.k, b + w.offset(1) * p.k * p.n, y + i * p.m * p.n);
}

template void matmul_run<float>(const MatMulPlan&, const float*, const float*, float*);
template void matmul_run<double>(const MatMulPlan&, const double*, const double*, double*);
template void matmul_run<int64_t>(const MatMulPlan&, const int64_t*, const int64_t*, int64_t*);

std::optional<Shape> matmul_shape(const Shape* a, const Shape* b) {
  if (!a || !b) return std::nullopt;
  if (a->rank() == 0 || b->rank() == 0) throw_error(StatusCode::kInvalidArgument, "MatMul operands must have rank >= 1");
  std::vector<Dim> ad = a->dims(), bd = b->dims();
  if (ad.size() == 1) ad.insert(ad.begin(), Dim(1));
  if (bd.size() == 1) bd.push_back(Dim(1));
  const Dim& ka = ad.back();
  const Dim& kb = bd[bd.size() - 2];
  if (ka.is_constant() && kb.is_constant() && ka.value() != kb.value())
    throw_error(StatusCode::kInvalidArgument,
                "MatMul shapes " + a->to_string() + " and " + b->to_string() + " do not multiply");
  Shape ab(std::vector<Dim>(ad.begin(), ad.end() - 2)), bb(std::vector<Dim>(bd.begin(), bd.end() - 2));
  auto batch = broadcast_shapes({&ab, &bb});
  if (!batch) return std::nullopt;
  std::vector<Dim> out = batch->dims();
  if (a->rank() > 1) out.push_back(ad[ad.size() - 2]);
  if (b->rank() > 1) out.push_back(bd.back());
  return Shape(out);
}

}  // namespace kiln::ops
