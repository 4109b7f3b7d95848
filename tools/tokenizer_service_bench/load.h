// The two loads of corvid-tokenizer-service-bench, each run for a fixed wall time against a server.
#ifndef CORVID_TOOLS_TOKENIZER_SERVICE_BENCH_LOAD_H_
#define CORVID_TOOLS_TOKENIZER_SERVICE_BENCH_LOAD_H_

#include <grpcpp/channel.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace corvid::bench {

struct LoadResult {
  int64_t calls = 0;  // Encode calls, or DetokenizeStream messages answered
  int64_t errors = 0;
  int64_t tokens = 0;  // ids produced (encode) or consumed (detokenize)
  absl::Duration elapsed;
  std::vector<double> latencies_s;
  std::string first_error;
};

// `clients` independent clients (one connection each), each with one Encode call of one prompt
// in flight at a time, until `duration` passes.
LoadResult RunEncodeLoad(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                         const std::string& model, const std::vector<std::string>& prompts,
                         absl::Duration duration);

// `streams` DetokenizeStream calls, each multiplexing `sequences` sequences that advance one id
// per message (as a scheduler forwards decode steps), restarting finished ones, until
// `duration` passes. `id_lists` are the sequences' ids (encoded prompts).
LoadResult RunDetokenizeLoad(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                             const std::string& model,
                             const std::vector<std::vector<int32_t>>& id_lists, int streams,
                             int sequences, absl::Duration duration);

}  // namespace corvid::bench

#endif  // CORVID_TOOLS_TOKENIZER_SERVICE_BENCH_LOAD_H_
