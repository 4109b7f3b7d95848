// Helpers shared by the tokenizer service tests: test data, an in-process server on a free
// loopback port, a channel to it.
#ifndef CORVID_TESTS_SERVICES_TOKENIZER_TEST_UTIL_H_
#define CORVID_TESTS_SERVICES_TOKENIZER_TEST_UTIL_H_

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "corvid/v1/tokenizer.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/tokenizer/tokenizer_server.h"

namespace corvid::tokenizer_service::testing_util {

inline std::string ModelsDir() { return CORVID_TEST_MODELS_DIR; }
inline std::string StoriesDir() { return ModelsDir() + "/stories260K"; }
inline std::string Llama3Dir() { return ModelsDir() + "/tokenizers/llama3"; }
inline bool HaveModels() {
  return std::filesystem::exists(StoriesDir() + "/tokenizer.model") &&
         std::filesystem::exists(Llama3Dir() + "/tokenizer.json");
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The 46 strings of llama.cpp's tokenizer test vectors (the .inp file's segments).
inline std::vector<std::string> TestStrings() {
  std::string text =
      ReadFile(ModelsDir() + "/tokenizers/testvectors/ggml-vocab-llama-bpe.gguf.inp");
  std::vector<std::string> parts = absl::StrSplit(text, "\n__ggml_vocab_test__\n");
  if (!parts.empty() && parts.back().empty()) parts.pop_back();
  return parts;
}

// The expected Llama 3 ids for TestStrings(), one line each (from Hugging Face).
inline std::vector<std::vector<int32_t>> Llama3GoldenIds() {
  std::vector<std::vector<int32_t>> out;
  std::string text =
      ReadFile(ModelsDir() + "/tokenizers/testvectors/ggml-vocab-llama-bpe.gguf.out");
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<int32_t> ids;
    for (absl::string_view tok : absl::StrSplit(line, ' ', absl::SkipWhitespace())) {
      ids.push_back(std::stoi(std::string(tok)));
    }
    out.push_back(std::move(ids));
  }
  return out;
}

// The tokenizer library object `server` serves as `model` (the same code path a separate
// LoadTokenizer would take, without paying for the load twice).
inline const Tokenizer& Lib(const TokenizerServer& server, const std::string& model) {
  return *(*server.models()->Find(model))->tokenizer;
}

inline void AddIds(google::protobuf::RepeatedField<int32_t>* field,
                   std::initializer_list<int32_t> ids) {
  field->Add(ids.begin(), ids.end());
}

inline TokenizerServerConfig TestConfig(std::vector<ModelSpec> models) {
  TokenizerServerConfig config;
  config.server.listen = "127.0.0.1:0";
  config.server.metrics_host = "127.0.0.1";
  config.server.metrics_port = 0;
  config.server.grace_period_s = 5;
  config.models = std::move(models);
  config.service.worker_threads = 2;
  config.service.limits.max_texts_per_batch = 64;
  config.service.limits.max_bytes_per_text = 4096;
  config.service.limits.max_ids_per_batch = 1 << 16;
  config.service.limits.max_sequences_per_stream = 16;
  return config;
}

inline std::shared_ptr<grpc::Channel> Connect(int port) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // Tests connect before a server listens: retry quickly instead of backing off for seconds.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials(), args);
}

// A suite-wide in-process server serving stories260K as "stories" and Llama 3 as "llama3", and a
// fresh stub per test; tests skip when the shared models are absent.
class ServedTokenizersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!HaveModels()) return;
    auto server =
        TokenizerServer::Start(TestConfig({{"stories", StoriesDir()}, {"llama3", Llama3Dir()}}));
    ASSERT_TRUE(server.ok()) << server.status();
    ASSERT_TRUE((*server)->LoadModels().ok());
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (!HaveModels()) GTEST_SKIP() << "test models not found under " << ModelsDir();
    stub_ = v1::Tokenizer::NewStub(Connect(server_->port()));
  }

  static inline TokenizerServer* server_ = nullptr;
  std::unique_ptr<v1::Tokenizer::Stub> stub_;
};

}  // namespace corvid::tokenizer_service::testing_util

#endif  // CORVID_TESTS_SERVICES_TOKENIZER_TEST_UTIL_H_
