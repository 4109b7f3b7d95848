// A deterministic stand-in for a model, for engine tests. It keeps a paged "KV cache" of token
// ids tagged with (sequence, position), writes every query token where the block table says,
// and samples next = NextFakeToken(history) where the history is read back from its own cache.
// So any planning bug that feeds wrong tokens, positions or block tables, or lets a block be
// reused while still owned, changes the tokens or fails Execute. With prefix caching a sequence
// may read slots another one wrote (same position, and the tokens must match its history), but
// no step may write a slot that a sequence of the same batch reads as cached context.
#ifndef CORVID_TESTS_ENGINE_FAKE_BACKEND_H_
#define CORVID_TESTS_ENGINE_FAKE_BACKEND_H_

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/backend.h"
#include "engine/status_macros.h"

namespace corvid::fake {

// FNV-1a over the whole history, folded into the vocabulary.
inline int32_t NextFakeToken(const std::vector<int32_t>& history, int vocab) {
  uint64_t h = 1469598103934665603ull;
  for (int32_t t : history) {
    h ^= static_cast<uint32_t>(t);
    h *= 1099511628211ull;
  }
  h ^= h >> 29;
  return static_cast<int32_t>(h % static_cast<uint64_t>(vocab));
}

inline ModelConfig FakeConfig(int vocab = 64, int max_positions = 256) {
  ModelConfig config;
  config.architecture = "FakeForCausalLM";
  config.model_type = "llama";
  config.vocab_size = vocab;
  config.max_position_embeddings = max_positions;
  config.eos_token_ids = {2};
  return config;
}

class FakeBackend : public Backend {
 public:
  struct SeqRecord {
    int64_t seq_id;
    int num_query_tokens;
    int context_len;
    bool sample;
    uint64_t seed;
  };
  struct StepRecord {
    int num_tokens = 0;
    std::vector<SeqRecord> seqs;
  };

  FakeBackend(ModelConfig config, KvCacheGeometry geometry)
      : config_(std::move(config)), geometry_(geometry),
        slots_(static_cast<size_t>(geometry.num_blocks) * geometry.block_size) {}

  std::string Name() const override { return "fake"; }
  const ModelConfig& config() const override { return config_; }
  KvCacheGeometry kv_geometry() const override { return geometry_; }

  // The next `n` Execute calls fail with UNAVAILABLE before touching anything.
  void FailNext(int n) { fail_next_ = n; }
  const std::vector<StepRecord>& steps() const { return steps_; }
  // Reading slots written by another sequence is an error unless allowed (prefix caching).
  void AllowSharedReads(bool allow) { allow_shared_ = allow; }
  // Context positions read from slots another sequence wrote.
  int64_t shared_reads() const { return shared_reads_; }

