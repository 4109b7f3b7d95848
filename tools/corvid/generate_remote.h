// `corvid generate --server HOST:PORT`: the completion of a prompt streamed from a running
// corvid-scheduler (corvid.v1.Generation), printed as it arrives.
#ifndef CORVID_TOOLS_CORVID_GENERATE_REMOTE_H_
#define CORVID_TOOLS_CORVID_GENERATE_REMOTE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace corvid::cli {

struct RemoteGenerateOptions {
  std::string server;  // HOST:PORT of corvid-scheduler
  std::string model;   // empty: the deployment's default model
  std::string prompt;
  int max_tokens = 64;
  float temperature = 1.0f;
  int top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  bool has_seed = false;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  double timeout_s = 60;  // the request's deadline
};

// Streams the text to stdout and a summary line (usage, finish reason) to stderr. Returns the
// exit code: 0, 1 on a server error (printed with its gRPC code), 2 when built without gRPC.
int RunRemoteGenerate(const RemoteGenerateOptions& options);

}  // namespace corvid::cli

#endif  // CORVID_TOOLS_CORVID_GENERATE_REMOTE_H_
