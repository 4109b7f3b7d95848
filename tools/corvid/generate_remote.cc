#include "tools/corvid/generate_remote.h"

#include <cstdio>

#ifndef CORVID_HAVE_GRPC

namespace corvid::cli {
int RunRemoteGenerate(const RemoteGenerateOptions&) {
  std::fprintf(stderr, "corvid generate: this build has no gRPC client (services disabled)\n");
  return 2;
}
}  // namespace corvid::cli

#else  // CORVID_HAVE_GRPC

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <memory>
#include <string>

#include "corvid/v1/generation.grpc.pb.h"

namespace corvid::cli {
namespace {

const char* FinishName(v1::FinishReason r) {
  switch (r) {
    case v1::FINISH_REASON_LENGTH: return "length";
    case v1::FINISH_REASON_STOP: return "stop";
    default: return "none";
  }
}

v1::GenerateRequest BuildRequest(const RemoteGenerateOptions& o) {
  v1::GenerateRequest request;
  request.set_model(o.model);
  request.set_text(o.prompt);
  request.set_max_tokens(static_cast<uint32_t>(o.max_tokens));
  v1::SamplingParameters* s = request.mutable_sampling();
  s->set_temperature(o.temperature);
  s->set_top_k(o.top_k);
  s->set_top_p(o.top_p);
  s->set_min_p(o.min_p);
  if (o.has_seed) request.set_seed(o.seed);
  for (const std::string& stop : o.stop) request.add_stop(stop);
  return request;
}

}  // namespace

int RunRemoteGenerate(const RemoteGenerateOptions& o) {
  auto channel = grpc::CreateChannel(o.server, grpc::InsecureChannelCredentials());
  auto stub = v1::Generation::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000)));
  const v1::GenerateRequest request = BuildRequest(o);
  std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader =
      stub->Generate(&context, request);
  v1::GenerateResponse response;
  v1::GenerateResponse last;
  bool printed = false;
  while (reader->Read(&response)) {
    printed = printed || !response.text().empty();
    std::fwrite(response.text().data(), 1, response.text().size(), stdout);
    std::fflush(stdout);
    if (response.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) last = response;
  }
  grpc::Status status = reader->Finish();
  if (printed || status.ok()) std::fputc('\n', stdout);  // nothing at all on a refusal
  std::fflush(stdout);
  if (!status.ok()) {
    std::fprintf(stderr, "corvid generate: %s: %s\n",
                 status.error_code() == grpc::StatusCode::UNAVAILABLE ? "UNAVAILABLE"
                 : status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED
                     ? "RESOURCE_EXHAUSTED"
                 : status.error_code() == grpc::StatusCode::INVALID_ARGUMENT
                     ? "INVALID_ARGUMENT"
                 : status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                     ? "DEADLINE_EXCEEDED"
                     : "error",
                 status.error_message().c_str());
    return 1;
  }
  const v1::Usage& u = last.usage();
  std::fprintf(stderr,
               "[%s via %s: %u prompt tokens, %u generated, finish %s%s%s; queue %.2f ms, "
               "first token %.2f ms, total %.2f ms]\n",
               last.request_id().c_str(), o.server.c_str(), u.prompt_tokens(),
               u.completion_tokens(), FinishName(last.finish_reason()),
               last.stop().empty() ? "" : " at ", last.stop().c_str(), u.queue_time_ms(),
               u.time_to_first_token_ms(), u.total_time_ms());
  return 0;
}

}  // namespace corvid::cli

#endif  // CORVID_HAVE_GRPC
