#include "engine/cuda/step_inputs.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/cuda/cuda_check.h"
#include "kernels/paged_attention.h"

namespace corvid::cuda {
namespace {

size_t AlignUp(size_t x) { return (x + 255) / 256 * 256; }

int TileCapacity(const StepCapacity& c) {
  return c.tokens / kernels::kPrefillTileQueries + c.seqs + 1;
}

}  // namespace

absl::StatusOr<StepInputs> StepInputs::Create(const StepCapacity& capacity) {
  StepInputs s;
  s.cap_ = capacity;
  size_t o = 0;
  auto take = [&o](size_t ints) {
    const size_t at = o;
    o += AlignUp(ints * sizeof(int32_t));
    return at;
  };
  const size_t t = capacity.tokens, n = capacity.seqs;
  s.off_.token_ids = take(t);
  s.off_.positions = take(t);
  s.off_.slots = take(t);
  s.off_.qo_indptr = take(n + 1);
  s.off_.ctx_len = take(n);
  s.off_.block_indptr = take(n + 1);
  s.off_.sample_rows = take(n);
  s.off_.tiles = take(2 * static_cast<size_t>(TileCapacity(capacity)));
  s.off_.row_token = take(t);
  s.off_.row_seq = take(t);
  s.off_.row_ctx = take(t);
  s.off_.block_ids = take(capacity.block_ids);
  s.off_.total = o;
  ASSIGN_OR_RETURN(s.host_, PinnedBuffer::Allocate(o));
  ASSIGN_OR_RETURN(s.dev_, DeviceBuffer::Allocate(o));
  const char* d = s.dev_.as<char>();
  auto at = [d](size_t off) { return reinterpret_cast<const int32_t*>(d + off); };
  s.device_ = StepArrays{at(s.off_.token_ids),  at(s.off_.positions),   at(s.off_.slots),
                         at(s.off_.qo_indptr),  at(s.off_.ctx_len),     at(s.off_.block_indptr),
                         at(s.off_.sample_rows), at(s.off_.tiles),      at(s.off_.row_token),
                         at(s.off_.row_seq),    at(s.off_.row_ctx),     at(s.off_.block_ids)};
  return s;
}

absl::Status StepInputs::Validate(const StepBatch& b) const {
  const int num_seqs = static_cast<int>(b.seqs.size());
  const int num_tokens = static_cast<int>(b.token_ids.size());
  if (num_seqs == 0) return absl::InvalidArgumentError("step has no sequences");
  if (num_seqs > cap_.seqs) {
    return absl::InvalidArgumentError(
        absl::StrCat("step has ", num_seqs, " sequences; the backend holds ", cap_.seqs));
  }
  if (num_tokens > cap_.tokens || b.positions.size() != b.token_ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat("step has ", num_tokens, " tokens (",
                                                   b.positions.size(), " positions); limit ",
                                                   cap_.tokens));
  }
  if (b.block_indptr.size() != b.seqs.size() + 1 || b.block_indptr[0] != 0 ||
      b.block_indptr.back() != static_cast<int>(b.block_ids.size()) ||
      static_cast<int>(b.block_ids.size()) > cap_.block_ids) {
    return absl::InvalidArgumentError("malformed block table (block_indptr / block_ids)");
  }
  for (int32_t id : b.block_ids) {
    if (id < 0 || id >= cap_.num_blocks) {
      return absl::InvalidArgumentError(absl::StrCat("KV block id ", id, " out of range"));
    }
  }
  int t = 0;
  for (int i = 0; i < num_seqs; ++i) {
    const StepSequence& s = b.seqs[i];
    const int blocks = b.block_indptr[i + 1] - b.block_indptr[i];
    if (s.num_query_tokens < 1 || s.context_len < s.num_query_tokens ||
        s.context_len > cap_.max_model_len || blocks < 0 ||
        static_cast<int64_t>(blocks) * cap_.block_size < s.context_len) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sequence ", s.seq_id, ": bad lengths (query ", s.num_query_tokens, ", context ",
          s.context_len, ", blocks ", blocks, ")"));
    }
    if (s.sample && s.sampling == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s.seq_id, ": no sampling params"));
    }
    for (int j = 0; j < s.num_query_tokens; ++j, ++t) {
      if (t >= num_tokens) return absl::InvalidArgumentError("token_ids shorter than the queries");
      if (b.positions[t] != s.context_len - s.num_query_tokens + j) {
        return absl::InvalidArgumentError(
            absl::StrCat("sequence ", s.seq_id, ": position ", b.positions[t], " at query ", j));
      }
      if (b.token_ids[t] < 0 || b.token_ids[t] >= cap_.vocab) {
        return absl::InvalidArgumentError(absl::StrCat("token id ", b.token_ids[t], " out of range"));
      }
    }
  }
  if (t != num_tokens) return absl::InvalidArgumentError("token_ids longer than the queries");
  return absl::OkStatus();
}

