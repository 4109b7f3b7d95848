// SHA-256 of files, streamed (tokenizer files run to tens of MB; weights far more).
#ifndef CORVID_SERVICES_COMMON_FILE_DIGEST_H_
#define CORVID_SERVICES_COMMON_FILE_DIGEST_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace corvid::service {

struct FileDigest {
  int64_t size_bytes = 0;
  std::string sha256_hex;  // lower case
};

// NOT_FOUND when `path` cannot be opened, DATA_LOSS when reading fails midway.
absl::StatusOr<FileDigest> Sha256File(const std::string& path);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_FILE_DIGEST_H_
