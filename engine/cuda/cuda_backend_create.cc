// Construction of the CUDA backend: device checks, weight upload, memory planning (KV pool
// from the budget), GEMM autotuning and decode-graph buckets.
#include <algorithm>
#include <cstdlib>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_backend_impl.h"
#include "engine/cuda/cuda_check.h"

namespace corvid {

bool CudaDeviceAvailable(std::string* why) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    if (why) *why = absl::StrCat("no usable CUDA driver/device: ", cudaGetErrorString(err));
    return false;
  }
  if (count == 0) {
    if (why) *why = "no CUDA device";
    return false;
  }
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess || prop.major < 8) {
    if (why) *why = "the CUDA backend needs compute capability 8.0 or newer";
    return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<Backend>> CreateCudaBackend(const ModelConfig& config,
                                                           const WeightStore* weights,
                                                           const CudaBackendOptions& options) {
  return cuda::Create(config, weights, options);
}

absl::StatusOr<CudaBackendInfo> DescribeCudaBackend(const Backend& backend) {
  const auto* impl = dynamic_cast<const cuda::CudaBackendImpl*>(&backend);
  if (impl == nullptr) return absl::InvalidArgumentError("not a CUDA backend");
  return impl->info();
}

namespace cuda {
namespace {

constexpr int64_t kReserveBytes = int64_t{512} << 20;  // graphs, sampler buffers, slack

std::vector<int> DecodeBuckets(int max_seqs) {
  std::vector<int> b;
  for (int x : {1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256,
                320, 384, 448, 512}) {
    if (x < max_seqs) b.push_back(x);
  }
  b.push_back(max_seqs);
  return b;
}

absl::StatusOr<DType> ComputeType(const WeightStore* weights, const CudaBackendOptions& o) {
  DType dtype = o.dtype;
  if (weights != nullptr) {
    ASSIGN_OR_RETURN(const TensorView* embed, weights->Get("model.embed_tokens.weight"));
    dtype = embed->dtype;
  }
  if (dtype == DType::kF32) dtype = o.dtype == DType::kF16 ? DType::kF16 : DType::kBF16;
  if (dtype != DType::kF16 && dtype != DType::kBF16) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported weight dtype ", DTypeName(dtype)));
  }
  return dtype;
}

absl::Status Autotune(const ModelConfig& c, const ModelRunner& runner, GemmDispatcher* gemm,
                      const std::vector<int>& buckets, int max_tokens) {
  const DeviceWeights& w = runner.weights();
  const int h = c.hidden_size, qd = c.q_dim(), qkv = qd + 2 * c.kv_dim();
  std::vector<GemmProblem> layer_problems = {
      {"qkv", qkv, h, h, false, {}},
      {"o", h, qd, qd, false, {}},
      {"gate_up", 2 * c.intermediate_size, h, h, false, {}},
      {"down", h, w.inter_padded, w.inter_padded, false, {}}};
  for (int l = 0; l < std::min(c.num_layers, 4); ++l) {
    layer_problems[0].weights.push_back(w.layers[l].qkv);
    layer_problems[1].weights.push_back(w.layers[l].o);
    layer_problems[2].weights.push_back(w.layers[l].gate_up);
    layer_problems[3].weights.push_back(w.layers[l].down);
  }
  std::vector<int> ms = buckets;
  for (int m = 2 * buckets.back(); m < max_tokens; m *= 2) ms.push_back(m);
  if (ms.back() < max_tokens) ms.push_back(max_tokens);
  RETURN_IF_ERROR(gemm->Autotune(layer_problems, ms));
  GemmProblem head{"lm_head", c.vocab_size, h, h, true, {w.lm_head}};
  return gemm->Autotune({head}, buckets);
}

// Number of KV blocks that fit: the budget (or free memory) minus what is already ours.
absl::StatusOr<int> PlanKvBlocks(const CudaBackendOptions& o, size_t free_at_start,
                                 int64_t block_bytes) {
  if (o.num_kv_blocks > 0) return o.num_kv_blocks;
  size_t free_now = 0, total = 0;
  CUDA_RETURN_IF_ERROR(cudaMemGetInfo(&free_now, &total));
  const int64_t used = static_cast<int64_t>(free_at_start) - static_cast<int64_t>(free_now);
  const int64_t budget = o.gpu_memory_budget > 0
                             ? o.gpu_memory_budget
                             : static_cast<int64_t>(static_cast<double>(free_at_start) *
                                                    o.memory_fraction);
  const int64_t kv = std::min(budget - used, static_cast<int64_t>(free_now)) - kReserveBytes;
  if (kv < block_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "GPU memory budget ", budget, " bytes leaves no room for the KV cache (weights and "
        "buffers use ", used, ")"));
  }
  return static_cast<int>(std::min<int64_t>(kv / block_bytes, 1 << 30));
}

