// libFuzzer target: arbitrary bytes as a .npy file. Built by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool limited = [] {
    kiln::set_max_tensor_bytes(int64_t{64} << 20);
    return true;
  }();
  (void)limited;
  auto t = kiln::io::parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npy");
  if (t.is_ok()) (void)kiln::io::serialize_npy(t.value());
  return 0;
}
