// Host side of on-device sampling: turns a step's sampled sequences into the kernels'
// SamplingRow records and the deduplicated token history the penalties need (pure host
// logic, no CUDA).
#ifndef CORVID_ENGINE_CUDA_SAMPLING_INPUTS_H_
#define CORVID_ENGINE_CUDA_SAMPLING_INPUTS_H_

#include <vector>

#include "engine/backend.h"
#include "kernels/sampling.h"

namespace corvid::cuda {

// One SamplingRow per sampled sequence of `batch` (in batch order, logits row from
// `logits_rows`), and the PenaltyEntry list of the rows whose penalties are on.
void BuildSamplingInputs(const StepBatch& batch, const std::vector<int>& logits_rows,
                         std::vector<kernels::SamplingRow>* rows,
                         std::vector<kernels::PenaltyEntry>* entries);

}  // namespace corvid::cuda

#endif  // CORVID_ENGINE_CUDA_SAMPLING_INPUTS_H_