absl::Status StepInputs::Build(const StepBatch& b, const PlanOptions& opt, ForwardPlan* plan) {
  RETURN_IF_ERROR(Validate(b));
  const int num_seqs = static_cast<int>(b.seqs.size());
  const int num_tokens = static_cast<int>(b.token_ids.size());
  const int bucket = opt.decode_bucket;
  if (bucket > 0 && (bucket < num_tokens || num_tokens != num_seqs || bucket > cap_.seqs ||
                     bucket > cap_.tokens)) {
    return absl::InternalError("decode bucket does not fit the step");
  }
  int32_t* tok = Host(off_.token_ids);
  int32_t* pos = Host(off_.positions);
  int32_t* slot = Host(off_.slots);
  int32_t* qo = Host(off_.qo_indptr);
  int32_t* ctx = Host(off_.ctx_len);
  int32_t* bptr = Host(off_.block_indptr);
  int32_t* samp = Host(off_.sample_rows);
  int32_t* tiles = Host(off_.tiles);
  int32_t* rtok = Host(off_.row_token);
  int32_t* rseq = Host(off_.row_seq);
  int32_t* rctx = Host(off_.row_ctx);
  std::copy(b.block_ids.begin(), b.block_ids.end(), Host(off_.block_ids));

  *plan = ForwardPlan{};
  plan->num_seqs = num_seqs;
  logits_rows_.clear();
  int rows = 0, num_tiles = 0, max_splits = 1, t = 0;
  qo[0] = 0;
  bptr[0] = 0;
  for (int i = 0; i < num_seqs; ++i) {
    const StepSequence& s = b.seqs[i];
    const int start = t;
    for (int j = 0; j < s.num_query_tokens; ++j, ++t) {
      const int p = b.positions[t];
      tok[t] = b.token_ids[t];
      pos[t] = p;
      slot[t] = b.block_ids[b.block_indptr[i] + p / cap_.block_size] * cap_.block_size +
                p % cap_.block_size;
    }
    qo[i + 1] = t;
    ctx[i] = s.context_len;
    bptr[i + 1] = b.block_indptr[i + 1];
    if (s.num_query_tokens == 1 || !opt.prefill_kernel) {
      for (int j = 0; j < s.num_query_tokens; ++j) {
        const int c = s.context_len - s.num_query_tokens + j + 1;
        rtok[rows] = start + j;
        rseq[rows] = i;
        rctx[rows] = c;
        ++rows;
        max_splits = std::max(max_splits, kernels::DecodeSplits(c, opt.split_tokens, opt.split_cap));
      }
    } else {
      for (int q0 = 0; q0 < s.num_query_tokens; q0 += kernels::kPrefillTileQueries) {
        tiles[2 * num_tiles] = i;
        tiles[2 * num_tiles + 1] = q0;
        ++num_tiles;
      }
    }
    if (s.sample) {
      samp[logits_rows_.size()] = t - 1;
      logits_rows_.push_back(bucket > 0 ? i : static_cast<int>(logits_rows_.size()));
    }
  }
  if (bucket > 0) {
    for (int r = num_tokens; r < bucket; ++r) {  // padding rows: no KV write, no keys
      tok[r] = 0;
      pos[r] = 0;
      slot[r] = -1;
      ctx[r] = 0;
      qo[r + 1] = r + 1;
      bptr[r + 1] = bptr[num_seqs];
    }
    plan->num_tokens = bucket;
    plan->num_rows = bucket;
    plan->rows_are_tokens = true;
    plan->num_logit_rows = bucket;
    plan->gather_logit_rows = false;
  } else {
    plan->num_tokens = num_tokens;
    plan->num_rows = rows;
    plan->num_tiles = num_tiles;
    plan->num_logit_rows = static_cast<int>(logits_rows_.size());
    plan->gather_logit_rows = true;
  }
  if (opt.pow2_splits) {
    int p2 = 1;
    while (p2 < max_splits) p2 *= 2;
    max_splits = std::min(p2, opt.split_cap);
  }
  plan->max_splits = max_splits;
  upload_bytes_ = off_.block_ids + b.block_ids.size() * sizeof(int32_t);
  return absl::OkStatus();
}

absl::Status StepInputs::Upload(cudaStream_t stream) const {
  CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dev_.data(), host_.data(), upload_bytes_,
                                       cudaMemcpyHostToDevice, stream));
  return absl::OkStatus();
}

}  // namespace corvid::cuda
