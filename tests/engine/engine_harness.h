// Shared helpers of the fake-backend engine tests: build an engine, run it dry, collect events.
#ifndef CORVID_TESTS_ENGINE_ENGINE_HARNESS_H_
#define CORVID_TESTS_ENGINE_ENGINE_HARNESS_H_

#include <map>
#include <memory>
#include <random>
#include <vector>

#include "engine/engine.h"
#include "engine/engine_impl.h"
#include "gtest/gtest.h"
#include "tests/engine/fake_backend.h"

namespace corvid::fake {

constexpr int kVocab = 64;

struct Outcome {
  std::vector<int32_t> tokens;
  FinishReason finish = FinishReason::kNone;
};

struct Harness {
  FakeBackend* fake = nullptr;  // owned by engine
  std::unique_ptr<Engine> engine;
  EngineImpl* impl() { return static_cast<EngineImpl*>(engine.get()); }
};

inline Harness MakeEngine(KvCacheGeometry geometry, EngineOptions options,
                   ModelConfig config = FakeConfig(kVocab)) {
  auto fake = std::make_unique<FakeBackend>(std::move(config), geometry);
  Harness h;
  h.fake = fake.get();
  h.fake->AllowSharedReads(options.enable_prefix_caching);  // strict ownership when off
  auto engine = Engine::Create(std::move(fake), options);
  EXPECT_TRUE(engine.ok()) << engine.status();
  if (engine.ok()) h.engine = std::move(*engine);
  return h;
}

inline GenerationRequest Request(int64_t id, std::vector<int32_t> prompt, int max_tokens) {
  GenerationRequest r;
  r.id = id;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0.0f;
  r.ignore_eos = true;  // the fake emits eos (2) by chance; most tests want exact lengths
  return r;
}

inline std::vector<int32_t> RandomPrompt(std::mt19937* rng, int len) {
  std::vector<int32_t> p(len);
  for (int32_t& t : p) t = 3 + static_cast<int32_t>((*rng)() % (kVocab - 3));
  return p;
}

// Steps until no work is left, collecting every event; fails on an event after a finish.
inline std::map<int64_t, Outcome> RunAll(Harness* h, std::vector<StepStats>* all_stats = nullptr) {
  std::map<int64_t, Outcome> out;
  for (int step = 0; h->engine->HasWork(); ++step) {
    if (step > 5000) {
      ADD_FAILURE() << "engine did not finish";
      break;
    }
    std::vector<TokenEvent> events;
    StepStats stats;
    const absl::Status status = h->engine->Step(&events, &stats);
    if (!status.ok()) {
      ADD_FAILURE() << status;
      break;
    }
    EXPECT_TRUE(h->impl()->CheckInvariants().ok()) << h->impl()->CheckInvariants();
    if (all_stats != nullptr) all_stats->push_back(stats);
    for (const TokenEvent& e : events) {
      Outcome& o = out[e.id];
      EXPECT_EQ(o.finish, FinishReason::kNone) << "event after finish for " << e.id;
      if (e.token.token >= 0) o.tokens.push_back(e.token.token);
      o.finish = e.finish;
    }
  }
  return out;
}

}  // namespace corvid::fake

#endif  // CORVID_TESTS_ENGINE_ENGINE_HARNESS_H_
