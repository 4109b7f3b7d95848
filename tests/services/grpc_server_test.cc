// services/common's gRPC server setup: health starts NOT_SERVING and follows HealthReporter,
// reflection lists the registered services, oversized messages are refused.
#include "services/common/grpc_server.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "corvid/v1/tokenizer.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/common/health.h"
#include "services/common/health_client.h"

namespace corvid::service {
namespace {

// A Tokenizer service whose Encode echoes the number of texts (enough to exercise the server).
class EchoTokenizer final : public v1::Tokenizer::CallbackService {
  grpc::ServerUnaryReactor* Encode(grpc::CallbackServerContext* ctx, const v1::EncodeRequest* req,
                                   v1::EncodeResponse* resp) override {
    resp->set_total_tokens(req->texts_size());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

struct Fixture {
  EchoTokenizer service;
  StartedServer started;
  std::shared_ptr<grpc::Channel> channel;
};

std::unique_ptr<Fixture> Start(int64_t max_message_bytes) {
  auto f = std::make_unique<Fixture>();
  GrpcServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.max_message_bytes = max_message_bytes;
  auto started = StartGrpcServer(options, {&f->service});
  if (!started.ok()) return nullptr;
  f->started = std::move(*started);
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  f->channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", f->started.port),
                                         grpc::InsecureChannelCredentials(), args);
  return f;
}

TEST(GrpcServerTest, HealthStartsNotServingAndFollowsTheReporter) {
  auto f = Start(1 << 20);
  ASSERT_NE(f, nullptr);
  HealthReporter health(f->started.server.get(), {"corvid.v1.Tokenizer"});
  EXPECT_EQ(*CheckHealth(f->channel, ""), HealthState::kNotServing);
  EXPECT_EQ(*CheckHealth(f->channel, "corvid.v1.Tokenizer"), HealthState::kNotServing);
  EXPECT_EQ(CheckHealth(f->channel, "no.such.Service").status().code(),
            absl::StatusCode::kNotFound);
  health.SetServing(true);
  EXPECT_EQ(*CheckHealth(f->channel, ""), HealthState::kServing);
  EXPECT_EQ(*CheckHealth(f->channel, "corvid.v1.Tokenizer"), HealthState::kServing);
  health.Shutdown();
  health.SetServing(true);  // ignored after Shutdown
  EXPECT_EQ(*CheckHealth(f->channel, "corvid.v1.Tokenizer"), HealthState::kNotServing);
  f->started.server->Shutdown();
}

TEST(GrpcServerTest, ReflectionListsServices) {
  auto f = Start(1 << 20);
  ASSERT_NE(f, nullptr);
  // ServerReflectionRequest{list_services: ""} by hand (field 7, length-delimited, empty): the
  // reflection protos are compiled into gRPC but their headers are not installed.
  grpc::GenericStub stub(f->channel);
  grpc::ClientContext ctx;
  grpc::CompletionQueue cq;
  auto call =
      stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  const char request[] = {0x3A, 0x00};
  grpc::Slice slice(request, sizeof(request));
  call->WriteLast(grpc::ByteBuffer(&slice, 1), grpc::WriteOptions(), reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(bytes.find("corvid.v1.Tokenizer"), std::string::npos);
  EXPECT_NE(bytes.find("grpc.health.v1.Health"), std::string::npos);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(4));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_TRUE(status.ok()) << status.error_message();
  f->started.server->Shutdown();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST(GrpcServerTest, OversizedMessagesAreRefused) {
  auto f = Start(4096);
  ASSERT_NE(f, nullptr);
  auto stub = v1::Tokenizer::NewStub(f->channel);
  v1::EncodeRequest small, big;
  small.add_texts("hello");
  big.add_texts(std::string(8192, 'x'));
  v1::EncodeResponse resp;
  grpc::ClientContext ctx1, ctx2;
  EXPECT_TRUE(stub->Encode(&ctx1, small, &resp).ok());
  EXPECT_EQ(stub->Encode(&ctx2, big, &resp).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  f->started.server->Shutdown();
}

TEST(GrpcServerTest, BusyAddressIsAnError) {
  auto first = Start(1 << 20);
  ASSERT_NE(first, nullptr);
  EchoTokenizer other;
  GrpcServerOptions options;
  options.listen_address = absl::StrCat("127.0.0.1:", first->started.port);
  auto second = StartGrpcServer(options, {&other});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  first->started.server->Shutdown();
}

}  // namespace
}  // namespace corvid::service
