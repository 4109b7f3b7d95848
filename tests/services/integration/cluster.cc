#include "tests/services/integration/cluster.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/status_macros.h"
#include "services/common/health_client.h"

namespace corvid::testing {
namespace {

std::string Bin(const std::string& rel) { return absl::StrCat(CORVID_BINARY_DIR, "/", rel); }

}  // namespace

Process::Process(std::string binary, std::vector<std::string> args, std::string log_path)
    : binary_(std::move(binary)), args_(std::move(args)), log_path_(std::move(log_path)) {}

Process::~Process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

absl::Status Process::Start() {
  std::vector<char*> argv;
  argv.push_back(binary_.data());
  for (std::string& a : args_) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open ", log_path_));
  const pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(binary_.c_str(), argv.data());
    std::_Exit(127);
  }
  ::close(fd);
  pid_ = pid;
  return absl::OkStatus();
}

void Process::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

absl::StatusOr<int> Process::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    }
    if (absl::Now() > deadline) return absl::DeadlineExceededError(binary_ + " still running");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string Process::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

absl::Status WaitServing(const std::string& address, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last;
  while (absl::Now() < deadline) {
    auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    auto state = service::CheckHealth(channel, "", absl::Milliseconds(500));
    if (state.ok() && *state == service::HealthState::kServing) return absl::OkStatus();
    last = state.ok() ? absl::UnavailableError(service::HealthStateName(*state)) : state.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat(address, " not SERVING in time: ", last.ToString()));
}