absl::Status CheckOptions(const CudaBackendOptions& o) {
  if (o.block_size < 1 || o.max_num_seqs < 1 || o.max_num_batched_tokens < 1 ||
      o.memory_fraction <= 0.0 || o.memory_fraction > 1.0) {
    return absl::InvalidArgumentError("CudaBackendOptions out of range");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> Create(const ModelConfig& config,
                                                const WeightStore* weights,
                                                const CudaBackendOptions& options) {
  std::string why;
  if (!CudaDeviceAvailable(&why)) return absl::FailedPreconditionError("CUDA backend: " + why);
  RETURN_IF_ERROR(CheckOptions(options));
  CUDA_RETURN_IF_ERROR(cudaSetDevice(options.device));
  CUDA_RETURN_IF_ERROR(cudaFree(nullptr));  // create the context before measuring memory
  size_t free_at_start = 0, total = 0;
  CUDA_RETURN_IF_ERROR(cudaMemGetInfo(&free_at_start, &total));

  std::unique_ptr<CudaBackendImpl> b(new CudaBackendImpl());
  b->config_ = config;
  b->options_ = options;
  cudaDeviceProp prop;
  CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, options.device));
  b->info_.device_name = prop.name;
  b->info_.sm_count = prop.multiProcessorCount;

  ASSIGN_OR_RETURN(DType dtype, ComputeType(weights, options));
  DeviceWeights dw;
  if (weights != nullptr) {
    ASSIGN_OR_RETURN(dw, UploadWeights(config, *weights, dtype));
  } else {
    ASSIGN_OR_RETURN(dw, RandomDeviceWeights(config, dtype, options.dummy_seed));
  }
  b->info_.weight_bytes = static_cast<int64_t>(dw.arena.size());
  CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&b->stream_, cudaStreamNonBlocking));
  GemmOptions gemm_options;
  gemm_options.batch_invariant = options.batch_invariant;
  ASSIGN_OR_RETURN(b->gemm_, GemmDispatcher::Create(dtype, b->stream_, gemm_options));

  const int max_model_len =
      options.max_model_len > 0 ? options.max_model_len : config.max_position_embeddings;
  b->buckets_ = DecodeBuckets(options.max_num_seqs);
  RunnerShape shape;
  shape.max_seqs = options.max_num_seqs;
  shape.max_tokens = std::max(options.max_num_batched_tokens, options.max_num_seqs);
  shape.block_size = options.block_size;
  // A/B timing of the decode split length (docs/cuda.md); a multiple of 64 keys, the tile.
  if (const char* v = std::getenv("CORVID_DECODE_SPLIT_TOKENS"); v != nullptr) {
    const int keys = std::atoi(v);
    if (keys < 64 || keys % 64 != 0) {
      return absl::InvalidArgumentError("CORVID_DECODE_SPLIT_TOKENS must be a multiple of 64");
    }
    shape.split_tokens = keys;
  }
  ASSIGN_OR_RETURN(b->runner_,
                   ModelRunner::Create(config, std::move(dw), b->gemm_.get(), b->stream_, shape));
  b->info_.activation_bytes = b->runner_->activation_bytes();
  if (options.autotune) {
    RETURN_IF_ERROR(Autotune(config, *b->runner_, b->gemm_.get(), b->buckets_, shape.max_tokens));
    b->info_.gemm_table = b->gemm_->Describe();
  }

  ASSIGN_OR_RETURN(const int blocks,
                   PlanKvBlocks(options, free_at_start, b->runner_->KvBlockBytes()));
  RETURN_IF_ERROR(b->runner_->AllocateKv(blocks));
  b->info_.num_kv_blocks = blocks;
  b->info_.kv_bytes = b->runner_->KvBlockBytes() * blocks;

  StepCapacity cap;
  cap.tokens = shape.max_tokens;
  cap.seqs = shape.max_seqs;
  const int blocks_per_seq = (max_model_len + options.block_size - 1) / options.block_size;
  cap.block_ids = static_cast<int>(
      std::min<int64_t>(int64_t{shape.max_seqs} * blocks_per_seq, int64_t{1} << 28));
  cap.vocab = config.vocab_size;
  cap.num_blocks = blocks;
  cap.block_size = options.block_size;
  cap.max_model_len = max_model_len;
  ASSIGN_OR_RETURN(StepInputs inputs, StepInputs::Create(cap));
  b->inputs_ = std::make_unique<StepInputs>(std::move(inputs));

  const size_t rows = options.max_num_seqs;
  ASSIGN_OR_RETURN(b->d_rows_, DeviceBuffer::Allocate(rows * sizeof(kernels::SamplingRow)));
  ASSIGN_OR_RETURN(b->h_rows_, PinnedBuffer::Allocate(rows * sizeof(kernels::SamplingRow)));
  ASSIGN_OR_RETURN(b->d_results_, DeviceBuffer::Allocate(rows * sizeof(kernels::SampleResult)));
  ASSIGN_OR_RETURN(b->h_results_, PinnedBuffer::Allocate(rows * sizeof(kernels::SampleResult)));
  RETURN_IF_ERROR(b->EnsureEntryCapacity(0));
  CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(b->stream_));
  return std::unique_ptr<Backend>(std::move(b));
}

}  // namespace cuda
}  // namespace corvid
