// The three services end to end on stories260K: concurrent greedy streams against the golden
// continuation, stop strings, ListModels, and a table of malformed requests.
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "tests/services/integration/cluster.h"

namespace corvid::testing {
namespace {

class EndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = std::string(CORVID_TEST_MODELS_DIR) + "/stories260K";
    auto golden = LoadGolden(dir);
    if (!golden.ok()) return;
    golden_ = new Golden(*golden);
    ClusterOptions options;
    options.model_dir = dir;
    options.worker_args = {"--max-sequences", "32", "--max-running", "32"};
    auto cluster = Cluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = cluster->release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete golden_;
    golden_ = nullptr;
  }
  void SetUp() override {
    if (golden_ == nullptr) GTEST_SKIP() << "no stories260K golden data in " CORVID_TEST_MODELS_DIR;
    ASSERT_NE(cluster_, nullptr);
    stub_ = cluster_->NewStub();
  }

  static Cluster* cluster_;
  static Golden* golden_;
  std::unique_ptr<v1::Generation::Stub> stub_;
};

Cluster* EndToEndTest::cluster_ = nullptr;
Golden* EndToEndTest::golden_ = nullptr;

TEST_F(EndToEndTest, ThirtyTwoConcurrentGreedyStreamsMatchTheGoldenContinuation) {
  constexpr int kStreams = 32;
  std::vector<StreamResult> results(kStreams);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      results[i] = RunStream(stub_.get(), GoldenRequest(*golden_), absl::Seconds(60));
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kStreams; ++i) {
    const StreamResult& r = results[i];
    ASSERT_TRUE(r.status.ok()) << i << ": " << r.status.error_message() << cluster_->Logs();
    EXPECT_EQ(r.ids, golden_->output_ids) << i;
    EXPECT_EQ(r.text, golden_->output_text) << i;
    EXPECT_EQ(r.final_messages, 1) << i;
    EXPECT_EQ(r.final.finish_reason(), v1::FINISH_REASON_LENGTH) << i;
    EXPECT_EQ(r.final.usage().prompt_tokens(), golden_->prompt_ids.size()) << i;
    EXPECT_EQ(r.final.usage().completion_tokens(), golden_->output_ids.size()) << i;
    EXPECT_FALSE(r.final.request_id().empty());
  }
}

TEST_F(EndToEndTest, TokenIdPromptGivesTheSameContinuation) {
  v1::GenerateRequest request = GoldenRequest(*golden_);
  request.mutable_token_ids()->mutable_ids()->Add(golden_->prompt_ids.begin(),
                                                  golden_->prompt_ids.end());
  request.set_logprobs(true);
  request.set_top_logprobs(2);
  request.set_request_id("ids-prompt");
  StreamResult r = RunStream(stub_.get(), request, absl::Seconds(30));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.ids, golden_->output_ids);
  EXPECT_EQ(r.final.request_id(), "ids-prompt");
}

TEST_F(EndToEndTest, StopStringEndsTheTextBeforeIt) {
  v1::GenerateRequest request = GoldenRequest(*golden_);
  request.add_stop(" Lily.");
  StreamResult r = RunStream(stub_.get(), request, absl::Seconds(30));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  const size_t at = golden_->output_text.find(" Lily.");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(r.text, golden_->output_text.substr(0, at));
  EXPECT_EQ(r.final.finish_reason(), v1::FINISH_REASON_STOP);
  EXPECT_EQ(r.final.stop(), " Lily.");
  EXPECT_EQ(r.final_messages, 1);
}

TEST_F(EndToEndTest, ListModelsNamesTheServedModel) {
  grpc::ClientContext context;
  v1::ListModelsResponse response;
  ASSERT_TRUE(stub_->ListModels(&context, v1::ListModelsRequest(), &response).ok());
  ASSERT_EQ(response.models_size(), 1);
  EXPECT_EQ(response.models(0).name(), "tiny");
  EXPECT_EQ(response.models(0).context_length(), 512u);
  EXPECT_EQ(response.models(0).vocab_size(), 512u);
  EXPECT_EQ(response.models(0).live_workers(), 1u);
}

struct Malformed {
  const char* name;
  std::function<void(v1::GenerateRequest*)> mutate;
  const char* field;
  grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT;
};

TEST_F(EndToEndTest, MalformedRequestsAreRefusedNamingTheField) {
  const std::vector<Malformed> cases = {
      {"no prompt", [](auto* r) { r->clear_prompt(); }, "prompt"},
      {"empty text", [](auto* r) { r->set_text(""); }, "text"},
      {"invalid utf-8", [](auto* r) { r->set_text("bad \xC3\x28 text"); }, "text"},
      {"id out of range",
       [](auto* r) {
         r->mutable_token_ids()->add_ids(1);
         r->mutable_token_ids()->add_ids(512);
       },
       "token_ids[1]"},
      {"negative id",
       [](auto* r) {
         r->mutable_token_ids()->add_ids(1);
         r->mutable_token_ids()->add_ids(-3);
       },
       "token_ids[1]"},
      {"temperature", [](auto* r) { r->mutable_sampling()->set_temperature(-0.5f); },
       "sampling.temperature"},
      {"top_p", [](auto* r) { r->mutable_sampling()->set_top_p(0); }, "sampling.top_p"},
      {"top_k", [](auto* r) { r->mutable_sampling()->set_top_k(-1); }, "sampling.top_k"},
      {"min_p", [](auto* r) { r->mutable_sampling()->set_min_p(1.5f); }, "sampling.min_p"},
      {"repetition", [](auto* r) { r->mutable_sampling()->set_repetition_penalty(0); },
       "sampling.repetition_penalty"},
      {"max_tokens 0", [](auto* r) { r->set_max_tokens(0); }, "max_tokens"},
      {"over context", [](auto* r) { r->set_max_tokens(510); }, "max_tokens"},
      {"empty stop", [](auto* r) { r->add_stop(""); }, "stop[0]"},
      {"stop id", [](auto* r) { r->add_stop_token_ids(100000); }, "stop_token_ids[0]"},
      {"top_logprobs", [](auto* r) { r->set_top_logprobs(3); }, "top_logprobs"},
      {"priority", [](auto* r) { r->set_priority(static_cast<v1::Priority>(42)); }, "priority"},
      {"unknown model", [](auto* r) { r->set_model("gpt-9"); }, "model",
       grpc::StatusCode::NOT_FOUND},
  };
  for (const Malformed& c : cases) {
    v1::GenerateRequest request = GoldenRequest(*golden_);
    c.mutate(&request);
    StreamResult r = RunStream(stub_.get(), request, absl::Seconds(10));
    EXPECT_EQ(r.status.error_code(), c.code) << c.name << ": " << r.status.error_message();
    EXPECT_EQ(r.status.error_message().rfind(std::string(c.field) + ":", 0), 0u)
        << c.name << ": " << r.status.error_message();
    EXPECT_EQ(r.messages, 0) << c.name;
  }
}

}  // namespace
}  // namespace corvid::testing
