// Split-KV decode attention on tensor cores with 8 warps per split ("wide"), head_dim 64 or 128,
// up to 16 query heads per KV head (contract in paged_attention.h; decode_attention.cu
// dispatches here unless CORVID_DECODE_ATTN=warp4 asks for decode_attention_mma.cu).
//
// Why: the 4-warp kernel gives each warp 16 keys and the whole head_dim, so every warp carries
// 64 fp32 accumulators (166 registers), walks a long serial instruction chain, and ends with a
// shared-memory merge of four full states; with 3 blocks of 4 warps per SM the blocks spend
// most of their life waiting on that chain (docs/perf.md, s3-attn). Here the work of a 64-key
// tile is cut two ways inside one block of 8 warps:
//   * scores: warp w computes S = Q K^T for keys [8w, 8w + 8) of the tile (one mma n-tile);
//   * the tile's row maxima and sums meet in shared memory, P (16-bit) is written there;
//   * values: warp w computes O[:, its D / 8 dimensions] += P V over all 64 keys.
// Each thread then holds 8 (D = 128) or 4 accumulators, every warp keeps the same running max
// and sum (computed from the same shared values in the same order), and the end of the split
// needs no merge of warp states: each warp stores its own dimensions. K/V tiles are XOR-swizzled
// (no padding) so that 3 blocks of 8 warps fit per SM. The result depends on the row's context
// length only (split cut, tile walk, merge order), never on the batch. With rope_qkv the
// launch also does the RoPE and the newest key's KV write (decode_attention_rope.cuh).
#include "kernels/decode_attention_internal.cuh"
#include "kernels/decode_attention_rope.cuh"
#include "kernels/mma_utils.cuh"
#include "kernels/pdl.cuh"

namespace corvid::kernels {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kTile = 64;  // keys per tile: 8 per warp for the scores
constexpr int kRows = 16;  // mma rows: the query heads of the group, zero past it

// Element offset of 16-byte chunk c of row r in a [rows][cols] tile of 16-bit values whose
// chunks are XOR-swizzled by the row: the 8 rows an ldmatrix reads hit 8 different bank groups.
template <int kCols>
__device__ __forceinline__ int Swz(int r, int c) {
  return r * kCols + ((c ^ (r & 7)) << 3);
}

template <typename T, int D>
struct WideSmem {
  static constexpr int kQ = 0;                         // [kRows][D]
  static constexpr int kK = kQ + kRows * D;            // 2 stages of [kTile][D]
  static constexpr int kV = kK + 2 * kTile * D;        // 2 stages of [kTile][D]
  static constexpr int kP = kV + 2 * kTile * D;        // [kRows][kTile]
  static constexpr int kNew = kP + kRows * kTile;      // fused RoPE: newest K row, V row
  static constexpr int kElems = kNew + 2 * D;
  // Then float s_max[kWarps][kRows], s_sum[kWarps][kRows].
  static constexpr int kBytes =
      kElems * static_cast<int>(sizeof(T)) + 2 * kWarps * kRows * static_cast<int>(sizeof(float));
};

// kNt consecutive tiles from key k0 of KV head kvh into consecutive stages (zero-filled at and
// past `end`, `skip` left out). A thread's block-table reads for all of them are issued before
// its copies: one table round trip and one KV round trip, however many tiles.
template <typename T, int D, bool kPow2, int kNt>
__device__ __forceinline__ void LoadTilesImpl(T* s_k, T* s_v, const DecodeAttentionParams& p,
                                              const int32_t* blocks, int kvh, int k0, int end,
                                              int skip) {
  constexpr int kChunks = D / 8, kIters = kTile * kChunks / kThreads;
  const int bs = p.kv.block_size, shift = 31 - __clz(bs);
  int32_t blk[kNt][kIters];
#pragma unroll
  for (int n = 0; n < kNt; ++n) {
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int key = k0 + n * kTile + (threadIdx.x + i * kThreads) / kChunks;
      blk[n][i] = key < end ? __ldg(blocks + PageOf<kPow2>(key, bs, shift)) : 0;
    }
  }
  const T* kc = static_cast<const T*>(p.kv.k_cache);
  const T* vc = static_cast<const T*>(p.kv.v_cache);
#pragma unroll
  for (int n = 0; n < kNt; ++n) {
#pragma unroll
    for (int i = 0; i < kIters; ++i) {
      const int idx = threadIdx.x + i * kThreads;
      const int r = idx / kChunks, c = idx % kChunks, key = k0 + n * kTile + r;
      const bool valid = key < end;
      if (valid && key == skip) continue;
      const int64_t off = ((static_cast<int64_t>(blk[n][i]) * p.kv.num_kv_heads + kvh) * bs +
                           InPage<kPow2>(key, bs)) * D + c * 8;
      const int at = n * kTile * D + Swz<D>(r, c);
      CpAsync16(s_k + at, valid ? kc + off : kc, valid ? 16 : 0);
      CpAsync16(s_v + at, valid ? vc + off : vc, valid ? 16 : 0);
    }
  }
}

