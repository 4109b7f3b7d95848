// The weights of one model: safetensors files memory-mapped (single or sharded), or seeded
// dummy values for benchmarks. Tensors are looked up by their Hugging Face names.
#ifndef CORVID_ENGINE_WEIGHTS_H_
#define CORVID_ENGINE_WEIGHTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model_config.h"
#include "engine/tensor.h"

namespace corvid {

class WeightStore {
 public:
  virtual ~WeightStore() = default;

  // Maps `dir/model.safetensors` or the shards named by `dir/model.safetensors.index.json`,
  // validates every header strictly (bounds, overlaps, dtype x shape = bytes) and checks that
  // every tensor `config` needs is present with the expected shape. Errors name file and tensor.
  static absl::StatusOr<std::unique_ptr<WeightStore>> Open(const std::string& dir,
                                                           const ModelConfig& config);
  // Seeded random weights for every tensor `config` needs, in `dtype`, generated in memory
  // (values ~ U(-a, a) with a scaled like a trained model's). For benchmarks only.
  static absl::StatusOr<std::unique_ptr<WeightStore>> Dummy(const ModelConfig& config,
                                                            DType dtype, uint64_t seed);

  // nullptr when absent.
  virtual const TensorView* Find(const std::string& name) const = 0;
  // Error naming the tensor when absent.
  absl::StatusOr<const TensorView*> Get(const std::string& name) const;
  virtual std::vector<std::string> Names() const = 0;
};

// The tensor names a Llama-family model of `config` must provide, with their shapes.
std::map<std::string, std::vector<int64_t>> ExpectedTensors(const ModelConfig& config);

}  // namespace corvid

#endif  // CORVID_ENGINE_WEIGHTS_H_
