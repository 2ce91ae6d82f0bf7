// kiln::Attention's perm_q / perm_kt / perm_v / perm_y layouts and select_q / select_kt /
// select_v slots (docs/FUSED_OPS.md): the reference kernel against a direct computation and
// explicit Transposes / Gathers, shape inference, and malformed attributes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "ops/common/standard_op.h"
#include "unit/ops/attention_rnn_signal_util.h"

namespace kiln::ops::testing {
namespace {

Tensor random_f32(std::vector<int64_t> dims, uint32_t seed) {
  Tensor t(DataType::kFloat32, std::move(dims));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

ir::Attributes perms(bool with_mask_scale = true) {
  ir::Attributes a;
  a.set("perm_q", std::vector<int64_t>{0, 2, 1, 3});   // Q stored [B, S, H, D]
  a.set("perm_kt", std::vector<int64_t>{0, 2, 3, 1});  // K stored [B, Sk, H, D]
  a.set("perm_v", std::vector<int64_t>{0, 2, 1, 3});   // V stored [B, Sk, H, Dv]
  a.set("perm_y", std::vector<int64_t>{0, 2, 1, 3});   // Y stored [B, S, H, Dv]
  if (with_mask_scale) a.set("scale", 0.5f);
  return a;
}

TEST(KilnAttention, PermutedLayoutsMatchDirectComputation) {
  const int64_t B = 2, S = 3, Sk = 4, H = 2, D = 3, Dv = 2;
  Tensor q = random_f32({B, S, H, D}, 1), k = random_f32({B, Sk, H, D}, 2), v = random_f32({B, Sk, H, Dv}, 3);
  Tensor mask = random_f32({B, 1, 1, Sk}, 4);
  auto out = run_op("Attention", 1, {q, k, v, mask}, 1, perms(), "kiln");
  const Tensor& y = out[0].tensor();
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{B, S, H, Dv}));
  auto at = [](const Tensor& t, int64_t a, int64_t b, int64_t c, int64_t d) {
    return static_cast<double>(t.data<float>()[((a * t.dim(1) + b) * t.dim(2) + c) * t.dim(3) + d]);
  };
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < S; ++i) {
        std::vector<double> p(Sk);
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < Sk; ++j) {
          double s = 0;
          for (int64_t d = 0; d < D; ++d) s += at(q, b, i, h, d) * at(k, b, j, h, d);
          p[j] = s * 0.5 + at(mask, b, 0, 0, j);
          mx = std::max(mx, p[j]);
        }
        for (auto& x : p) sum += (x = std::exp(x - mx));
        for (int64_t c = 0; c < Dv; ++c) {
          double acc = 0;
          for (int64_t j = 0; j < Sk; ++j) acc += p[j] / sum * at(v, b, j, h, c);
          EXPECT_NEAR(at(y, b, i, h, c), acc, 1e-5) << b << " " << h << " " << i << " " << c;
        }
      }
}

TEST(KilnAttention, PermsEqualExplicitTransposes) {
  Tensor q = random_f32({2, 5, 3, 4}, 5), k = random_f32({2, 6, 3, 4}, 6), v = random_f32({2, 6, 3, 4}, 7);
  auto got = run_op("Attention", 1, {q, k, v}, 1, perms(), "kiln")[0].tensor();
  auto tr = [](const Tensor& t, std::vector<int64_t> p) {
    ir::Attributes a;
    a.set("perm", p);
    return run_standard_op("Transpose", a, {&t});
  };
  Tensor qt = tr(q, {0, 2, 1, 3}), kt = tr(k, {0, 2, 3, 1}), vt = tr(v, {0, 2, 1, 3});
  ir::Attributes plain;
  plain.set("scale", 0.5f);
  Tensor y = run_op("Attention", 1, {qt, kt, vt}, 1, plain, "kiln")[0].tensor();
  Tensor want = tr(y, {0, 2, 1, 3});
  ASSERT_EQ(got.dims(), want.dims());
  for (int64_t i = 0; i < got.numel(); ++i) EXPECT_EQ(got.data<float>()[i], want.data<float>()[i]);
}

