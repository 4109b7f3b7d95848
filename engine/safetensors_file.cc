#include "engine/safetensors_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "nlohmann/json.hpp"

namespace corvid {
namespace {

using Json = nlohmann::json;

absl::Status Corrupt(const std::string& file, const std::string& what) {
  return absl::DataLossError(absl::StrCat(file, ": ", what));
}
absl::Status BadTensor(const std::string& file, const std::string& tensor,
                       const std::string& what) {
  return absl::DataLossError(absl::StrCat(file, ": tensor '", tensor, "': ", what));
}

// Reads a JSON integer that must be >= 0 and fit comfortably in 63 bits.
bool NonNegative(const Json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
  } else if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(v.get<int64_t>());
  } else {
    return false;
  }
  return *out < (uint64_t{1} << 62);
}

struct Entry {
  std::string name;
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Reads the shape and returns its byte size (numel x dtype size), guarding against overflow: a
// hostile shape must not wrap around to a small, plausible size.
absl::StatusOr<uint64_t> ParseShape(const std::string& file, const std::string& name,
                                    const Json& shape, DType dtype, TensorView* view) {
  if (!shape.is_array()) return BadTensor(file, name, "missing list 'shape'");
  unsigned __int128 bytes = DTypeSize(dtype);
  view->shape.clear();
  for (const Json& d : shape) {
    uint64_t dim;
    if (!NonNegative(d, &dim)) {
      return BadTensor(file, name, absl::StrCat("bad shape dimension ", d.dump()));
    }
    view->shape.push_back(static_cast<int64_t>(dim));
    bytes *= dim;
    if (bytes > (static_cast<unsigned __int128>(1) << 62)) {
      return BadTensor(file, name, "shape too large");
    }
  }
  return static_cast<uint64_t>(bytes);
}

// Validates one tensor entry and fills `view` (data pointer inside `data_region`).
absl::Status ParseTensor(const std::string& file, const std::string& name, const Json& v,
                         const uint8_t* data_region, uint64_t data_size, TensorView* view,
                         Entry* entry) {
  if (!v.is_object()) return BadTensor(file, name, "entry is not an object");
  auto dt = v.find("dtype");
  auto offsets = v.find("data_offsets");
  if (dt == v.end() || !dt->is_string()) return BadTensor(file, name, "missing string 'dtype'");
  if (!ParseDType(dt->get<std::string>(), &view->dtype)) {
    return BadTensor(file, name, absl::StrCat("unknown dtype '", dt->get<std::string>(), "'"));
  }
  auto shape = v.find("shape");
  ASSIGN_OR_RETURN(const uint64_t bytes,
                   ParseShape(file, name, shape == v.end() ? Json() : *shape, view->dtype, view));
  if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2 ||
      !NonNegative((*offsets)[0], &entry->begin) || !NonNegative((*offsets)[1], &entry->end) ||
      entry->begin > entry->end) {
    return BadTensor(file, name,
                     absl::StrCat("'data_offsets' must be [begin, end] with 0 <= begin <= end, "
                                  "got ",
                                  offsets == v.end() ? "nothing" : offsets->dump()));
  }
  if (entry->end > data_size) {
    return BadTensor(file, name,
                     absl::StrCat("data_offsets ", offsets->dump(), " run past the data region (",
                                  data_size, " bytes); file truncated?"));
  }
  if (entry->end - entry->begin != bytes) {
    return BadTensor(file, name,
                     absl::StrCat("dtype ", DTypeName(view->dtype), " x shape ", shape->dump(),
                                  " = ", bytes, " bytes but data_offsets ", offsets->dump(),
                                  " span ", entry->end - entry->begin));
  }
  view->data = data_region + entry->begin;
  view->nbytes = static_cast<size_t>(bytes);
  entry->name = name;
  return absl::OkStatus();
}

// Parses the header, refusing duplicate top-level keys (JSON parsers silently keep one of
// them, which would hide a tensor from the overlap check).
absl::StatusOr<Json> ParseHeader(const std::string& file, const char* begin, const char* end) {
  std::set<std::string> keys;
  std::string duplicate;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth == 1 && event == Json::parse_event_t::key && parsed.is_string() &&
        !keys.insert(parsed.get<std::string>()).second && duplicate.empty()) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  Json j = Json::parse(begin, end, callback, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Corrupt(file, "header is not valid JSON");
  if (!j.is_object()) return Corrupt(file, "header is not a JSON object");
  if (!duplicate.empty()) {
    return Corrupt(file, absl::StrCat("header names tensor '", duplicate, "' twice"));
  }
  return j;
}

absl::Status ParseMetadata(const std::string& file, const Json& v,
                           std::map<std::string, std::string>* out) {
  if (!v.is_object()) return Corrupt(file, "'__metadata__' is not an object");
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_string()) {
      return Corrupt(file,
                     absl::StrCat("'__metadata__' value of '", it.key(), "' is not a string"));
    }
    (*out)[it.key()] = it.value().get<std::string>();
  }
  return absl::OkStatus();
}

absl::Status CheckNoOverlap(const std::string& file, std::vector<Entry>* entries) {
  std::sort(entries->begin(), entries->end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const Entry* prev = nullptr;
  for (const Entry& e : *entries) {
    if (e.begin == e.end) continue;  // empty tensors occupy no bytes
    if (prev != nullptr && e.begin < prev->end) {
      return Corrupt(file, absl::StrCat("tensors '", prev->name, "' and '", e.name,
                                        "' overlap in the data region"));
    }
    prev = &e;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Parse(const std::string& name,
                                                                        const void* data,
                                                                        size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (size < 8) return Corrupt(name, absl::StrCat("file too small (", size, " bytes)"));
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > size - 8) {
    return Corrupt(name, absl::StrCat("header length ", header_len, " exceeds the file (", size,
                                      " bytes); file truncated?"));
  }
  if (header_len > kMaxSafetensorsHeaderBytes) {
    return Corrupt(name, absl::StrCat("header length ", header_len, " is implausibly large"));
  }
  const char* header = reinterpret_cast<const char*>(bytes + 8);
  ASSIGN_OR_RETURN(Json j, ParseHeader(name, header, header + header_len));

  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = name;
  const uint8_t* data_region = bytes + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;
  std::vector<Entry> entries;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      RETURN_IF_ERROR(ParseMetadata(name, it.value(), &f->metadata_));
      continue;
    }
    TensorView view;
    Entry entry;
    RETURN_IF_ERROR(ParseTensor(name, it.key(), it.value(), data_region, data_size, &view, &entry));
    f->tensors_.emplace(it.key(), std::move(view));
    entries.push_back(std::move(entry));
  }
  RETURN_IF_ERROR(CheckNoOverlap(name, &entries));
  return f;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = nullptr;
  if (size > 0) {
    map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat(path, ": mmap failed: ", std::strerror(err)));
    }
  }
  ::close(fd);  // the mapping keeps the file alive
  static const uint8_t kEmpty[1] = {0};
  auto parsed = Parse(path, map != nullptr ? map : kEmpty, size);
  if (!parsed.ok()) {
    if (map != nullptr) ::munmap(map, size);
    return parsed.status();
  }
  (*parsed)->map_ = map;
  (*parsed)->map_size_ = size;
  return parsed;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

const TensorView* SafetensorsFile::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace corvid
