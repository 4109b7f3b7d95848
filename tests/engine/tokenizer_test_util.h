// Shared helpers of the tokenizer tests: model paths, tokenizers loaded once per test binary,
// and reference data computed by tests/engine/tokenizer_reference.py.
#ifndef CORVID_TESTS_ENGINE_TOKENIZER_TEST_UTIL_H_
#define CORVID_TESTS_ENGINE_TOKENIZER_TEST_UTIL_H_

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "engine/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

namespace corvid::testing {

inline std::string ModelsDir() { return CORVID_TEST_MODELS_DIR; }
inline bool HaveModels() { return std::filesystem::is_directory(CORVID_TEST_MODELS_DIR); }
inline std::string Python() { return std::string(CORVID_SOURCE_DIR) + "/.venv/bin/python"; }
inline bool HavePython() { return std::filesystem::exists(Python()); }
inline std::string ScratchDir() {
  const std::string dir = std::string(CORVID_BINARY_DIR) + "/tokenizer_test_data";
  std::filesystem::create_directories(dir);
  return dir;
}

inline bool Run(const std::string& command) {
  std::fprintf(stderr, "[ run ] %s\n", command.c_str());
  return std::system(command.c_str()) == 0;
}

// Folders of SentencePiece-style tokenizer.json files built from Llama 2's tokenizer.model by
// tokenizer_make_spm_json.py (once per binary); "" when that failed.
inline std::string GeneratedSpmJsonDir() {
  static const std::string* dir = [] {
    const std::string out = ScratchDir() + "/spm_json";
    const bool ok = Run(Python() + " " + CORVID_SOURCE_DIR +
                        "/tests/engine/tokenizer_make_spm_json.py --model " + ModelsDir() +
                        "/tokenizers/llama2/tokenizer.model --out " + out);
    return new std::string(ok ? out : "");
  }();
  return *dir;
}

// Variants of a byte-level tokenizer.json written by tokenizer_make_flags_json.py, once per
// binary: "flags" (Qwen3 plus added tokens with every AddedToken flag) and "gpt2" (Llama 3's
// vocabulary behind GPT-2's ByteLevel pre-tokenizer); "" when that failed.
inline std::string GeneratedVariantDir(const std::string& variant) {
  static auto* dirs = new std::map<std::string, std::string>();
  auto it = dirs->find(variant);
  if (it != dirs->end()) return it->second;
  const std::string out = ScratchDir() + "/variant_" + variant;
  const std::string base = variant == "gpt2" ? "llama3" : "qwen3";
  const bool ok = Run(Python() + " " + CORVID_SOURCE_DIR +
                      "/tests/engine/tokenizer_make_flags_json.py --base " + ModelsDir() +
                      "/tokenizers/" + base + " --out " + out + " --variant " + variant);
  return (*dirs)[variant] = ok ? out : "";
}

// A tokenizer.json that tokenizers builds from a DeepSeek GGUF vocabulary with llama.cpp's
// split regexes (tokenizer_make_gguf_json.py), once per binary; "" when that failed.
inline std::string GeneratedGgufJsonDir(const std::string& vocab) {
  static auto* dirs = new std::map<std::string, std::string>();
  auto it = dirs->find(vocab);
  if (it != dirs->end()) return it->second;
  const std::string out = ScratchDir() + "/" + vocab + "_json";
  const bool ok = Run(Python() + " " + CORVID_SOURCE_DIR +
                      "/tests/engine/tokenizer_make_gguf_json.py --gguf " + ModelsDir() +
                      "/tokenizers/llama.cpp-vocab/ggml-vocab-" + vocab + ".gguf --out " + out);
  return (*dirs)[vocab] = ok ? out : "";
}

// Model folders by short name; generated ones are created on first use.
inline std::string ModelPath(const std::string& name) {
  if (name == "stories260K") return ModelsDir() + "/stories260K";
  if (name == "llama2" || name == "llama3" || name == "qwen3") {
    return ModelsDir() + "/tokenizers/" + name;
  }
  if (name == "qwen3-flags") return GeneratedVariantDir("flags");
  if (name == "llama3-gpt2") return GeneratedVariantDir("gpt2");
  if (name == "deepseek-llm-json" || name == "deepseek-coder-json") {
    return GeneratedGgufJsonDir(name.substr(0, name.size() - 5));
  }
  if (name == "deepseek-llm" || name == "deepseek-coder") {
    return ModelsDir() + "/tokenizers/llama.cpp-vocab/ggml-vocab-" + name + ".gguf";
  }
  const std::string generated = GeneratedSpmJsonDir();
  if (generated.empty()) return "";
  return generated + "/" + (name == "llama2-json-legacy" ? "legacy" : "metaspace");
}

// Loads each tokenizer once per process and reports how long it took.
inline const Tokenizer* CachedTokenizer(const std::string& name) {
  static auto* cache = new std::map<std::string, std::unique_ptr<Tokenizer>>();
  auto it = cache->find(name);
  if (it != cache->end()) return it->second.get();
  const std::string path = ModelPath(name);
  const auto start = std::chrono::steady_clock::now();
  auto tokenizer = LoadTokenizer(path);
  const double ms = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start).count();
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "loading %s: %s\n", name.c_str(), tokenizer.status().ToString().c_str());
    return nullptr;
  }
  std::fprintf(stderr, "[ load ] %s tokenizer loaded in %.1f ms\n", name.c_str(), ms);
  return (*cache)[name] = std::move(*tokenizer), (*cache)[name].get();
}

// tokenizer_reference.py's output for a model (once per process); null JSON on failure.
inline const nlohmann::json& Reference(const std::string& name) {
  static auto* cache = new std::map<std::string, nlohmann::json>();
  auto it = cache->find(name);
  if (it != cache->end()) return it->second;
  const std::string out = ScratchDir() + "/reference_" + name + ".json";
  nlohmann::json j;
  // A GGUF vocabulary is checked against tokenizers running the same vocabulary as JSON.
  const bool gguf = name == "deepseek-llm" || name == "deepseek-coder";
  if (Run(Python() + " " + CORVID_SOURCE_DIR + "/tests/engine/tokenizer_reference.py --model " +
          ModelPath(gguf ? name + "-json" : name) + " --corpus " + CORVID_SOURCE_DIR +
          "/tests/data/tokenizer_corpus --out " + out)) {
    std::ifstream in(out);
    std::stringstream text;
    text << in.rdbuf();
    j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) j = nlohmann::json();
  }
  return (*cache)[name] = std::move(j);
}

}  // namespace corvid::testing

#endif  // CORVID_TESTS_ENGINE_TOKENIZER_TEST_UTIL_H_
