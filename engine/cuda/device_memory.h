// Owning handles for device and pinned host memory (internal to the CUDA backend).
#ifndef CORVID_ENGINE_CUDA_DEVICE_MEMORY_H_
#define CORVID_ENGINE_CUDA_DEVICE_MEMORY_H_

#include <cstddef>

#include "absl/status/statusor.h"

namespace corvid::cuda {

enum class MemoryKind {
  kDevice,      // cudaMalloc
  kPinnedHost,  // cudaMallocHost: page-locked, so copies are fast and truly asynchronous
};

// Bytes of one MemoryKind, freed on destruction. Move-only.
template <MemoryKind kKind>
class CudaBuffer {
 public:
  CudaBuffer() = default;
  ~CudaBuffer();
  CudaBuffer(CudaBuffer&& other) noexcept;
  CudaBuffer& operator=(CudaBuffer&& other) noexcept;
  CudaBuffer(const CudaBuffer&) = delete;
  CudaBuffer& operator=(const CudaBuffer&) = delete;

  static absl::StatusOr<CudaBuffer> Allocate(size_t bytes);

  void* data() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

using DeviceBuffer = CudaBuffer<MemoryKind::kDevice>;
using PinnedBuffer = CudaBuffer<MemoryKind::kPinnedHost>;

}  // namespace corvid::cuda

#endif  // CORVID_ENGINE_CUDA_DEVICE_MEMORY_H_
