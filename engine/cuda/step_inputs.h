// The per-step metadata the kernels read (token ids, positions, KV slots, block tables,
// attention rows and prefill tiles), built on the host into pinned memory and uploaded with
// one copy. Every array sits at a fixed offset of a fixed device buffer, so a CUDA graph
// captured once keeps reading the current step's values.
#ifndef CORVID_ENGINE_CUDA_STEP_INPUTS_H_
#define CORVID_ENGINE_CUDA_STEP_INPUTS_H_

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend.h"
#include "engine/cuda/device_memory.h"

namespace corvid::cuda {

struct StepCapacity {
  int tokens = 0;     // query tokens per step (also the largest padded decode batch)
  int seqs = 0;       // sequences per step
  int block_ids = 0;  // block-table entries per step
  int vocab = 0;
  int num_blocks = 0;     // KV blocks in the pool
  int block_size = 0;
  int max_model_len = 0;
};

// Device pointers of the arrays (all int32).
struct StepArrays {
  const int32_t* token_ids = nullptr;     // [tokens]
  const int32_t* positions = nullptr;     // [tokens]
  const int32_t* slots = nullptr;         // [tokens] KV slot, -1 = none (padding)
  const int32_t* qo_indptr = nullptr;     // [seqs + 1]
  const int32_t* ctx_len = nullptr;       // [seqs]
  const int32_t* block_indptr = nullptr;  // [seqs + 1]
  const int32_t* sample_rows = nullptr;   // [seqs] token index of each sampled sequence
  const int32_t* tiles = nullptr;         // [2 * tiles] (sequence, first query) prefill tiles
  const int32_t* row_token = nullptr;     // [tokens] decode-kernel rows
  const int32_t* row_seq = nullptr;
  const int32_t* row_ctx = nullptr;
  const int32_t* block_ids = nullptr;     // [block_ids]
};

// What the forward pass runs for this step.
struct ForwardPlan {
  int num_tokens = 0;        // activation rows (the padded batch in graph mode)
  int num_rows = 0;          // rows of the decode-attention kernel
  bool rows_are_tokens = false;  // graph decode: row i is token i of sequence i
  int max_splits = 1;
  int num_tiles = 0;         // FlashAttention prefill tiles
  int num_logit_rows = 0;
  bool gather_logit_rows = false;  // logits of sample_rows only (else of rows 0..n-1)
  int num_seqs = 0;          // real sequences
};

struct PlanOptions {
  int decode_bucket = 0;      // > 0: pure decode padded to this many rows (graph mode)
  bool prefill_kernel = true;  // head_dim has the tensor-core prefill kernel
  int split_tokens = 0;
  int split_cap = 1;
  bool pow2_splits = false;   // round max_splits up to a power of two (graph keys)
};

class StepInputs {
 public:
  static absl::StatusOr<StepInputs> Create(const StepCapacity& capacity);

  // Validates `batch` and fills the host mirror; `plan` says what to run.
  absl::Status Build(const StepBatch& batch, const PlanOptions& options, ForwardPlan* plan);
  // Copies the used part of the mirror to the device (asynchronously on `stream`).
  absl::Status Upload(cudaStream_t stream) const;

  const StepArrays& device() const { return device_; }
  const StepCapacity& capacity() const { return cap_; }
  // Index of each sampled sequence's logits row, in batch order.
  const std::vector<int>& logits_rows() const { return logits_rows_; }

 private:
  struct Offsets {
    size_t token_ids, positions, slots, qo_indptr, ctx_len, block_indptr, sample_rows, tiles,
        row_token, row_seq, row_ctx, block_ids, total;
  };
  absl::Status Validate(const StepBatch& batch) const;
  int32_t* Host(size_t offset) { return reinterpret_cast<int32_t*>(host_.as<char>() + offset); }

  StepCapacity cap_;
  Offsets off_{};
  PinnedBuffer host_;
  DeviceBuffer dev_;
  StepArrays device_;
  size_t upload_bytes_ = 0;
  std::vector<int> logits_rows_;
};

}  // namespace corvid::cuda

#endif  // CORVID_ENGINE_CUDA_STEP_INPUTS_H_
