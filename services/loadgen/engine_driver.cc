// Driver over an Engine in this process: the baseline. One engine thread steps the engine; new
// requests arrive through a queue at their scheduled times (open loop) or as soon as one ends
// (closed loop). Token timestamps are taken right after the step that produced them, which is
// when a worker would send them.
#include <chrono>
#include <deque>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/cpu_backend.h"
#include "engine/engine.h"
#include "engine/model_config.h"
#include "engine/status_macros.h"
#include "engine/weights.h"
#include "services/loadgen/drivers.h"
#ifdef CORVID_HAVE_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace corvid::loadgen {
namespace {

absl::StatusOr<std::unique_ptr<Backend>> MakeBackend(const EngineDriverOptions& o,
                                                     const ModelConfig& config,
                                                     const WeightStore& weights) {
#ifdef CORVID_HAVE_CUDA
  if (o.backend == "cuda") {
    CudaBackendOptions c;
    c.block_size = o.block_size;
    c.num_kv_blocks = o.kv_blocks;
    c.max_num_seqs = o.max_running;
    c.max_num_batched_tokens = o.max_batched_tokens;
    return CreateCudaBackend(config, &weights, c);
  }
#endif
  if (o.backend != "cpu") return absl::InvalidArgumentError("backend " + o.backend + " not built");
  CpuBackendOptions c;
  c.num_threads = o.threads;
  c.block_size = o.block_size;
  c.num_kv_blocks = o.kv_blocks;
  return CreateCpuBackend(config, weights, c);
}

class EngineDriver : public Driver {
 public:
  EngineDriver(std::unique_ptr<Engine> engine, double min_step_ms, int max_in_engine)
      : engine_(std::move(engine)), min_step_ms_(min_step_ms), max_in_engine_(max_in_engine) {}

  int vocab_size() const override { return engine_->config().vocab_size; }

  std::vector<RequestRecord> Run(const std::vector<RequestSpec>& specs,
                                 const RunOptions& options) override {
    std::vector<RequestRecord> records(specs.size());
    size_t next = 0;
    if (options.closed_loop) {
      for (; next < std::min<size_t>(std::max(options.concurrency, 1), specs.size()); ++next) {
        Arrive(next, &records);
      }
    }
    std::thread arrivals;
    if (!options.closed_loop) {
      arrivals = std::thread([&] {
        const absl::Time start = absl::Now();
        for (size_t i = 0; i < specs.size(); ++i) {
          absl::SleepFor(start + specs[i].arrival - absl::Now());
          Arrive(i, &records);
        }
      });
    }
    size_t finished = 0;
    int in_engine = 0;
    std::deque<size_t> backlog;
    while (finished < specs.size()) {
      for (size_t i : TakeArrivals(/*wait=*/!engine_->HasWork())) backlog.push_back(i);
      while (!backlog.empty() && in_engine < max_in_engine_) {
        const size_t i = backlog.front();
        backlog.pop_front();
        if (Add(i, specs[i], &records[i])) {
          ++in_engine;
          continue;
        }
        ++finished;  // refused by the engine: it ends here
        if (options.closed_loop && next < specs.size()) Arrive(next++, &records);
      }
      if (!engine_->HasWork()) continue;
      const auto start = std::chrono::steady_clock::now();
      std::vector<TokenEvent> events;
      absl::Status s = engine_->Step(&events);
      if (min_step_ms_ > 0) {
        std::this_thread::sleep_until(start + std::chrono::duration<double, std::milli>(min_step_ms_));
      }
      const absl::Time now = absl::Now();
      if (!s.ok()) {
        for (RequestRecord& r : records) {
          if (r.end == absl::Time()) r = RequestRecord{r.sent, now, {}, 0, 0, "INTERNAL", s.ToString()};
        }
        break;
      }
      for (const TokenEvent& e : events) {
        RequestRecord& r = records[e.id];
        if (e.token.token >= 0) {
          r.chunks.emplace_back(now, 1);
          ++r.output_tokens;
        }
        if (e.finish == FinishReason::kNone) continue;
        r.end = now;
        ++finished;
        --in_engine;
        if (options.closed_loop && next < specs.size()) Arrive(next++, &records);
      }
    }
    if (arrivals.joinable()) arrivals.join();
    return records;
  }

 private:
  void Arrive(size_t i, std::vector<RequestRecord>* records) {
    absl::MutexLock lock(&mu_);
    (*records)[i].sent = absl::Now();
    arrived_.push_back(i);
  }

  std::deque<size_t> TakeArrivals(bool wait) {
    absl::MutexLock lock(&mu_);
    if (wait) {
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](std::deque<size_t>* q) { return !q->empty(); }, &arrived_),
                           absl::Milliseconds(100));
    }
    std::deque<size_t> out;
    out.swap(arrived_);
    return out;
  }

  // False when the engine refuses the request (recorded as an error).
  bool Add(size_t i, const RequestSpec& spec, RequestRecord* record) {
    GenerationRequest r;
    r.id = static_cast<int64_t>(i);
    r.prompt = spec.prompt_ids;
    r.max_tokens = spec.max_tokens;
    r.ignore_eos = true;
    r.sampling.temperature = 0;
    r.has_seed = true;
    record->prompt_tokens = static_cast<int>(spec.prompt_ids.size());
    absl::Status s = engine_->Add(std::move(r));
    if (s.ok()) return true;
    record->code = "INVALID_ARGUMENT";
    record->error = s.ToString();
    record->end = absl::Now();
    return false;
  }

  std::unique_ptr<Engine> engine_;
  double min_step_ms_;
  int max_in_engine_;
  absl::Mutex mu_;
  std::deque<size_t> arrived_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Driver>> MakeEngineDriver(const EngineDriverOptions& o) {
  ASSIGN_OR_RETURN(ModelConfig config, ModelConfig::FromDir(o.model_dir));
  ASSIGN_OR_RETURN(std::unique_ptr<WeightStore> weights, WeightStore::Open(o.model_dir, config));
  ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, MakeBackend(o, config, *weights));
  EngineOptions options;
  options.max_num_seqs = o.max_running;
  options.max_num_batched_tokens = o.max_batched_tokens;
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(std::move(backend), options));
  const int cap = o.max_in_engine > 0 ? o.max_in_engine : 2 * o.max_running;
  return std::unique_ptr<Driver>(new EngineDriver(std::move(engine), o.min_step_ms, cap));
}

}  // namespace corvid::loadgen