template <typename T, int D, int kNt = 1>
__device__ __forceinline__ void LoadTiles(T* s_k, T* s_v, const DecodeAttentionParams& p,
                                          const int32_t* blocks, int kvh, int k0, int end,
                                          int skip = -1) {
  if ((p.kv.block_size & (p.kv.block_size - 1)) == 0) {
    LoadTilesImpl<T, D, true, kNt>(s_k, s_v, p, blocks, kvh, k0, end, skip);
  } else {
    LoadTilesImpl<T, D, false, kNt>(s_k, s_v, p, blocks, kvh, k0, end, skip);
  }
}

// The first tiles of a split (one or two: the stages), from `begin`.
template <typename T, int D>
__device__ __forceinline__ void LoadFirstTiles(T* s_k, T* s_v, const DecodeAttentionParams& p,
                                               const int32_t* blocks, int kvh, int begin,
                                               int end, int num_tiles, int skip) {
  if (num_tiles > 1) {
    LoadTiles<T, D, 2>(s_k, s_v, p, blocks, kvh, begin, end, skip);
  } else if (num_tiles == 1) {
    LoadTiles<T, D, 1>(s_k, s_v, p, blocks, kvh, begin, end, skip);
  }
}

// The one key row `key` of the tile starting at k0, by the first D / 8 threads.
template <typename T, int D>
__device__ __forceinline__ void LoadKey(T* s_k, T* s_v, const DecodeAttentionParams& p,
                                        const int32_t* blocks, int kvh, int k0, int key) {
  const int c = threadIdx.x;
  if (c >= D / 8) return;
  const int64_t off = KeyRowOffset<D>(p, blocks, kvh, key) + c * 8;
  CpAsync16(s_k + Swz<D>(key - k0, c), static_cast<const T*>(p.kv.k_cache) + off, 16);
  CpAsync16(s_v + Swz<D>(key - k0, c), static_cast<const T*>(p.kv.v_cache) + off, 16);
}

// Fused RoPE: the newest key's K and V rows (kNew, written before the tile loop's first barrier)
// into row r of the stage that its tile is being loaded into (the stage is free: every warp
// passed the barrier after using it).
template <typename T, int D>
__device__ __forceinline__ void PlaceNewest(const T* s_new, T* k_stage, T* v_stage, int r) {
  const int c = threadIdx.x;
  if (c >= D / 8) return;
  *reinterpret_cast<uint4*>(k_stage + Swz<D>(r, c)) =
      *reinterpret_cast<const uint4*>(s_new + Swz<D>(0, c));
  *reinterpret_cast<uint4*>(v_stage + Swz<D>(r, c)) =
      *reinterpret_cast<const uint4*>(s_new + D + Swz<D>(0, c));
}

// Running softmax state of rows r0 = lane / 4 and r0 + 8 (the same in every warp) and this
// warp's accumulators: O[r][d] for its dimensions d = (warp * kNt + j) * 8 + 2 * (lane % 4) + e.
template <int D>
struct RowState {
  static constexpr int kNt = D / 64;  // value n-tiles (8 dimensions each) per warp
  float o[kNt][4];
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;
};

// Scores of the warp's 8 keys of one tile, masked past `end`, in the log2 domain.
template <typename T, int D>
__device__ __forceinline__ void WarpScores(const T* s_q, const T* kt, int key0, int end,
                                           float scale_log2, float s[4]) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, mi = lane >> 3, mr = lane & 7;
  s[0] = s[1] = s[2] = s[3] = 0.0f;
