#include "services/tokenizer/batch_ops.h"

#include <string_view>

#include "absl/strings/str_cat.h"
#include "services/tokenizer/padded_vocab.h"
#include "services/tokenizer/utf8_text.h"

namespace corvid::tokenizer_service {
namespace {

// Prefixes a library error with the batch index it belongs to.
absl::Status AtIndex(const absl::Status& status, std::string_view field, int index) {
  return absl::Status(status.code(),
                      absl::StrCat(std::string(field), "[", index, "]: ", status.message()));
}

}  // namespace

absl::Status ValidateTexts(const google::protobuf::RepeatedPtrField<std::string>& texts,
                           const Limits& limits) {
  if (texts.size() > limits.max_texts_per_batch) {
    return absl::InvalidArgumentError(absl::StrCat("texts: ", texts.size(),
                                                   " texts exceed the limit of ",
                                                   limits.max_texts_per_batch, " per request"));
  }
  for (int i = 0; i < texts.size(); ++i) {
    const std::string& text = texts.Get(i);
    if (static_cast<int64_t>(text.size()) > limits.max_bytes_per_text) {
      return absl::InvalidArgumentError(absl::StrCat("texts[", i, "]: ", text.size(),
                                                     " bytes exceed the limit of ",
                                                     limits.max_bytes_per_text));
    }
    size_t bad = FirstInvalidUtf8(text);
    if (bad != std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("texts[", i, "]: invalid UTF-8 at byte ", bad));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateIds(const google::protobuf::RepeatedField<int32_t>& ids, int vocab_size,
                         const char* outer, int outer_index, const char* inner) {
  for (int j = 0; j < ids.size(); ++j) {
    int32_t id = ids.Get(j);
    if (id < 0 || id >= vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(outer, "[", outer_index, "].", inner, "[", j,
                                                     "] = ", id, " is out of range [0, ",
                                                     vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status RunEncode(const LoadedModel& model, const Limits& limits,
                       const v1::EncodeRequest& request, v1::EncodeResponse* response) {
  if (absl::Status s = ValidateTexts(request.texts(), limits); !s.ok()) return s;
  response->set_model(model.name);
  int64_t total = 0;
  for (int i = 0; i < request.texts_size(); ++i) {
    auto ids = model.tokenizer->Encode(request.texts(i), request.add_special_tokens());
    if (!ids.ok()) return AtIndex(ids.status(), "texts", i);
    total += static_cast<int64_t>(ids->size());
    if (total > limits.max_ids_per_batch) {
      return absl::InvalidArgumentError(absl::StrCat("texts: the batch encodes to more than ",
                                                     limits.max_ids_per_batch,
                                                     " ids (limit per reply); split it"));
    }
    response->add_results()->mutable_ids()->Add(ids->begin(), ids->end());
  }
  response->set_total_tokens(total);
  return absl::OkStatus();
}

absl::Status RunDecode(const LoadedModel& model, const Limits& limits,
                       const v1::DecodeRequest& request, v1::DecodeResponse* response) {
  if (request.sequences_size() > limits.max_texts_per_batch) {
    return absl::InvalidArgumentError(absl::StrCat("sequences: ", request.sequences_size(),
                                                   " sequences exceed the limit of ",
                                                   limits.max_texts_per_batch, " per request"));
  }
  int64_t total = 0;
  for (int i = 0; i < request.sequences_size(); ++i) {
    const auto& ids = request.sequences(i).ids();
    total += ids.size();
    if (total > limits.max_ids_per_batch) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequences: more than ", limits.max_ids_per_batch, " ids in one request"));
    }
    absl::Status valid = ValidateIds(ids, model.vocab_size, "sequences", i, "ids");
    if (!valid.ok()) return valid;
  }
  response->set_model(model.name);
  int64_t text_bytes = 0;
  std::vector<int32_t> scratch;
  for (int i = 0; i < request.sequences_size(); ++i) {
    const auto& ids = request.sequences(i).ids();
    auto text = model.tokenizer->Decode(
        WithoutPaddingIds(absl::MakeConstSpan(ids.data(), ids.size()), model.piece_count,
                          &scratch),
        request.skip_special_tokens());
    if (!text.ok()) return AtIndex(text.status(), "sequences", i);
    MakeValidUtf8(&*text);
    text_bytes += static_cast<int64_t>(text->size());
    // Long pieces can make the text much larger than the ids: refuse rather than fail to send.
    if (text_bytes > limits.max_message_bytes / 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequences: the decoded texts exceed ", limits.max_message_bytes / 2,
                       " bytes (half the message size limit); split the request"));
    }
    response->add_texts(std::move(*text));
  }
  return absl::OkStatus();
}

absl::Status RunCountTokens(const LoadedModel& model, const Limits& limits,
                            const v1::CountTokensRequest& request,
                            v1::CountTokensResponse* response) {
  if (absl::Status s = ValidateTexts(request.texts(), limits); !s.ok()) return s;
  response->set_model(model.name);
  int64_t total = 0;
  for (int i = 0; i < request.texts_size(); ++i) {
    auto ids = model.tokenizer->Encode(request.texts(i), request.add_special_tokens());
    if (!ids.ok()) return AtIndex(ids.status(), "texts", i);
    response->add_counts(static_cast<int32_t>(ids->size()));
    total += static_cast<int64_t>(ids->size());
  }
  response->set_total_tokens(total);
  return absl::OkStatus();
}

void FillInfo(const LoadedModel& model, const std::vector<std::string>& served_models,
              const Limits& limits, v1::GetInfoResponse* response) {
  response->set_model(model.name);
  response->set_vocab_size(model.vocab_size);
  response->set_piece_count(model.piece_count);
  response->set_bos_id(model.tokenizer->bos_id());
  response->set_eos_id(model.tokenizer->eos_id());
  for (const auto& [id, piece] : model.special_tokens) {
    v1::SpecialToken* token = response->add_special_tokens();
    token->set_id(id);
    std::string valid = piece;
    MakeValidUtf8(&valid);
    token->set_piece(std::move(valid));
  }
  for (const TokenizerFileInfo& file : model.files) {
    v1::TokenizerFile* f = response->add_files();
    f->set_name(file.name);
    f->set_size_bytes(file.digest.size_bytes);
    f->set_sha256(file.digest.sha256_hex);
  }
  response->set_digest_sha256(model.digest_sha256);
  for (const std::string& name : served_models) response->add_served_models(name);
  v1::TokenizerLimits* l = response->mutable_limits();
  l->set_max_texts_per_batch(static_cast<int32_t>(limits.max_texts_per_batch));
  l->set_max_bytes_per_text(limits.max_bytes_per_text);
  l->set_max_ids_per_batch(limits.max_ids_per_batch);
  l->set_max_message_bytes(limits.max_message_bytes);
  l->set_max_sequences_per_stream(static_cast<int32_t>(limits.max_sequences_per_stream));
}

}  // namespace corvid::tokenizer_service
