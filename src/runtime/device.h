// Device: the memory and stream services the runtime needs from a backend, and nothing more.
// The Engine uploads weights with it, each ExecutionContext allocates its arena and workspace
// with it, `run()` stages host tensors through its pinned host memory, and each context
// captures and replays its CUDA graphs through it. Kernels never call it: they get raw
// pointers (TensorRef) and the per-context backend state (LaunchContext::backend_state).
//
// Contract for every implementation (CpuDevice here, CudaDevice in src/backends/cuda/):
// - allocate() and allocate_host() return kOutOfMemory (never throw, never abort) when memory
//   runs out; a zero-byte request returns a pointer (or null) that free()/free_host() accepts.
// - copies are asynchronous on `stream` where the backend allows (CPU: synchronous); the
//   caller calls synchronize(stream) before reading host memory a device->host copy wrote, and
//   keeps the host side of any copy alive until then (on CUDA only allocate_host() memory is
//   truly asynchronous; pageable memory makes the driver stage it).
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

  // Host memory the device copies from and to asynchronously (page-locked on CUDA, so
  // copy_*() on it do not stage through a driver buffer); 64-byte aligned at least. The
  // default is plain aligned host memory, which is what the CPU needs.
  virtual Result<void*> allocate_host(size_t bytes);
  virtual void free_host(void* ptr);

  // Graphs: record the work enqueued on a stream once, replay it with one launch (CUDA graphs).
  // Backends without them keep the defaults: supports_graphs() false, can_capture() false,
  // the rest kUnsupported / no-ops.
  // - can_capture(stream): whether capturing on `stream` is possible right now (CUDA: a
  //   non-null, non-blocking stream that is not already being captured, e.g. by the caller).
  // - begin_capture(stream): from now until end_capture, work this thread enqueues on `stream`
  //   is recorded, not run. Capture is thread-local (cudaStreamCaptureModeThreadLocal): other
  //   threads' contexts and streams are unaffected, and only this thread must not call
  //   capture-unsafe APIs (synchronize, synchronous copies) meanwhile.
  // - end_capture(stream, exec): ends the capture and makes `exec` a launchable graph of what
  //   was recorded. `exec` may hold an earlier graph of the same context: it is updated in
  //   place when the new work has the same shape (cudaGraphExecUpdate), else destroyed and a
  //   new one instantiated. On failure (an uncapturable call invalidated the capture, or
  //   instantiation failed) the capture is still ended, the backend's error state is cleared,
  //   `exec` is destroyed and set to null, and the error is returned.
  // - launch_graph(exec, stream): enqueues one replay on `stream` (asynchronous).
  // - destroy_graph(exec): frees it (null is accepted); the caller makes sure no replay of it
  //   is still needed (replays already enqueued finish normally on CUDA).
  using GraphExec = void*;  // cudaGraphExec_t on CUDA
  virtual bool supports_graphs() const { return false; }
  virtual bool can_capture(Stream) { return false; }
  virtual Status begin_capture(Stream);
  virtual Status end_capture(Stream, GraphExec& exec);
  virtual Status launch_graph(GraphExec exec, Stream stream);
  virtual void destroy_graph(GraphExec) {}
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

// Memory from a Device that frees itself; move-only. Where is DeviceMemory (Device::allocate /
// free) or HostMemory (Device::allocate_host / free_host: staging, pinned on CUDA).
struct DeviceMemory {
  static Result<void*> allocate(Device& d, size_t bytes) { return d.allocate(bytes); }
  static void free(Device& d, void* p) { d.free(p); }
};
struct HostMemory {
  static Result<void*> allocate(Device& d, size_t bytes) { return d.allocate_host(bytes); }
  static void free(Device& d, void* p) { d.free_host(p); }
};

template <typename Where>
class OwnedMemory {
 public:
  OwnedMemory() = default;
  static Result<OwnedMemory> allocate(std::shared_ptr<Device> device, size_t bytes) {
    KILN_ASSIGN_OR_RETURN(void* p, Where::allocate(*device, bytes));
    OwnedMemory m;
    m.device_ = std::move(device);
    m.ptr_ = p;
    m.bytes_ = bytes;
    return m;
  }
  OwnedMemory(OwnedMemory&& o) noexcept { *this = std::move(o); }
  OwnedMemory& operator=(OwnedMemory&& o) noexcept {
    if (this != &o) {
      reset();
      device_ = std::move(o.device_);
      ptr_ = o.ptr_;
      bytes_ = o.bytes_;
      o.ptr_ = nullptr;
      o.bytes_ = 0;
    }
    return *this;
  }
  OwnedMemory(const OwnedMemory&) = delete;
  OwnedMemory& operator=(const OwnedMemory&) = delete;
  ~OwnedMemory() { reset(); }
  void reset() {
    if (ptr_ && device_) Where::free(*device_, ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
    device_.reset();
  }
  void* data() const { return ptr_; }
  size_t size() const { return bytes_; }

 private:
  std::shared_ptr<Device> device_;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

using DeviceBuffer = OwnedMemory<DeviceMemory>;
using HostBuffer = OwnedMemory<HostMemory>;

}  // namespace kiln::runtime