#pragma unroll
  for (int kk2 = 0; kk2 < D / 32; ++kk2) {  // two 16-wide k-steps per ldmatrix of K
    uint32_t b[4], a[4];
    LdMatrixX4(b, kt + Swz<D>(warp * 8 + mr, kk2 * 4 + mi));
    LdMatrixX4(a, s_q + Swz<D>((mi & 1) * 8 + mr, kk2 * 4 + (mi >> 1)));
    Mma16816<T>(s, a, b[0], b[1]);
    LdMatrixX4(a, s_q + Swz<D>((mi & 1) * 8 + mr, kk2 * 4 + 2 + (mi >> 1)));
    Mma16816<T>(s, a, b[2], b[3]);
  }
  const int key = key0 + warp * 8 + (lane & 3) * 2;
  s[0] = key < end ? s[0] * scale_log2 : -INFINITY;
  s[1] = key + 1 < end ? s[1] * scale_log2 : -INFINITY;
  s[2] = key < end ? s[2] * scale_log2 : -INFINITY;
  s[3] = key + 1 < end ? s[3] * scale_log2 : -INFINITY;
}

// O[:, warp's dimensions] += P V over the tile's 64 keys.
template <typename T, int D>
__device__ __forceinline__ void WarpValues(const T* s_p, const T* vt, RowState<D>& st) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, mi = lane >> 3, mr = lane & 7;
  if constexpr (RowState<D>::kNt == 2) {
#pragma unroll
    for (int ks = 0; ks < kTile / 16; ++ks) {
      uint32_t a[4], b[4];
      LdMatrixX4(a, s_p + Swz<kTile>((mi & 1) * 8 + mr, ks * 2 + (mi >> 1)));
      LdMatrixX4Trans(b, vt + Swz<D>(ks * 16 + (mi & 1) * 8 + mr, warp * 2 + (mi >> 1)));
      Mma16816<T>(st.o[0], a, b[0], b[1]);
      Mma16816<T>(st.o[1], a, b[2], b[3]);
    }
  } else {
#pragma unroll
    for (int ks2 = 0; ks2 < kTile / 32; ++ks2) {  // one ldmatrix of V covers two k-steps
      uint32_t a[4], b[4];
      LdMatrixX4Trans(b, vt + Swz<D>(ks2 * 32 + mi * 8 + mr, warp));
      LdMatrixX4(a, s_p + Swz<kTile>((mi & 1) * 8 + mr, ks2 * 4 + (mi >> 1)));
      Mma16816<T>(st.o[0], a, b[0], b[1]);
      LdMatrixX4(a, s_p + Swz<kTile>((mi & 1) * 8 + mr, ks2 * 4 + 2 + (mi >> 1)));
      Mma16816<T>(st.o[0], a, b[2], b[3]);
    }
  }
}

// One tile: scores, the block-wide running max and sum, P to shared memory, then the values.
// Three barriers; the caller's barrier before it says the tile has landed.
template <typename T, int D>
__device__ __forceinline__ void Tile(T* smem, float* s_max, float* s_sum, int buf, int key0,
                                     int end, float scale_log2, RowState<D>& st) {
  using L = WideSmem<T, D>;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, r0 = lane >> 2, c = lane & 3;
  const T* kt = smem + L::kK + buf * kTile * D;
  const T* vt = smem + L::kV + buf * kTile * D;
  T* s_p = smem + L::kP;
  float s[4];
  WarpScores<T, D>(smem + L::kQ, kt, key0, end, scale_log2, s);
  float mx0 = fmaxf(s[0], s[1]), mx1 = fmaxf(s[2], s[3]);
#pragma unroll
  for (int o_ = 1; o_ <= 2; o_ <<= 1) {
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, o_));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, o_));
  }
  if (c == 0) {
    s_max[warp * kRows + r0] = mx0;
    s_max[warp * kRows + r0 + 8] = mx1;
  }
  __syncthreads();
  float t0 = -INFINITY, t1 = -INFINITY;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    t0 = fmaxf(t0, s_max[w * kRows + r0]);
    t1 = fmaxf(t1, s_max[w * kRows + r0 + 8]);
  }
  // The tile holds at least one key before `end`, so the new maxima are finite.
  const float n0 = fmaxf(st.m0, t0), n1 = fmaxf(st.m1, t1);
  const float alpha0 = exp2f(st.m0 - n0), alpha1 = exp2f(st.m1 - n1);
  st.m0 = n0;
  st.m1 = n1;
  const float p0 = exp2f(s[0] - n0), p1 = exp2f(s[1] - n0);
  const float p2 = exp2f(s[2] - n1), p3 = exp2f(s[3] - n1);
  float sum0 = p0 + p1, sum1 = p2 + p3;
