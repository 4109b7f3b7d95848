// Writes safetensors files: for the synthetic-checkpoint tool and for tests that need files of
// their own (round trips, deliberately broken headers).
#ifndef CORVID_ENGINE_SAFETENSORS_WRITER_H_
#define CORVID_ENGINE_SAFETENSORS_WRITER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/tensor.h"

namespace corvid {

struct TensorSpec {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
};

// Fills the bytes of `spec` (numel x dtype size of them) at `dst`.
using TensorFiller = std::function<absl::Status(const TensorSpec& spec, void* dst)>;

// Writes `specs` to `path` (through a temporary file renamed into place), generating one tensor
// at a time with `fill`, so a file larger than memory can be written. Tensors are stored
// contiguously, widest dtype first then by name (the order the reference library uses), which
// keeps every tensor aligned to its element size; the header is padded to 8 bytes.
absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorSpec>& specs,
                              const TensorFiller& fill,
                              const std::map<std::string, std::string>& metadata = {
                                  {"format", "pt"}});

// Convenience: writes in-memory tensors.
absl::Status WriteSafetensors(const std::string& path,
                              const std::map<std::string, TensorView>& tensors,
                              const std::map<std::string, std::string>& metadata = {
                                  {"format", "pt"}});

// Writes the raw layout (u64 little-endian header length, `header`, `data`) with no checks:
// tests use it to craft files a correct writer would never produce.
absl::Status WriteRawSafetensors(const std::string& path, const std::string& header,
                                 const std::string& data);

}  // namespace corvid

#endif  // CORVID_ENGINE_SAFETENSORS_WRITER_H_
