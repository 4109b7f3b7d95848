#include "tools/bench/driver.h"

#include <cuda_profiler_api.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/direct_step.h"
#include "engine/status_macros.h"

namespace corvid::bench {
namespace {

// A benchmark sequence: the shared direct-step state plus how much of its prompt is fed.
struct Seq : DirectSeq {
  int fed = 0;
};

double NowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void AddToStep(Seq& s, int n, bool sample, int block_size, StepBatch* b) {
  StepChunk chunk{&s, {}, sample};
  for (int j = 0; j < n; ++j) {
    const int pos = s.context_len + j;
    chunk.tokens.push_back(pos < static_cast<int>(s.prompt.size()) ? s.prompt[pos]
                                                                   : s.output.back());
  }
  AppendChunk(chunk, block_size, b);
}

absl::Status RunStep(Backend* backend, StepBatch& batch, std::vector<Seq*>& samplers) {
  StepResult result;
  RETURN_IF_ERROR(backend->Execute(batch, &result));
  if (result.tokens.size() != samplers.size()) {
    return absl::InternalError("backend returned the wrong number of tokens");
  }
  for (size_t i = 0; i < samplers.size(); ++i) samplers[i]->output.push_back(result.tokens[i].token);
  return absl::OkStatus();
}

}  // namespace

double BatchTiming::MedianDecodeMs() const {
  if (decode_ms.empty()) return 0.0;
  std::vector<double> v = decode_ms;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

absl::StatusOr<BatchTiming> TimeBatch(Backend* backend, int batch, int prompt_len, int gen,
                                      int token_budget, uint64_t seed, int profile_steps) {
  const int bs = backend->kv_geometry().block_size;
  const int per_seq = (prompt_len + gen + bs - 1) / bs;
  if (int64_t{per_seq} * batch > backend->kv_geometry().num_blocks) {
    return absl::ResourceExhaustedError(absl::StrCat("batch ", batch, " needs ", per_seq * batch,
                                                     " KV blocks; the pool has ",
                                                     backend->kv_geometry().num_blocks));
  }
  std::mt19937 gen_rng(static_cast<uint32_t>(seed));
  std::uniform_int_distribution<int32_t> tok(0, backend->config().vocab_size - 1);
  std::vector<Seq> seqs(batch);
  for (int i = 0; i < batch; ++i) {
    for (int j = 0; j < prompt_len; ++j) seqs[i].prompt.push_back(tok(gen_rng));
    seqs[i].sampling.temperature = 0.0f;
    seqs[i].id = i;
    seqs[i].first_block = i * per_seq;
  }
  BatchTiming t;
  t.batch = batch;
  // Prefill: pack prompts (chunked where needed) into steps of at most token_budget tokens.
  const double p0 = NowMs();
  size_t next = 0;
  while (next < seqs.size()) {
    StepBatch b;
    b.block_indptr.push_back(0);
    std::vector<Seq*> samplers;
    int budget = token_budget;
    while (next < seqs.size() && budget > 0) {
      Seq& s = seqs[next];
      const int n = std::min(budget, prompt_len - s.fed);
      s.fed += n;
      budget -= n;
      const bool last = s.fed == prompt_len;
      AddToStep(s, n, last, bs, &b);
      if (last) {
        samplers.push_back(&s);
        ++next;
      }
    }
    RETURN_IF_ERROR(RunStep(backend, b, samplers));
  }
  t.prefill_ms = NowMs() - p0;
  const int profile_from = gen / 2, profile_to = gen / 2 + profile_steps;
  for (int step = 1; step < gen; ++step) {
    if (profile_steps > 0 && step == profile_from) cudaProfilerStart();
    if (profile_steps > 0 && step == profile_to) cudaProfilerStop();
    StepBatch b;
    b.block_indptr.push_back(0);
    std::vector<Seq*> samplers;
    for (Seq& s : seqs) {
      AddToStep(s, 1, true, bs, &b);
      samplers.push_back(&s);
    }
    const double d0 = NowMs();
    RETURN_IF_ERROR(RunStep(backend, b, samplers));
    t.decode_ms.push_back(NowMs() - d0);
  }
  return t;
}

}  // namespace corvid::bench
