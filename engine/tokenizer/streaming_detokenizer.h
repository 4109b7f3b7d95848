// Incremental detokenization of one sequence: feed ids as they are generated, get back only
// text that is final (complete UTF-8 that no later id can change). The concatenation of every
// delta plus Finish() equals Tokenizer::Decode of all the ids, by construction: Decode runs
// the same state machine in one go.
#ifndef CORVID_ENGINE_TOKENIZER_STREAMING_DETOKENIZER_H_
#define CORVID_ENGINE_TOKENIZER_STREAMING_DETOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/tokenizer/decode_rules.h"
#include "engine/tokenizer/tokenizer.h"

namespace corvid {

class StreamingDetokenizer {
 public:
  // FAILED_PRECONDITION when the tokenizer exposes no DecodeRules. `tokenizer` must outlive
  // the detokenizer. Cheap: one per sequence.
  static absl::StatusOr<StreamingDetokenizer> Create(const Tokenizer& tokenizer,
                                                     bool skip_special_tokens);
  explicit StreamingDetokenizer(const DecodeRules& rules, bool skip_special_tokens)
      : rules_(&rules), skip_special_(skip_special_tokens) {}

  // Appends the text that `ids` complete to *out (possibly nothing). INVALID_ARGUMENT naming
  // an out-of-range id; the state is then unchanged from before that id.
  absl::Status Add(absl::Span<const int32_t> ids, std::string* out);
  absl::StatusOr<std::string> Add(absl::Span<const int32_t> ids) {
    std::string out;
    absl::Status s = Add(ids, &out);
    if (!s.ok()) return s;
    return out;
  }
  // Ends the sequence: appends what was held back (incomplete UTF-8 as U+FFFD, following the
  // tokenizer's rules) and resets the state for a new sequence.
  void Finish(std::string* out);
  std::string Finish() {
    std::string out;
    Finish(&out);
    return out;
  }
  // Bytes held back waiting for more ids.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  void Step(const DecodeRules::Piece& piece, std::string* out);
  void Emit(std::string_view text, std::string* out);
  void DrainLossy(bool final, std::string* out);
  void DrainPerByte(bool final, std::string* out);
  void FlushStrictRun(std::string* out);

  const DecodeRules* rules_;
  bool skip_special_;
  std::string pending_;            // undecided bytes (stream tail or current byte run)
  bool started_ = false;           // a piece was decoded (kFirstPiece)
  bool emitted_ = false;           // some text was output
  bool sp_is_bos_ws_ = true;       // sentencepiece: still at the beginning
  bool sp_bos_ws_seen_ = false;
};

// Decode of `ids` under `rules` (what Tokenizer::Decode implementations call).
absl::StatusOr<std::string> DecodeWithRules(const DecodeRules& rules,
                                            absl::Span<const int32_t> ids,
                                            bool skip_special_tokens);

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_STREAMING_DETOKENIZER_H_
