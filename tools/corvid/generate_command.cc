// `corvid generate`: one prompt through the in-process engine, the completion streamed to stdout
// as it is sampled.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "engine/model_config.h"
#include "engine/status_macros.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/weights.h"
#include "tools/corvid/backend_factory.h"
#include "tools/corvid/command.h"
#include "tools/corvid/flag_parser.h"
#include "tools/corvid/generate_remote.h"
#include "tools/corvid/text_streamer.h"

namespace corvid::cli {
namespace {

struct GenerateArgs {
  std::string model;
  std::string prompt;
  int max_tokens = 64;
  SamplingParams sampling;
  bool has_seed = false;
  uint64_t seed = 0;
  BackendChoice backend;
  std::string server;  // HOST:PORT of corvid-scheduler: generate remotely
  std::string model_name;
  std::string stop;
  double timeout_s = 60;
};

constexpr char kUsage[] =
    "usage: corvid generate (--model DIR | --server HOST:PORT) --prompt TEXT [flags]\n"
    "\n"
    "Streams the completion of TEXT (not the prompt) to stdout as it is generated.\n"
    "\n"
    "  --model DIR          Hugging Face model folder (config.json, safetensors, tokenizer)\n"
    "  --server HOST:PORT   generate through a running corvid-scheduler instead\n"
    "  --model-name NAME    with --server: the served model (default: the deployment's)\n"
    "  --stop S             with --server: a stop string\n"
    "  --timeout S          with --server: the request's deadline in seconds (default 60)\n"
    "  --prompt TEXT        the prompt; BOS is added as the tokenizer config says\n"
    "  --max-tokens N       tokens to generate (default 64)\n"
    "  --temperature T      0 = greedy (default 1)\n"
    "  --top-k K            0 = off (default)\n"
    "  --top-p P            1 = off (default)\n"
    "  --min-p P            0 = off (default)\n"
    "  --seed S             sampling seed (default: drawn by the engine)\n"
    "  --threads N          CPU backend threads (default: all cores)\n"
    "  --backend B          auto | cpu | cuda (default auto: cuda when a GPU is usable)\n"
    "  --dummy-weights      seeded random weights of the model's shapes (benchmarks)\n";

absl::StatusOr<GenerateArgs> ParseArgs(int argc, char** argv) {
  GenerateArgs args;
  std::string backend = "auto";
  FlagParser parser;
  parser.String("model", &args.model);
  parser.String("prompt", &args.prompt);
  parser.Int("max-tokens", &args.max_tokens);
  parser.Float("temperature", &args.sampling.temperature);
  parser.Int("top-k", &args.sampling.top_k);
  parser.Float("top-p", &args.sampling.top_p);
  parser.Float("min-p", &args.sampling.min_p);
  parser.Uint64("seed", &args.seed, &args.has_seed);
  parser.Int("threads", &args.backend.threads);
  parser.String("backend", &backend);
  parser.Bool("dummy-weights", &args.backend.dummy_weights);
  parser.String("server", &args.server);
  parser.String("model-name", &args.model_name);
  parser.String("stop", &args.stop);
  float timeout_s = 60;
  parser.Float("timeout", &timeout_s);
  RETURN_IF_ERROR(parser.Parse(argc, argv));
  args.timeout_s = timeout_s;
  if (!args.server.empty() && !args.model.empty()) {
    return absl::InvalidArgumentError("give --model or --server, not both");
  }
  if (args.model.empty() && args.server.empty()) {
    return absl::InvalidArgumentError("--model is required (or --server HOST:PORT)");
  }
  if (!parser.Seen("prompt")) return absl::InvalidArgumentError("--prompt is required");
  ASSIGN_OR_RETURN(args.backend.kind, ParseBackendKind(backend));
  if (args.backend.threads < 0) {
    return absl::InvalidArgumentError("--threads must be >= 0 (0 = all cores)");
  }
  return args;
}

// Runs the engine until the request finishes, streaming text; returns tokens generated.
absl::StatusOr<int> Stream(Engine* engine, const Tokenizer& tokenizer,
                           const std::vector<int32_t>& prompt) {
  ASSIGN_OR_RETURN(TextStreamer streamer, TextStreamer::Create(tokenizer, prompt));
  int generated = 0;
  while (engine->HasWork()) {
    std::vector<TokenEvent> events;
    RETURN_IF_ERROR(engine->Step(&events));
    for (const TokenEvent& event : events) {
      if (event.token.token < 0) continue;
      ++generated;
      ASSIGN_OR_RETURN(std::string text, streamer.Push(event.token.token));
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    }
  }
  const std::string rest = streamer.Finish();
  std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  return generated;
}

absl::Status Generate(const GenerateArgs& args) {
  ASSIGN_OR_RETURN(ModelConfig config, ModelConfig::FromDir(args.model));
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tokenizer, LoadTokenizer(args.model));
  ASSIGN_OR_RETURN(std::vector<int32_t> prompt,
                   tokenizer->Encode(args.prompt, /*add_special_tokens=*/true));
  if (prompt.empty()) return absl::InvalidArgumentError("--prompt encodes to no tokens");
  const EngineOptions engine_options;
  ASSIGN_OR_RETURN(LoadedBackend loaded,
                   CreateBackend(args.model, config, args.backend, engine_options));
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                   Engine::Create(std::move(loaded.backend), engine_options));

  GenerationRequest request;
  request.id = 1;
  request.prompt = prompt;
  request.max_tokens = args.max_tokens;
  request.sampling = args.sampling;
  request.has_seed = args.has_seed;
  request.sampling.seed = args.seed;
  RETURN_IF_ERROR(engine->Add(std::move(request)));

  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(int generated, Stream(engine.get(), *tokenizer, prompt));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "[%s: %zu prompt tokens, %d generated in %.3f s, %.1f tokens/s]\n",
               loaded.description.c_str(), prompt.size(), generated, seconds,
               seconds > 0 ? generated / seconds : 0.0);
  return absl::OkStatus();
}

int RunGenerate(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  absl::StatusOr<GenerateArgs> args = ParseArgs(argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "corvid generate: %s\n\n%s", std::string(args.status().message()).c_str(),
                 kUsage);
    return 2;
  }
  if (!args->server.empty()) {
    RemoteGenerateOptions remote;
    remote.server = args->server;
    remote.model = args->model_name;
    remote.prompt = args->prompt;
    remote.max_tokens = args->max_tokens;
    remote.temperature = args->sampling.temperature;
    remote.top_k = args->sampling.top_k;
    remote.top_p = args->sampling.top_p;
    remote.min_p = args->sampling.min_p;
    remote.has_seed = args->has_seed;
    remote.seed = args->seed;
    if (!args->stop.empty()) remote.stop.push_back(args->stop);
    remote.timeout_s = args->timeout_s;
    return RunRemoteGenerate(remote);
  }
  const absl::Status status = Generate(*args);
  if (!status.ok()) {
    std::fprintf(stderr, "corvid generate: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}

const CommandRegistration kRegistration("generate", &RunGenerate,
                                        "generate a completion of a prompt, streamed to stdout");

}  // namespace
}  // namespace corvid::cli
