#include <grpcpp/client_context.h>

#include <thread>

#include "absl/time/clock.h"
#include "corvid/v1/tokenizer.grpc.pb.h"
#include "tools/tokenizer_service_bench/load.h"

namespace corvid::bench {
namespace {

struct Slot {
  uint64_t sequence_id;
  size_t list;  // index into id_lists
  size_t pos = 0;
};

// One stream in lockstep: write a step message, read its reply.
void RunStream(const std::shared_ptr<grpc::Channel>& channel, const std::string& model,
               const std::vector<std::vector<int32_t>>& id_lists, int stream_index, int sequences,
               absl::Time end, LoadResult* result) {
  auto stub = v1::Tokenizer::NewStub(channel);
  grpc::ClientContext context;
  auto stream = stub->DetokenizeStream(&context);
  std::vector<Slot> slots;
  uint64_t next_id = 0;
  for (int s = 0; s < sequences; ++s) {
    slots.push_back(
        {next_id++, static_cast<size_t>(stream_index * sequences + s) % id_lists.size()});
  }
  v1::DetokenizeRequest request;
  v1::DetokenizeResponse response;
  for (uint64_t batch = 0; absl::Now() < end; ++batch) {
    request.Clear();
    request.set_model(batch == 0 ? model : "");
    request.set_batch_id(batch);
    for (Slot& slot : slots) {
      const std::vector<int32_t>& ids = id_lists[slot.list];
      v1::DetokenizeStep* step = request.add_steps();
      step->set_sequence_id(slot.sequence_id);
      step->add_ids(ids[slot.pos++]);
      if (slot.pos == ids.size()) {  // finished: the slot starts a new sequence next step
        step->set_finish(true);
        slot.sequence_id = next_id++;
        slot.list = (slot.list + 1) % id_lists.size();
        slot.pos = 0;
      }
    }
    absl::Time t0 = absl::Now();
    if (!stream->Write(request) || !stream->Read(&response)) break;
    result->latencies_s.push_back(absl::ToDoubleSeconds(absl::Now() - t0));
    ++result->calls;
    result->tokens += request.steps_size();
    for (const auto& d : response.deltas()) {
      if (d.has_error() && result->errors++ == 0) result->first_error = d.error().message();
    }
  }
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  if (!status.ok() && result->errors++ == 0) result->first_error = status.error_message();
}

}  // namespace

LoadResult RunDetokenizeLoad(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                             const std::string& model,
                             const std::vector<std::vector<int32_t>>& id_lists, int streams,
                             int sequences, absl::Duration duration) {
  absl::Time start = absl::Now();
  std::vector<LoadResult> results(streams);
  std::vector<std::thread> threads;
  for (int s = 0; s < streams; ++s) {
    threads.emplace_back(RunStream, channels[s % channels.size()], model, std::cref(id_lists), s,
                         sequences, start + duration, &results[s]);
  }
  LoadResult total;
  for (int s = 0; s < streams; ++s) {
    threads[s].join();
    total.calls += results[s].calls;
    total.errors += results[s].errors;
    total.tokens += results[s].tokens;
    if (total.first_error.empty()) total.first_error = results[s].first_error;
    total.latencies_s.insert(total.latencies_s.end(), results[s].latencies_s.begin(),
                             results[s].latencies_s.end());
  }
  total.elapsed = absl::Now() - start;
  return total;
}

}  // namespace corvid::bench
