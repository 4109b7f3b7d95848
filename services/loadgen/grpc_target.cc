#include "services/loadgen/grpc_target.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace corvid::loadgen {
namespace {

// One Generate call. Owns itself: deleted in OnDone, after the record's last write.
class GenerateCall : public grpc::ClientReadReactor<v1::GenerateResponse> {
 public:
  GenerateCall(const RequestSpec& spec, const RequestOptions& options, RequestRecord* record,
               std::function<void()> done)
      : record_(record), done_(std::move(done)) {
    request_.set_model(options.model);
    if (!spec.text.empty()) {
      request_.set_text(spec.text);
    } else {
      request_.mutable_token_ids()->mutable_ids()->Add(spec.token_ids.begin(),
                                                       spec.token_ids.end());
    }
    request_.set_max_tokens(static_cast<uint32_t>(spec.max_tokens));
    request_.mutable_sampling()->set_temperature(options.temperature);
    request_.set_ignore_eos(options.ignore_eos);
    record_->deadline_ms = options.deadline_ms;
    if (options.deadline_ms > 0) {
      context_.set_deadline(
          std::chrono::system_clock::now() +
          std::chrono::microseconds(static_cast<int64_t>(options.deadline_ms * 1000)));
    }
  }

  void Begin(v1::Generation::Stub* stub) {
    stub->async()->Generate(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone follows
    const int64_t now = NowNs();
    if (response_.token_ids_size() > 0) {
      record_->chunks.push_back({now, static_cast<int32_t>(response_.token_ids_size())});
    }
    if (response_.has_usage()) record_->prompt_tokens = response_.usage().prompt_tokens();
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    record_->end_ns = NowNs();
    record_->code = static_cast<absl::StatusCode>(status.error_code());
    if (!status.ok()) record_->error = status.error_message();
    std::function<void()> done = std::move(done_);
    delete this;
    done();
  }

 private:
  RequestRecord* record_;
  std::function<void()> done_;
  grpc::ClientContext context_;
  v1::GenerateRequest request_;
  v1::GenerateResponse response_;
};

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address, int index) {
  grpc::ChannelArguments args;
  // Distinct arguments and a private subchannel pool: one TCP connection per channel.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("corvid.loadgen_channel", index);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// Polls ListModels until the model is listed with a live worker (a scheduler lists nothing
// until its first worker is up) or the connect timeout passes.
absl::StatusOr<v1::ModelInfo> WaitForModel(v1::Generation::Stub& stub,
                                           const GrpcTargetOptions& options) {
  const auto give_up =
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options.connect_timeout_s * 1000));
  std::string last = "no model listed yet";
  while (true) {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(give_up);
    v1::ListModelsResponse models;
    grpc::Status status = stub.ListModels(&context, v1::ListModelsRequest(), &models);
    if (!status.ok()) {
      return absl::UnavailableError(
          absl::StrCat("ListModels on ", options.address, ": ", status.error_message()));
    }
    bool listed = false;
    for (const v1::ModelInfo& m : models.models()) {
      if (!options.request.model.empty() && m.name() != options.request.model) continue;
      if (m.live_workers() > 0) return m;
      listed = true;
      last = absl::StrCat("model ", m.name(), " has no live worker");
    }
    if (models.models_size() > 0 && !listed) {
      return absl::NotFoundError(
          absl::StrCat("model '", options.request.model, "' is not served at ", options.address));
    }
    if (std::chrono::system_clock::now() >= give_up) {
      return absl::UnavailableError(absl::StrCat(options.address, ": ", last));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

GrpcTarget::GrpcTarget(const GrpcTargetOptions& options,
                       std::vector<std::unique_ptr<v1::Generation::Stub>> stubs)
    : options_(options), stubs_(std::move(stubs)) {}

absl::StatusOr<std::unique_ptr<GrpcTarget>> GrpcTarget::Connect(const GrpcTargetOptions& options) {
  std::vector<std::unique_ptr<v1::Generation::Stub>> stubs;
  for (int i = 0; i < std::max(1, options.channels); ++i) {
    stubs.push_back(v1::Generation::NewStub(MakeChannel(options.address, i)));
  }
  ASSIGN_OR_RETURN(v1::ModelInfo model, WaitForModel(*stubs[0], options));
  auto target = std::unique_ptr<GrpcTarget>(new GrpcTarget(options, std::move(stubs)));
  target->info_.vocab_size = static_cast<int>(model.vocab_size());
  target->info_.context_length = static_cast<int>(model.context_length());
  target->info_.description =
      absl::StrCat("corvid-scheduler at ", options.address, " (model ", model.name(), ", ",
                   target->stubs_.size(), " channel", target->stubs_.size() > 1 ? "s" : "", ")");
  return target;
}

void GrpcTarget::Start(const RequestSpec& spec, RequestRecord* record, std::function<void()> done) {
  auto* call = new GenerateCall(spec, options_.request, record, std::move(done));
  call->Begin(stubs_[next_.fetch_add(1) % stubs_.size()].get());
}

}  // namespace corvid::loadgen
