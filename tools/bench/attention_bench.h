// Times corvid's attention kernels on Llama-3-8B head shapes (32 query heads, 8 KV heads,
// head_dim 128, 16-token blocks) for comparison with torch's scaled_dot_product_attention.
#ifndef CORVID_TOOLS_BENCH_ATTENTION_BENCH_H_
#define CORVID_TOOLS_BENCH_ATTENTION_BENCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace corvid::bench {

struct AttentionCase {
  std::string kind;  // "prefill" (causal, fresh) or "decode" (one query per sequence)
  int batch = 0;
  int len = 0;  // prompt length (prefill) or context length (decode)
  double micros = 0.0;
};

std::vector<AttentionCase> DefaultAttentionCases();
absl::Status TimeAttention(std::vector<AttentionCase>* cases);
// Appends, for every prefill case, one case per prefill kernel variant (kind "prefill/vN").
absl::Status TimePrefillVariants(std::vector<AttentionCase>* cases);

}  // namespace corvid::bench

#endif  // CORVID_TOOLS_BENCH_ATTENTION_BENCH_H_
