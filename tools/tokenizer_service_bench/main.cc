// corvid-tokenizer-service-bench: drives a running corvid-tokenizer and reports
//   - Encode requests/s and latency with N concurrent clients (one connection each),
//   - the server's CPU time per 1,000 tokens encoded and per 1,000 tokens detokenized
//     (DetokenizeStream, one id per sequence per message), from the server's getrusage as its
//     /metrics exports it (corvid_process_cpu_seconds_total).
//
//   corvid-tokenizer --listen 127.0.0.1:50051 --metrics-port 9091 --model llama3=DIR &
//   corvid-tokenizer-service-bench --server 127.0.0.1:50051 --metrics 127.0.0.1:9091 --clients 64
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "corvid/v1/tokenizer.grpc.pb.h"
#include "services/common/flags.h"
#include "tools/tokenizer_service_bench/bench_util.h"
#include "tools/tokenizer_service_bench/load.h"

namespace corvid::bench {
namespace {

struct Flags {
  std::string server = "127.0.0.1:50051";
  std::string metrics = "127.0.0.1:9091";
  std::string model;
  std::string phases = "encode,detokenize";
  int64_t clients = 64;
  int64_t prompt_bytes = 1024;
  int64_t prompts = 256;
  double duration_s = 10;
  double warmup_s = 2;
  int64_t streams = 8;
  int64_t sequences = 32;
  std::vector<std::string> corpus;
};

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(const std::string& target, int n) {
  std::vector<std::shared_ptr<grpc::Channel>> out;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("corvid.bench.client", i);  // distinct arguments => a connection per client
    args.SetMaxReceiveMessageSize(64 << 20);
    out.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  }
  return out;
}

// Encodes the prompts in batches, for the detokenize load.
absl::StatusOr<std::vector<std::vector<int32_t>>> EncodeAll(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& model,
    const std::vector<std::string>& prompts) {
  auto stub = v1::Tokenizer::NewStub(channel);
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i < prompts.size(); i += 32) {
    v1::EncodeRequest req;
    req.set_model(model);
    for (size_t j = i; j < std::min(prompts.size(), i + 32); ++j) req.add_texts(prompts[j]);
    v1::EncodeResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub->Encode(&ctx, req, &resp);
    if (!s.ok()) return absl::UnavailableError("Encode failed: " + s.error_message());
    for (const auto& r : resp.results()) {
      if (r.ids_size() > 0) out.emplace_back(r.ids().begin(), r.ids().end());
    }
  }
  return out;
}

void Report(const char* phase, const LoadResult& r, absl::StatusOr<double> cpu_s,
            const char* token_word) {
  double secs = absl::ToDoubleSeconds(r.elapsed);
  LatencySummary lat = Summarize(r.latencies_s);
  std::printf("%s: %lld calls in %.2f s = %.0f calls/s, %.0f tokens/s, %lld errors%s%s\n", phase,
              static_cast<long long>(r.calls), secs, r.calls / secs, r.tokens / secs,
              static_cast<long long>(r.errors), r.errors ? ", first: " : "", r.first_error.c_str());
  std::printf("  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", lat.p50_ms, lat.p90_ms,
              lat.p99_ms, lat.max_ms);
  if (cpu_s.ok() && r.tokens > 0) {
    std::printf(
        "  server CPU: %.2f s (%.2f cores busy), %.1f us per 1,000 tokens %s, "
        "%.1f us per call\n",
        *cpu_s, *cpu_s / secs, *cpu_s * 1e9 / r.tokens, token_word, *cpu_s * 1e6 / r.calls);
  } else if (!cpu_s.ok()) {
    std::printf("  server CPU: unavailable (%s)\n", std::string(cpu_s.status().message()).c_str());
  }
}

// Runs `load` once unmeasured (warm-up), then measured between two CPU scrapes.
template <typename Load>
void Measure(const Flags& f, const char* phase, const char* token_word, Load load) {
  if (f.warmup_s > 0) load(absl::Seconds(f.warmup_s));
  absl::StatusOr<double> cpu0 = ScrapeServerCpuSeconds(f.metrics);
  LoadResult r = load(absl::Seconds(f.duration_s));
  absl::StatusOr<double> cpu1 = ScrapeServerCpuSeconds(f.metrics);
  absl::StatusOr<double> cpu =
      cpu0.ok() && cpu1.ok() ? absl::StatusOr<double>(*cpu1 - *cpu0) : (cpu0.ok() ? cpu1 : cpu0);
  Report(phase, r, cpu, token_word);
}

