#include "engine/cuda/device_memory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/cuda/cuda_check.h"

namespace corvid::cuda {
namespace {

cudaError_t Alloc(MemoryKind kind, void** ptr, size_t bytes) {
  return kind == MemoryKind::kDevice ? cudaMalloc(ptr, bytes) : cudaMallocHost(ptr, bytes);
}

void Free(MemoryKind kind, void* ptr) {
  if (ptr == nullptr) return;
  if (kind == MemoryKind::kDevice) {
    cudaFree(ptr);
  } else {
    cudaFreeHost(ptr);
  }
}

const char* AllocName(MemoryKind kind) {
  return kind == MemoryKind::kDevice ? "cudaMalloc" : "cudaMallocHost";
}

}  // namespace

template <MemoryKind kKind>
CudaBuffer<kKind>::~CudaBuffer() {
  Free(kKind, data_);
}

template <MemoryKind kKind>
CudaBuffer<kKind>::CudaBuffer(CudaBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

template <MemoryKind kKind>
CudaBuffer<kKind>& CudaBuffer<kKind>::operator=(CudaBuffer&& other) noexcept {
  if (this != &other) {
    Free(kKind, data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

template <MemoryKind kKind>
absl::StatusOr<CudaBuffer<kKind>> CudaBuffer<kKind>::Allocate(size_t bytes) {
  CudaBuffer buf;
  if (bytes == 0) return buf;
  const cudaError_t err = Alloc(kKind, &buf.data_, bytes);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the failed allocation's error so later checks see their own
    return CudaStatus(err, absl::StrCat(AllocName(kKind), "(", bytes, " bytes)").c_str());
  }
  buf.size_ = bytes;
  return buf;
}

template class CudaBuffer<MemoryKind::kDevice>;
template class CudaBuffer<MemoryKind::kPinnedHost>;

}  // namespace corvid::cuda
