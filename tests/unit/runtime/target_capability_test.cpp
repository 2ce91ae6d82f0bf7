// runtime::target_compute_capability: what Builder::build_desc and Engine loading tell the tactics
// about the GPU they build for (tactics tied to one architecture read it in supports()).
#include <gtest/gtest.h>

#include <thread>

#include "runtime/tactic.h"

namespace kiln::runtime {
namespace {

TEST(TargetCapability, ScopesSetAndRestoreIt) {
  EXPECT_EQ(target_compute_capability().major, 0);
  {
    ScopedTargetCapability outer(9, 0);
    EXPECT_EQ(target_compute_capability().major, 9);
    EXPECT_EQ(target_compute_capability().minor, 0);
    {
      ScopedTargetCapability inner(8, 6);
      EXPECT_EQ(target_compute_capability().major, 8);
      EXPECT_EQ(target_compute_capability().minor, 6);
    }
    EXPECT_EQ(target_compute_capability().major, 9);
  }
  EXPECT_EQ(target_compute_capability().major, 0);
}

TEST(TargetCapability, IsPerThread) {
  ScopedTargetCapability here(9, 0);
  int seen = -1;
  std::thread other([&] { seen = target_compute_capability().major; });
  other.join();
  EXPECT_EQ(seen, 0);
  EXPECT_EQ(target_compute_capability().major, 9);
}

}  // namespace
}  // namespace kiln::runtime