int Run(const Flags& f) {
  auto channels = MakeChannels(f.server, static_cast<int>(std::max<int64_t>(f.clients, f.streams)));
  auto stub = v1::Tokenizer::NewStub(channels[0]);
  v1::GetInfoRequest info_req;
  info_req.set_model(f.model);
  v1::GetInfoResponse info;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (grpc::Status s = stub->GetInfo(&ctx, info_req, &info); !s.ok()) {
    std::fprintf(stderr, "GetInfo on %s: %s\n", f.server.c_str(), s.error_message().c_str());
    return 1;
  }
  std::vector<std::string> prompts;
  if (f.corpus.empty()) {
    prompts = MakePrompts(static_cast<int>(f.prompts), static_cast<int>(f.prompt_bytes), 1234);
  } else {
    auto from_corpus = CorpusPrompts(f.corpus, static_cast<int>(f.prompts),
                                     static_cast<int>(f.prompt_bytes), 1234);
    if (!from_corpus.ok()) {
      std::fprintf(stderr, "%s\n", std::string(from_corpus.status().message()).c_str());
      return 2;
    }
    prompts = std::move(*from_corpus);
  }
  std::printf("server %s, model %s (vocab %d), %lld prompts of ~%lld bytes from %s\n",
              f.server.c_str(), info.model().c_str(), info.vocab_size(),
              static_cast<long long>(f.prompts), static_cast<long long>(f.prompt_bytes),
              f.corpus.empty() ? "the synthetic generator" : "--corpus");
  for (absl::string_view phase : absl::StrSplit(f.phases, ',')) {
    if (phase == "encode") {
      std::vector<std::shared_ptr<grpc::Channel>> clients(channels.begin(),
                                                          channels.begin() + f.clients);
      std::printf("encode: %lld concurrent clients, one 1-text request in flight each\n",
                  static_cast<long long>(f.clients));
      Measure(f, "encode", "encoded",
              [&](absl::Duration d) { return RunEncodeLoad(clients, f.model, prompts, d); });
    } else if (phase == "detokenize") {
      auto ids = EncodeAll(channels[0], f.model, prompts);
      if (!ids.ok()) {
        std::fprintf(stderr, "%s\n", std::string(ids.status().message()).c_str());
        return 1;
      }
      std::printf("detokenize: %lld streams x %lld sequences, one id per sequence per message\n",
                  static_cast<long long>(f.streams), static_cast<long long>(f.sequences));
      Measure(f, "detokenize", "detokenized", [&](absl::Duration d) {
        return RunDetokenizeLoad(channels, f.model, *ids, static_cast<int>(f.streams),
                                 static_cast<int>(f.sequences), d);
      });
    } else {
      std::fprintf(stderr, "unknown phase '%s'\n", std::string(phase).c_str());
      return 2;
    }
  }
  return 0;
}

}  // namespace
}  // namespace corvid::bench

int main(int argc, char** argv) {
  corvid::bench::Flags f;
  corvid::service::FlagSet flags(
      "corvid-tokenizer-service-bench --server HOST:PORT --metrics HOST:PORT");
  flags.AddString("server", &f.server, "corvid-tokenizer gRPC address");
  flags.AddString("metrics", &f.metrics, "the server's /metrics HOST:PORT (for its CPU time)");
  flags.AddString("model", &f.model, "model name (empty: the server's default)");
  flags.AddString("phases", &f.phases, "comma-separated: encode, detokenize");
  flags.AddInt("clients", &f.clients, "concurrent Encode clients, one connection each");
  flags.AddInt("prompt-bytes", &f.prompt_bytes, "bytes per prompt");
  flags.AddInt("prompts", &f.prompts, "distinct prompts");
  flags.AddDouble("duration-s", &f.duration_s, "measured seconds per phase");
  flags.AddDouble("warmup-s", &f.warmup_s, "unmeasured seconds before each phase");
  flags.AddInt("streams", &f.streams, "DetokenizeStream calls");
  flags.AddInt("sequences", &f.sequences, "sequences multiplexed per stream");
  flags.AddRepeated("corpus", &f.corpus,
                    "text file(s) to cut prompts from (default: a synthetic generator)");
  absl::Status s = flags.Parse(argc, argv);
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok() || f.clients < 1 || f.streams < 1 || f.sequences < 1 || f.prompts < 1 ||
      f.prompt_bytes < 1) {
    std::fprintf(stderr, "%s\n%s",
                 s.ok() ? "counts must be >= 1" : std::string(s.message()).c_str(),
                 flags.Usage().c_str());
    return 2;
  }
  return corvid::bench::Run(f);
}
