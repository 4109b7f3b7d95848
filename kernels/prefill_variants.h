// Alternative tilings of the prefill attention kernel, for the attention benchmark only (the
// backend uses LaunchPrefillAttention). Variant v tiles PrefillVariantTileQueries(v) queries.
#ifndef CORVID_KERNELS_PREFILL_VARIANTS_H_
#define CORVID_KERNELS_PREFILL_VARIANTS_H_

#include "kernels/paged_attention.h"

namespace corvid::kernels {

int PrefillVariantCount();
const char* PrefillVariantName(int v);
int PrefillVariantTileQueries(int v);
KernelError LaunchPrefillAttentionVariant(int v, DataType dtype, const PrefillAttentionParams& p,
                                          StreamHandle stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_PREFILL_VARIANTS_H_
