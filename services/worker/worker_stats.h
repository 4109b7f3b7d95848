// Counters and gauges of a worker, as the metrics exporter and Info read them.
#ifndef CORVID_SERVICES_WORKER_WORKER_STATS_H_
#define CORVID_SERVICES_WORKER_WORKER_STATS_H_

#include <cstdint>

namespace corvid::worker {

// Exponential moving average; 0 until the first sample.
struct Ema {
  double value = 0;
  bool has_value = false;
  void Add(double x, double alpha = 0.1) {
    value = has_value ? value + alpha * (x - value) : x;
    has_value = true;
  }
};

struct WorkerStats {
  // Gauges (after the last step).
  int live_requests = 0;  // admitted and not finished
  int running = 0;
  int waiting = 0;        // in the engine's queue
  int inbox = 0;          // admissions/cancellations not yet applied by the engine thread
  int total_blocks = 0;
  int free_blocks = 0;
  int reserved_blocks = 0;
  int cached_blocks = 0;  // holding reusable prefix KV (in use or evictable)
  int block_size = 0;
  int sessions = 0;
  bool draining = false;
  bool engine_alive = true;
  // Counters.
  uint64_t steps = 0;
  uint64_t prompt_tokens = 0;     // tokens of admitted prompts
  uint64_t generated_tokens = 0;  // tokens sampled and sent
  uint64_t admitted = 0;
  uint64_t refused = 0;
  uint64_t cancelled = 0;
  uint64_t finished = 0;  // length or stop
  uint64_t failed = 0;
  // Step-time figures, ms (and us per prompt token).
  double last_step_ms = 0;
  Ema step_ms;
  Ema decode_step_ms;
  Ema prefill_step_ms;
  Ema prefill_us_per_token;
};

}  // namespace corvid::worker

#endif  // CORVID_SERVICES_WORKER_WORKER_STATS_H_
