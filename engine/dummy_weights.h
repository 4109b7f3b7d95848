// Seeded random weight values, shared by WeightStore::Dummy and the synthetic checkpoint writer
// so that a checkpoint written with seed S holds exactly the values Dummy(seed S) generates.
#ifndef CORVID_ENGINE_DUMMY_WEIGHTS_H_
#define CORVID_ENGINE_DUMMY_WEIGHTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/model_config.h"
#include "engine/tensor.h"

namespace corvid {

// Writes the `numel(shape)` values of tensor `name` into `dst` in `dtype` (F32, F16 or BF16).
// Norm weights are 1.0; everything else ~ U(-a, a) with a = 1/sqrt(fan_in), so activations keep
// unit scale through the layers. Each element depends only on (seed, name, index): the result is
// the same whatever the thread count, and any tensor can be generated on its own.
void FillDummyTensor(const ModelConfig& config, const std::string& name,
                     const std::vector<int64_t>& shape, DType dtype, uint64_t seed, void* dst);

}  // namespace corvid

#endif  // CORVID_ENGINE_DUMMY_WEIGHTS_H_
