#include "services/tokenizer/detokenize_session.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/tokenizer/batch_ops.h"
#include "services/tokenizer/padded_vocab.h"
#include "services/tokenizer/utf8_text.h"

namespace corvid::tokenizer_service {
namespace {

void SetError(v1::TextDelta* delta, absl::StatusCode code, std::string message) {
  delta->set_finished(true);
  delta->mutable_error()->set_code(static_cast<int32_t>(code));
  delta->mutable_error()->set_message(std::move(message));
}

}  // namespace

DetokenizeSession::DetokenizeSession(const ModelRegistry& registry, const Limits& limits)
    : registry_(registry), limits_(limits) {}

absl::Status DetokenizeSession::SelectModel(const std::string& name) {
  if (model_ == nullptr) {
    auto model = registry_.Find(name);
    if (!model.ok()) return model.status();
    model_ = *model;
    return absl::OkStatus();
  }
  if (!name.empty() && name != model_->name) {
    return absl::InvalidArgumentError(absl::StrCat("model: this stream serves '", model_->name,
                                                   "'; open another stream for '", name, "'"));
  }
  return absl::OkStatus();
}

absl::Status DetokenizeSession::CheckSize(const v1::DetokenizeRequest& request) const {
  // Each step names a distinct live sequence, so no message needs more steps than that; the
  // bound also caps the reply's size.
  if (request.steps_size() > limits_.max_sequences_per_stream) {
    return absl::InvalidArgumentError(
        absl::StrCat("steps: ", request.steps_size(), " steps exceed the limit of ",
                     limits_.max_sequences_per_stream, " (live sequences per stream)"));
  }
  int64_t ids = 0;
  for (const v1::DetokenizeStep& step : request.steps()) {
    ids += step.ids_size() + step.prefix_ids_size();
  }
  if (ids > limits_.max_ids_per_batch) {
    return absl::InvalidArgumentError(absl::StrCat("steps: ", ids, " ids exceed the limit of ",
                                                   limits_.max_ids_per_batch, " per message"));
  }
  return absl::OkStatus();
}

StreamingDetokenizer* DetokenizeSession::SequenceFor(const v1::DetokenizeStep& step, int index,
                                                     bool admit_new, v1::TextDelta* delta) {
  auto it = sequences_.find(step.sequence_id());
  if (it != sequences_.end()) return &it->second;
  if (!admit_new) {
    SetError(delta, absl::StatusCode::kUnavailable,
             "server is draining: start new sequences on another stream");
    return nullptr;
  }
  if (live_sequences() >= limits_.max_sequences_per_stream) {
    SetError(delta, absl::StatusCode::kResourceExhausted,
             absl::StrCat("steps[", index, "]: ", limits_.max_sequences_per_stream,
                          " sequences are already live on this stream"));
    return nullptr;
  }
  absl::Status valid =
      ValidateIds(step.prefix_ids(), model_->vocab_size, "steps", index, "prefix_ids");
  if (!valid.ok()) {
    SetError(delta, valid.code(), std::string(valid.message()));
    return nullptr;
  }
  auto detok = StreamingDetokenizer::Create(*model_->tokenizer, step.skip_special_tokens());
  if (!detok.ok()) {
    SetError(delta, detok.status().code(), std::string(detok.status().message()));
    return nullptr;
  }
  // The prefix only sets the context (e.g. SentencePiece's leading space); its text is dropped.
  std::string discarded;
  const auto& prefix = step.prefix_ids();
  (void)detok->Add(WithoutPaddingIds(absl::MakeConstSpan(prefix.data(), prefix.size()),
                                     model_->piece_count, &scratch_),
                   &discarded);
  ids_consumed_ += prefix.size();
  return &sequences_.emplace(step.sequence_id(), std::move(*detok)).first->second;
}

void DetokenizeSession::ApplyStep(const v1::DetokenizeStep& step, int index, bool admit_new,
                                  v1::TextDelta* delta) {
  delta->set_sequence_id(step.sequence_id());
  StreamingDetokenizer* detok = SequenceFor(step, index, admit_new, delta);
  if (detok == nullptr) return;
  absl::Status valid = ValidateIds(step.ids(), model_->vocab_size, "steps", index, "ids");
  std::string text;
  if (valid.ok()) {
    valid = detok->Add(WithoutPaddingIds(absl::MakeConstSpan(step.ids().data(), step.ids().size()),
                                         model_->piece_count, &scratch_),
                       &text);
  }
  if (!valid.ok()) {
    sequences_.erase(step.sequence_id());
    SetError(delta, valid.code(), std::string(valid.message()));
    return;
  }
  ids_consumed_ += step.ids_size();
  if (step.finish()) {
    detok->Finish(&text);
    sequences_.erase(step.sequence_id());
    delta->set_finished(true);
  }
  MakeValidUtf8(&text);  // a no-op unless the detokenizer broke its contract
  delta->set_text(std::move(text));
}

absl::Status DetokenizeSession::Apply(const v1::DetokenizeRequest& request, bool admit_new,
                                      v1::DetokenizeResponse* reply) {
  if (absl::Status s = SelectModel(request.model()); !s.ok()) return s;
  if (absl::Status s = CheckSize(request); !s.ok()) return s;
  reply->set_batch_id(request.batch_id());
  seen_.clear();  // keeps its capacity: no allocation per message
  for (int i = 0; i < request.steps_size(); ++i) {
    const v1::DetokenizeStep& step = request.steps(i);
    v1::TextDelta* delta = reply->add_deltas();  // built in place; dropped below if empty
    if (!seen_.insert(step.sequence_id()).second) {
      sequences_.erase(step.sequence_id());
      delta->set_sequence_id(step.sequence_id());
      SetError(delta, absl::StatusCode::kInvalidArgument,
               absl::StrCat("steps[", i, "]: sequence ", step.sequence_id(),
                            " appears twice in one message"));
    } else {
      ApplyStep(step, i, admit_new, delta);
    }
    if (delta->text().empty() && !delta->finished()) reply->mutable_deltas()->RemoveLast();
  }
  return absl::OkStatus();
}

}  // namespace corvid::tokenizer_service
