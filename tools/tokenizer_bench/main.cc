// corvid-tokenizer-bench --model DIR [--corpus DIR] [--repeat N] [--passes P] [--json]
//
// Single-thread throughput of Tokenizer::Encode over the lines of every file in the corpus
// folder (repeated N times), plus Decode and StreamingDetokenizer over the resulting ids, and
// the tokenizer's load time. bench_reference.py runs this next to Hugging Face tokenizers and
// sentencepiece on the same lines and prints the ratios.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/tokenizer/streaming_detokenizer.h"
#include "engine/tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Args {
  std::string model, corpus = "tests/data/tokenizer_corpus";
  int repeat = 100, passes = 5;
  bool json = false;
};

bool ParseArgs(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--model" && has_value) {
      a->model = argv[++i];
    } else if (arg == "--corpus" && has_value) {
      a->corpus = argv[++i];
    } else if (arg == "--repeat" && has_value) {
      a->repeat = std::atoi(argv[++i]);
    } else if (arg == "--passes" && has_value) {
      a->passes = std::atoi(argv[++i]);
    } else if (arg == "--json") {
      a->json = true;
    } else {
      return false;
    }
  }
  return !a->model.empty() && a->repeat > 0 && a->passes > 0;
}

// The corpus lines in file-name order, as bench_reference.py reads them.
std::vector<std::string> ReadLines(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> lines;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    const std::string text = s.str();
    size_t begin = 0;
    while (begin <= text.size()) {
      size_t end = text.find('\n', begin);
      if (end == std::string::npos) end = text.size();
      if (end > begin) lines.push_back(text.substr(begin, end - begin));
      begin = end + 1;
    }
  }
  return lines;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    std::fprintf(stderr, "usage: corvid-tokenizer-bench --model DIR [--corpus DIR] [--repeat N] "
                         "[--passes P] [--json]\n");
    return 2;
  }
  const auto t0 = Clock::now();
  auto tokenizer = corvid::LoadTokenizer(args.model);
  const double load_s = Seconds(t0, Clock::now());
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "%s\n", tokenizer.status().ToString().c_str());
    return 1;
  }
  const corvid::Tokenizer& tok = **tokenizer;
  std::vector<std::string> lines;
  const std::vector<std::string> corpus = ReadLines(args.corpus);
  for (int r = 0; r < args.repeat; ++r) lines.insert(lines.end(), corpus.begin(), corpus.end());
  size_t bytes = 0;
  for (const auto& l : lines) bytes += l.size();

  std::vector<std::vector<int32_t>> ids(lines.size());
  double encode_s = 1e30;
  size_t tokens = 0;
  for (int p = 0; p <= args.passes; ++p) {  // pass 0 warms up (caches, page faults)
    const auto a = Clock::now();
    tokens = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      ids[i] = *tok.Encode(lines[i], /*add_special_tokens=*/false);
      tokens += ids[i].size();
    }
    if (p > 0) encode_s = std::min(encode_s, Seconds(a, Clock::now()));
  }
  double decode_s = 1e30, stream_s = 1e30;
  for (int p = 0; p < args.passes; ++p) {
    auto a = Clock::now();
    for (const auto& v : ids) (void)*tok.Decode(v, false);
    decode_s = std::min(decode_s, Seconds(a, Clock::now()));
    a = Clock::now();
    std::string out;
    for (const auto& v : ids) {
      auto detok = *corvid::StreamingDetokenizer::Create(tok, false);
      for (int32_t id : v) (void)detok.Add(absl::MakeConstSpan(&id, 1), &out);
      detok.Finish(&out);
      out.clear();
    }
    stream_s = std::min(stream_s, Seconds(a, Clock::now()));
  }
  if (args.json) {
    std::printf("{\"load_s\": %.6f, \"lines\": %zu, \"bytes\": %zu, \"tokens\": %zu, "
                "\"encode_s\": %.6f, \"decode_s\": %.6f, \"stream_s\": %.6f}\n",
                load_s, lines.size(), bytes, tokens, encode_s, decode_s, stream_s);
  } else {
    std::printf("model %s: load %.1f ms; %zu lines, %.2f MB, %zu tokens\n", args.model.c_str(),
                load_s * 1e3, lines.size(), bytes / 1e6, tokens);
    std::printf("  encode  %10.0f tokens/s  %7.2f MB/s\n", tokens / encode_s, bytes / encode_s / 1e6);
    std::printf("  decode  %10.0f tokens/s\n", tokens / decode_s);
    std::printf("  stream  %10.0f tokens/s (one id at a time)\n", tokens / stream_s);
  }
  return 0;
}
