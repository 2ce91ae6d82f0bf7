#include "runtime/device.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

namespace kiln::runtime {

Result<void*> CpuDevice::allocate(size_t bytes) { return allocate_host(bytes); }

void CpuDevice::free(void* ptr) { std::free(ptr); }

Status CpuDevice::copy_host_to_device(void* dst, const void* src, size_t bytes, Stream) {
  if (bytes) std::memcpy(dst, src, bytes);
  return Status::ok();
}
Status CpuDevice::copy_device_to_host(void* dst, const void* src, size_t bytes, Stream) {
  if (bytes) std::memcpy(dst, src, bytes);
  return Status::ok();
}
Status CpuDevice::copy_device_to_device(void* dst, const void* src, size_t bytes, Stream) {
  if (bytes && dst != src) std::memmove(dst, src, bytes);
  return Status::ok();
}
Status CpuDevice::memset_zero(void* dst, size_t bytes, Stream) {
  if (bytes) std::memset(dst, 0, bytes);
  return Status::ok();
}

Result<void*> Device::allocate_host(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded < bytes) return Status(StatusCode::kOutOfMemory, "host allocation size overflows");
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) return Status(StatusCode::kOutOfMemory, "out of host memory allocating " + std::to_string(bytes) + " bytes");
  return p;
}

void Device::free_host(void* ptr) { std::free(ptr); }

Status Device::begin_capture(Stream) {
  return unsupported(std::string("backend '") + backend_name(backend()) + "' has no graph capture");
}

Status Device::end_capture(Stream, GraphExec& exec) {
  destroy_graph(exec);
  exec = nullptr;
  return unsupported(std::string("backend '") + backend_name(backend()) + "' has no graph capture");
}

Status Device::launch_graph(GraphExec, Stream) {
  return unsupported(std::string("backend '") + backend_name(backend()) + "' has no graph capture");
}

namespace {
std::mutex& factory_mutex() {
  static std::mutex m;
  return m;
}
DeviceFactory& factory_slot(Backend b) {
  static DeviceFactory slots[2] = {nullptr, nullptr};
  return slots[static_cast<int>(b) & 1];
}
}  // namespace

void register_device_factory(Backend backend, DeviceFactory factory) {
  std::lock_guard<std::mutex> lock(factory_mutex());
  factory_slot(backend) = factory;
}

Result<std::shared_ptr<Device>> make_device(Backend backend) {
  DeviceFactory f = nullptr;
  {
    std::lock_guard<std::mutex> lock(factory_mutex());
    f = factory_slot(backend);
  }
  if (f) return f();
  if (backend == Backend::kCpu) return std::shared_ptr<Device>(std::make_shared<CpuDevice>());
  return unsupported(std::string("backend '") + backend_name(backend) + "' is not available in this build");
}

}  // namespace kiln::runtime
