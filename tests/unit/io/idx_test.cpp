#include "io/idx.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace kiln::io {
namespace {

std::string idx_bytes(std::vector<uint32_t> dims, size_t data_bytes, uint8_t type = 0x08) {
  std::string s = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((d >> shift) & 0xFF);
  for (size_t i = 0; i < data_bytes; ++i) s += static_cast<char>(i & 0xFF);
  return s;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("kiln_idx_test_" + name)).string();
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

TEST(Idx, ParsesImagesAndLabels) {
  auto images = parse_idx(idx_bytes({2, 3, 4}, 24), "images");
  ASSERT_TRUE(images.is_ok()) << images.status().message();
  EXPECT_EQ(images->dims(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(images->dtype(), DataType::kUInt8);
  EXPECT_EQ(images->data<uint8_t>()[23], 23);
  auto labels = parse_idx(idx_bytes({5}, 5), "labels");
  ASSERT_TRUE(labels.is_ok());
  EXPECT_EQ(labels->dims(), (std::vector<int64_t>{5}));
}

TEST(Idx, RejectsBadInput) {
  auto expect_error = [](const std::string& bytes, const std::string& fragment) {
    auto r = parse_idx(bytes, "f");
    ASSERT_FALSE(r.is_ok()) << fragment;
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
  };
  expect_error("", "shorter than");
  expect_error(std::string("\x01\x00\x08\x01", 4), "bad magic");
  expect_error(idx_bytes({2}, 2, 0x0D), "not supported");
  expect_error(idx_bytes({}, 0), "rank 0");
  expect_error(idx_bytes({2, 3}, 0).substr(0, 9), "truncated IDX header");
  expect_error(idx_bytes({2, 3}, 5), "need 6 data bytes, the file holds 5");
  expect_error(idx_bytes({2, 3}, 7), "need 6 data bytes, the file holds 7");
  // Huge claimed dims with little data: refused before any allocation.
  expect_error(idx_bytes({0xFFFFFFFF, 0xFFFF}, 4), "need 281470681677825 data bytes, the file holds 4");
  expect_error(idx_bytes({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, 4), "overflow");
}

TEST(Idx, ReadsGzipAndPlainFiles) {
  const std::string bytes = idx_bytes({10, 28, 28}, 10 * 28 * 28);
  const std::string gz = temp_path("ok.gz"), plain = temp_path("ok.idx");
  write_gz(gz, bytes);
  std::ofstream(plain, std::ios::binary) << bytes;
  for (const auto& path : {gz, plain}) {
    auto t = read_idx(path);
    ASSERT_TRUE(t.is_ok()) << t.status().message();
    EXPECT_EQ(t->dims(), (std::vector<int64_t>{10, 28, 28}));
  }
  std::remove(gz.c_str());
  std::remove(plain.c_str());
}

TEST(Idx, RejectsTruncatedGzipMissingFilesAndBombs) {
  const std::string bytes = idx_bytes({10, 28, 28}, 10 * 28 * 28);
  const std::string gz = temp_path("cut.gz");
  write_gz(gz, bytes);
  std::string compressed;
  {
    std::ifstream in(gz, std::ios::binary);
    compressed.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(gz, std::ios::binary | std::ios::trunc) << compressed.substr(0, compressed.size() / 2);
  auto cut = read_idx(gz);
  ASSERT_FALSE(cut.is_ok());
  EXPECT_NE(cut.status().message().find("gzip"), std::string::npos) << cut.status().message();
  std::remove(gz.c_str());

  auto missing = read_idx(temp_path("missing.gz"));
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("cannot open"), std::string::npos);

  const std::string big = temp_path("big.gz");
  write_gz(big, bytes);
  auto bomb = read_idx(big, 1000);
  ASSERT_FALSE(bomb.is_ok());
  EXPECT_NE(bomb.status().message().find("decompresses to more than"), std::string::npos);
  std::remove(big.c_str());
}

}  // namespace
}  // namespace kiln::io
