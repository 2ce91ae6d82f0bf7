// Unique: distinct elements (or slices along an axis), sorted or in order of first
// occurrence, with first-occurrence indices, inverse indices and counts.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <type_traits>

#include "ops/common/element_copy.h"
#include "ops/common/infer.h"
#include "ops/common/shape_util.h"
#include "ops/registry.h"

namespace kiln::ops {
namespace {

// Three-way comparison of slices a and b of x along the middle dim of [outer, n, inner].
template <typename T>
int compare_slices(const T* p, int64_t a, int64_t b, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T& va = p[(o * n + a) * inner + i];
      const T& vb = p[(o * n + b) * inner + i];
      if constexpr (std::is_integral_v<T> || std::is_same_v<T, std::string>) {
        if (va < vb) return -1;
        if (vb < va) return 1;
      } else {
        // NaNs sort last and equal each other (numpy), keeping the order strict and weak.
        double da = static_cast<double>(va), db = static_cast<double>(vb);
        bool na = std::isnan(da), nb = std::isnan(db);
        if (na || nb) {
          if (na != nb) return na ? 1 : -1;
          continue;
        }
        if (da < db) return -1;
        if (db < da) return 1;
      }
    }
  return 0;
}

template <typename Fn>
void with_compare(const Tensor& x, Fn&& fn) {
  if (x.dtype() == DataType::kString) return fn(x.strings().data());
  if (x.dtype() == DataType::kBool) return fn(x.data<bool>());
  dispatch_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    fn(x.data<T>());
  });
}

void unique_cpu(KernelContext& ctx) {
  const Tensor& x0 = ctx.input(0);
  bool has_axis = ctx.attrs().has("axis");
  Tensor x = has_axis ? x0 : x0.reshaped({x0.numel()});
  int64_t r = static_cast<int64_t>(x.rank());
  KILN_CHECK(r >= 1, "Unique: input with an axis must have rank >= 1");
  int64_t axis = has_axis ? normalize_axis(ctx.attrs().get_int("axis", 0), r, "Unique axis") : 0;
  bool sorted = ctx.attrs().get_int("sorted", 1) != 0;
  int64_t n = x.dim(axis), outer = dims_product(x.dims(), 0, axis), inner = dims_product(x.dims(), axis + 1, r);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> group_of(n, 0);
  std::vector<int64_t> firsts;  // first index of each group, in sorted order
  std::vector<int64_t> counts;
  with_compare(x, [&](const auto* p) {
    auto cmp = [&](int64_t a, int64_t b) { return compare_slices(p, a, b, outer, n, inner); };
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
    for (int64_t k = 0; k < n; ++k) {
      if (k == 0 || cmp(order[k - 1], order[k]) != 0) {
        firsts.push_back(order[k]);
        counts.push_back(0);
      }
      group_of[order[k]] = static_cast<int64_t>(firsts.size()) - 1;
      ++counts.back();
    }
  });
  int64_t u = static_cast<int64_t>(firsts.size());
  std::vector<int64_t> pos(u);  // output position of each sorted group
  std::iota(pos.begin(), pos.end(), 0);
  if (!sorted) {
    std::vector<int64_t> by_first(u);
    std::iota(by_first.begin(), by_first.end(), 0);
    std::sort(by_first.begin(), by_first.end(), [&](int64_t a, int64_t b) { return firsts[a] < firsts[b]; });
    for (int64_t k = 0; k < u; ++k) pos[by_first[k]] = k;
  }
  std::vector<int64_t> dims = x.dims();
  dims[axis] = u;
  Tensor& y = ctx.allocate_output(0, x.dtype(), dims);
  ElementCopier copier(x, y);
  for (int64_t g = 0; g < u; ++g)
    for (int64_t o = 0; o < outer; ++o) copier.copy_run((o * n + firsts[g]) * inner, (o * u + pos[g]) * inner, inner);
  if (ctx.wants_output(1)) {
    Tensor& t = ctx.allocate_output(1, DataType::kInt64, {u});
    for (int64_t g = 0; g < u; ++g) t.data<int64_t>()[pos[g]] = firsts[g];
  }
  if (ctx.wants_output(2)) {
    Tensor& t = ctx.allocate_output(2, DataType::kInt64, {n});
    for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = pos[group_of[i]];
  }
  if (ctx.wants_output(3)) {
    Tensor& t = ctx.allocate_output(3, DataType::kInt64, {u});
    for (int64_t g = 0; g < u; ++g) t.data<int64_t>()[pos[g]] = counts[g];
  }
}

void infer_unique(InferenceContext& ctx) {
  DataType dt = ctx.input_dtype(0);
  const Shape* s = ctx.input_shape(0);
  Dim u = ctx.new_symbol();
  Dim n = Dim::unknown();
  if (!ctx.attrs().has("axis")) {
    ctx.set_output(0, dt, Shape({u}));
    if (s) n = dim_product(*s, 0, s->rank());
  } else if (s) {
    int64_t r = static_cast<int64_t>(s->rank());
    int64_t axis = ctx.attrs().get_int("axis", 0);
    if (axis < -r || axis >= r) ctx.fail("axis out of range");
    if (axis < 0) axis += r;
    std::vector<Dim> out = s->dims();
    n = out[axis];
    out[axis] = u;
    ctx.set_output(0, dt, Shape(out));
  } else {
    ctx.set_output(0, dt, std::nullopt);
  }
  if (ctx.num_outputs() > 1) ctx.set_output(1, DataType::kInt64, Shape({u}));
  if (ctx.num_outputs() > 2) ctx.set_output(2, DataType::kInt64, Shape({n}));
  if (ctx.num_outputs() > 3) ctx.set_output(3, DataType::kInt64, Shape({u}));
}

}  // namespace

KILN_REGISTER_OP(Unique, {"", "Unique", {11, 28}, infer_unique, unique_cpu});

}  // namespace kiln::ops
