// The per-stream state of DetokenizeStream: one incremental detokenizer per live sequence, and
// the rules for applying one request message to them. No gRPC here (the reactor owns I/O).
#ifndef CORVID_SERVICES_TOKENIZER_DETOKENIZE_SESSION_H_
#define CORVID_SERVICES_TOKENIZER_DETOKENIZE_SESSION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "corvid/v1/tokenizer.pb.h"
#include "engine/tokenizer/streaming_detokenizer.h"
#include "services/tokenizer/limits.h"
#include "services/tokenizer/model_registry.h"

namespace corvid::tokenizer_service {

class DetokenizeSession {
 public:
  // `registry` must outlive the session.
  DetokenizeSession(const ModelRegistry& registry, const Limits& limits);

  // Applies one request message and fills `reply` (batch_id echoed, one delta per step that
  // gained text, finished or failed). Returns a stream-level error, after which the stream
  // ends: NOT_FOUND for an unknown model, INVALID_ARGUMENT for a model change or too many ids in
  // one message. Ids of the vocabulary's padding (see padded_vocab.h) add no text. Problems of
  // one step (an id out of range, a sequence id twice in a message, too many live sequences, or
  // a new sequence while !admit_new) are item errors in its delta: that sequence is dropped, the
  // others go on.
  absl::Status Apply(const v1::DetokenizeRequest& request, bool admit_new,
                     v1::DetokenizeResponse* reply);

  int64_t live_sequences() const { return static_cast<int64_t>(sequences_.size()); }
  // Ids consumed so far (prefix ids included).
  int64_t ids_consumed() const { return ids_consumed_; }

 private:
  absl::Status SelectModel(const std::string& name);
  absl::Status CheckSize(const v1::DetokenizeRequest& request) const;
  // Finds or starts the sequence of `step`; an item error in `delta` (and null) when it cannot.
  StreamingDetokenizer* SequenceFor(const v1::DetokenizeStep& step, int index, bool admit_new,
                                    v1::TextDelta* delta);
  void ApplyStep(const v1::DetokenizeStep& step, int index, bool admit_new, v1::TextDelta* delta);

  const ModelRegistry& registry_;
  const Limits limits_;
  const LoadedModel* model_ = nullptr;
  absl::flat_hash_map<uint64_t, StreamingDetokenizer> sequences_;
  absl::flat_hash_set<uint64_t> seen_;  // sequence ids of the message being applied
  std::vector<int32_t> scratch_;        // a step's ids less the vocabulary's padding
  int64_t ids_consumed_ = 0;
};

}  // namespace corvid::tokenizer_service

#endif  // CORVID_SERVICES_TOKENIZER_DETOKENIZE_SESSION_H_
