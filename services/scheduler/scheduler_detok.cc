// SchedulerCore: text deltas through the tokenizer tier's DetokenizeStream. One stream per
// tokenizer replica; each request is pinned to one stream, and each stream carries one message
// per worker step for all its requests (at most detok_max_in_flight unanswered; steps that
// arrive meanwhile merge into the next message). When a stream dies, its requests are replayed
// on another: all their ids again, with the text already accepted skipped (the stream's deltas
// concatenate to Decode(all ids), so the replay's first bytes are exactly those).
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/logging.h"
#include "services/scheduler/scheduler_core.h"
#include "services/scheduler/scheduler_core_internal.h"

namespace corvid::scheduler {

void SchedulerCore::ConnectDetok(absl::Time now) {
  bool opened = false;
  for (auto& slot_ptr : detok_) {
    DetokSlot& slot = *slot_ptr;
    if (slot.up || now < slot.retry_at) continue;
    const int index = slot.replica;
    const uint64_t epoch = ++slot.epoch;
    DetokStreamCallbacks cb;
    cb.on_response = [this, index, epoch](v1::DetokenizeResponse response) {
      auto shared = std::make_shared<v1::DetokenizeResponse>(std::move(response));
      Post([this, index, epoch, shared] { OnDetokResponse(index, epoch, std::move(*shared)); });
    };
    cb.on_down = [this, index, epoch](absl::Status s) {
      Post([this, index, epoch, s] { OnDetokDown(index, epoch, s); });
    };
    slot.stream = DetokStream::Open(tokenizers_->stub(index), std::move(cb));
    slot.up = true;
    slot.next_batch = 1;
    opened = true;
  }
  if (!opened || parked_.empty()) return;
  std::set<uint64_t> parked;
  parked.swap(parked_);
  for (uint64_t id : parked) {
    auto it = requests_.find(id);
    if (it != requests_.end()) ParkOrReplay(*it->second);
  }
  for (auto& slot : detok_) FlushDetok(slot->replica);
}

int SchedulerCore::PickDetokSlot() {
  int best = -1;
  for (auto& slot : detok_) {
    if (!slot->up || tokenizers_->IsDown(slot->replica)) continue;
    if (best < 0 || slot->sequences.size() < detok_[best]->sequences.size()) best = slot->replica;
  }
  if (best >= 0) return best;
  for (auto& slot : detok_) {  // every replica looks down: any open stream will do
    if (slot->up) return slot->replica;
  }
  return -1;
}

void SchedulerCore::QueueDetok(Request& r, int count, bool finish) {
  if (r.detok_slot < 0) {
    if (parked_.count(r.id) > 0) return;  // its replay will carry these ids too
    return ParkOrReplay(r);  // the first tokens: pick a stream and send everything so far
  }
  DetokSlot& slot = *detok_[r.detok_slot];
  auto [it, inserted] = slot.pending_index.try_emplace(r.id, slot.pending.size());
  if (inserted) {
    slot.pending.emplace_back();
    slot.pending.back().id = r.id;
  }
  DetokPart& part = slot.pending[it->second];
  part.ids.insert(part.ids.end(), r.generated.end() - count, r.generated.end());
  part.deliver += count;
  part.finish = part.finish || finish;
  if (finish) r.detok_open = false;  // the stream forgets it once this part is sent
}

void SchedulerCore::ParkOrReplay(Request& r) {
  if (r.client_done) return;
  const int s = PickDetokSlot();
  if (s < 0) {
    r.detok_slot = -1;
    r.detok_open = false;
    if (r.parked_at == absl::InfinitePast()) r.parked_at = absl::Now();
    parked_.insert(r.id);
    return;
  }
  r.parked_at = absl::InfinitePast();
  DetokSlot& slot = *detok_[s];
  r.detok_slot = s;
  r.detok_open = !r.worker_finished;
  r.skip_bytes = r.text_bytes;  // a replay repeats the text accepted so far: drop it
  r.text_bytes = 0;
  slot.sequences.insert(r.id);
  DetokPart part;
  part.id = r.id;
  part.ids = r.generated;
  part.start = true;
  const size_t tail = std::min<size_t>(r.prompt.size(), options_.detok_prefix_tokens);
  part.prefix.assign(r.prompt.end() - tail, r.prompt.end());
  part.deliver = static_cast<int>(r.generated.size()) - r.delivered;
  part.finish = r.worker_finished;
  slot.pending_index[r.id] = slot.pending.size();
  slot.pending.push_back(std::move(part));
}

void SchedulerCore::CloseDetok(Request& r) {
  parked_.erase(r.id);
  if (r.detok_slot < 0) return;
  DetokSlot& slot = *detok_[r.detok_slot];
  if (r.detok_open && slot.up) {
    auto [it, inserted] = slot.pending_index.try_emplace(r.id, slot.pending.size());
    if (inserted) {
      slot.pending.emplace_back();
      slot.pending.back().id = r.id;
    }
    slot.pending[it->second].close = true;
    FlushDetok(r.detok_slot);
  }
  r.detok_open = false;
}

void SchedulerCore::FlushDetok(int index) {
  DetokSlot& slot = *detok_[index];
  if (!slot.up || slot.pending.empty()) return;
  if (static_cast<int>(slot.in_flight.size()) >= options_.detok_max_in_flight) return;
  v1::DetokenizeRequest request;
  request.set_model(tokenizers_->options().model);
  const uint64_t batch = slot.next_batch++;
  request.set_batch_id(batch);
  for (const DetokPart& part : slot.pending) {
    v1::DetokenizeStep* step = request.add_steps();
    step->set_sequence_id(part.id);
    step->mutable_ids()->Add(part.ids.begin(), part.ids.end());
    step->set_finish(part.finish || part.close);
    if (part.start) {
      step->set_skip_special_tokens(true);
      step->mutable_prefix_ids()->Add(part.prefix.begin(), part.prefix.end());
    }
  }
  slot.in_flight.emplace_back(batch, std::move(slot.pending));
  slot.pending.clear();
  slot.pending_index.clear();
  slot.stream->Send(std::move(request));
}

void SchedulerCore::OnDetokResponse(int index, uint64_t epoch, v1::DetokenizeResponse response) {
  DetokSlot& slot = *detok_[index];
  if (!slot.up || epoch != slot.epoch) return;
  if (slot.in_flight.empty() || slot.in_flight.front().first != response.batch_id()) {
    service::LogError("detokenize stream out of step; reopening",
                      {{"tokenizer", tokenizers_->address(index)}});
    slot.stream->Cancel();
    return;
  }
  tokenizers_->MarkUp(slot.replica);
  slot.answered = true;
  std::vector<DetokPart> parts = std::move(slot.in_flight.front().second);
  slot.in_flight.pop_front();
  std::map<uint64_t, const v1::TextDelta*> deltas;
  for (const v1::TextDelta& d : response.deltas()) deltas[d.sequence_id()] = &d;
  for (const DetokPart& part : parts) {
    auto it = requests_.find(part.id);
    if (it == requests_.end()) continue;
    Request& r = *it->second;
    if (r.detok_slot != index) continue;  // replayed elsewhere meanwhile
    auto d = deltas.find(part.id);
    if (d != deltas.end() && d->second->has_error()) {
      r.detok_open = false;
      FinishError(r, absl::InternalError(absl::StrCat("detokenizer: ",
                                                      d->second->error().message())));
      continue;
    }
    if (part.close) {
      MaybeErase(r.id);
      continue;
    }
    Deliver(r, part.deliver, d == deltas.end() ? std::string() : d->second->text(), part.finish);
    if (part.finish) MaybeErase(r.id);
  }
  FlushDetok(index);
}

void SchedulerCore::OnDetokDown(int index, uint64_t epoch, const absl::Status& status) {
  DetokSlot& slot = *detok_[index];
  if (epoch != slot.epoch || !slot.up) return;
  slot.up = false;
  slot.stream.reset();
  slot.retry_at = absl::Now() + slot.backoff;
  slot.backoff = std::min(slot.backoff * 2, options_.reconnect_max);
  slot.in_flight.clear();
  slot.pending.clear();
  slot.pending_index.clear();
  tokenizers_->MarkDown(slot.replica);
  std::set<uint64_t> ids;
  ids.swap(slot.sequences);
  // Reconnection attempts to a replica that stays down are routine: keep them out of warnings.
  service::Log(slot.answered || !ids.empty() ? service::LogLevel::kWarning
                                             : service::LogLevel::kDebug,
               "detokenize stream down",
               {{"tokenizer", tokenizers_->address(index)},
                {"error", std::string(status.message())},
                {"requests", static_cast<int64_t>(ids.size())}});
  slot.answered = false;
  for (uint64_t id : ids) {
    auto it = requests_.find(id);
    if (it == requests_.end()) continue;
    Request& r = *it->second;
    r.detok_slot = -1;
    r.detok_open = false;
    if (r.client_done) {
      MaybeErase(id);
    } else {
      ParkOrReplay(r);
    }
  }
  for (auto& s : detok_) FlushDetok(s->replica);
}

void SchedulerCore::ExpireParked(absl::Time now) {
  std::vector<uint64_t> expired;
  for (uint64_t id : parked_) {
    auto it = requests_.find(id);
    if (it == requests_.end() || now - it->second->parked_at >= options_.detok_park_timeout) {
      expired.push_back(id);
    }
  }
  for (uint64_t id : expired) {
    parked_.erase(id);
    auto it = requests_.find(id);
    if (it == requests_.end()) continue;
    FinishError(*it->second, absl::UnavailableError("no tokenizer available to detokenize"));
  }
}

}  // namespace corvid::scheduler
