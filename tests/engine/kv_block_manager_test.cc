#include "engine/kv_block_manager.h"

#include <map>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace corvid {
namespace {

TEST(KvBlockManagerTest, AllocateReservesCeilBlocks) {
  KvBlockManager m(/*num_blocks=*/8, /*block_size=*/4);
  EXPECT_EQ(m.BlocksFor(0), 0);
  EXPECT_EQ(m.BlocksFor(1), 1);
  EXPECT_EQ(m.BlocksFor(4), 1);
  EXPECT_EQ(m.BlocksFor(5), 2);
  ASSERT_TRUE(m.CanAllocate(9));
  ASSERT_TRUE(m.Allocate(7, 9).ok());
  EXPECT_EQ(m.BlockTable(7).size(), 3u);
  EXPECT_EQ(m.NumTokens(7), 9);
  EXPECT_EQ(m.num_free_blocks(), 5);
  EXPECT_TRUE(m.CheckInvariants().ok());
}

TEST(KvBlockManagerTest, AllocateRefusesWhatDoesNotFitAndDuplicates) {
  KvBlockManager m(4, 4);
  EXPECT_TRUE(m.CanAllocate(16));
  EXPECT_FALSE(m.CanAllocate(17));
  EXPECT_EQ(m.Allocate(1, 17).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(m.Has(1));
  EXPECT_EQ(m.num_free_blocks(), 4);
  ASSERT_TRUE(m.Allocate(1, 3).ok());
  EXPECT_EQ(m.Allocate(1, 3).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(m.CheckInvariants().ok());
}

TEST(KvBlockManagerTest, AppendTakesABlockOnlyWhenTheLastIsFull) {
  KvBlockManager m(3, 4);
  ASSERT_TRUE(m.Allocate(1, 3).ok());  // 3 of 4 slots of block 0
  EXPECT_EQ(m.num_free_blocks(), 2);
  ASSERT_TRUE(m.Append(1).ok());  // slot 3: still one block
  EXPECT_EQ(m.BlockTable(1).size(), 1u);
  EXPECT_EQ(m.num_free_blocks(), 2);
  ASSERT_TRUE(m.Append(1).ok());  // slot 4 opens block 1
  EXPECT_EQ(m.BlockTable(1).size(), 2u);
  EXPECT_EQ(m.num_free_blocks(), 1);
  ASSERT_TRUE(m.Append(1, 4).ok());  // slots 5..8: block 2
  EXPECT_EQ(m.NumTokens(1), 9);
  EXPECT_EQ(m.num_free_blocks(), 0);
  EXPECT_TRUE(m.CanAppend(1, 3));   // slots 9..11 fit in block 2
  EXPECT_FALSE(m.CanAppend(1, 4));  // slot 12 would need a fourth block
  EXPECT_EQ(m.Append(1, 4).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(m.NumTokens(1), 9);
  EXPECT_FALSE(m.CanAppend(99));
  EXPECT_EQ(m.Append(99).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(m.CheckInvariants().ok());
}

TEST(KvBlockManagerTest, FreeReturnsEveryBlockAndIgnoresUnknownIds) {
  KvBlockManager m(6, 2);
  ASSERT_TRUE(m.Allocate(1, 5).ok());
  ASSERT_TRUE(m.Allocate(2, 2).ok());
  const std::vector<int32_t> first = m.BlockTable(1);
  EXPECT_EQ(m.num_free_blocks(), 2);
  m.Free(1);
  EXPECT_FALSE(m.Has(1));
  EXPECT_EQ(m.num_free_blocks(), 5);
  m.Free(1);
  m.Free(42);
  EXPECT_EQ(m.num_free_blocks(), 5);
  // Freed blocks are reused, and never the ones sequence 2 still owns.
  ASSERT_TRUE(m.Allocate(3, 10).ok());
  std::set<int32_t> third(m.BlockTable(3).begin(), m.BlockTable(3).end());
  for (int32_t b : first) EXPECT_TRUE(third.count(b)) << b;
  for (int32_t b : m.BlockTable(2)) EXPECT_FALSE(third.count(b)) << b;
  EXPECT_TRUE(m.CheckInvariants().ok());
}

TEST(KvBlockManagerTest, CsrExportCoversOnlyTheContext) {
  KvBlockManager m(8, 4);
  ASSERT_TRUE(m.Allocate(1, 10).ok());  // 3 blocks
  ASSERT_TRUE(m.Allocate(2, 4).ok());   // 1 block
  std::vector<int32_t> indptr = {0};
  std::vector<int32_t> indices;
  ASSERT_TRUE(m.AppendToCsr(1, 5, &indptr, &indices).ok());  // 2 blocks cover 5 tokens
  ASSERT_TRUE(m.AppendToCsr(2, 4, &indptr, &indices).ok());
  EXPECT_EQ(indptr, (std::vector<int32_t>{0, 2, 3}));
  ASSERT_EQ(indices.size(), 3u);
  EXPECT_EQ(indices[0], m.BlockTable(1)[0]);
  EXPECT_EQ(indices[1], m.BlockTable(1)[1]);
  EXPECT_EQ(indices[2], m.BlockTable(2)[0]);
  EXPECT_EQ(m.AppendToCsr(1, 11, &indptr, &indices).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.AppendToCsr(9, 1, &indptr, &indices).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(m.LastPageLen(0), 0);
  EXPECT_EQ(m.LastPageLen(1), 1);
  EXPECT_EQ(m.LastPageLen(4), 4);
  EXPECT_EQ(m.LastPageLen(5), 1);
}

TEST(KvBlockManagerTest, ZeroBlockCacheHoldsOnlyEmptySequences) {
  KvBlockManager empty(0, 16);
  EXPECT_TRUE(empty.CheckInvariants().ok());
  EXPECT_FALSE(empty.CanAllocate(1));
  EXPECT_TRUE(empty.CanAllocate(0));
}

// Random allocate / append / free against a simple model of who owns how many tokens; after
// every operation the blocks are disjoint across sequences and the accounting adds up.
TEST(KvBlockManagerTest, RandomOperationsKeepAccountingExact) {
  constexpr int kBlocks = 32;
  constexpr int kBlockSize = 4;
  KvBlockManager m(kBlocks, kBlockSize);
  std::map<int64_t, int> model;  // seq -> tokens
  std::mt19937 rng(1234);
  int64_t next_id = 0;
  for (int op = 0; op < 4000; ++op) {
    const int kind = rng() % 3;
    if (kind == 0 || model.empty()) {
      const int tokens = rng() % 20;
      const bool fits = m.BlocksFor(tokens) <= m.num_free_blocks();
      ASSERT_EQ(m.CanAllocate(tokens), fits);
      if (fits) {
        ASSERT_TRUE(m.Allocate(next_id, tokens).ok());
        model[next_id++] = tokens;
      }
    } else {
      auto it = std::next(model.begin(), rng() % model.size());
      if (kind == 1) {
        const int n = 1 + rng() % 5;
        const int extra = m.BlocksFor(it->second + n) - m.BlocksFor(it->second);
        ASSERT_EQ(m.CanAppend(it->first, n), extra <= m.num_free_blocks());
        if (extra <= m.num_free_blocks()) {
          ASSERT_TRUE(m.Append(it->first, n).ok());
          it->second += n;
        }
      } else {
        m.Free(it->first);
        model.erase(it);
      }
    }
    ASSERT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
    int used = 0;
    std::set<int32_t> seen;
    for (const auto& [id, tokens] : model) {
      ASSERT_EQ(m.NumTokens(id), tokens);
      used += m.BlocksFor(tokens);
      for (int32_t b : m.BlockTable(id)) ASSERT_TRUE(seen.insert(b).second) << "shared " << b;
    }
    ASSERT_EQ(m.num_free_blocks(), kBlocks - used);
  }
}

}  // namespace
}  // namespace corvid
