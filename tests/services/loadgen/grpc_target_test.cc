// corvid-loadgen's gRPC client against a fake corvid.v1.Generation server: streamed tokens,
// usage, rejections and deadlines end up in the records and the report as they should.
#include "services/loadgen/grpc_target.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <thread>

#include "gtest/gtest.h"
#include "services/loadgen/driver.h"
#include "services/loadgen/report.h"

namespace corvid::loadgen {
namespace {

// Text "reject": RESOURCE_EXHAUSTED at once. Text "hang": streams nothing until the client's
// deadline cancels the call. Anything else: max_tokens ids in messages of two, then the final
// message with usage.prompt_tokens = number of prompt ids (or text bytes).
class FakeGeneration final : public v1::Generation::Service {
 public:
  grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                        grpc::ServerWriter<v1::GenerateResponse>* writer) override {
    if (request->text() == "reject") {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "queue full");
    }
    if (request->text() == "hang") {
      for (int i = 0; i < 5000 && !context->IsCancelled(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
    }
    if (!request->ignore_eos() || request->sampling().temperature() != 0.5f) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "options not forwarded");
    }
    const int n = static_cast<int>(request->max_tokens());
    for (int sent = 0; sent < n;) {
      v1::GenerateResponse r;
      for (int k = 0; k < 2 && sent < n; ++k, ++sent) r.add_token_ids(5);
      if (sent == n) {
        r.set_finish_reason(v1::FINISH_REASON_LENGTH);
        r.mutable_usage()->set_prompt_tokens(request->has_token_ids()
                                                 ? request->token_ids().ids_size()
                                                 : static_cast<int>(request->text().size()));
      }
      writer->Write(r);
    }
    return grpc::Status::OK;
  }
  grpc::Status ListModels(grpc::ServerContext*, const v1::ListModelsRequest*,
                          v1::ListModelsResponse* response) override {
    v1::ModelInfo* m = response->add_models();
    m->set_name("m");
    m->set_vocab_size(100);
    m->set_context_length(64);
    m->set_live_workers(1);
    return grpc::Status::OK;
  }
};

class GrpcTargetTest : public testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(); }
  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }

  FakeGeneration service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(GrpcTargetTest, ConnectReadsTheModel) {
  GrpcTargetOptions o;
  o.address = Address();
  o.request.model = "m";
  auto target = GrpcTarget::Connect(o);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ((*target)->Info().vocab_size, 100);
  EXPECT_EQ((*target)->Info().context_length, 64);
  o.request.model = "other";
  EXPECT_EQ(GrpcTarget::Connect(o).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(GrpcTargetTest, NoServerIsUnavailable) {
  GrpcTargetOptions o;
  o.address = "127.0.0.1:1";
  o.connect_timeout_s = 0.2;
  EXPECT_EQ(GrpcTarget::Connect(o).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(GrpcTargetTest, RecordsTokensUsageRejectionsAndDeadlines) {
  GrpcTargetOptions o;
  o.address = Address();
  o.channels = 2;
  o.request.temperature = 0.5f;
  o.request.deadline_ms = 300;
  auto target = GrpcTarget::Connect(o);
  ASSERT_TRUE(target.ok()) << target.status();
  std::vector<RequestSpec> specs(3);
  specs[0].token_ids = {1, 2, 3};
  specs[0].max_tokens = 5;
  specs[1].text = "reject";
  specs[2].text = "hang";
  RunOptions run_options;
  run_options.closed_loop = true;
  run_options.concurrency = 3;
  run_options.num_requests = 6;
  const RunResult run = RunLoad(**target, specs, run_options);
  ASSERT_EQ(run.records.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    const RequestRecord& r = run.records[i];
    if (i % 3 == 0) {
      EXPECT_EQ(r.code, absl::StatusCode::kOk) << r.error;
      EXPECT_EQ(r.output_tokens(), 5);
      EXPECT_EQ(r.chunks.size(), 3u);  // 2 + 2 + 1
      EXPECT_EQ(r.prompt_tokens, 3);
    } else if (i % 3 == 1) {
      EXPECT_EQ(r.code, absl::StatusCode::kResourceExhausted);
      EXPECT_EQ(r.error, "queue full");
    } else {
      EXPECT_EQ(r.code, absl::StatusCode::kDeadlineExceeded);
      EXPECT_GE(r.end_ns - r.sent_ns, static_cast<int64_t>(300e6 * 0.9));
    }
  }
  const Report report = BuildReport(run, {});
  EXPECT_EQ(report.succeeded, 2);
  EXPECT_EQ(report.output_tokens, 10);
  EXPECT_EQ(report.errors.at("RESOURCE_EXHAUSTED").count, 2);
  EXPECT_EQ(report.errors.at("DEADLINE_EXCEEDED").count, 2);
  EXPECT_EQ(report.multi_token_chunks, 4);
  EXPECT_EQ(report.deadline_ms, 300);
}

}  // namespace
}  // namespace corvid::loadgen
