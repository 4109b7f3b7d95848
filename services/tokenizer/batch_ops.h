// The unary operations of corvid.v1.Tokenizer as plain functions of (model, limits, request):
// no gRPC here, so they are tested directly and run on any thread.
#ifndef CORVID_SERVICES_TOKENIZER_BATCH_OPS_H_
#define CORVID_SERVICES_TOKENIZER_BATCH_OPS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "corvid/v1/tokenizer.pb.h"
#include "services/tokenizer/limits.h"
#include "services/tokenizer/model_registry.h"

namespace corvid::tokenizer_service {

// Each fills `response` (including its `model` field) or returns the error the client sees:
// INVALID_ARGUMENT naming the field and index (texts[i], sequences[i].ids[j]) for a limit, bad
// UTF-8 or an id out of range.
absl::Status RunEncode(const LoadedModel& model, const Limits& limits,
                       const v1::EncodeRequest& request, v1::EncodeResponse* response);
absl::Status RunDecode(const LoadedModel& model, const Limits& limits,
                       const v1::DecodeRequest& request, v1::DecodeResponse* response);
absl::Status RunCountTokens(const LoadedModel& model, const Limits& limits,
                            const v1::CountTokensRequest& request,
                            v1::CountTokensResponse* response);
void FillInfo(const LoadedModel& model, const std::vector<std::string>& served_models,
              const Limits& limits, v1::GetInfoResponse* response);

// Checks a batch of texts against the limits and UTF-8 validity.
absl::Status ValidateTexts(const google::protobuf::RepeatedPtrField<std::string>& texts,
                           const Limits& limits);
// INVALID_ARGUMENT "<outer>[<outer_index>].<inner>[j] = <id> is out of range [0, vocab)" for the
// first bad id (the message is only formatted on failure: this runs for every decode step).
absl::Status ValidateIds(const google::protobuf::RepeatedField<int32_t>& ids, int vocab_size,
                         const char* outer, int outer_index, const char* inner);

}  // namespace corvid::tokenizer_service

#endif  // CORVID_SERVICES_TOKENIZER_BATCH_OPS_H_
