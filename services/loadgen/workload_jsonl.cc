// LoadJsonlWorkload (workload.h): nlohmann::json exceptions stay inside this file.
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "services/loadgen/workload.h"

namespace corvid::loadgen {
namespace {

const nlohmann::json* Field(const nlohmann::json& line, const char* name, const char* alias) {
  auto it = line.find(name);
  if (it == line.end()) it = line.find(alias);
  return it == line.end() ? nullptr : &*it;
}

// Fills `spec` from one parsed line; an error message naming the field, or "" when good.
std::string ParseLine(const nlohmann::json& line, int default_max_tokens, RequestSpec* spec) {
  if (!line.is_object()) return "expected a JSON object";
  const nlohmann::json* text = Field(line, "prompt", "text");
  const nlohmann::json* ids = Field(line, "prompt_token_ids", "token_ids");
  if ((text == nullptr) == (ids == nullptr)) {
    return "give exactly one of \"prompt\" and \"prompt_token_ids\"";
  }
  if (text != nullptr) {
    if (!text->is_string() || text->get<std::string>().empty()) {
      return "\"prompt\" must be a non-empty string";
    }
    spec->text = text->get<std::string>();
  } else {
    if (!ids->is_array() || ids->empty()) return "\"prompt_token_ids\" must be a non-empty array";
    for (const nlohmann::json& id : *ids) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
        return "\"prompt_token_ids\" must hold non-negative 32-bit integers";
      }
      spec->token_ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
  }
  spec->max_tokens = default_max_tokens;
  if (const nlohmann::json* m = Field(line, "max_tokens", "output_len"); m != nullptr) {
    if (!m->is_number_integer() || m->get<int64_t>() < 1 || m->get<int64_t>() > INT32_MAX) {
      return "\"max_tokens\" must be an integer >= 1";
    }
    spec->max_tokens = static_cast<int>(m->get<int64_t>());
  }
  return "";
}

}  // namespace

absl::StatusOr<std::vector<RequestSpec>> LoadJsonlWorkload(const std::string& path,
                                                           int default_max_tokens) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open workload file ", path));
  std::vector<RequestSpec> out;
  std::string raw;
  for (int number = 1; std::getline(in, raw); ++number) {
    absl::string_view trimmed = absl::StripAsciiWhitespace(raw);
    if (trimmed.empty()) continue;
    if (trimmed.front() != '{' && trimmed.front() != '[') {
      // A plain line of text: the prompt as it stands (the line's own spaces kept).
      RequestSpec spec;
      spec.text = raw;
      spec.max_tokens = default_max_tokens;
      out.push_back(std::move(spec));
      continue;
    }
    nlohmann::json line;
    try {
      line = nlohmann::json::parse(trimmed.begin(), trimmed.end());
    } catch (const nlohmann::json::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", e.what()));
    }
    RequestSpec spec;
    if (std::string error = ParseLine(line, default_max_tokens, &spec); !error.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", error));
    }
    out.push_back(std::move(spec));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no requests"));
  return out;
}

}  // namespace corvid::loadgen
