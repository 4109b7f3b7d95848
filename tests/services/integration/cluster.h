// Test harness for the services as real processes on loopback: starts corvid-tokenizer,
// corvid-worker and corvid-scheduler binaries on free ports, waits for their health, kills and
// restarts them, scrapes their /metrics, and runs Generate streams with the C++ stubs.
#ifndef CORVID_TESTS_SERVICES_INTEGRATION_CLUSTER_H_
#define CORVID_TESTS_SERVICES_INTEGRATION_CLUSTER_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "corvid/v1/generation.grpc.pb.h"

namespace corvid::testing {

// A child process with its output in a log file. Killed (SIGKILL) when destroyed if still running.
class Process {
 public:
  Process(std::string binary, std::vector<std::string> args, std::string log_path);
  ~Process();
  absl::Status Start();
  void Signal(int sig);
  // Waits for the exit; the exit code, or -signal when killed by one; DEADLINE_EXCEEDED if it is
  // still running at `timeout`.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  bool running() const { return pid_ > 0; }
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;

 private:
  std::string binary_;
  std::vector<std::string> args_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// A port nothing listens on right now.
int FreePort();

// Polls grpc.health.v1 Check("") on `address` until SERVING (fresh channel per try).
absl::Status WaitServing(const std::string& address, absl::Duration timeout);

// GET /metrics on 127.0.0.1:port, as name{labels} -> value.
absl::StatusOr<std::map<std::string, double>> ScrapeMetrics(int port);

struct ClusterOptions {
  std::string model_dir;
  int workers = 1;
  int tokenizers = 1;
  std::vector<std::string> worker_args;
  std::vector<std::string> scheduler_args;
  std::vector<std::string> tokenizer_args;
};

class Cluster {
 public:
  // Starts tokenizers, then workers, then the scheduler; waits until all are SERVING.
  static absl::StatusOr<std::unique_ptr<Cluster>> Start(const ClusterOptions& options);
  ~Cluster();

  std::string scheduler_address() const;
  std::unique_ptr<v1::Generation::Stub> NewStub() const;
  Process& scheduler() { return *scheduler_; }
  Process& worker(int i) { return *workers_[i]; }
  Process& tokenizer(int i) { return *tokenizers_[i]; }
  int worker_metrics_port(int i) const { return worker_metrics_ports_[i]; }
  int scheduler_metrics_port() const { return scheduler_metrics_port_; }
  std::string worker_address(int i) const;
  // Starts worker i again on its old ports and waits until it is SERVING.
  absl::Status RestartWorker(int i);
  // The logs of every process, for failure messages.
  std::string Logs() const;

 private:
  Cluster() = default;
  std::unique_ptr<Process> MakeWorker(int i);

  ClusterOptions options_;
  std::string dir_;
  std::vector<int> tokenizer_ports_, worker_ports_, worker_metrics_ports_;
  int scheduler_port_ = 0;
  int scheduler_metrics_port_ = 0;
  std::vector<std::unique_ptr<Process>> tokenizers_, workers_;
  std::unique_ptr<Process> scheduler_;
  int restarts_ = 0;
};

// What one Generate stream produced.
struct StreamResult {
  grpc::Status status;
  std::vector<int32_t> ids;
  std::string text;
  int messages = 0;
  int final_messages = 0;  // messages with finish_reason set
  v1::GenerateResponse final;
  std::multimap<std::string, std::string> trailers;
  absl::Duration first_message_after;  // from the call's start
  absl::Duration total;
};

// Runs one stream to its end. `on_message` may cancel through the context.
StreamResult RunStream(v1::Generation::Stub* stub, const v1::GenerateRequest& request,
                       absl::Duration timeout,
                       const std::function<void(const v1::GenerateResponse&,
                                                grpc::ClientContext*)>& on_message = {});

// The stories260K golden data: prompt "Once upon a time", 40 greedy tokens.
struct Golden {
  std::string prompt;
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> output_ids;
  std::string output_text;
};
absl::StatusOr<Golden> LoadGolden(const std::string& model_dir);
// A greedy request for the golden continuation (ignore_eos, 40 tokens).
v1::GenerateRequest GoldenRequest(const Golden& golden);

}  // namespace corvid::testing

#endif  // CORVID_TESTS_SERVICES_INTEGRATION_CLUSTER_H_
