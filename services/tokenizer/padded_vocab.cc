#include "services/tokenizer/padded_vocab.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace corvid::tokenizer_service {

absl::StatusOr<int> ConfigVocabSize(const std::string& dir) {
  const std::filesystem::path path = std::filesystem::path(dir) / "config.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return 0;
  std::ifstream in(path);
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": not JSON: ", e.what()));
  }
  if (!config.is_object() || !config.contains("vocab_size")) return 0;
  const nlohmann::json& v = config["vocab_size"];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 ||
      v.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": vocab_size must be a positive 32-bit integer"));
  }
  return static_cast<int>(v.get<int64_t>());
}

absl::Span<const int32_t> WithoutPaddingIds(absl::Span<const int32_t> ids, int piece_count,
                                            std::vector<int32_t>* scratch) {
  auto is_padding = [piece_count](int32_t id) { return id >= piece_count; };
  if (std::none_of(ids.begin(), ids.end(), is_padding)) return ids;
  scratch->clear();
  std::copy_if(ids.begin(), ids.end(), std::back_inserter(*scratch),
               [&](int32_t id) { return !is_padding(id); });
  return absl::MakeConstSpan(*scratch);
}

}  // namespace corvid::tokenizer_service
