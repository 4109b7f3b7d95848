#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/cuda/cuda_backend_impl.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/sampling_inputs.h"

namespace corvid::cuda {

CudaBackendImpl::~CudaBackendImpl() {
  if (stream_ != nullptr) {
    cudaStreamSynchronize(stream_);
  }
  // Members holding device memory are destroyed before the stream below is.
  runner_.reset();
  gemm_.reset();
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

KvCacheGeometry CudaBackendImpl::kv_geometry() const {
  KvCacheGeometry g;
  g.block_size = options_.block_size;
  g.num_blocks = runner_->num_blocks();
  return g;
}

int CudaBackendImpl::DecodeBucket(int num_seqs) const {
  for (int b : buckets_) {
    if (b >= num_seqs) return b;
  }
  return 0;
}

absl::Status CudaBackendImpl::EnsureEntryCapacity(size_t entries) {
  const size_t bytes = std::max<size_t>(entries, 1024) * sizeof(kernels::PenaltyEntry);
  if (d_entries_.size() >= bytes) return absl::OkStatus();
  ASSIGN_OR_RETURN(d_entries_, DeviceBuffer::Allocate(2 * bytes));
  ASSIGN_OR_RETURN(h_entries_, PinnedBuffer::Allocate(2 * bytes));
  return absl::OkStatus();
}

absl::Status CudaBackendImpl::Execute(const StepBatch& batch, StepResult* result) {
  CUDA_RETURN_IF_ERROR(cudaSetDevice(options_.device));
  result->tokens.clear();
  result->logits.clear();
  bool pure_decode = !batch.seqs.empty();
  for (const StepSequence& s : batch.seqs) pure_decode &= s.num_query_tokens == 1;
  PlanOptions opt;
  opt.prefill_kernel = runner_->has_prefill_kernel();
  opt.split_tokens = runner_->shape().split_tokens;
  opt.split_cap = runner_->shape().split_cap;
  opt.decode_bucket =
      (pure_decode && options_.cuda_graphs) ? DecodeBucket(static_cast<int>(batch.seqs.size())) : 0;
  opt.pow2_splits = opt.decode_bucket > 0;
  ForwardPlan plan;
  RETURN_IF_ERROR(inputs_->Build(batch, opt, &plan));
  step_kind_ = opt.decode_bucket;
  step_timer_.Mark(0, stream_);
  RETURN_IF_ERROR(inputs_->Upload(stream_));
  if (opt.decode_bucket > 0) {
    const int64_t key = int64_t{opt.decode_bucket} * 4096 + plan.max_splits;
    RETURN_IF_ERROR(graphs_.Run(key, stream_,
                                [&] { return runner_->Forward(plan, inputs_->device()); }));
  } else {
    RETURN_IF_ERROR(runner_->Forward(plan, inputs_->device()));
  }
  step_timer_.Mark(1, stream_);
  return SampleAndCollect(batch, result);
}

absl::Status CudaBackendImpl::SampleAndCollect(const StepBatch& batch, StepResult* result) {
  BuildSamplingInputs(batch, inputs_->logits_rows(), &rows_, &entries_);
  const int num_rows = static_cast<int>(rows_.size());
  const int vocab = config_.vocab_size;
  if (num_rows == 0) {
    CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(EnsureEntryCapacity(entries_.size()));
  std::memcpy(h_rows_.data(), rows_.data(), rows_.size() * sizeof(rows_[0]));
  CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(d_rows_.data(), h_rows_.data(),
                                       rows_.size() * sizeof(rows_[0]), cudaMemcpyHostToDevice,
                                       stream_));
  if (!entries_.empty()) {
    std::memcpy(h_entries_.data(), entries_.data(), entries_.size() * sizeof(entries_[0]));
    CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(d_entries_.data(), h_entries_.data(),
                                         entries_.size() * sizeof(entries_[0]),
                                         cudaMemcpyHostToDevice, stream_));
  }
  float* logits = runner_->logits();
  auto* d_rows = d_rows_.as<kernels::SamplingRow>();
  auto* d_entries = d_entries_.as<kernels::PenaltyEntry>();
  auto* d_results = d_results_.as<kernels::SampleResult>();
  bool need_logprobs = false;
  for (const StepSequence& s : batch.seqs) {
    need_logprobs |= s.sample && (s.sampling->logprobs || s.sampling->top_logprobs > 0);
  }
  if (need_logprobs) {  // a full pass over every row's logits; skipped when nobody asked
    KERNEL_RETURN_IF_ERROR(
        kernels::LaunchLogprobs(logits, vocab, d_rows, num_rows, d_results, stream_));
  }
  int logits_span = 0;
  if (batch.return_logits) {  // raw logits, before the penalties touch them
    for (const kernels::SamplingRow& r : rows_) logits_span = std::max(logits_span, r.logits_row + 1);
    const size_t bytes = static_cast<size_t>(logits_span) * vocab * sizeof(float);
    if (h_logits_.size() < bytes) {
      ASSIGN_OR_RETURN(h_logits_, PinnedBuffer::Allocate(bytes));
    }
    CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(h_logits_.data(), logits, bytes, cudaMemcpyDeviceToHost, stream_));
  }
  KERNEL_RETURN_IF_ERROR(kernels::LaunchPenalties(logits, vocab, d_rows, d_entries,
                                                  static_cast<int>(entries_.size()), stream_));
  KERNEL_RETURN_IF_ERROR(
      kernels::LaunchSample(logits, vocab, d_rows, num_rows, d_entries, d_results, stream_));
  CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(h_results_.data(), d_results,
                                       num_rows * sizeof(kernels::SampleResult),
                                       cudaMemcpyDeviceToHost, stream_));
  step_timer_.Mark(2, stream_);
  CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  step_timer_.Finish(step_kind_);

  const auto* res = h_results_.as<kernels::SampleResult>();
  result->tokens.resize(num_rows);
  std::vector<const SamplingParams*> params;
  for (const StepSequence& s : batch.seqs) {
    if (s.sample) params.push_back(s.sampling);
  }
  for (int i = 0; i < num_rows; ++i) {
    SampledToken& t = result->tokens[i];
    t.token = res[i].token;
    // As the CPU sampler: a logprob only when asked for.
    t.logprob = (params[i]->logprobs || params[i]->top_logprobs > 0) ? res[i].logprob : 0.0f;
    t.top_logprobs.clear();
    // num_top is only written by the logprobs pass, which runs only when someone asked.
    const int num_top = params[i]->top_logprobs > 0
                            ? std::clamp(res[i].num_top, 0, kernels::kMaxTopLogprobs)
                            : 0;
    for (int j = 0; j < num_top; ++j) {
      t.top_logprobs.emplace_back(res[i].top_ids[j], res[i].top_logprobs[j]);
    }
    if (t.token < 0 || t.token >= vocab) {
      return absl::InternalError(absl::StrCat("sampler returned token ", t.token));
    }
  }
  if (batch.return_logits) {
    result->logits.resize(static_cast<size_t>(num_rows) * vocab);
    for (int i = 0; i < num_rows; ++i) {
      std::memcpy(result->logits.data() + static_cast<size_t>(i) * vocab,
                  h_logits_.as<float>() + static_cast<size_t>(rows_[i].logits_row) * vocab,
                  vocab * sizeof(float));
    }
  }
  return absl::OkStatus();
}

}  // namespace corvid::cuda