std::vector<ir::ValueType> infer_kiln(const std::vector<ir::ValueType>& in, const ir::Attributes& attrs) {
  std::vector<std::optional<ir::ValueType>> opt(in.begin(), in.end());
  OneNode g("Attention", opt, 1, "kiln");
  g.node->attrs() = attrs;
  std::vector<const ir::ValueType*> types;
  for (size_t i = 0; i < in.size(); ++i) types.push_back(&g.node->input(i)->type());
  int counter = 0;
  InferenceContext ctx(*g.node, 1, types, std::vector<const Tensor*>(in.size(), nullptr), &counter);
  OpRegistry::global().find("kiln", "Attention")->infer(ctx);
  return ctx.outputs();
}

TEST(KilnAttention, InfersPermutedShapes) {
  Shape q(std::vector<Dim>{Dim::symbol("B"), Dim(128), Dim(12), Dim(64)});
  auto out = infer_kiln({ir::ValueType::tensor(DataType::kFloat16, q), ir::ValueType::tensor(DataType::kFloat16, q),
                         ir::ValueType::tensor(DataType::kFloat16, q)},
                        perms());
  ASSERT_TRUE(out[0].shape);
  EXPECT_EQ(*out[0].shape, q);
  EXPECT_EQ(out[0].dtype, DataType::kFloat16);
  ir::Attributes bad;
  bad.set("perm_q", std::vector<int64_t>{0, 2, 1});  // wrong length for a rank-4 Q
  EXPECT_THROW(infer_kiln({tt(DataType::kFloat32, {1, 2, 3, 4}), tt(DataType::kFloat32, {1, 2, 4, 3}),
                           tt(DataType::kFloat32, {1, 2, 3, 4})},
                          bad),
               Error);
}

// q, k, v as slots 0, 1, 2 of one packed [B, S, 3, H, D] tensor: the same result as Gathers
// first, then the permuted attention.
TEST(KilnAttention, SelectsEqualExplicitGathers) {
  Tensor qkv = random_f32({2, 5, 3, 3, 4}, 8);
  ir::Attributes sel = perms();
  sel.set("select_q", std::vector<int64_t>{2, 0});
  sel.set("select_kt", std::vector<int64_t>{2, 1});
  sel.set("select_v", std::vector<int64_t>{2, 2});
  auto got = run_op("Attention", 1, {qkv, qkv, qkv}, 1, sel, "kiln")[0].tensor();
  auto slot = [&](int64_t i) {
    ir::Attributes a;
    a.set("axis", int64_t{2});
    Tensor index = Tensor::scalar_i64(i);
    return run_standard_op("Gather", a, {&qkv, &index});
  };
  Tensor q = slot(0), k = slot(1), v = slot(2);
  Tensor want = run_op("Attention", 1, {q, k, v}, 1, perms(), "kiln")[0].tensor();
  ASSERT_EQ(got.dims(), want.dims());
  for (int64_t i = 0; i < got.numel(); ++i) EXPECT_EQ(got.data<float>()[i], want.data<float>()[i]);
  // Shape inference drops the selected axis before the perm.
  auto out = infer_kiln({tt(DataType::kFloat32, {2, 5, 3, 3, 4}), tt(DataType::kFloat32, {2, 5, 3, 3, 4}),
                         tt(DataType::kFloat32, {2, 5, 3, 3, 4})},
                        sel);
  ASSERT_TRUE(out[0].shape);
  EXPECT_EQ(*out[0].shape, Shape({2, 5, 3, 4}));
}

TEST(KilnAttention, MalformedSelectsAreCleanErrors) {
  Tensor qkv = random_f32({1, 4, 3, 2, 4}, 9);
  auto run_with = [&](std::vector<int64_t> select_q) {
    ir::Attributes a = perms(false);
    a.set("select_q", select_q);
    a.set("select_kt", std::vector<int64_t>{2, 1});
    a.set("select_v", std::vector<int64_t>{2, 2});
    return run_op("Attention", 1, {qkv, qkv, qkv}, 1, a, "kiln");
  };
  EXPECT_THROW(run_with({2}), Error);         // not [axis, index]
  EXPECT_THROW(run_with({2, 3}), Error);      // index past the axis
  EXPECT_THROW(run_with({7, 0}), Error);      // axis past the rank
  EXPECT_THROW(run_with({2, 0, 1}), Error);   // too long
}

}  // namespace
}  // namespace kiln::ops::testing
