#include "engine/cuda/gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kernels/bulk_gemm.h"
#include "kernels/elementwise.h"
#include "kernels/pdl_spin.h"
#include "kernels/skinny_gemm.h"
#include "kernels/tiled_gemm.h"

namespace corvid::cuda {
namespace {

constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

kernels::DataType KernelType(DType t) {
  return t == DType::kF16 ? kernels::DataType::kF16 : kernels::DataType::kBF16;
}

// corvid's bulk-copy decode kernel competes with the other candidates unless CORVID_BULK_GEMM=0;
// CORVID_BULK_GEMM=force makes it the only candidate wherever it runs (A/B timing: the autotune
// times a GEMM alone, where the weight stream it starts under the kernel before it in a decode
// step does not show).
enum class BulkMode { kOff, kOn, kForce };
BulkMode Bulk() {
  static const BulkMode mode = [] {
    const char* env = std::getenv("CORVID_BULK_GEMM");
    if (env == nullptr) return BulkMode::kOn;
    if (std::strcmp(env, "0") == 0) return BulkMode::kOff;
    return std::strcmp(env, "force") == 0 ? BulkMode::kForce : BulkMode::kOn;
  }();
  return mode;
}
// Up to 16 rows it beat the cuBLASLt family in the decode step on the H100 (batch 1 and 8);
// at 24-64 rows it timed alike alone but made the batch-32 step slower (docs/perf.md, session 5).
constexpr int kBulkMaxRows = 16;
bool BulkGemmOffered(int m) {
  return Bulk() != BulkMode::kOff && (m <= kBulkMaxRows || Bulk() == BulkMode::kForce);
}


// About the time of an RMSNorm or SiluMul launch at decode sizes.
constexpr int kSpinNanos = 2000;

// Default tile configuration by row count when nothing was tuned.
int DefaultConfig(int m) {
  if (m <= 16) return 1;
  if (m <= 32) return 3;
  if (m <= 64) return 4;
  return 6;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GemmDispatcher>> GemmDispatcher::Create(
    DType dtype, cudaStream_t stream, const GemmOptions& options) {
  std::unique_ptr<GemmDispatcher> g(new GemmDispatcher(dtype, stream, options));
  CUBLAS_RETURN_IF_ERROR(cublasCreate(&g->cublas_));
  CUBLAS_RETURN_IF_ERROR(cublasSetStream(g->cublas_, stream));
  // A fixed workspace keeps cuBLAS from allocating inside CUDA-graph capture.
  ASSIGN_OR_RETURN(g->workspace_, DeviceBuffer::Allocate(kCublasWorkspaceBytes));
  CUBLAS_RETURN_IF_ERROR(
      cublasSetWorkspace(g->cublas_, g->workspace_.data(), g->workspace_.size()));
  ASSIGN_OR_RETURN(LtGemm * lt, LtGemm::Create(g->workspace_.data(), g->workspace_.size()));
  g->lt_.reset(lt);
  return g;
}

GemmDispatcher::~GemmDispatcher() {
  lt_.reset();
  if (cublas_ != nullptr) cublasDestroy(cublas_);
}

GemmDispatcher::Choice GemmDispatcher::Choose(int m, int n, int k, bool y_f32) const {
  auto it = table_.find(ShapeKey{n, k, y_f32});
  if (it != table_.end() && !it->second.empty()) {
    auto row = it->second.lower_bound(m);
    if (row == it->second.end()) row = std::prev(it->second.end());
    return row->second;
  }
  return Choice{Impl::kTiled, DefaultConfig(m), 0.0f};
}

absl::Status GemmDispatcher::RunChoice(const Choice& c, const void* x, int lda, const void* w,
                                       int ldw, void* y, bool y_f32, int m, int n, int k) {
  switch (c.impl) {
    case Impl::kTiled:
      KERNEL_RETURN_IF_ERROR(kernels::LaunchTiledGemm(c.config, KernelType(dtype_), x, lda, w,
                                                      ldw, y, y_f32, m, n, k, stream_));
      return absl::OkStatus();
    case Impl::kSkinny:
      if (lda != k || ldw != k) break;
      KERNEL_RETURN_IF_ERROR(
          kernels::LaunchSkinnyGemm(KernelType(dtype_), x, w, y, y_f32, m, n, k, stream_));
      return absl::OkStatus();
    case Impl::kLt:
      return lt_->Run(c.algo, dtype_, x, lda, w, ldw, y, y_f32, m, n, k, stream_);
    case Impl::kBulk:
      KERNEL_RETURN_IF_ERROR(kernels::LaunchBulkGemm(c.config, KernelType(dtype_), x, lda, w,
                                                     ldw, y, y_f32, m, n, k, stream_));
      return absl::OkStatus();
    case Impl::kCublas: {
      const cudaDataType_t in = dtype_ == DType::kF16 ? CUDA_R_16F : CUDA_R_16BF;
      const float alpha = 1.0f, beta = 0.0f;
      // Column-major view: y^T [n, m] = w [n, k] (stored as k x n, transposed) * x^T [k, m].
      CUBLAS_RETURN_IF_ERROR(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, w,
                                          in, ldw, x, in, lda, &beta, y,
                                          y_f32 ? CUDA_R_32F : in, n, CUBLAS_COMPUTE_32F,
                                          CUBLAS_GEMM_DEFAULT));
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("skinny GEMM needs contiguous rows");
}

absl::Status GemmDispatcher::Run(const void* x, int lda, const void* w, int ldw, void* y,
                                 bool y_f32, int m, int n, int k) {
  if (m == 0) return absl::OkStatus();
  return RunChoice(Choose(m, n, k, y_f32), x, lda, w, ldw, y, y_f32, m, n, k);
}

std::vector<GemmDispatcher::Choice> GemmDispatcher::Candidates(int m, int k) const {
  std::vector<Choice> out;
  for (int c = 0; c < kernels::NumTiledGemmConfigs(); ++c) {
    // Tiles far taller than the batch only waste work.
    if (kernels::TiledGemmTileRows(c) > std::max(16, 2 * m)) continue;
    out.push_back(Choice{Impl::kTiled, c, 0.0f});
  }
  if (BulkGemmOffered(m)) {
    for (int c = 0; c < kernels::NumBulkGemmConfigs(); ++c) {
      if (kernels::BulkGemmSupports(c, m, k, k, k)) out.push_back(Choice{Impl::kBulk, c, 0.0f});
    }
  }
  if (!options_.batch_invariant) {
    out.push_back(Choice{Impl::kCublas, 0, 0.0f});
    if (kernels::SkinnyGemmSupports(m, k)) out.push_back(Choice{Impl::kSkinny, 0, 0.0f});
  }
  return out;
}

// Under CORVID_BULK_GEMM=force, only the bulk candidates where there are any.
void GemmDispatcher::KeepOnlyBulk(std::vector<Choice>* cands) {
  if (Bulk() != BulkMode::kForce) return;
  std::vector<Choice> bulk;
  for (const Choice& c : *cands) {
    if (c.impl == Impl::kBulk) bulk.push_back(c);
  }
  if (!bulk.empty()) *cands = std::move(bulk);
}

float GemmDispatcher::TimeChoice(const Choice& c, const GemmProblem& p, const void* x, void* y,
                                 int m) {
  // Warm-up, and a support check: a failing candidate is skipped.
  if (!RunChoice(c, x, p.k, p.weights[0], p.ldw, y, p.y_f32, m, p.n, p.k).ok()) {
    cudaGetLastError();
    return -1.0f;
  }
  const int reps = m <= 256 ? 8 : 2;
  cudaEvent_t start, stop;
  if (cudaEventCreate(&start) != cudaSuccess || cudaEventCreate(&stop) != cudaSuccess) return -1;
  cudaEventRecord(start, stream_);
  bool ok = true;
  // Each behind a short kernel, as in a decode step (kernels/pdl_spin.h): the same cost for
  // every candidate, less what a candidate overlaps with it.
  for (int r = 0; r < reps && ok; ++r) {
    ok = kernels::LaunchPdlSpin(kSpinNanos, stream_) == kernels::kKernelOk &&
         RunChoice(c, x, p.k, p.weights[r % p.weights.size()], p.ldw, y, p.y_f32, m, p.n, p.k)
             .ok();
  }
  cudaEventRecord(stop, stream_);
  float ms_total = -1.0f;
  if (cudaEventSynchronize(stop) != cudaSuccess || !ok ||
      cudaEventElapsedTime(&ms_total, start, stop) != cudaSuccess) {
    cudaGetLastError();
    ms_total = -1.0f;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms_total < 0.0f ? -1.0f : ms_total * 1000.0f / reps - kSpinNanos * 1e-3f;
}

GemmDispatcher::Choice GemmDispatcher::Fastest(std::vector<Choice> cands, const GemmProblem& p,
                                               const void* x, void* y, int m) {
  // Candidates a few microseconds long differ by less than one timing's noise (clocks, the
  // memory system's state): time them in interleaved rounds and keep each one's best round.
  constexpr int kRounds = 3;
  for (Choice& c : cands) c.micros = -1.0f;
  for (int r = 0; r < kRounds; ++r) {
    for (Choice& c : cands) {
      if (r > 0 && c.micros < 0.0f) continue;  // failed in the first round
      const float t = TimeChoice(c, p, x, y, m);
      if (t >= 0.0f && (c.micros < 0.0f || t < c.micros)) c.micros = t;
    }
  }
  Choice best;
  best.micros = -1.0f;
  for (const Choice& c : cands) {
    if (std::getenv("CORVID_GEMM_LOG") != nullptr) {
      std::fprintf(stderr, "gemm %s m=%d %s: %.1f us\n", p.name.c_str(), m, ChoiceName(c).c_str(),
                   c.micros);
    }
    if (c.micros >= 0.0f && (best.micros < 0.0f || c.micros < best.micros)) best = c;
  }
  return best;
}

absl::StatusOr<std::map<int, GemmDispatcher::Choice>> GemmDispatcher::TuneLtFamily(
    const GemmProblem& p, const std::vector<int>& ms, const void* x) {
  const int max_m = ms.back();
  const size_t elem = p.y_f32 ? 4 : 2, row_bytes = elem * p.n;
  std::map<int, Choice> chosen;
  const auto refs = lt_->Heuristics(dtype_, p.y_f32, max_m, p.n, p.k, p.k, p.ldw, 1);
  if (refs.empty()) return chosen;
  ASSIGN_OR_RETURN(DeviceBuffer y_ref, DeviceBuffer::Allocate(row_bytes * max_m));
  ASSIGN_OR_RETURN(DeviceBuffer y_tmp, DeviceBuffer::Allocate(row_bytes * max_m));
  Choice ref{Impl::kLt, 0, 0.0f, refs[0]};
  if (!RunChoice(ref, x, p.k, p.weights[0], p.ldw, y_ref.data(), p.y_f32, max_m, p.n, p.k).ok()) {
    cudaGetLastError();
    return chosen;
  }
  std::vector<char> want(row_bytes * max_m), got;
  CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
  CUDA_RETURN_IF_ERROR(cudaMemcpy(want.data(), y_ref.data(), want.size(), cudaMemcpyDeviceToHost));
  // True when `c` run on consecutive slices of `rows` rows reproduces the reference rows.
  auto reproduces = [&](const Choice& c, int rows) -> bool {
    if (c.impl == Impl::kLt && !lt_->Supports(c.algo, dtype_, p.y_f32, rows, p.n, p.k, p.k,
                                              p.ldw)) {
      return false;
    }
    if (c.impl == Impl::kBulk &&
        (!BulkGemmOffered(rows) || !kernels::BulkGemmSupports(c.config, rows, p.k, p.k, p.ldw))) {
      return false;
    }
    const int cover = std::min(max_m, std::max(rows, 64)) / rows * rows;
    for (int s = 0; s + rows <= cover; s += rows) {
      const char* xs = static_cast<const char*>(x) + size_t{2} * s * p.k;
      if (!RunChoice(c, xs, p.k, p.weights[0], p.ldw, y_tmp.as<char>() + row_bytes * s, p.y_f32,
                     rows, p.n, p.k)
               .ok()) {
        cudaGetLastError();
        return false;
      }
    }
    got.resize(row_bytes * cover);
    if (cudaStreamSynchronize(stream_) != cudaSuccess ||
        cudaMemcpy(got.data(), y_tmp.data(), got.size(), cudaMemcpyDeviceToHost) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    return std::equal(got.begin(), got.end(), want.begin());
  };
  // One pool of candidates for every batch size: what cuBLASLt proposes at any size (an
  // algorithm proposed for large batches often serves small ones well and consistently).
  std::vector<Choice> pool = {ref};
  for (int m : ms) {
    for (const auto& algo : lt_->Heuristics(dtype_, p.y_f32, m, p.n, p.k, p.k, p.ldw, 16)) {
      const bool seen = std::any_of(pool.begin(), pool.end(), [&](const Choice& c) {
        return std::memcmp(&c.algo, &algo, sizeof(algo)) == 0;
      });
      if (!seen) pool.push_back(Choice{Impl::kLt, 0, 0.0f, algo});
    }
  }
  if (BulkGemmOffered(1)) {  // same accumulation as the tiled kernel: checked like the rest
    for (int c = 0; c < kernels::NumBulkGemmConfigs(); ++c) {
      pool.push_back(Choice{Impl::kBulk, c, 0.0f});
    }
  }
  // Whether corvid's own kernel accumulates exactly as the reference (on the H100 it does).
  if (std::getenv("CORVID_GEMM_LOG") != nullptr) {
    const Choice tiled{Impl::kTiled, DefaultConfig(64), 0.0f};
    std::fprintf(stderr, "gemm %s m=64 %s: %s the reference's bits\n", p.name.c_str(),
                 ChoiceName(tiled).c_str(),
                 reproduces(tiled, 64) ? "reproduces" : "does not reproduce");
  }
  int prev = 0;
  for (int m : ms) {
    const int lo = prev + 1;
    prev = m;
    std::vector<Choice> cands;
    for (const Choice& c : pool) {
      if (reproduces(c, m) && (lo == m || reproduces(c, lo))) cands.push_back(c);
    }
    KeepOnlyBulk(&cands);
    const Choice best = Fastest(cands, p, x, y_tmp.data(), m);
    if (best.micros < 0.0f) return std::map<int, Choice>();
    chosen[m] = best;
  }
  return chosen;
}

absl::Status GemmDispatcher::Autotune(const std::vector<GemmProblem>& problems,
                                      const std::vector<int>& ms) {
  if (problems.empty() || ms.empty()) return absl::OkStatus();
  int max_k = 0, max_n = 0;
  for (const GemmProblem& p : problems) {
    max_k = std::max(max_k, p.k);
    max_n = std::max(max_n, p.n);
  }
  const int max_m = ms.back();
  ASSIGN_OR_RETURN(DeviceBuffer x, DeviceBuffer::Allocate(size_t{2} * max_m * max_k));
  ASSIGN_OR_RETURN(DeviceBuffer y, DeviceBuffer::Allocate(size_t{4} * max_m * max_n));
  KERNEL_RETURN_IF_ERROR(kernels::LaunchRandomFill(KernelType(dtype_), x.data(),
                                                   int64_t{max_m} * max_k, 7, 1.0f, 0.0f,
                                                   stream_));
  for (const GemmProblem& p : problems) {
    const ShapeKey key{p.n, p.k, p.y_f32};
    names_[key] = p.name;
    std::map<int, Choice> own;
    for (int m : ms) {
      std::vector<Choice> cands = Candidates(m, p.k);
      if (!options_.batch_invariant) {  // unverified cuBLASLt proposals may compete too
        for (const auto& algo : lt_->Heuristics(dtype_, p.y_f32, m, p.n, p.k, p.k, p.ldw, 4)) {
          cands.push_back(Choice{Impl::kLt, 0, 0.0f, algo});
        }
      }
      KeepOnlyBulk(&cands);
      const Choice best = Fastest(cands, p, x.data(), y.data(), m);
      if (best.micros >= 0.0f) own[m] = best;
    }
    table_[key] = own;
    // CORVID_GEMM_FAMILY=tiled keeps corvid's own kernels (diagnosis and comparisons).
    const char* family = std::getenv("CORVID_GEMM_FAMILY");
    if (!options_.batch_invariant || (family && std::string(family) == "tiled")) continue;
    // Two invariant families: keep the one with the lower geometric-mean time over `ms`.
    using Table = std::map<int, Choice>;
    ASSIGN_OR_RETURN(Table lt, TuneLtFamily(p, ms, x.data()));
    auto log_time = [](const std::map<int, Choice>& t) {
      double s = 0.0;
      for (const auto& [m, c] : t) s += std::log(std::max(c.micros, 1e-3f));
      return s;
    };
    if (lt.size() == ms.size() && (own.size() < ms.size() || log_time(lt) < log_time(own))) {
      table_[key] = lt;
    }
  }
  return absl::OkStatus();
}

std::string GemmDispatcher::ChoiceName(const Choice& c) const {
  switch (c.impl) {
    case Impl::kTiled:
      return kernels::TiledGemmConfigName(c.config);
    case Impl::kCublas:
      return "cublas";
    case Impl::kSkinny:
      return "skinny";
    case Impl::kBulk:
      return kernels::BulkGemmConfigName(c.config);
    case Impl::kLt: {
      int id = -1, tile = -1, splitk = -1;
      cublasLtMatmulAlgoConfigGetAttribute(&c.algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof(id),
                                           nullptr);
      cublasLtMatmulAlgoConfigGetAttribute(&c.algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile,
                                           sizeof(tile), nullptr);
      cublasLtMatmulAlgoConfigGetAttribute(&c.algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk,
                                           sizeof(splitk), nullptr);
      return absl::StrCat("lt:algo", id, "/tile", tile, "/splitk", splitk);
    }
  }
  return "?";
}

std::string GemmDispatcher::Describe() const {
  std::string out;
  for (const auto& [key, rows] : table_) {
    const auto& [n, k, f32] = key;
    auto name = names_.find(key);
    for (const auto& [m, c] : rows) {
      const std::string impl = ChoiceName(c);
      const double bytes = 2.0 * n * k;
      absl::StrAppendFormat(&out, "  %-8s n=%-6d k=%-6d m=%-5d %-26s %8.1f us  %6.0f GB/s  %6.1f TFLOP/s\n",
                            name == names_.end() ? "" : name->second.c_str(), n, k, m, impl,
                            c.micros, bytes / (c.micros * 1e3), 2.0 * m * n * k / (c.micros * 1e6));
    }
  }
  return out;
}

}  // namespace corvid::cuda
