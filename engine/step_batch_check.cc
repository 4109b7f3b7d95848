#include "engine/step_batch_check.h"

#include "absl/strings/str_cat.h"

namespace corvid {
namespace {

absl::Status CheckBlockTable(const StepBatch& b, const KvCacheGeometry& g) {
  if (b.block_indptr.size() != b.seqs.size() + 1 || b.block_indptr[0] != 0 ||
      b.block_indptr.back() != static_cast<int32_t>(b.block_ids.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("block_indptr must have seqs + 1 = ", b.seqs.size() + 1,
                     " entries from 0 to block_ids.size() = ", b.block_ids.size()));
  }
  for (size_t i = 0; i + 1 < b.block_indptr.size(); ++i) {
    if (b.block_indptr[i + 1] < b.block_indptr[i]) {
      return absl::InvalidArgumentError(absl::StrCat("block_indptr decreases at ", i));
    }
  }
  for (size_t j = 0; j < b.block_ids.size(); ++j) {
    if (b.block_ids[j] < 0 || b.block_ids[j] >= g.num_blocks) {
      return absl::InvalidArgumentError(absl::StrCat("block_ids[", j, "] = ", b.block_ids[j],
                                                     " is outside [0, ", g.num_blocks, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSequence(const StepBatch& b, size_t i, int64_t first_token,
                           const KvCacheGeometry& g) {
  const StepSequence& s = b.seqs[i];
  const std::string who = absl::StrCat("seqs[", i, "] (seq_id ", s.seq_id, "): ");
  if (s.num_query_tokens < 1 || s.context_len < s.num_query_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(who, "needs 1 <= num_query_tokens (",
                                                   s.num_query_tokens, ") <= context_len (",
                                                   s.context_len, ")"));
  }
  const int64_t blocks = b.block_indptr[i + 1] - b.block_indptr[i];
  if (blocks * g.block_size < s.context_len) {
    return absl::InvalidArgumentError(absl::StrCat(who, blocks, " blocks of ", g.block_size,
                                                   " cannot hold context_len ", s.context_len));
  }
  const int32_t first_pos = s.context_len - s.num_query_tokens;
  for (int32_t t = 0; t < s.num_query_tokens; ++t) {
    if (b.positions[first_token + t] != first_pos + t) {
      return absl::InvalidArgumentError(absl::StrCat(who, "positions[", first_token + t, "] is ",
                                                     b.positions[first_token + t], ", expected ",
                                                     first_pos + t));
    }
  }
  if (s.sample && (s.sampling == nullptr || s.prompt == nullptr || s.output == nullptr)) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, "sample is set but sampling, prompt or output is null"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckStepBatch(const StepBatch& batch, const ModelConfig& config,
                            const KvCacheGeometry& geometry) {
  if (auto st = CheckBlockTable(batch, geometry); !st.ok()) return st;
  if (batch.positions.size() != batch.token_ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat("positions has ", batch.positions.size(),
                                                   " entries for ", batch.token_ids.size(),
                                                   " token_ids"));
  }
  int64_t first_token = 0;
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    if (first_token + batch.seqs[i].num_query_tokens >
        static_cast<int64_t>(batch.token_ids.size())) {
      return absl::InvalidArgumentError(
          absl::StrCat("seqs[", i, "] runs past the end of token_ids"));
    }
    if (auto st = CheckSequence(batch, i, first_token, geometry); !st.ok()) return st;
    first_token += batch.seqs[i].num_query_tokens;
  }
  if (first_token != static_cast<int64_t>(batch.token_ids.size())) {
    return absl::InvalidArgumentError(absl::StrCat("the sequences cover ", first_token, " of ",
                                                   batch.token_ids.size(), " token_ids"));
  }
  for (size_t t = 0; t < batch.token_ids.size(); ++t) {
    if (batch.token_ids[t] < 0 || batch.token_ids[t] >= config.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("token_ids[", t, "] = ", batch.token_ids[t], " is outside the vocabulary"));
    }
  }
  return absl::OkStatus();
}

}  // namespace corvid