absl::StatusOr<std::map<std::string, double>> ScrapeMetrics(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  auto response = client.Get("/metrics");
  if (!response || response->status != 200) {
    return absl::UnavailableError(absl::StrCat("no /metrics on port ", port));
  }
  std::map<std::string, double> values;
  for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    double v = 0;
    if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &v)) {
      continue;
    }
    values[std::string(line.substr(0, space))] = v;
  }
  return values;
}

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Start(const ClusterOptions& options) {
  std::unique_ptr<Cluster> c(new Cluster());
  c->options_ = options;
  char tmpl[] = "/tmp/corvid-cluster.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  c->dir_ = tmpl;
  std::vector<std::string> tokenizer_addrs, worker_addrs;
  for (int i = 0; i < options.tokenizers; ++i) {
    const int port = FreePort();
    c->tokenizer_ports_.push_back(port);
    std::vector<std::string> args = {"--model", "tiny=" + options.model_dir, "--listen",
                                     absl::StrCat("127.0.0.1:", port), "--metrics-port", "-1",
                                     "--workers", "2", "--grace-period-s", "2"};
    args.insert(args.end(), options.tokenizer_args.begin(), options.tokenizer_args.end());
    c->tokenizers_.push_back(std::make_unique<Process>(
        Bin("services/tokenizer/corvid-tokenizer"), args,
        absl::StrCat(c->dir_, "/tokenizer", i, ".log")));
    tokenizer_addrs.push_back(absl::StrCat("127.0.0.1:", port));
  }
  for (int i = 0; i < options.workers; ++i) {
    c->worker_ports_.push_back(FreePort());
    c->worker_metrics_ports_.push_back(FreePort());
    c->workers_.push_back(c->MakeWorker(i));
    worker_addrs.push_back(c->worker_address(i));
  }
  for (auto& p : c->tokenizers_) RETURN_IF_ERROR(p->Start());
  for (auto& p : c->workers_) RETURN_IF_ERROR(p->Start());
  for (const std::string& a : tokenizer_addrs) RETURN_IF_ERROR(WaitServing(a, absl::Seconds(30)));
  for (const std::string& a : worker_addrs) RETURN_IF_ERROR(WaitServing(a, absl::Seconds(30)));
  c->scheduler_port_ = FreePort();
  c->scheduler_metrics_port_ = FreePort();
  std::vector<std::string> args = {"--listen", c->scheduler_address(), "--metrics-port",
                                   absl::StrCat(c->scheduler_metrics_port_), "--metrics-host",
                                   "127.0.0.1", "--grace-period-s", "10"};
  for (const std::string& a : worker_addrs) args.insert(args.end(), {"--worker", a});
  for (const std::string& a : tokenizer_addrs) args.insert(args.end(), {"--tokenizer", a});
  args.insert(args.end(), options.scheduler_args.begin(), options.scheduler_args.end());
  c->scheduler_ = std::make_unique<Process>(Bin("services/scheduler/corvid-scheduler"), args,
                                            absl::StrCat(c->dir_, "/scheduler.log"));
  RETURN_IF_ERROR(c->scheduler_->Start());
  RETURN_IF_ERROR(WaitServing(c->scheduler_address(), absl::Seconds(30)));
  // SERVING needs one live worker; give the others a moment to be picked up too.
  for (int tries = 0; tries < 200; ++tries) {
    auto m = ScrapeMetrics(c->scheduler_metrics_port_);
    if (m.ok() && (*m)["corvid_scheduler_live_workers"] >= options.workers) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return c;
}

std::unique_ptr<Process> Cluster::MakeWorker(int i) {
  std::vector<std::string> args = {"--model", options_.model_dir, "--model-name", "tiny",
                                   "--listen", worker_address(i), "--metrics-port",
                                   absl::StrCat(worker_metrics_ports_[i]), "--metrics-host",
                                   "127.0.0.1", "--threads", "1", "--health-poll-s", "0.01",
                                   "--grace-period-s", "5"};
  args.insert(args.end(), options_.worker_args.begin(), options_.worker_args.end());
  return std::make_unique<Process>(Bin("services/worker/corvid-worker"), args,
                                   absl::StrCat(dir_, "/worker", i, ".", restarts_, ".log"));
}

absl::Status Cluster::RestartWorker(int i) {
  ++restarts_;
  workers_[i] = MakeWorker(i);
  RETURN_IF_ERROR(workers_[i]->Start());
  return WaitServing(worker_address(i), absl::Seconds(30));
}

Cluster::~Cluster() {
  // Scheduler first, so that it does not log every worker going away.
  scheduler_.reset();
  workers_.clear();
  tokenizers_.clear();
  if (!dir_.empty() && std::getenv("CORVID_KEEP_LOGS") == nullptr) {
    std::system(absl::StrCat("rm -rf '", dir_, "'").c_str());
  }
}

std::string Cluster::scheduler_address() const {
  return absl::StrCat("127.0.0.1:", scheduler_port_);
}

std::string Cluster::worker_address(int i) const {
  return absl::StrCat("127.0.0.1:", worker_ports_[i]);
}

std::unique_ptr<v1::Generation::Stub> Cluster::NewStub() const {
  return v1::Generation::NewStub(
      grpc::CreateChannel(scheduler_address(), grpc::InsecureChannelCredentials()));
}

std::string Cluster::Logs() const {
  std::string out;
  auto add = [&](const Process* p) {
    if (p != nullptr) absl::StrAppend(&out, "==== ", p->log_path(), "\n", p->Log());
  };
  add(scheduler_.get());
  for (auto& p : workers_) add(p.get());
  for (auto& p : tokenizers_) add(p.get());
  return out;
}

StreamResult RunStream(
    v1::Generation::Stub* stub, const v1::GenerateRequest& request, absl::Duration timeout,
    const std::function<void(const v1::GenerateResponse&, grpc::ClientContext*)>& on_message) {
  StreamResult r;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  const absl::Time start = absl::Now();
  auto reader = stub->Generate(&context, request);
  v1::GenerateResponse m;
  while (reader->Read(&m)) {
    if (r.messages++ == 0) r.first_message_after = absl::Now() - start;
    r.ids.insert(r.ids.end(), m.token_ids().begin(), m.token_ids().end());
    r.text += m.text();
    if (m.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      ++r.final_messages;
      r.final = m;
    }
    if (on_message) on_message(m, &context);
  }
  r.status = reader->Finish();
  r.total = absl::Now() - start;
  if (r.messages == 0) r.first_message_after = r.total;
  for (const auto& [k, v] : context.GetServerTrailingMetadata()) {
    r.trailers.emplace(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
  }
  return r;
}

absl::StatusOr<Golden> LoadGolden(const std::string& model_dir) {
  std::ifstream in(model_dir + "/golden.json");
  if (!in) return absl::NotFoundError(model_dir + "/golden.json");
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    Golden g;
    g.prompt = j.at("prompt").get<std::string>();
    g.prompt_ids = j.at("prompt_token_ids").get<std::vector<int32_t>>();
    g.output_ids = j.at("greedy").at("output_token_ids").get<std::vector<int32_t>>();
    g.output_text = j.at("greedy").at("output_text").get<std::string>();
    return g;
  } catch (const std::exception& e) {
    return absl::DataLossError(e.what());
  }
}

v1::GenerateRequest GoldenRequest(const Golden& golden) {
  v1::GenerateRequest request;
  request.set_text(golden.prompt);
  request.set_max_tokens(static_cast<uint32_t>(golden.output_ids.size()));
  request.set_ignore_eos(true);
  request.mutable_sampling()->set_temperature(0);
  return request;
}

}  // namespace corvid::testing
