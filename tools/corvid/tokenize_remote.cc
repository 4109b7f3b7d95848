#include "tools/corvid/tokenize_remote.h"

#include <cstdio>

#ifndef CORVID_HAVE_GRPC

namespace corvid::cli {
int RunRemoteTokenize(const RemoteTokenizeOptions&) {
  std::fprintf(stderr, "corvid tokenize: this build has no gRPC client (services disabled)\n");
  return 2;
}
}  // namespace corvid::cli

#else  // CORVID_HAVE_GRPC

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "corvid/v1/tokenizer.grpc.pb.h"

namespace corvid::cli {
namespace {

constexpr int kBatchLines = 256;

// The input line a server error is about: its message names "texts[i]" or "sequences[i]".
int ErrorLine(const std::string& message, int first_line) {
  for (const char* field : {"texts[", "sequences["}) {
    size_t at = message.find(field);
    if (at != std::string::npos) {
      return first_line + std::atoi(message.c_str() + at + std::strlen(field));
    }
  }
  return first_line;
}

class RemoteSession {
 public:
  explicit RemoteSession(const RemoteTokenizeOptions& o)
      : options_(o),
        stub_(v1::Tokenizer::NewStub(
            grpc::CreateChannel(o.server, grpc::InsecureChannelCredentials()))) {}

  // Sends `lines` (input lines first_line.. ) and prints the results; false after an error.
  bool Flush(const std::vector<std::string>& lines, int first_line) {
    if (lines.empty()) return true;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_s * 1e3)));
    grpc::Status status =
        options_.decode ? Decode(&context, lines, first_line) : Encode(&context, lines);
    if (!status.ok()) {
      std::fprintf(stderr, "corvid tokenize: line %d: %s: %s\n",
                   ErrorLine(status.error_message(), first_line), StatusName(status),
                   status.error_message().c_str());
    }
    return status.ok();
  }

 private:
  static const char* StatusName(const grpc::Status& s) {
    switch (s.error_code()) {
      case grpc::StatusCode::INVALID_ARGUMENT:
        return "INVALID_ARGUMENT";
      case grpc::StatusCode::NOT_FOUND:
        return "NOT_FOUND";
      case grpc::StatusCode::UNAVAILABLE:
        return "UNAVAILABLE";
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return "DEADLINE_EXCEEDED";
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
        return "RESOURCE_EXHAUSTED";
      default:
        return "ERROR";
    }
  }

  grpc::Status Encode(grpc::ClientContext* context, const std::vector<std::string>& lines) {
    v1::EncodeRequest request;
    request.set_model(options_.model_name);
    request.set_add_special_tokens(options_.special);
    for (const std::string& line : lines) request.add_texts(line);
    v1::EncodeResponse response;
    grpc::Status status = stub_->Encode(context, request, &response);
    if (status.ok()) {
      for (const auto& ids : response.results()) {
        std::cout << absl::StrJoin(ids.ids(), " ") << '\n';
      }
    }
    return status;
  }

  grpc::Status Decode(grpc::ClientContext* context, const std::vector<std::string>& lines,
                      int first_line) {
    v1::DecodeRequest request;
    request.set_model(options_.model_name);
    request.set_skip_special_tokens(!options_.special);
    for (size_t i = 0; i < lines.size(); ++i) {
      auto* ids = request.add_sequences()->mutable_ids();
      for (absl::string_view field : absl::StrSplit(lines[i], ' ', absl::SkipEmpty())) {
        int32_t id;
        if (!absl::SimpleAtoi(field, &id)) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "sequences[" + std::to_string(i) +
                                                                      "]: '" + std::string(field) +
                                                                      "' is not a token id");
        }
        ids->Add(id);
      }
    }
    v1::DecodeResponse response;
    grpc::Status status = stub_->Decode(context, request, &response);
    if (status.ok()) {
      for (const std::string& text : response.texts()) std::cout << text << '\n';
    }
    return status;
  }

  const RemoteTokenizeOptions options_;
  std::unique_ptr<v1::Tokenizer::Stub> stub_;
};

}  // namespace

int RunRemoteTokenize(const RemoteTokenizeOptions& options) {
  std::ios::sync_with_stdio(false);
  RemoteSession session(options);
  std::vector<std::string> batch;
  int first_line = 1;
  int line_no = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    ++line_no;
    batch.push_back(std::move(line));
    if (static_cast<int>(batch.size()) == kBatchLines) {
      if (!session.Flush(batch, first_line)) return 1;
      batch.clear();
      first_line = line_no + 1;
    }
  }
  bool ok = session.Flush(batch, first_line);
  std::cout.flush();
  return ok ? 0 : 1;
}

}  // namespace corvid::cli

#endif  // CORVID_HAVE_GRPC
