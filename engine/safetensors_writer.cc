#include "engine/safetensors_writer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "nlohmann/json.hpp"

namespace corvid {
namespace {

using Json = nlohmann::ordered_json;

size_t SpecBytes(const TensorSpec& s) {
  size_t n = DTypeSize(s.dtype);
  for (int64_t d : s.shape) n *= static_cast<size_t>(d);
  return n;
}

// Owns a FILE* and removes the temporary file unless committed.
class TempFile {
 public:
  explicit TempFile(const std::string& path) : path_(path), tmp_(path + ".tmp") {
    f_ = std::fopen(tmp_.c_str(), "wb");
  }
  ~TempFile() {
    if (f_ != nullptr) std::fclose(f_);
    if (!committed_) std::remove(tmp_.c_str());
  }
  bool ok() const { return f_ != nullptr; }
  absl::Status Write(const void* p, size_t n) {
    if (n > 0 && std::fwrite(p, 1, n, f_) != n) {
      return absl::InternalError(absl::StrCat(tmp_, ": write failed (disk full?)"));
    }
    return absl::OkStatus();
  }
  absl::Status Commit() {
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) return absl::InternalError(absl::StrCat(tmp_, ": close failed"));
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      return absl::InternalError(absl::StrCat(path_, ": cannot rename from ", tmp_));
    }
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  std::string path_, tmp_;
  FILE* f_ = nullptr;
  bool committed_ = false;
};

absl::Status WriteLengthPrefixed(TempFile* out, const std::string& header) {
  uint8_t len[8];
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  RETURN_IF_ERROR(out->Write(len, 8));
  return out->Write(header.data(), header.size());
}

}  // namespace

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorSpec>& specs,
                              const TensorFiller& fill,
                              const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorSpec*> order;
  for (const TensorSpec& s : specs) order.push_back(&s);
  std::stable_sort(order.begin(), order.end(), [](const TensorSpec* a, const TensorSpec* b) {
    const size_t sa = DTypeSize(a->dtype), sb = DTypeSize(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0, largest = 0;
  for (const TensorSpec* s : order) {
    const size_t bytes = SpecBytes(*s);
    header[s->name] = {{"dtype", DTypeName(s->dtype)},
                       {"shape", s->shape},
                       {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    largest = std::max(largest, bytes);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data region starts 8-byte aligned

  TempFile out(path);
  if (!out.ok()) return absl::InternalError(absl::StrCat(path, ": cannot create"));
  RETURN_IF_ERROR(WriteLengthPrefixed(&out, text));
  std::unique_ptr<void, decltype(&std::free)> buf(std::malloc(std::max<size_t>(largest, 1)),
                                                  &std::free);
  if (buf == nullptr) return absl::ResourceExhaustedError("out of memory for a tensor buffer");
  for (const TensorSpec* s : order) {
    RETURN_IF_ERROR(fill(*s, buf.get()));
    RETURN_IF_ERROR(out.Write(buf.get(), SpecBytes(*s)));
  }
  return out.Commit();
}

absl::Status WriteSafetensors(const std::string& path,
                              const std::map<std::string, TensorView>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::vector<TensorSpec> specs;
  for (const auto& [name, view] : tensors) {
    if (view.nbytes != static_cast<size_t>(view.numel()) * DTypeSize(view.dtype)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", name, "': nbytes does not match dtype x shape"));
    }
    specs.push_back({name, view.dtype, view.shape});
  }
  return WriteSafetensors(
      path, specs,
      [&tensors](const TensorSpec& s, void* dst) {
        const TensorView& v = tensors.at(s.name);
        if (v.nbytes > 0) std::memcpy(dst, v.data, v.nbytes);
        return absl::OkStatus();
      },
      metadata);
}

absl::Status WriteRawSafetensors(const std::string& path, const std::string& header,
                                 const std::string& data) {
  TempFile out(path);
  if (!out.ok()) return absl::InternalError(absl::StrCat(path, ": cannot create"));
  RETURN_IF_ERROR(WriteLengthPrefixed(&out, header));
  RETURN_IF_ERROR(out.Write(data.data(), data.size()));
  return out.Commit();
}

}  // namespace corvid
