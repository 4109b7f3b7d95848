// Named model shapes for synthetic checkpoints and dummy-weight benchmarks. Each preset matches
// the published Hugging Face config.json of the model it is named after (shape, RoPE, tying);
// `tiny` is corvid's own small default model.
#ifndef CORVID_ENGINE_MODEL_PRESETS_H_
#define CORVID_ENGINE_MODEL_PRESETS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model_config.h"

namespace corvid {

// NOT_FOUND (listing the known names) for an unknown preset.
absl::StatusOr<ModelConfig> PresetConfig(const std::string& name);
std::vector<std::string> PresetNames();

}  // namespace corvid

#endif  // CORVID_ENGINE_MODEL_PRESETS_H_
