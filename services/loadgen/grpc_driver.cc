// Driver over gRPC: one callback-API stream per request, so thousands can be in flight from a
// few threads.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "corvid/v1/generation.grpc.pb.h"
#include "services/loadgen/drivers.h"

namespace corvid::loadgen {
namespace {

const char* CodeName(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    default: return "OTHER";
  }
}

class Stream : public grpc::ClientReadReactor<v1::GenerateResponse> {
 public:
  Stream(v1::Generation::Stub* stub, const RequestSpec& spec, absl::Duration timeout,
         RequestRecord* record, std::function<void()> done)
      : record_(record), done_(std::move(done)) {
    if (!spec.text.empty()) {
      request_.set_text(spec.text);
    } else {
      request_.mutable_token_ids()->mutable_ids()->Add(spec.prompt_ids.begin(),
                                                       spec.prompt_ids.end());
    }
    request_.set_max_tokens(spec.max_tokens);
    request_.set_ignore_eos(true);
    request_.mutable_sampling()->set_temperature(0);
    context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    record_->sent = absl::Now();
    stub->async()->Generate(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (response_.token_ids_size() > 0) {
      record_->chunks.emplace_back(absl::Now(), response_.token_ids_size());
      record_->output_tokens += response_.token_ids_size();
    }
    if (response_.has_usage()) record_->prompt_tokens = response_.usage().prompt_tokens();
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    record_->end = absl::Now();
    record_->code = CodeName(status.error_code());
    if (!status.ok()) record_->error = status.error_message();
    auto done = std::move(done_);
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

class GrpcDriver : public Driver {
 public:
  GrpcDriver(std::vector<std::unique_ptr<v1::Generation::Stub>> stubs, int vocab)
      : stubs_(std::move(stubs)), vocab_(vocab) {}

  int vocab_size() const override { return vocab_; }

  std::vector<RequestRecord> Run(const std::vector<RequestSpec>& specs,
                                 const RunOptions& options) override {
    std::vector<RequestRecord> records(specs.size());
    Progress progress;
    progress.total = specs.size();
    std::function<void(size_t)> launch = [&](size_t i) {
      new Stream(stubs_[i % stubs_.size()].get(), specs[i], options.timeout, &records[i], [&] {
        size_t n = specs.size();
        {
          absl::MutexLock lock(&progress.mu);
          ++progress.finished;
          if (options.closed_loop && progress.next < specs.size()) n = progress.next++;
        }
        if (n < specs.size()) launch(n);  // closed loop: each end starts the next request
      });
    };
    if (options.closed_loop) {
      size_t initial = std::min<size_t>(std::max(options.concurrency, 1), specs.size());
      {
        absl::MutexLock lock(&progress.mu);
        progress.next = initial;
      }
      for (size_t i = 0; i < initial; ++i) launch(i);
    } else {
      const absl::Time start = absl::Now();
      for (size_t i = 0; i < specs.size(); ++i) {
        absl::SleepFor(start + specs[i].arrival - absl::Now());
        launch(i);
      }
    }
    absl::MutexLock lock(&progress.mu);
    progress.mu.Await(absl::Condition(&progress, &Progress::AllDone));
    return records;
  }

 private:
  struct Progress {
    absl::Mutex mu;
    size_t total = 0;
    size_t finished ABSL_GUARDED_BY(mu) = 0;
    size_t next ABSL_GUARDED_BY(mu) = 0;
    bool AllDone() const ABSL_NO_THREAD_SAFETY_ANALYSIS { return finished == total; }
  };

  std::vector<std::unique_ptr<v1::Generation::Stub>> stubs_;
  int vocab_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Driver>> MakeGrpcDriver(const std::string& target, int channels) {
  std::vector<std::unique_ptr<v1::Generation::Stub>> stubs;
  for (int i = 0; i < std::max(channels, 1); ++i) {
    grpc::ChannelArguments args;
    args.SetInt("corvid.loadgen.channel", i);  // distinct args => distinct connections
    stubs.push_back(v1::Generation::NewStub(
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args)));
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::ListModelsResponse models;
  grpc::Status s = stubs[0]->ListModels(&context, v1::ListModelsRequest(), &models);
  if (!s.ok() || models.models_size() == 0) {
    return absl::UnavailableError("ListModels on " + target + " failed: " + s.error_message());
  }
  return std::unique_ptr<Driver>(new GrpcDriver(std::move(stubs), models.models(0).vocab_size()));
}

}  // namespace corvid::loadgen
