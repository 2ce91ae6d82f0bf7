// Device: the memory and stream services the runtime needs from a backend, and nothing more.
// The Engine uploads weights with it, each ExecutionContext allocates its arena and workspace
// with it, and `run()` stages host tensors through it. Kernels never call it: they get raw
// pointers (TensorRef) and the per-context backend state (LaunchContext::backend_state).
//
// Contract for every implementation (CpuDevice here, CudaDevice in src/backends/cuda/):
// - allocate() returns kOutOfMemory (never throws, never aborts) when memory runs out; a
//   zero-byte request returns a non-null-or-null pointer that free() accepts.
// - copies are asynchronous on `stream` where the backend allows (CPU: synchronous); the
//   caller calls synchronize(stream) before reading host memory a device->host copy wrote.
// - a null Stream is the backend's default stream.
// - create_backend_state() makes the per-context handles kernels need (cuDNN/cuBLASLt handles
//   bound to a stream on CUDA; nullptr on the CPU); destroy_backend_state() frees them.
// - Every method is safe to call from several threads for different contexts.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"
#include "runtime/tactic.h"

namespace kiln::runtime {

using Stream = void*;  // cudaStream_t on CUDA; nullptr on the CPU

// What an engine is built for; an engine file records it and refuses to load elsewhere.
// Fields a backend does not use stay empty (the CPU fills only `backend`).
struct TargetInfo {
  std::string backend;      // "cpu", "cuda"
  std::string device_name;  // "NVIDIA H100 80GB HBM3"
  int compute_major = 0, compute_minor = 0;
  std::string cuda_version, cudnn_version, cublas_version;  // "12.8", "9.19.0", "12.8.4"
};

class Device {
 public:
  virtual ~Device() = default;
  virtual Backend backend() const = 0;
  virtual std::string name() const = 0;  // "cpu", "NVIDIA H100 80GB HBM3"
  // Engines built on this device record this; loading elsewhere compares it field by field.
  virtual TargetInfo target() const { return TargetInfo{backend_name(backend()), {}, 0, 0, {}, {}, {}}; }

  // Memory: aligned to at least 256 bytes on GPUs, 64 on the CPU.
  virtual Result<void*> allocate(size_t bytes) = 0;
  virtual void free(void* ptr) = 0;

  virtual Status copy_host_to_device(void* dst, const void* src, size_t bytes, Stream stream) = 0;
  virtual Status copy_device_to_host(void* dst, const void* src, size_t bytes, Stream stream) = 0;
  virtual Status copy_device_to_device(void* dst, const void* src, size_t bytes, Stream stream) = 0;
  virtual Status memset_zero(void* dst, size_t bytes, Stream stream) = 0;

  virtual Result<Stream> create_stream() = 0;
  virtual void destroy_stream(Stream stream) = 0;
  virtual Status synchronize(Stream stream) = 0;  // waits for all work queued on `stream`

  // Opaque per-context state passed to kernels in LaunchContext::backend_state.
  virtual Result<void*> create_backend_state(Stream stream) = 0;
  virtual void destroy_backend_state(void* state) = 0;
};

// Host memory; streams and backend state are no-ops, copies are memcpy.
class CpuDevice final : public Device {
 public:
  Backend backend() const override { return Backend::kCpu; }
  std::string name() const override { return "cpu"; }
  Result<void*> allocate(size_t bytes) override;
  void free(void* ptr) override;
  Status copy_host_to_device(void* dst, const void* src, size_t bytes, Stream) override;
  Status copy_device_to_host(void* dst, const void* src, size_t bytes, Stream) override;
  Status copy_device_to_device(void* dst, const void* src, size_t bytes, Stream) override;
  Status memset_zero(void* dst, size_t bytes, Stream) override;
  Result<Stream> create_stream() override { return Stream{nullptr}; }
  void destroy_stream(Stream) override {}
  Status synchronize(Stream) override { return Status::ok(); }
  Result<void*> create_backend_state(Stream) override { return static_cast<void*>(nullptr); }
  void destroy_backend_state(void*) override {}
};

// The device for `backend`: CpuDevice, or the CUDA device when the CUDA backend is linked in
// (it registers a factory; see register_device_factory). kUnsupported when not available.
Result<std::shared_ptr<Device>> make_device(Backend backend);
using DeviceFactory = Result<std::shared_ptr<Device>> (*)();
void register_device_factory(Backend backend, DeviceFactory factory);

// Building without the device (kiln build --backend cuda --target-arch sm_90): the backend
// describes a target from an architecture name and the library versions it was compiled
// against; the engine records it, and loading still compares it with the running device.
// kUnsupported when the backend is not linked in or does not know `arch`.
using TargetFactory = Result<TargetInfo> (*)(const std::string& arch);
inline TargetFactory& target_factory_slot(Backend b) {
  static TargetFactory slots[2] = {nullptr, nullptr};
  return slots[static_cast<int>(b) & 1];
}
inline void register_target_factory(Backend backend, TargetFactory factory) { target_factory_slot(backend) = factory; }
inline Result<TargetInfo> target_for_arch(Backend backend, const std::string& arch) {
  if (TargetFactory f = target_factory_slot(backend)) return f(arch);
  return Status(StatusCode::kUnsupported, std::string("backend '") + backend_name(backend) +
                                              "' is not available in this build (cannot build for " + arch + ")");
}

// Device memory that frees itself; move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  static Result<DeviceBuffer> allocate(std::shared_ptr<Device> device, size_t bytes);
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { reset(); }
  void reset();
  void* data() const { return ptr_; }
  size_t size() const { return bytes_; }

 private:
  std::shared_ptr<Device> device_;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace kiln::runtime
