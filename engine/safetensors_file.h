// One memory-mapped safetensors file with a strictly validated header.
//
// Format: u64 little-endian header length N, N bytes of JSON, then the data region. The JSON
// maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// data region) plus an optional "__metadata__" object of strings. Parse() checks everything a
// reader could trip on, so that every view it returns lies inside the mapping.
#ifndef CORVID_ENGINE_SAFETENSORS_FILE_H_
#define CORVID_ENGINE_SAFETENSORS_FILE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace corvid {

// Headers larger than this are refused before parsing (the reference implementation's limit).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;

class SafetensorsFile {
 public:
  // Maps `path` read-only and validates it. Errors are INVALID_ARGUMENT / DATA_LOSS naming the
  // file (and the tensor when one is at fault); NOT_FOUND when the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  // Validates `size` bytes at `data` (which must outlive the result); `name` is used in errors.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Parse(const std::string& name,
                                                                const void* data, size_t size);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // nullptr when absent.
  const TensorView* Find(const std::string& name) const;

 private:
  SafetensorsFile() = default;

  std::string path_;
  void* map_ = nullptr;  // owned mapping (Open) or nullptr (Parse)
  size_t map_size_ = 0;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace corvid

#endif  // CORVID_ENGINE_SAFETENSORS_FILE_H_
