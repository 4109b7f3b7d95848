// A deterministic stand-in for a compute backend, for tests of the worker's plumbing: the token
// sampled after token t is NextToken(t), so every expected output can be computed. It can be
// told to fail from a given step on, and to take a given time per step.
#ifndef CORVID_TESTS_SERVICES_WORKER_FAKE_BACKEND_H_
#define CORVID_TESTS_SERVICES_WORKER_FAKE_BACKEND_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/backend.h"

namespace corvid::testing {

struct FakeBackendControl {
  std::atomic<int> fail_from_step{-1};  // -1 = never
  std::atomic<int> step_delay_ms{0};
  std::atomic<int> steps{0};
};

class FakeBackend : public Backend {
 public:
  static constexpr int kVocab = 64;
  static constexpr int kEos = 2;

  FakeBackend(int num_blocks, int block_size, std::shared_ptr<FakeBackendControl> control)
      : control_(std::move(control)) {
    config_.architecture = "LlamaForCausalLM";
    config_.model_type = "llama";
    config_.vocab_size = kVocab;
    config_.max_position_embeddings = 256;
    config_.bos_token_id = 1;
    config_.eos_token_ids = {kEos};
    geometry_.block_size = block_size;
    geometry_.num_blocks = num_blocks;
  }

  // Never the end-of-sequence id, so that requests run to max_tokens unless told otherwise.
  static int32_t NextToken(int32_t t) {
    int32_t n = (t * 5 + 1) % kVocab;
    return n == kEos ? 3 : n;
  }
  static std::vector<int32_t> Continuation(int32_t last_prompt_token, int n) {
    std::vector<int32_t> out;
    for (int32_t t = last_prompt_token; static_cast<int>(out.size()) < n;) {
      t = NextToken(t);
      out.push_back(t);
    }
    return out;
  }

  std::string Name() const override { return "fake"; }
  const ModelConfig& config() const override { return config_; }
  KvCacheGeometry kv_geometry() const override { return geometry_; }

  absl::Status Execute(const StepBatch& batch, StepResult* result) override {
    int step = control_->steps.fetch_add(1);
    int fail = control_->fail_from_step.load();
    if (fail >= 0 && step >= fail) return absl::InternalError("fake backend failure");
    if (int ms = control_->step_delay_ms.load(); ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
    size_t offset = 0;
    for (const StepSequence& s : batch.seqs) {
      offset += s.num_query_tokens;
      if (!s.sample) continue;
      SampledToken token;
      token.token = NextToken(batch.token_ids[offset - 1]);
      token.logprob = -0.25f;
      for (int k = 0; k < s.sampling->top_logprobs; ++k) {
        token.top_logprobs.emplace_back(k, -1.0f - k);
      }
      result->tokens.push_back(std::move(token));
    }
    return absl::OkStatus();
  }

 private:
  ModelConfig config_;
  KvCacheGeometry geometry_;
  std::shared_ptr<FakeBackendControl> control_;
};

}  // namespace corvid::testing

#endif  // CORVID_TESTS_SERVICES_WORKER_FAKE_BACKEND_H_
