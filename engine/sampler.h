// Host sampler: turns one row of logits into one token, the reference for the GPU sampler.
//
// The pipeline, in order (documented here because a GPU implementation must match it):
//  1. Logprobs are the log-softmax of the RAW logits (before penalties and temperature): the
//     chosen token's logprob and the `top_logprobs` best raw tokens (ties: lower id first).
//  2. Penalties: repetition (Hugging Face: over the distinct tokens of prompt + output, positive
//     logits are divided by r, others multiplied by r), then presence and frequency (OpenAI:
//     logit -= frequency * count + presence * (count > 0), counts over the output only).
//  3. Greedy (temperature 0): argmax of the penalised logits, the lowest id on ties.
//  4. Otherwise: z = logit / temperature; candidates are ordered by z descending, ties by id
//     ascending ("descending-prob order"); weights w = exp(z - z_max). Then
//       top-k: keep the first k candidates (k = 0: off);
//       top-p: keep the shortest prefix whose weight reaches top_p of the kept weight (1: off);
//       min-p: keep candidates with w >= min_p (w_max is 1, so this is p >= min_p * p_max).
//     At least one candidate always survives.
//  5. Draw: u = UniformFloat(seed, output.size()) from kernels/rng.h; walk the kept candidates
//     in order accumulating w (float, sequential), pick the first whose running sum exceeds
//     u * (sum of kept w); the last kept candidate if rounding leaves none.
#ifndef CORVID_ENGINE_SAMPLER_H_
#define CORVID_ENGINE_SAMPLER_H_

#include <cstdint>
#include <vector>

#include "engine/backend.h"
#include "engine/sampling_params.h"

namespace corvid {

// A candidate that survived the filters, with its unnormalised weight exp(z - z_max).
struct Candidate {
  int32_t id = 0;
  float weight = 0.0f;
};

// Step 2: applies the penalties to `logits` in place. Ids outside [0, vocab) are ignored.
void ApplyPenalties(float* logits, int vocab, const SamplingParams& p,
                    const std::vector<int32_t>& prompt, const std::vector<int32_t>& output);

// Step 3: argmax, lowest id on ties.
int32_t ArgMax(const float* logits, int vocab);

// Step 4 on already-penalised logits (temperature > 0): the kept candidates in descending-prob
// order with their weights; probabilities are weight / (sum of kept weights).
std::vector<Candidate> KeptCandidates(const float* logits, int vocab, const SamplingParams& p);

// Step 5 on the output of KeptCandidates (non-empty), with u in [0, 1).
int32_t DrawCandidate(const std::vector<Candidate>& kept, float u);

// The uniform number the draw of a request uses after it has generated `num_generated` tokens.
float SamplerUniform(uint64_t seed, uint64_t num_generated);

// Step 1: log-sum-exp of the raw logits (double accumulation), so logprob(i) = logits[i] - lse.
double LogSumExp(const float* logits, int vocab);

// The whole pipeline. `logits` is not modified.
SampledToken SampleToken(const float* logits, int vocab, const SamplingParams& p,
                         const std::vector<int32_t>& prompt, const std::vector<int32_t>& output);

}  // namespace corvid

#endif  // CORVID_ENGINE_SAMPLER_H_
