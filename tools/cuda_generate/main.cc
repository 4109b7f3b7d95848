// corvid-cuda-generate --model DIR --prompt_ids 1,2,3 --steps 64
// Prints {"tokens": [...], "top5": [[...], ...]}: the greedy continuation through the CUDA
// backend and, per step, the five highest-logprob ids.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/direct_step.h"
#include "engine/model_config.h"
#include "engine/status_macros.h"
#include "engine/weights.h"

ABSL_FLAG(std::string, model, "", "Hugging Face model folder");
ABSL_FLAG(std::string, prompt_ids, "1", "comma-separated prompt token ids");
ABSL_FLAG(int, steps, 64, "tokens to generate");

namespace {

absl::Status Generate() {
  const std::string dir = absl::GetFlag(FLAGS_model);
  std::vector<int32_t> prompt;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_prompt_ids), ',')) {
    int32_t id;
    if (!absl::SimpleAtoi(s, &id)) return absl::InvalidArgumentError("bad --prompt_ids");
    prompt.push_back(id);
  }
  const int steps = absl::GetFlag(FLAGS_steps);
  ASSIGN_OR_RETURN(corvid::ModelConfig config, corvid::ModelConfig::FromDir(dir));
  ASSIGN_OR_RETURN(auto weights, corvid::WeightStore::Open(dir, config));
  corvid::CudaBackendOptions o;
  o.max_num_seqs = 1;
  o.max_num_batched_tokens = static_cast<int>(prompt.size());
  o.max_model_len = static_cast<int>(prompt.size()) + steps + 1;
  o.num_kv_blocks = o.max_model_len / o.block_size + 2;
  ASSIGN_OR_RETURN(auto backend, corvid::CreateCudaBackend(config, weights.get(), o));
  weights.reset();  // the device has its own copy

  corvid::DirectSeq seq;
  seq.id = 1;
  seq.prompt = prompt;
  seq.sampling.temperature = 0.0f;
  seq.sampling.top_logprobs = 5;
  std::vector<int32_t>& output = seq.output;
  std::vector<std::string> top5;
  while (static_cast<int>(output.size()) < steps) {
    // First step: the whole prompt; then the last sampled token.
    corvid::StepChunk chunk{&seq, output.empty() ? prompt : std::vector<int32_t>{output.back()},
                            true};
    corvid::StepBatch b = corvid::BuildStep({chunk}, o.block_size, false);
    corvid::StepResult r;
    RETURN_IF_ERROR(backend->Execute(b, &r));
    output.push_back(r.tokens[0].token);
    std::vector<std::string> ids;
    for (const auto& [id, lp] : r.tokens[0].top_logprobs) ids.push_back(std::to_string(id));
    top5.push_back("[" + absl::StrJoin(ids, ",") + "]");
  }
  std::printf("{\"tokens\": [%s], \"top5\": [%s]}\n", absl::StrJoin(output, ",").c_str(),
              absl::StrJoin(top5, ",").c_str());
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const absl::Status st = Generate();
  if (!st.ok()) {
    std::fprintf(stderr, "corvid-cuda-generate: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}
