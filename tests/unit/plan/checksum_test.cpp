#include "plan/checksum.h"

#include <gtest/gtest.h>

#include <cstring>

namespace kiln::plan {

TEST(Checksum, Xxh64ReferenceVectors) {
  EXPECT_EQ(xxh64("", 0, 0), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(xxh64("a", 1, 0), 0xD24EC4F1A98C6E5BULL);
  EXPECT_EQ(xxh64("abc", 3, 0), 0x44BC2CF5AD770999ULL);
  const char* s = "Nobody inspects the spammish repetition";
  EXPECT_EQ(xxh64(s, std::strlen(s), 0), 0xFBCEA83C8A378BF1ULL);
}

TEST(Checksum, EveryByteMatters) {
  uint8_t buf[100] = {};
  uint64_t base = engine_checksum(buf, sizeof buf);
  for (size_t i = 0; i < sizeof buf; ++i) {
    if (i >= 8 && i < 16) continue;  // the checksum field itself
    buf[i] ^= 1;
    EXPECT_NE(engine_checksum(buf, sizeof buf), base) << i;
    buf[i] ^= 1;
  }
}

}  // namespace kiln::plan