#pragma unroll
  for (int o_ = 1; o_ <= 2; o_ <<= 1) {
    sum0 += __shfl_xor_sync(0xffffffffu, sum0, o_);
    sum1 += __shfl_xor_sync(0xffffffffu, sum1, o_);
  }
  if (c == 0) {
    s_sum[warp * kRows + r0] = sum0;
    s_sum[warp * kRows + r0 + 8] = sum1;
  }
  *reinterpret_cast<uint32_t*>(s_p + Swz<kTile>(r0, warp) + 2 * c) = PackPair<T>(p0, p1);
  *reinterpret_cast<uint32_t*>(s_p + Swz<kTile>(r0 + 8, warp) + 2 * c) = PackPair<T>(p2, p3);
  __syncthreads();
  float ts0 = 0.0f, ts1 = 0.0f;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    ts0 += s_sum[w * kRows + r0];
    ts1 += s_sum[w * kRows + r0 + 8];
  }
  st.l0 = st.l0 * alpha0 + ts0;
  st.l1 = st.l1 * alpha1 + ts1;
#pragma unroll
  for (int j = 0; j < RowState<D>::kNt; ++j) {
    st.o[j][0] *= alpha0;
    st.o[j][1] *= alpha0;
    st.o[j][2] *= alpha1;
    st.o[j][3] *= alpha1;
  }
  WarpValues<T, D>(s_p, vt, st);
}

// End of a split: the output (one split) or this split's partials, each warp its dimensions,
// then with split_counters the row's splits merged by the last block to arrive.
template <typename T, int D>
__device__ __forceinline__ void FinishSplit(const RowState<D>& st, const DecodeAttentionParams& p,
                                            int row, int token, int kvh, int group, int split,
                                            int num_splits) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, r0 = lane >> 2, c = lane & 3;
  const int head0 = kvh * group;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int r = r0 + 8 * half;
    if (r >= group) continue;
    const float m = half ? st.m1 : st.m0, l = half ? st.l1 : st.l0;
