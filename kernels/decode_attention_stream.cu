// Persistent split-KV decode attention on tensor cores (head_dim 64/128, up to 16 query heads
// per KV head): the same splits, the same per-split arithmetic and the same merge as
// decode_attention_mma.cu, but a fixed grid of resident blocks walks the (split, KV head, row)
// work items in a fixed order, streaming their 64-key tiles through a ring of kStages shared-
// memory stages. Tiles of the next items are in flight while a block computes and finishes the
// current one, so memory never waits for a block's compute, partial stores and split merge
// (with one block per split, a block's ~8 µs of loads were followed by ~6 µs of dependent
// round trips with nothing in flight, in lockstep waves: ~1.5 TB/s at batch 32).
// Which block computes an item never changes its bits: batch invariance holds.
// Measured (docs/perf.md, s3-attn): 3 stages = 2 blocks of 4 warps per SM are as fast as the
// per-split kernel at batch 32 and slower at batch 1 (the consumer warps, not memory, become the
// limit); 2 stages (3 blocks per SM, registers capped) are slower. Opt-in: CORVID_DECODE_ATTN=stream.
#include <cuda_runtime.h>

#include <cstdlib>

#include "kernels/decode_attention_tile.cuh"
#include "kernels/pdl.cuh"

namespace corvid::kernels {
namespace {

using namespace decode_tile;  // NOLINT: the kernel's own building blocks

// A stage: K and V of one 64-key tile, then the group's query rows (read when the tile is the
// first of its split). At the end of a split the stage just consumed holds the warps' states.
template <typename T, int D>
__host__ __device__ constexpr int StageBytes(int group) {
  return (2 * kTile + group) * Stride<D>() * static_cast<int>(sizeof(T));
}

// Position in a block's walk over work items w = blockIdx.x, + gridDim.x, ... (split slowest,
// so the first items are the real splits of every row, spread evenly over the blocks).
struct Cursor {
  int w = 0, tile = 0, ntiles = 0;
  int row = 0, kvh = 0, split = 0, num_splits = 1, begin = 0, end = 0, token = 0, newest = -1;
  const int32_t* blocks = nullptr;
  bool valid = false;
};

// Row metadata (context, token, first block-table entry) of a block's first kMeta items,
// gathered by all threads at once at the start: a new item then costs no global round trip.
constexpr int kMeta = kThreads;
struct Meta {
  int ctx[kMeta], token[kMeta], blocks[kMeta];
};

__device__ __forceinline__ void RowMeta(const DecodeAttentionParams& p, int row, int* ctx,
                                        int* token, int* blocks) {
  *ctx = p.row_ctx[row];
  *token = p.row_token ? p.row_token[row] : row;
  const int seq = p.row_seq ? p.row_seq[row] : row;
  *blocks = *ctx > 0 ? p.kv.block_indptr[seq] : 0;
}

__device__ __forceinline__ void GatherMeta(const DecodeAttentionParams& p, int total, Meta* m) {
  const int w = blockIdx.x + threadIdx.x * gridDim.x;
  if (threadIdx.x < kMeta && w < total) {
    const int row = (w % (p.num_rows * p.kv.num_kv_heads)) / p.kv.num_kv_heads;
    RowMeta(p, row, &m->ctx[threadIdx.x], &m->token[threadIdx.x], &m->blocks[threadIdx.x]);
  }
  __syncthreads();
}

__device__ __forceinline__ bool LoadItem(const DecodeAttentionParams& p, const Meta& m, int w,
                                         Cursor* c) {
  const int per_row = p.kv.num_kv_heads, per_split = p.num_rows * per_row;
  c->split = w / per_split;
  c->row = (w % per_split) / per_row;
  c->kvh = w % per_row;
  const int k = (w - static_cast<int>(blockIdx.x)) / static_cast<int>(gridDim.x);
  int ctx, first;
  if (k < kMeta) {
    ctx = m.ctx[k];
    c->token = m.token[k];
    first = m.blocks[k];
  } else {
    RowMeta(p, c->row, &ctx, &c->token, &first);
  }
  c->num_splits = DecodeSplits(ctx, p.split_tokens, p.split_cap);
  if (c->split >= c->num_splits) return false;
  const int len = (ctx + c->num_splits - 1) / c->num_splits;
  c->begin = c->split * len;
  c->end = min(ctx, c->begin + len);
  c->ntiles = max(1, (c->end - c->begin + kTile - 1) / kTile);  // ctx 0: one masked tile
  c->newest = ctx - 1;
  c->blocks = ctx > 0 ? p.kv.block_ids + first : nullptr;
  return true;
}

__device__ __forceinline__ void NextItem(const DecodeAttentionParams& p, const Meta& m, int total,
                                         Cursor* c) {
  c->tile = 0;
  c->valid = false;
  for (; c->w < total; c->w += gridDim.x) {
    if (LoadItem(p, m, c->w, c)) {
      c->valid = true;
      return;
    }
  }
}

__device__ __forceinline__ void Advance(const DecodeAttentionParams& p, const Meta& m, int total,
                                        Cursor* c) {
  if (++c->tile < c->ntiles) return;
  c->w += gridDim.x;
  NextItem(p, m, total, c);
}

// Query rows of the cursor's item into the stage (rows past the group are never read).
template <typename T, int D>
__device__ __forceinline__ void LoadQuery(T* s_q, const DecodeAttentionParams& p,
                                          const Cursor& c, int group) {
  const T* qg = static_cast<const T*>(p.q) +
                (static_cast<int64_t>(c.token) * p.num_heads + c.kvh * group) * D;
  for (int idx = threadIdx.x; idx < group * (D / 8); idx += kThreads) {
    const int r = idx / (D / 8), ch = idx % (D / 8);
    CpAsync16(s_q + r * Stride<D>() + ch * 8, qg + r * D + ch * 8, 16);
  }
}

// The cursor's tile into a stage; `before_wait`: the newest key and the query are left for
// FixUp (the kernel before this one writes them).
template <typename T, int D>
__device__ __forceinline__ void Issue(unsigned char* stage, const DecodeAttentionParams& p,
                                      const Cursor& c, int group, bool before_wait) {
  T* s_k = reinterpret_cast<T*>(stage);
  T* s_v = s_k + kTile * Stride<D>();
  LoadTile<T, D>(s_k, s_v, p, c.blocks, c.kvh, c.begin + c.tile * kTile, c.end,
                 before_wait ? c.newest : -1);
  if (!before_wait && c.tile == 0) LoadQuery<T, D>(s_v + kTile * Stride<D>(), p, c, group);
}

template <typename T, int D>
__device__ __forceinline__ void FixUp(unsigned char* stage, const DecodeAttentionParams& p,
                                      const Cursor& c, int group) {
  T* s_k = reinterpret_cast<T*>(stage);
  T* s_v = s_k + kTile * Stride<D>();
  const int k0 = c.begin + c.tile * kTile;
  if (c.tile == 0) LoadQuery<T, D>(s_v + kTile * Stride<D>(), p, c, group);
  if (c.newest >= k0 && c.newest < c.end && c.newest < k0 + kTile) {
    LoadKey<T, D>(s_k, s_v, p, c.blocks, c.kvh, k0, c.newest);
  }
}

// Two stages fit three blocks per SM in shared memory: registers are capped to match.
template <typename T, int D, int S>
__global__ void __launch_bounds__(kThreads, S == 2 ? 3 : 1)
    DecodeAttentionStreamKernel(DecodeAttentionParams p, int group) {
  constexpr int kS = Stride<D>();
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const int stage_bytes = StageBytes<T, D>(group);
  const int total = p.max_splits * p.num_rows * p.kv.num_kv_heads;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int mi = lane >> 3, mr = lane & 7;
  const bool early = p.prefetch_kv != 0;

  __shared__ Meta meta;
  GatherMeta(p, total, &meta);
  Cursor prod, cons;
  prod.w = blockIdx.x;
  NextItem(p, meta, total, &prod);
  cons = prod;
  // Prologue: S - 1 tiles in flight. With prefetch_kv they go out before the wait for the
  // kernel before this one (pdl.cuh), all but the newest keys and the queries, loaded after it.
  if (!early) WaitForPrimary();
  Cursor first = prod;
#pragma unroll
  for (int s = 0; s < S - 1; ++s) {
    if (prod.valid) {
      Issue<T, D>(smem_raw + s * stage_bytes, p, prod, group, early);
      Advance(p, meta, total, &prod);
    }
    CpAsyncCommit();
  }
  if (early) {
    WaitForPrimary();
#pragma unroll
    for (int s = 0; s < S - 1; ++s) {
      if (first.valid) {
        FixUp<T, D>(smem_raw + s * stage_bytes, p, first, group);
        Advance(p, meta, total, &first);
      }
    }
    CpAsyncCommit();
  }

  WarpState<D> st;
  uint32_t qf[D / 16][4];
  const float scale_log2 = p.scale * 1.4426950408889634f;
  for (int j = 0; cons.valid; ++j) {
    if (j == 0) {
      CpAsyncWait<0>();
    } else {
      CpAsyncWait<S - 2>();
    }
    __syncthreads();  // tile j landed for every thread; the stage of tile j - 1 is free
    // Tile j + S - 1: its block-table entries are read while tile j is computed.
    int32_t blk[TileIters<D>()];
    if (prod.valid) GatherBlocks<D, true>(blk, p, prod.blocks, prod.begin + prod.tile * kTile, prod.end);
    unsigned char* stage = smem_raw + (j % S) * stage_bytes;
    const T* s_k = reinterpret_cast<const T*>(stage);
    const T* s_v = s_k + kTile * kS;
    if (cons.tile == 0) {
      const T* s_q = s_v + kTile * kS;
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        const int r = (mi & 1) * 8 + mr;
        LdMatrixX4(qf[kk], s_q + (r < group ? r : 0) * kS + kk * 16 + (mi >> 1) * 8);
      }
      st = WarpState<D>();
#pragma unroll
      for (int jd = 0; jd < D / 8; ++jd) st.o[jd][0] = st.o[jd][1] = st.o[jd][2] = st.o[jd][3] = 0.0f;
    }
    const int off = warp * 16 * kS;
    WarpTile<T, D>(qf, s_k + off, s_v + off, cons.begin + cons.tile * kTile + warp * 16, cons.end,
                   scale_log2, st);
    if (prod.valid) {
      T* n_k = reinterpret_cast<T*>(smem_raw + ((j + S - 1) % S) * stage_bytes);
      CopyTile<T, D, true>(n_k, n_k + kTile * kS, blk, p, prod.kvh,
                           prod.begin + prod.tile * kTile, prod.end, -1);
      if (prod.tile == 0) LoadQuery<T, D>(n_k + 2 * kTile * kS, p, prod, group);
      Advance(p, meta, total, &prod);
    }
    CpAsyncCommit();
    if (cons.tile + 1 == cons.ntiles) {
      __syncthreads();  // every warp is done with the stage: it holds the states now
      FinishSplit<T, D>(st, reinterpret_cast<float*>(stage), p, cons.row, cons.token, cons.kvh,
                        group, cons.split, cons.num_splits);
    }
    Advance(p, meta, total, &cons);
  }
  CpAsyncWait<0>();
}

int StagesFromEnv() {
  static const int stages = [] {
    const char* env = std::getenv("CORVID_DECODE_STAGES");
    const int s = env != nullptr ? std::atoi(env) : 3;
    return s == 2 || s == 4 ? s : 3;
  }();
  return stages;
}

template <typename T, int D, int S>
KernelError LaunchStages(const DecodeAttentionParams& p, int group, cudaStream_t stream) {
  const int bytes = S * StageBytes<T, D>(group);
  static_assert(kWarps * kRows * D * 4 <= StageBytes<T, D>(1), "states fit in a stage");
  // Resident blocks per SM for each group size (smem differs), computed once.
  static int resident[kRows + 1] = {};
  static int sms = 0;
  if (resident[group] == 0) {
    cudaError_t err = cudaFuncSetAttribute(DecodeAttentionStreamKernel<T, D, S>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           S * StageBytes<T, D>(kRows));
    int device = 0, n = 0;
    if (err == cudaSuccess) err = cudaGetDevice(&device);
    if (err == cudaSuccess) err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    if (err == cudaSuccess) {
      err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(
          &n, DecodeAttentionStreamKernel<T, D, S>, kThreads, bytes);
    }
    if (err != cudaSuccess) return static_cast<KernelError>(err);
    resident[group] = n > 0 ? n : 1;
  }
  const int64_t items = static_cast<int64_t>(p.max_splits) * p.num_rows * p.kv.num_kv_heads;
  const int64_t blocks = std::min<int64_t>(items, int64_t{resident[group]} * sms);
  return LaunchPdl(DecodeAttentionStreamKernel<T, D, S>, dim3(static_cast<unsigned>(blocks)),
                   dim3(kThreads), bytes, stream, p, group);
}

template <typename T, int D>
KernelError LaunchTyped(const DecodeAttentionParams& p, int group, cudaStream_t stream) {
  switch (StagesFromEnv()) {
    case 2: return LaunchStages<T, D, 2>(p, group, stream);
    case 4: return LaunchStages<T, D, 4>(p, group, stream);
    default: return LaunchStages<T, D, 3>(p, group, stream);
  }
}

}  // namespace

KernelError LaunchDecodeAttentionStream(DataType dtype, const DecodeAttentionParams& p, int group,
                                        cudaStream_t stream) {
  if (p.num_rows == 0) return kKernelOk;
  if ((p.kv.block_size & (p.kv.block_size - 1)) != 0) {  // its tile loads use shifts
    return LaunchDecodeAttentionMma(dtype, p, group, stream);
  }
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    return p.head_dim == 64 ? LaunchTyped<T, 64>(p, group, stream)
                            : LaunchTyped<T, 128>(p, group, stream);
  });
}

}  // namespace corvid::kernels