  absl::Status Execute(const StepBatch& batch, StepResult* result) override {
    if (fail_next_ > 0) {
      --fail_next_;
      return absl::UnavailableError("fake: injected failure");
    }
    if (batch.token_ids.size() != batch.positions.size() ||
        batch.block_indptr.size() != batch.seqs.size() + 1 || batch.block_indptr[0] != 0) {
      return absl::InternalError("fake: inconsistent batch shapes");
    }
    StepRecord record;
    record.num_tokens = static_cast<int>(batch.token_ids.size());
    result->tokens.clear();
    RETURN_IF_ERROR(CheckNoWriteIntoContext(batch));
    size_t q = 0;
    for (size_t i = 0; i < batch.seqs.size(); ++i) {
      const StepSequence& s = batch.seqs[i];
      const int32_t* table = batch.block_ids.data() + batch.block_indptr[i];
      const int num_blocks = batch.block_indptr[i + 1] - batch.block_indptr[i];
      if (num_blocks != (s.context_len + geometry_.block_size - 1) / geometry_.block_size) {
        return absl::InternalError(absl::StrCat("fake: seq ", s.seq_id, " exports ", num_blocks,
                                                " blocks for ", s.context_len, " tokens"));
      }
      for (int b = 0; b < num_blocks; ++b) {
        if (table[b] < 0 || table[b] >= geometry_.num_blocks) {
          return absl::InternalError(absl::StrCat("fake: block id ", table[b], " out of range"));
        }
      }
      for (int t = 0; t < s.num_query_tokens; ++t, ++q) {
        const int pos = s.context_len - s.num_query_tokens + t;
        if (q >= batch.positions.size() || batch.positions[q] != pos) {
          return absl::InternalError(absl::StrCat("fake: seq ", s.seq_id, " bad position"));
        }
        slots_[Slot(table, pos)] = Cell{s.seq_id, pos, batch.token_ids[q]};
      }
      record.seqs.push_back(SeqRecord{s.seq_id, s.num_query_tokens, s.context_len, s.sample,
                                      s.sampling != nullptr ? s.sampling->seed : 0});
      if (!s.sample) continue;
      std::vector<int32_t> history;
      for (int pos = 0; pos < s.context_len; ++pos) {
        const Cell& cell = slots_[Slot(table, pos)];
        if (cell.seq_id != s.seq_id && cell.pos == pos) ++shared_reads_;
        if ((cell.seq_id != s.seq_id && !allow_shared_) || cell.pos != pos) {
          return absl::InternalError(absl::StrCat("fake: seq ", s.seq_id, " position ", pos,
                                                  " reads a slot written by seq ", cell.seq_id,
                                                  " at ", cell.pos));
        }
        history.push_back(cell.token);
      }
      // The penalty inputs must describe the same history.
      std::vector<int32_t> told = *s.prompt;
      told.insert(told.end(), s.output->begin(), s.output->end());
      if (told != history) {
        return absl::InternalError(absl::StrCat("fake: seq ", s.seq_id,
                                                " prompt+output disagree with its KV"));
      }
      SampledToken token;
      token.token = NextFakeToken(history, config_.vocab_size);
      result->tokens.push_back(token);
    }
    if (q != batch.token_ids.size()) return absl::InternalError("fake: stray query tokens");
    steps_.push_back(std::move(record));
    return absl::OkStatus();
  }

 private:
  struct Cell {
    int64_t seq_id = -1;
    int pos = -1;
    int32_t token = -1;
  };
  absl::Status CheckNoWriteIntoContext(const StepBatch& batch) const {
    std::set<size_t> context;
    for (size_t i = 0; i < batch.seqs.size(); ++i) {
      const int32_t* table = batch.block_ids.data() + batch.block_indptr[i];
      const StepSequence& s = batch.seqs[i];
      for (int pos = 0; pos < s.context_len - s.num_query_tokens; ++pos) {
        context.insert(Slot(table, pos));
      }
    }
    for (size_t i = 0; i < batch.seqs.size(); ++i) {
      const int32_t* table = batch.block_ids.data() + batch.block_indptr[i];
      const StepSequence& s = batch.seqs[i];
      for (int pos = s.context_len - s.num_query_tokens; pos < s.context_len; ++pos) {
        if (context.count(Slot(table, pos)) > 0) {
          return absl::InternalError(absl::StrCat("fake: seq ", s.seq_id, " writes position ",
                                                  pos, " into a slot the batch reads as context"));
        }
      }
    }
    return absl::OkStatus();
  }
  size_t Slot(const int32_t* table, int pos) const {
    return static_cast<size_t>(table[pos / geometry_.block_size]) * geometry_.block_size +
           pos % geometry_.block_size;
  }

  ModelConfig config_;
  KvCacheGeometry geometry_;
  std::vector<Cell> slots_;
  std::vector<StepRecord> steps_;
  int fail_next_ = 0;
  bool allow_shared_ = true;
  int64_t shared_reads_ = 0;
};

// The tokens a request must produce: the same rule, applied directly.
inline std::vector<int32_t> FakeReference(const std::vector<int32_t>& prompt, int max_tokens,
                                          int vocab, const std::vector<int32_t>& stop_ids) {
  std::vector<int32_t> history = prompt;
  std::vector<int32_t> out;
  while (static_cast<int>(out.size()) < max_tokens) {
    const int32_t t = NextFakeToken(history, vocab);
    out.push_back(t);
    history.push_back(t);
    bool stop = false;
    for (int32_t s : stop_ids) stop |= s == t;
    if (stop) break;
  }
  return out;
}

}  // namespace corvid::fake

#endif  // CORVID_TESTS_ENGINE_FAKE_BACKEND_H_
