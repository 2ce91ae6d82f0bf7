// The memory planner's views (aliases): roots live until every alias's last use, in-place reuse
// never overwrites bytes an alias still needs, and roots outside the arena are never planned.
#include <gtest/gtest.h>

#include <random>

#include "plan/memory_planner.h"
#include "plan/views.h"

namespace kiln::plan {
namespace {

ir::ValueType f32(Shape s) { return ir::ValueType::tensor(DataType::kFloat32, std::move(s)); }

// Views here are nodes of op type "View" (the planner takes any ViewFn).
bool fake_view(const ir::Node& n) { return n.op_type() == "View"; }

// Runs the schedule on byte tags: each planned write tags its bytes with the value, and every
// read of a planned root (directly or through an alias) must still find that value's tag.
void expect_reads_see_their_values(const ir::Graph& g, const MemoryPlan& p) {
  std::vector<const ir::Value*> tag(p.arena_bytes, nullptr);
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const ir::Node& n = *g.nodes()[i];
    if (fake_view(n)) continue;
    for (const ir::Value* v : n.inputs()) {
      const ValueSlot* s = v ? p.find(p.root_of(v)) : nullptr;
      if (!s) continue;
      for (size_t b = s->offset; b < s->offset + s->bytes; ++b)
        ASSERT_EQ(tag[b], s->value) << "step " << i << " (" << n.describe() << ") reads '" << v->name()
                                    << "' but byte " << b << " holds "
                                    << (tag[b] ? tag[b]->name() : std::string("nothing"));
    }
    for (const ir::Value* v : n.outputs())
      if (const ValueSlot* s = v ? p.find(v) : nullptr)
        for (size_t b = s->offset; b < s->offset + s->bytes; ++b) tag[b] = v;
  }
}

TEST(ViewAliasPlanner, ChainAliasesTheRootAndExtendsItsLifetime) {
  // r = A(in); z1 = View(r); z2 = View(z1); t = B(in); u = C(t); out = D(z2, u).
  ir::Graph g;
  ir::Value* in = g.add_value("in", f32(Shape{4, 64}));
  g.inputs().push_back(in);
  ir::Value* r = g.add_value("r", f32(Shape{4, 64}));
  ir::Value* z1 = g.add_value("z1", f32(Shape{256}));
  ir::Value* z2 = g.add_value("z2", f32(Shape{16, 16}));
  ir::Value* t = g.add_value("t", f32(Shape{4, 64}));
  ir::Value* u = g.add_value("u", f32(Shape{4, 64}));
  ir::Value* out = g.add_value("out", f32(Shape{16, 16}));
  g.add_node("A", {in}, {r});
  g.add_node("View", {r}, {z1});
  g.add_node("View", {z1}, {z2});
  g.add_node("B", {in}, {t});
  g.add_node("C", {t}, {u});
  g.add_node("D", {z2, u}, {out});
  g.outputs().push_back(out);
  auto plan = plan_memory(g, 256, nullptr, fake_view);
  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  const MemoryPlan& p = plan.value();
  EXPECT_EQ(p.aliases.size(), 2u);
  EXPECT_EQ(p.root_of(z1), r);
  EXPECT_EQ(p.root_of(z2), r);  // chains point at the root, not at the previous view
  EXPECT_EQ(p.find(z1), nullptr);
  EXPECT_EQ(p.find(z2), nullptr);
  ASSERT_NE(p.find(r), nullptr);
  EXPECT_EQ(p.find(r)->last, 5);  // D reads z2 at step 5
  // t and u are live while r is (through z2): three buffers, not two.
  EXPECT_EQ(p.slots.size(), 3u);
  EXPECT_EQ(p.arena_bytes, 3u * 1024);
  expect_reads_see_their_values(g, p);

  // Without views, each view copies: z1 and z2 get bytes of their own.
  auto copies = plan_memory(g, 256);
  ASSERT_TRUE(copies.is_ok());
  EXPECT_TRUE(copies->aliases.empty());
  EXPECT_EQ(copies->slots.size(), 5u);
}

TEST(ViewAliasPlanner, InPlaceWaitsForTheLastAliasUse) {
  // r = A(in); z = View(r); w = B(r) wants r's bytes, but z is read later by C.
  ir::Graph g;
  ir::Value* in = g.add_value("in", f32(Shape{64}));
  g.inputs().push_back(in);
  ir::Value* r = g.add_value("r", f32(Shape{64}));
  ir::Value* z = g.add_value("z", f32(Shape{8, 8}));
  ir::Value* w = g.add_value("w", f32(Shape{64}));
  ir::Value* out = g.add_value("out", f32(Shape{64}));
  g.add_node("A", {in}, {r});
  g.add_node("View", {r}, {z});
  g.add_node("B", {r}, {w});
  g.add_node("C", {z, w}, {out});
  g.outputs().push_back(out);
  auto plan = plan_memory(g, 256, [](const ir::Node&, size_t, size_t) { return true; }, fake_view);
  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  EXPECT_NE(plan->find(w)->offset, plan->find(r)->offset);
  expect_reads_see_their_values(g, *plan);
}

TEST(ViewAliasPlanner, InPlaceThroughTheLastAlias) {
  // r = A(in); z = View(r); w = B(z): B may write over r's bytes (z's last use is B).
  ir::Graph g;
  ir::Value* in = g.add_value("in", f32(Shape{64}));
  g.inputs().push_back(in);
  ir::Value* r = g.add_value("r", f32(Shape{64}));
  ir::Value* z = g.add_value("z", f32(Shape{8, 8}));
  ir::Value* w = g.add_value("w", f32(Shape{8, 8}));
  ir::Value* out = g.add_value("out", f32(Shape{8, 8}));
  g.add_node("A", {in}, {r});
  g.add_node("View", {r}, {z});
  g.add_node("B", {z}, {w});
  g.add_node("C", {w}, {out});
  g.outputs().push_back(out);
  std::vector<std::string> asked;
  auto plan = plan_memory(
      g, 256,
      [&](const ir::Node& n, size_t, size_t) {
        asked.push_back(n.op_type());
        return true;
      },
      fake_view);
  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  EXPECT_EQ(plan->find(w)->offset, plan->find(r)->offset);
  EXPECT_EQ(plan->arena_bytes, 256u);
  EXPECT_EQ(asked, std::vector<std::string>{"B"});  // never asked for a view (no kernel)
  expect_reads_see_their_values(g, *plan);
}

TEST(ViewAliasPlanner, InPlaceRefusedWhenAnotherInputSharesTheBytes) {
  // s = E(r, View(r)): the two inputs are the same bytes under other shapes.
  ir::Graph g;
  ir::Value* in = g.add_value("in", f32(Shape{64}));
  g.inputs().push_back(in);
  ir::Value* r = g.add_value("r", f32(Shape{64}));
  ir::Value* z = g.add_value("z", f32(Shape{64, 1}));
  ir::Value* s = g.add_value("s", f32(Shape{64}));
  ir::Value* out = g.add_value("out", f32(Shape{64}));
  g.add_node("A", {in}, {r});
  g.add_node("View", {r}, {z});
  g.add_node("E", {r, z}, {s});
  g.add_node("C", {s}, {out});
  g.outputs().push_back(out);
  auto plan = plan_memory(g, 256, [](const ir::Node&, size_t, size_t) { return true; }, fake_view);
  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  EXPECT_NE(plan->find(s)->offset, plan->find(r)->offset);
}

TEST(ViewAliasPlanner, RootsOutsideTheArenaAreNeverPlannedOrOverwritten) {
  // Views of a graph input, of a constant and of a graph output; their readers may work in place.
  ir::Graph g;
  ir::Value* in = g.add_value("in", f32(Shape{64}));
  g.inputs().push_back(in);
  Tensor ct(DataType::kFloat32, {64});
  ir::Value* c = g.add_constant("c", ct);
  ir::Value* zi = g.add_value("zi", f32(Shape{8, 8}));
  ir::Value* zc = g.add_value("zc", f32(Shape{8, 8}));
  ir::Value* o1 = g.add_value("o1", f32(Shape{8, 8}));
  ir::Value* zo = g.add_value("zo", f32(Shape{64}));
  ir::Value* o2 = g.add_value("o2", f32(Shape{64}));
  g.add_node("View", {in}, {zi});
  g.add_node("View", {c}, {zc});
  g.add_node("B", {zi, zc}, {o1});
  g.add_node("View", {o1}, {zo});
  g.add_node("C", {zo}, {o2});
  g.outputs() = {o1, o2};
  auto plan = plan_memory(g, 256, [](const ir::Node&, size_t, size_t) { return true; }, fake_view);
  ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
  EXPECT_EQ(plan->root_of(zi), in);
  EXPECT_EQ(plan->root_of(zc), c);
  EXPECT_EQ(plan->root_of(zo), o1);
  EXPECT_TRUE(plan->slots.empty());  // nothing in the arena at all
  EXPECT_EQ(plan->arena_bytes, 0u);
}

TEST(ViewAliasPlanner, RefusesViewsItCannotAlias) {
  ir::Graph g;
  ir::Value* in = g.add_value("in", f32(Shape{64}));
  g.inputs().push_back(in);
  ir::Value* r = g.add_value("r", f32(Shape{64}));
  ir::Value* half = g.add_value("half", f32(Shape{32}));
  ir::Value* out = g.add_value("out", f32(Shape{32}));
  g.add_node("A", {in}, {r});
  g.add_node("View", {r}, {half});  // 128 bytes of a 256-byte value
  g.add_node("C", {half}, {out});
  g.outputs().push_back(out);
  auto plan = plan_memory(g, 256, nullptr, fake_view);
  ASSERT_FALSE(plan.is_ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kInternal);
  EXPECT_NE(plan.status().message().find("bytes"), std::string::npos);

  // A view whose output is a graph output: the builder keeps those as copies.
  ir::Graph h;
  ir::Value* hin = h.add_value("in", f32(Shape{64}));
  h.inputs().push_back(hin);
  ir::Value* hout = h.add_value("out", f32(Shape{8, 8}));
  h.add_node("View", {hin}, {hout});
  h.outputs().push_back(hout);
  EXPECT_FALSE(plan_memory(h, 256, nullptr, fake_view).is_ok());
}

// Random DAGs with views among the nodes: every read still sees its value's bytes, with and
// without in-place reuse.
TEST(ViewAliasPlanner, RandomGraphsWithViewsKeepEveryValue) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    ir::Graph g;
    std::vector<ir::Value*> values;
    ir::Value* in = g.add_value("in", f32(Shape{4, 8}));
    g.inputs().push_back(in);
    values.push_back(in);
    int n = 2 + static_cast<int>(rng() % 25);
    for (int i = 0; i < n; ++i) {
      ir::Value* src = values[rng() % values.size()];
      bool view = i + 1 < n && rng() % 3 == 0;
      int64_t elems = view ? src->type().shape->static_dims()[0] * src->type().shape->static_dims()[1]
                           : 4 * (1 + static_cast<int64_t>(rng() % 100));
      ir::Value* out = g.add_value("v" + std::to_string(i), f32(Shape{elems / 4, 4}));
      if (view) {
        g.add_node("View", {src}, {out});
      } else {
        std::vector<ir::Value*> ins = {src};
        if (rng() % 2) ins.push_back(values[rng() % values.size()]);
        g.add_node("Fake", ins, {out});
      }
      values.push_back(out);
    }
    g.outputs().push_back(values.back());
    bool in_place = trial % 2;
    auto plan = plan_memory(
        g, 256, in_place ? InPlaceFn([&](const ir::Node&, size_t, size_t) { return rng() % 2 == 0; }) : nullptr,
        fake_view);
    ASSERT_TRUE(plan.is_ok()) << plan.status().to_string();
    for (const auto& [alias, root] : plan->aliases) EXPECT_EQ(plan->aliases.count(root), 0u);
    expect_reads_see_their_values(g, *plan);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace kiln::plan
