// The in-process target on the real stories260K model: requests run to their length, text
// prompts are encoded, deadlines cancel.
#include "services/loadgen/inprocess_target.h"

#include <filesystem>

#include "gtest/gtest.h"
#include "services/loadgen/driver.h"
#include "services/loadgen/report.h"

namespace corvid::loadgen {
namespace {

std::string ModelDir() { return std::string(CORVID_TEST_MODELS_DIR) + "/stories260K"; }

class InProcessTargetTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(ModelDir() + "/config.json")) {
      GTEST_SKIP() << "stories260K not found under " << CORVID_TEST_MODELS_DIR;
    }
  }
  std::unique_ptr<InProcessTarget> Make(double deadline_ms, int max_sequences = 64) {
    InProcessOptions o;
    o.worker.max_sequences = max_sequences;
    o.worker.model_dir = ModelDir();
    o.worker.backend = "cpu";
    o.worker.threads = 1;
    o.worker.kv_cache_mb = 8;
    o.request.deadline_ms = deadline_ms;
    auto t = InProcessTarget::Create(o);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? std::move(t).value() : nullptr;
  }
};

TEST_F(InProcessTargetTest, RunsIdAndTextPromptsToTheirLength) {
  auto target = Make(0);
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(target->Info().vocab_size, 512);
  EXPECT_EQ(target->Info().context_length, 512);
  std::vector<RequestSpec> specs(2);
  specs[0].token_ids = {1, 40, 41, 42};
  specs[0].max_tokens = 6;
  specs[1].text = "Once upon a time";
  specs[1].max_tokens = 9;
  RunOptions o;
  o.closed_loop = true;
  o.concurrency = 3;
  o.num_requests = 8;
  const RunResult run = RunLoad(*target, specs, o);
  ASSERT_EQ(run.records.size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    const RequestRecord& r = run.records[i];
    ASSERT_EQ(r.code, absl::StatusCode::kOk) << r.error;
    EXPECT_EQ(r.output_tokens(), i % 2 == 0 ? 6 : 9);  // ignore_eos: exactly max_tokens
    EXPECT_EQ(r.chunks.size(), static_cast<size_t>(r.output_tokens()));  // one per step
    if (i % 2 == 0) EXPECT_EQ(r.prompt_tokens, 4);
    if (i % 2 == 1) EXPECT_GT(r.prompt_tokens, 1);  // BOS + the encoded words
  }
  const Report report = BuildReport(run, {});
  EXPECT_EQ(report.output_tokens, 4 * 6 + 4 * 9);
  EXPECT_EQ(report.itl_ms.count, 4 * 5 + 4 * 8);
}

TEST_F(InProcessTargetTest, TheEngineHoldsAtMostMaxSequencesTheRestWaitInOrder) {
  auto target = Make(0, /*max_sequences=*/1);
  ASSERT_NE(target, nullptr);
  std::vector<RequestSpec> specs(1);
  specs[0].token_ids = {1, 40, 41};
  specs[0].max_tokens = 5;
  RunOptions o;
  o.closed_loop = true;
  o.concurrency = 3;
  o.num_requests = 6;
  const RunResult run = RunLoad(*target, specs, o);
  ASSERT_EQ(run.records.size(), 6u);
  for (size_t i = 0; i < run.records.size(); ++i) {
    const RequestRecord& r = run.records[i];
    ASSERT_EQ(r.code, absl::StatusCode::kOk) << r.error;
    ASSERT_EQ(r.output_tokens(), 5);
    // One at a time, in sending order: each starts after the one before it ended.
    if (i > 0) EXPECT_GE(r.chunks.front().time_ns, run.records[i - 1].chunks.back().time_ns);
  }
}

TEST_F(InProcessTargetTest, ExpiredDeadlinesEndInDeadlineExceeded) {
  auto target = Make(0.001);  // 1 us: over before the first step finishes
  ASSERT_NE(target, nullptr);
  std::vector<RequestSpec> specs(1);
  specs[0].token_ids = {1, 40, 41};
  specs[0].max_tokens = 400;
  RunOptions o;
  o.closed_loop = true;
  o.concurrency = 2;
  o.num_requests = 4;
  const RunResult run = RunLoad(*target, specs, o);
  for (const RequestRecord& r : run.records) {
    EXPECT_EQ(r.code, absl::StatusCode::kDeadlineExceeded);
    EXPECT_LT(r.output_tokens(), 400);
  }
}

TEST_F(InProcessTargetTest, EngineRejectionsAreRecorded) {
  auto target = Make(0);
  ASSERT_NE(target, nullptr);
  std::vector<RequestSpec> specs(1);
  specs[0].token_ids = {1, 4000};  // out of the 512-id vocabulary
  RunOptions o;
  o.closed_loop = true;
  o.num_requests = 1;
  const RunResult run = RunLoad(*target, specs, o);
  ASSERT_EQ(run.records.size(), 1u);
  EXPECT_EQ(run.records[0].code, absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace corvid::loadgen