#pragma unroll
    for (int j = 0; j < RowState<D>::kNt; ++j) {
      const int d = (warp * RowState<D>::kNt + j) * 8 + 2 * c;
      const float v0 = st.o[j][2 * half], v1 = st.o[j][2 * half + 1];
      if (num_splits == 1) {
        const int64_t out_row = static_cast<int64_t>(token) * p.num_heads + head0 + r;
        const float inv0 = l > 0.0f ? v0 / l : 0.0f, inv1 = l > 0.0f ? v1 / l : 0.0f;
        *reinterpret_cast<uint32_t*>(static_cast<T*>(p.out) + out_row * D + d) =
            PackPair<T>(inv0, inv1);
      } else {
        const int64_t part =
            (static_cast<int64_t>(row) * p.num_heads + head0 + r) * p.max_splits + split;
        *reinterpret_cast<float2*>(p.partial_out + part * D + d) = make_float2(v0, v1);
        if (warp == 0 && c == 0 && j == 0) {
          *reinterpret_cast<float2*>(p.partial_ml + part * 2) = make_float2(m, l);
        }
      }
    }
  }
  if (num_splits > 1 && p.split_counters != nullptr) {
    MergeIfLast<T>(p, row, token, head0, group, num_splits, row * p.kv.num_kv_heads + kvh);
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads, 3)
    DecodeAttentionMmaWideKernel(DecodeAttentionParams p, int group) {
  using L = WideSmem<T, D>;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* smem = reinterpret_cast<T*>(smem_raw);
  float* s_max = reinterpret_cast<float*>(smem + L::kElems);
  float* s_sum = s_max + kWarps * kRows;

  const int split = blockIdx.x, kvh = blockIdx.y, row = blockIdx.z;
  // The row's metadata loads are independent of each other and issued together (the sequence's
  // block-table start does not wait for ctx): one round trip fewer before the table reads.
  const int seq = p.row_seq ? p.row_seq[row] : row;
  const int32_t* blocks = p.kv.block_ids + p.kv.block_indptr[seq];
  const int ctx = p.row_ctx[row];
  const int token = p.row_token ? p.row_token[row] : row;
  const int num_splits = DecodeSplits(ctx, p.split_tokens, p.split_cap);
  if (split >= num_splits) return;
  const int per_split = DecodeSplitKeys(ctx, p.split_tokens, p.split_cap);
  const int begin = split * per_split, end = min(ctx, begin + per_split);
  const int num_tiles = end > begin ? (end - begin + kTile - 1) / kTile : 0;
  const int newest = ctx - 1;
  T* s_k = smem + L::kK;
  T* s_v = smem + L::kV;
  // With prefetch_kv the kernel before this one writes only each row's newest key: the first
  // two tiles, all but that key, are in flight before waiting for it (pdl.cuh). With the fused
  // RoPE (rope_qkv) this kernel writes that key itself, so the same holds.
  const bool fused = p.rope_qkv != nullptr;
  const bool early = p.prefetch_kv != 0 || fused;
  const bool has_new = newest >= begin && newest < end;
  const int t_new = has_new ? (newest - begin) / kTile : -1;  // the newest key's tile
  const int skip = early ? newest : -1;
  if (early) LoadFirstTiles<T, D>(s_k, s_v, p, blocks, kvh, begin, end, num_tiles, skip);
  WaitForPrimary();
  TriggerDependents();  // the o projection after it may start streaming its weights
  if (fused) {
    if (num_tiles > 0) {
      // The newest key goes straight into its stage when it is in tile 0 or 1, else into
      // kNew for the tile loop to place.
      const bool staged = t_new >= 0 && t_new < 2;
      const FusedRopeDst<T> dst{smem + L::kQ, staged ? s_k + t_new * kTile * D : smem + L::kNew,
                                staged ? s_v + t_new * kTile * D : smem + L::kNew + D,
                                staged ? newest - begin - t_new * kTile : 0};
      FusedRope<T, D, kThreads, kRows>(p, blocks, token, kvh, group, newest, has_new, dst,
                                       [](int r, int i) { return Swz<D>(r, i >> 3) + (i & 7); });
    }
  } else {
    const T* qg = static_cast<const T*>(p.q) +
                  (static_cast<int64_t>(token) * p.num_heads + kvh * group) * D;
    for (int idx = threadIdx.x; idx < kRows * (D / 8); idx += kThreads) {
      const int r = idx / (D / 8), c = idx % (D / 8);
      const bool valid = r < group;
      CpAsync16(smem + L::kQ + Swz<D>(r, c), valid ? qg + r * D + c * 8 : qg, valid ? 16 : 0);
    }
  }
  if (!early) {
    LoadFirstTiles<T, D>(s_k, s_v, p, blocks, kvh, begin, end, num_tiles, -1);
  } else if (!fused && t_new >= 0 && t_new < 2) {
    LoadKey<T, D>(s_k + t_new * kTile * D, s_v + t_new * kTile * D, p, blocks, kvh,
                  begin + t_new * kTile, newest);
  }
  CpAsyncCommit();  // Q and tiles 0 and 1

  RowState<D> st;
#pragma unroll
  for (int j = 0; j < RowState<D>::kNt; ++j) st.o[j][0] = st.o[j][1] = st.o[j][2] = st.o[j][3] = 0.0f;
  const float scale_log2 = p.scale * 1.4426950408889634f;
  for (int t = 0; t < num_tiles; ++t) {
    CpAsyncWait<0>();
    __syncthreads();  // tile t landed; every warp is done with tile t - 1 and its stage
    if (t >= 1 && t + 1 < num_tiles) {
      const int nb = (t + 1) & 1;
      T* k_stage = s_k + nb * kTile * D;
      T* v_stage = s_v + nb * kTile * D;
      LoadTiles<T, D>(k_stage, v_stage, p, blocks, kvh, begin + (t + 1) * kTile, end,
                      fused ? newest : -1);
      if (fused && t + 1 == t_new) {
        PlaceNewest<T, D>(smem + L::kNew, k_stage, v_stage, newest - begin - t_new * kTile);
      }
      CpAsyncCommit();
    }
    Tile<T, D>(smem, s_max, s_sum, t & 1, begin + t * kTile, end, scale_log2, st);
  }
  CpAsyncWait<0>();
  FinishSplit<T, D>(st, p, row, token, kvh, group, split, num_splits);
}

template <typename T, int D>
KernelError LaunchTyped(const DecodeAttentionParams& p, int group, cudaStream_t stream) {
  constexpr int kBytes = WideSmem<T, D>::kBytes;
  static const cudaError_t attr_err = cudaFuncSetAttribute(
      DecodeAttentionMmaWideKernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes);
  if (attr_err != cudaSuccess) return static_cast<KernelError>(attr_err);
  const dim3 grid(p.max_splits, p.kv.num_kv_heads, p.num_rows);
  return LaunchPdl(DecodeAttentionMmaWideKernel<T, D>, grid, dim3(kThreads), kBytes, stream, p,
                   group);
}

}  // namespace

KernelError LaunchDecodeAttentionWide(DataType dtype, const DecodeAttentionParams& p, int group,
                                      cudaStream_t stream) {
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    return p.head_dim == 64 ? LaunchTyped<T, 64>(p, group, stream)
                            : LaunchTyped<T, 128>(p, group, stream);
  });
}

}  // namespace corvid::kernels
