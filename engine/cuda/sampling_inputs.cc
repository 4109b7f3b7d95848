#include "engine/cuda/sampling_inputs.h"

#include <algorithm>
#include <map>

namespace corvid::cuda {
namespace {

void AddPenaltyEntries(const SamplingParams& p, const StepSequence& s, int row,
                       std::vector<kernels::PenaltyEntry>* entries) {
  const bool repetition = p.repetition_penalty != 1.0f;
  const bool counts = p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
  if (!repetition && !counts) return;
  // token -> (output count, seen anywhere); ordered so the entry list is deterministic.
  std::map<int32_t, std::pair<int32_t, bool>> history;
  if (repetition && s.prompt != nullptr) {
    for (int32_t t : *s.prompt) history[t].second = true;
  }
  if (s.output != nullptr) {
    for (int32_t t : *s.output) {
      auto& h = history[t];
      ++h.first;
      h.second = true;
    }
  }
  for (const auto& [token, h] : history) {
    kernels::PenaltyEntry e;
    e.row = row;
    e.token = token;
    e.output_count = h.first;
    e.in_history = (repetition && h.second) ? 1 : 0;
    entries->push_back(e);
  }
}

}  // namespace

void BuildSamplingInputs(const StepBatch& batch, const std::vector<int>& logits_rows,
                         std::vector<kernels::SamplingRow>* rows,
                         std::vector<kernels::PenaltyEntry>* entries) {
  rows->clear();
  entries->clear();
  for (const StepSequence& s : batch.seqs) {
    if (!s.sample) continue;
    const SamplingParams& p = *s.sampling;
    const int row = static_cast<int>(rows->size());
    kernels::SamplingRow r;
    r.logits_row = logits_rows[row];
    r.temperature = p.temperature;
    r.top_k = p.top_k;
    r.top_p = p.top_p;
    r.min_p = p.min_p;
    r.repetition_penalty = p.repetition_penalty;
    r.presence_penalty = p.presence_penalty;
    r.frequency_penalty = p.frequency_penalty;
    r.num_top_logprobs = std::min(p.top_logprobs, kernels::kMaxTopLogprobs);
    r.seed = p.seed;
    r.counter = s.output != nullptr ? s.output->size() : 0;
    r.penalty_begin = static_cast<int>(entries->size());
    AddPenaltyEntries(p, s, row, entries);
    r.penalty_end = static_cast<int>(entries->size());
    rows->push_back(r);
  }
}

}  // namespace corvid::cuda
