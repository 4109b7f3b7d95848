// corvid-tokenizer's life cycle: health NOT_SERVING while loading -> SERVING -> NOT_SERVING on
// drain; a drain lets in-flight calls finish, refuses new ones and shuts down; the grace period
// bounds it; the real binary drains and exits 0 on SIGTERM.
#include <grpcpp/client_context.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/health_client.h"
#include "tests/services/tokenizer_test_util.h"

namespace corvid::tokenizer_service {
namespace {

using service::CheckHealth;
using service::HealthState;
using namespace testing_util;  // NOLINT

constexpr char kService[] = "corvid.v1.Tokenizer";

grpc::Status EncodeOnce(v1::Tokenizer::Stub* stub) {
  v1::EncodeRequest req;
  req.add_texts("Once upon a time");
  v1::EncodeResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return stub->Encode(&ctx, req, &resp);
}

// Polls until `want` or ~5 s pass; returns the last state seen.
HealthState AwaitHealth(const std::shared_ptr<grpc::Channel>& ch, const std::string& service,
                        HealthState want) {
  HealthState last = HealthState::kUnknown;
  for (int i = 0; i < 250; ++i) {
    auto s = CheckHealth(ch, service, absl::Milliseconds(500));
    if (s.ok()) last = *s;
    if (last == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return last;
}

class TokenizerLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveModels()) GTEST_SKIP() << "test models not found under " << ModelsDir();
  }
};

TEST_F(TokenizerLifecycleTest, HealthFollowsLoadingServingAndDrain) {
  TokenizerServerConfig config = TestConfig({{"stories", StoriesDir()}});
  config.server.metrics_port = -1;  // not needed here, and its HTTP server is slow to stop
  config.server.grace_period_s = 10;
  auto server = TokenizerServer::Start(config);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = Connect((*server)->port());
  auto stub = v1::Tokenizer::NewStub(channel);

  // Loading: listening, but not serving.
  EXPECT_EQ(*CheckHealth(channel, ""), HealthState::kNotServing);
  EXPECT_EQ(*CheckHealth(channel, kService), HealthState::kNotServing);
  EXPECT_EQ(EncodeOnce(stub.get()).error_code(), grpc::StatusCode::UNAVAILABLE);

  ASSERT_TRUE((*server)->LoadModels().ok());
  EXPECT_EQ(*CheckHealth(channel, ""), HealthState::kServing);
  EXPECT_EQ(*CheckHealth(channel, kService), HealthState::kServing);
  EXPECT_TRUE(EncodeOnce(stub.get()).ok());

  // An in-flight stream with a live sequence holds the drain open.
  grpc::ClientContext stream_ctx;
  auto stream = stub->DetokenizeStream(&stream_ctx);
  v1::DetokenizeRequest first;
  auto* step = first.add_steps();
  step->set_sequence_id(1);
  AddIds(step->mutable_ids(), {403, 407});
  v1::DetokenizeResponse resp;
  ASSERT_TRUE(stream->Write(first) && stream->Read(&resp));
  EXPECT_EQ(resp.deltas(0).text(), "Once upon");

  std::future<service::DrainResult> drained =
      std::async(std::launch::async, [&] { return (*server)->Drain(); });
  EXPECT_EQ(AwaitHealth(channel, kService, HealthState::kNotServing), HealthState::kNotServing);
  EXPECT_EQ(drained.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  // New calls are refused while the admitted stream goes on.
  EXPECT_EQ(EncodeOnce(stub.get()).error_code(), grpc::StatusCode::UNAVAILABLE);
  v1::DetokenizeRequest more;
  auto* cont = more.add_steps();
  cont->set_sequence_id(1);
  AddIds(cont->mutable_ids(), {261, 378});
  auto* fresh = more.add_steps();  // a new sequence is refused on a draining stream
  fresh->set_sequence_id(2);
  AddIds(fresh->mutable_ids(), {403});
  ASSERT_TRUE(stream->Write(more) && stream->Read(&resp));
  ASSERT_EQ(resp.deltas_size(), 2);
  EXPECT_EQ(resp.deltas(0).text(), " a time");
  EXPECT_EQ(resp.deltas(1).error().code(), static_cast<int>(grpc::StatusCode::UNAVAILABLE));
  // Finishing the last live sequence lets the stream, then the drain, complete.
  v1::DetokenizeRequest last;
  auto* fin = last.add_steps();
  fin->set_sequence_id(1);
  fin->set_finish(true);
  ASSERT_TRUE(stream->Write(last) && stream->Read(&resp));
  EXPECT_TRUE(resp.deltas(0).finished());
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);  // "draining"
  ASSERT_EQ(drained.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  service::DrainResult result = drained.get();
  EXPECT_GE(result.in_flight_at_start, 1);  // the stream (an Encode may not be done yet)
  EXPECT_EQ(result.cancelled, 0);
  EXPECT_LT(result.elapsed, absl::Seconds(10));  // finished early, not by the grace period
}

TEST_F(TokenizerLifecycleTest, GracePeriodCancelsStragglers) {
  TokenizerServerConfig config = TestConfig({{"stories", StoriesDir()}});
  config.server.metrics_port = -1;
  config.server.grace_period_s = 0.3;
  auto server = TokenizerServer::Start(config);
  ASSERT_TRUE(server.ok() && (*server)->LoadModels().ok());
  auto stub = v1::Tokenizer::NewStub(Connect((*server)->port()));
  grpc::ClientContext ctx;
  auto stream = stub->DetokenizeStream(&ctx);
  v1::DetokenizeRequest req;
  auto* step = req.add_steps();
  step->set_sequence_id(1);
  AddIds(step->mutable_ids(), {403});
  v1::DetokenizeResponse resp;
  ASSERT_TRUE(stream->Write(req) && stream->Read(&resp));
  service::DrainResult result = (*server)->Drain();  // the sequence never finishes
  EXPECT_EQ(result.cancelled, 1);
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_FALSE(stream->Finish().ok());
}

// Runs the real binary with --listen=127.0.0.1:0 and learns its port from its "listening" log
// line (no port guessing); a thread keeps reading its stderr so logging never blocks it.
class ChildServer {
 public:
  bool Start(const std::string& binary, const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) return false;
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      dup2(fds[1], 2);
      close(fds[0]);
      std::vector<char*> argv{const_cast<char*>(binary.c_str())};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    std::promise<int> port;
    std::future<int> got = port.get_future();
    reader_ = std::thread([fd = fds[0], port = std::move(port)]() mutable {
      std::string buffer;
      char chunk[4096];
      bool told = false;
      ssize_t n;
      while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
        buffer.append(chunk, n);
        size_t at = buffer.find("\"msg\":\"listening\",\"port\":");
        if (!told && at != std::string::npos && buffer.find('\n', at) != std::string::npos) {
          port.set_value(std::atoi(buffer.c_str() + at + 25));
          told = true;
        }
      }
      if (!told) port.set_value(-1);
      close(fd);
    });
    if (got.wait_for(std::chrono::seconds(20)) != std::future_status::ready) return false;
    port_ = got.get();
    return port_ > 0;
  }
  // SIGTERM, then waits up to `timeout` for the exit; the wait status, or -1 (then SIGKILL).
  int Terminate(std::chrono::milliseconds timeout) {
    kill(pid_, SIGTERM);
    int status = 0;
    auto end = std::chrono::steady_clock::now() + timeout;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > end) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status;
  }
  ~ChildServer() {
    if (pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = -1;
  std::thread reader_;
};

TEST_F(TokenizerLifecycleTest, BinaryDrainsAndExitsZeroOnSigterm) {
  std::string binary = std::string(CORVID_BINARY_DIR) + "/services/tokenizer/corvid-tokenizer";
  ASSERT_EQ(access(binary.c_str(), X_OK), 0) << binary;
  ChildServer child;
  ASSERT_TRUE(child.Start(
      binary, {"--listen=127.0.0.1:0", "--model=stories=" + StoriesDir(), "--metrics-port=-1"}));
  auto channel = Connect(child.port());
  EXPECT_EQ(AwaitHealth(channel, "", HealthState::kServing), HealthState::kServing);
  auto stub = v1::Tokenizer::NewStub(channel);
  EXPECT_TRUE(EncodeOnce(stub.get()).ok());
  int status = child.Terminate(std::chrono::seconds(10));
  ASSERT_NE(status, -1) << "corvid-tokenizer did not exit within 10 s of SIGTERM";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace corvid::tokenizer_service
