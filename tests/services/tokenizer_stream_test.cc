// DetokenizeStream over a real loopback port: many sequences multiplexed on each of several
// concurrent streams; every sequence's deltas concatenate to the library's Decode of its ids.
// Per-sequence errors leave the other sequences and the stream alive.
#include <grpcpp/client_context.h>

#include <map>
#include <random>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/services/tokenizer_test_util.h"

namespace corvid::tokenizer_service {
namespace {

using ::testing::HasSubstr;
using namespace testing_util;  // NOLINT
using Stream = grpc::ClientReaderWriter<v1::DetokenizeRequest, v1::DetokenizeResponse>;

class TokenizerStreamTest : public ServedTokenizersTest {
 protected:
  // Sends `req` and reads its reply (the server answers every message, in order).
  static v1::DetokenizeResponse RoundTrip(Stream* stream, const v1::DetokenizeRequest& req) {
    v1::DetokenizeResponse resp;
    EXPECT_TRUE(stream->Write(req));
    EXPECT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.batch_id(), req.batch_id());
    return resp;
  }
};

struct Sequence {
  uint64_t id = 0;
  std::vector<int32_t> ids;
  bool skip_special = false;
  size_t sent = 0;
  std::string text;
  bool finished = false;
};

// One stream multiplexing a sequence per test string, advanced in random steps.
void RunStream(v1::Tokenizer::Stub* stub, const std::string& model, const Tokenizer& lib,
               uint32_t seed, std::string* failure) {
  std::vector<std::string> texts = TestStrings();
  std::mt19937 rng(seed);
  std::vector<Sequence> seqs;
  for (size_t i = 0; i < 12; ++i) {
    const std::string& text = texts[(seed * 7 + i * 5) % texts.size()];
    bool special = (i % 3) == 0;
    auto ids = lib.Encode(text + " " + texts[(i * 11) % texts.size()], special);
    if (!ids.ok()) return void(*failure = "encode failed");
    Sequence seq;
    seq.id = seed * 1000 + i;
    seq.ids = *ids;
    seq.skip_special = (i % 2) == 0;
    seqs.push_back(std::move(seq));
  }
  grpc::ClientContext ctx;
  std::unique_ptr<Stream> stream = stub->DetokenizeStream(&ctx);
  uint64_t batch = 0;
  for (size_t live = seqs.size(); live > 0;) {
    v1::DetokenizeRequest req;
    req.set_model(batch == 0 ? model : "");
    req.set_batch_id(++batch);
    for (Sequence& s : seqs) {
      if (s.finished || rng() % 4 == 0) continue;  // not every sequence advances every step
      v1::DetokenizeStep* step = req.add_steps();
      step->set_sequence_id(s.id);
      step->set_skip_special_tokens(s.skip_special);
      size_t n = std::min<size_t>(rng() % 4, s.ids.size() - s.sent);
      step->mutable_ids()->Add(s.ids.begin() + s.sent, s.ids.begin() + s.sent + n);
      s.sent += n;
      if (s.sent == s.ids.size() && rng() % 2 == 0) step->set_finish(true);
    }
    v1::DetokenizeResponse resp;
    if (!stream->Write(req) || !stream->Read(&resp)) return void(*failure = "stream broke");
    for (const v1::TextDelta& d : resp.deltas()) {
      if (d.has_error()) return void(*failure = "item error: " + d.error().message());
      for (Sequence& s : seqs) {
        if (s.id != d.sequence_id()) continue;
        s.text += d.text();
        if (d.finished()) {
          s.finished = true;
          --live;
        }
      }
    }
  }
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  if (!status.ok()) return void(*failure = "finish: " + status.error_message());
  for (const Sequence& s : seqs) {
    auto expected = lib.Decode(s.ids, s.skip_special);
    if (!expected.ok() || *expected != s.text) {
      *failure = absl::StrCat("sequence ", s.id, ": deltas \"", s.text, "\" != decode \"",
                              expected.ok() ? *expected : "error", "\"");
      return;
    }
  }
}

TEST_F(TokenizerStreamTest, ConcurrentMultiplexedStreamsReproduceDecode) {
  const Tokenizer& stories = Lib(*server_, "stories");
  const Tokenizer& llama3 = Lib(*server_, "llama3");
  constexpr int kStreams = 6;
  std::vector<std::string> failures(kStreams);
  std::vector<std::thread> threads;
  for (int t = 0; t < kStreams; ++t) {
    threads.emplace_back([&, t] {
      bool use_llama = t % 2 == 1;
      RunStream(stub_.get(), use_llama ? "llama3" : "stories", use_llama ? llama3 : stories, t + 1,
                &failures[t]);
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kStreams; ++t) EXPECT_EQ(failures[t], "") << "stream " << t;
}

TEST_F(TokenizerStreamTest, PrefixSetsContextButIsNotEmitted) {
  const Tokenizer* lib = &Lib(*server_, "stories");
  std::vector<int32_t> prefix = *lib->Encode("Once upon", true);
  std::vector<int32_t> ids = *lib->Encode("a time", false);
  std::vector<int32_t> all = prefix;
  all.insert(all.end(), ids.begin(), ids.end());
  std::string full = *lib->Decode(all, false);
  std::string head = *lib->Decode(prefix, false);
  ASSERT_EQ(full.substr(0, head.size()), head);

  grpc::ClientContext ctx;
  auto stream = stub_->DetokenizeStream(&ctx);
  v1::DetokenizeRequest req;
  v1::DetokenizeStep* step = req.add_steps();
  step->set_sequence_id(7);
  step->mutable_prefix_ids()->Add(prefix.begin(), prefix.end());
  step->mutable_ids()->Add(ids.begin(), ids.end());
  step->set_finish(true);
  v1::DetokenizeResponse resp = RoundTrip(stream.get(), req);
  ASSERT_EQ(resp.deltas_size(), 1);
  EXPECT_EQ(resp.deltas(0).text(), full.substr(head.size()));  // " a time", space included
  EXPECT_TRUE(resp.deltas(0).finished());
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(TokenizerStreamTest, ItemErrorsDropOneSequenceOnly) {
  grpc::ClientContext ctx;
  auto stream = stub_->DetokenizeStream(&ctx);
  v1::DetokenizeRequest req;
  req.set_model("stories");
  req.set_batch_id(1);
  auto* good = req.add_steps();
  good->set_sequence_id(1);
  AddIds(good->mutable_ids(), {403, 407});  // "Once upon"
  auto* bad = req.add_steps();
  bad->set_sequence_id(2);
  AddIds(bad->mutable_ids(), {261, 9999});
  auto* dup = req.add_steps();
  dup->set_sequence_id(1);
  v1::DetokenizeResponse resp = RoundTrip(stream.get(), req);
  ASSERT_EQ(resp.deltas_size(), 3);
  EXPECT_EQ(resp.deltas(0).text(), "Once upon");
  EXPECT_FALSE(resp.deltas(0).finished());
  EXPECT_EQ(resp.deltas(1).sequence_id(), 2u);
  EXPECT_TRUE(resp.deltas(1).finished());
  EXPECT_EQ(resp.deltas(1).error().code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_THAT(resp.deltas(1).error().message(), HasSubstr("steps[1].ids[1] = 9999"));
  EXPECT_THAT(resp.deltas(2).error().message(), HasSubstr("appears twice"));

  // Sequence 1 was dropped by the duplicate; sequence 3 starts and finishes normally.
  v1::DetokenizeRequest next;
  next.set_batch_id(2);
  auto* s3 = next.add_steps();
  s3->set_sequence_id(3);
  AddIds(s3->mutable_ids(), {378});
  s3->set_finish(true);
  resp = RoundTrip(stream.get(), next);
  ASSERT_EQ(resp.deltas_size(), 1);
  EXPECT_EQ(resp.deltas(0).text(), "time");
  EXPECT_TRUE(resp.deltas(0).finished());

  // Switching model mid-stream ends the stream.
  v1::DetokenizeRequest other;
  other.set_model("llama3");
  ASSERT_TRUE(stream->Write(other));
  v1::DetokenizeResponse ignored;
  EXPECT_FALSE(stream->Read(&ignored));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("stories"));
}

TEST_F(TokenizerStreamTest, LiveSequenceAndStepLimits) {
  // TestConfig allows 16 live sequences per stream.
  grpc::ClientContext ctx;
  auto stream = stub_->DetokenizeStream(&ctx);
  v1::DetokenizeRequest fill;
  for (uint64_t id = 0; id < 16; ++id) {
    auto* step = fill.add_steps();
    step->set_sequence_id(id);
    AddIds(step->mutable_ids(), {403});
  }
  v1::DetokenizeResponse resp = RoundTrip(stream.get(), fill);
  ASSERT_EQ(resp.deltas_size(), 16);
  for (const auto& d : resp.deltas()) EXPECT_FALSE(d.has_error());
  v1::DetokenizeRequest one_more;
  auto* extra = one_more.add_steps();
  extra->set_sequence_id(99);
  AddIds(extra->mutable_ids(), {403});
  auto* old = one_more.add_steps();  // an existing sequence still advances
  old->set_sequence_id(3);
  AddIds(old->mutable_ids(), {407});
  resp = RoundTrip(stream.get(), one_more);
  ASSERT_EQ(resp.deltas_size(), 2);
  EXPECT_EQ(resp.deltas(0).error().code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_EQ(resp.deltas(1).text(), " upon");
  // More steps than sequences may be live ends the stream.
  v1::DetokenizeRequest too_many;
  for (uint64_t id = 0; id < 17; ++id) too_many.add_steps()->set_sequence_id(id);
  ASSERT_TRUE(stream->Write(too_many));
  EXPECT_FALSE(stream->Read(&resp));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("17 steps"));
}

TEST_F(TokenizerStreamTest, UnknownModelEndsStreamWithNotFound) {
  grpc::ClientContext ctx;
  auto stream = stub_->DetokenizeStream(&ctx);
  v1::DetokenizeRequest req;
  req.set_model("nope");
  ASSERT_TRUE(stream->Write(req));
  v1::DetokenizeResponse resp;
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace corvid::tokenizer_service
