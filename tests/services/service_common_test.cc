// services/common: flags and config files, admission gate, worker pool, status conversion,
// JSON log lines, the /metrics endpoint.
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/common/admission.h"
#include "services/common/config_file.h"
#include "services/common/file_digest.h"
#include "services/common/flags.h"
#include "services/common/logging.h"
#include "services/common/metrics.h"
#include "services/common/status_convert.h"
#include "services/common/worker_pool.h"

namespace corvid::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = testing::TempDir() + "/" + std::to_string(getpid()) + "_" + name;
  std::ofstream(path) << text;
  return path;
}

struct TestFlags {
  std::string listen = "0.0.0.0:1";
  int64_t port = 7;
  double grace = 1.5;
  bool verbose = false;
  std::vector<std::string> models;
};

void Register(FlagSet& set, TestFlags* f) {
  set.AddString("listen", &f->listen, "address");
  set.AddInt("metrics-port", &f->port, "port");
  set.AddDouble("grace", &f->grace, "seconds");
  set.AddBool("verbose", &f->verbose, "chatty");
  set.AddRepeated("model", &f->models, "NAME=DIR");
}

TEST(FlagSetTest, ParsesFormsAndRepeats) {
  TestFlags f;
  FlagSet set("test");
  Register(set, &f);
  const char* argv[] = {"prog",
                        "--listen=127.0.0.1:5",
                        "--metrics_port",
                        "9",
                        "--verbose",
                        "--model",
                        "a=/x",
                        "--model=b=/y",
                        "pos",
                        "--grace=0.25"};
  ASSERT_TRUE(set.Parse(10, argv).ok());
  EXPECT_EQ(f.listen, "127.0.0.1:5");
  EXPECT_EQ(f.port, 9);
  EXPECT_TRUE(f.verbose);
  EXPECT_DOUBLE_EQ(f.grace, 0.25);
  EXPECT_THAT(f.models, ElementsAre("a=/x", "b=/y"));
  EXPECT_THAT(set.positional(), ElementsAre("pos"));
}

TEST(FlagSetTest, RejectsUnknownFlagAndBadValue) {
  TestFlags f;
  FlagSet set("test");
  Register(set, &f);
  const char* unknown[] = {"prog", "--nope=1"};
  absl::Status s = set.Parse(2, unknown);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("--nope"));
  FlagSet set2("test");
  Register(set2, &f);
  const char* bad[] = {"prog", "--metrics-port=abc"};
  s = set2.Parse(2, bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("metrics-port"));
}

TEST(FlagSetTest, ConfigFileThenCommandLineWins) {
  std::string path = WriteTemp("cfg.txt",
                               "# comment\nlisten = 10.0.0.1:80\nmodel = a=/1\nmodel=b=/2\n"
                               "metrics-port=11\n");
  TestFlags f;
  FlagSet set("test");
  Register(set, &f);
  const char* argv[] = {"prog", "--config", path.c_str(), "--metrics-port=12"};
  ASSERT_TRUE(set.Parse(4, argv).ok());
  EXPECT_EQ(f.listen, "10.0.0.1:80");
  EXPECT_EQ(f.port, 12);
  EXPECT_THAT(f.models, ElementsAre("a=/1", "b=/2"));
}

TEST(FlagSetTest, UnknownKeyInConfigNamesTheFile) {
  std::string path = WriteTemp("bad.txt", "listen = h:1\nno-such-flag = 1\n");
  TestFlags f;
  FlagSet set("test");
  Register(set, &f);
  std::string arg = "--config=" + path;
  const char* argv[] = {"prog", arg.c_str()};
  absl::Status s = set.Parse(2, argv);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(path));
  EXPECT_THAT(std::string(s.message()), HasSubstr("no-such-flag"));
}

TEST(FlagSetTest, JsonConfigWithArraysAndCommandLineReplacingRepeated) {
  std::string path = WriteTemp(
      "cfg.json",
      R"({"listen": "h:1", "metrics_port": 5, "verbose": true, "model": ["a=/1", "b=/2"]})");
  TestFlags f;
  FlagSet set("test");
  Register(set, &f);
  const char* argv[] = {"prog", "--model=c=/3", "--config", path.c_str()};
  ASSERT_TRUE(set.Parse(4, argv).ok());
  EXPECT_EQ(f.listen, "h:1");
  EXPECT_EQ(f.port, 5);
  EXPECT_TRUE(f.verbose);
  EXPECT_THAT(f.models, ElementsAre("c=/3"));
}

TEST(ConfigFileTest, ReportsMalformedLineAndJson) {
  auto lines = ParseConfigText("a = 1\njust words\n");
  ASSERT_FALSE(lines.ok());
  EXPECT_THAT(std::string(lines.status().message()), HasSubstr("line 2"));
  auto json = ParseConfigText("{\"a\": {\"nested\": 1}}");
  ASSERT_FALSE(json.ok());
  EXPECT_THAT(std::string(json.status().message()), HasSubstr("'a'"));
  EXPECT_FALSE(ParseConfigText("{ not json").ok());
  EXPECT_EQ(ReadConfigFile("/nonexistent/corvid.cfg").status().code(), absl::StatusCode::kNotFound);
}

TEST(AdmissionGateTest, CountsRefusesAfterDrainAndRunsListeners) {
  AdmissionGate gate;
  auto a = gate.TryEnter();
  auto b = gate.TryEnter();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(gate.in_flight(), 2);
  std::atomic<int> told{0};
  int64_t id = gate.AddDrainListener([&] { ++told; });
  int64_t removed = gate.AddDrainListener([&] { told += 100; });
  gate.RemoveDrainListener(removed);
  gate.StopAdmitting();
  EXPECT_EQ(told.load(), 1);
  EXPECT_FALSE(gate.TryEnter().has_value());
  EXPECT_FALSE(gate.WaitIdle(absl::Now() + absl::Milliseconds(20)));
  std::thread releaser([&] {
    a.reset();
    b.reset();
  });
  EXPECT_TRUE(gate.WaitIdle(absl::Now() + absl::Seconds(10)));
  releaser.join();
  EXPECT_EQ(gate.in_flight(), 0);
  gate.RemoveDrainListener(id);
}

TEST(WorkerPoolTest, RunsEverythingAcceptedAndBoundsTheQueue) {
  std::atomic<int> ran{0};
  absl::Notification release;
  int accepted = 0;
  {
    WorkerPool pool(2, 3);
    // The first tasks block both threads; at most 3 more may wait (idle threads count as room,
    // so between 3 and 5 of the 10 are accepted depending on how far the threads got).
    for (int i = 0; i < 10; ++i) {
      if (pool.TrySubmit([&] {
            release.WaitForNotification();
            ++ran;
          })) {
        ++accepted;
      }
    }
    release.Notify();
  }  // the destructor runs what was accepted, then joins
  EXPECT_GE(accepted, 3);
  EXPECT_LE(accepted, 5);
  EXPECT_EQ(ran.load(), accepted);
}

TEST(StatusConvertTest, RoundTripsCodesAndMessages) {
  absl::Status in = absl::InvalidArgumentError("texts[3]: invalid UTF-8");
  grpc::Status g = ToGrpcStatus(in);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(g.error_message(), "texts[3]: invalid UTF-8");
  EXPECT_EQ(FromGrpcStatus(g), in);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::NOT_FOUND, "m")).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(99), "odd")).code(),
            absl::StatusCode::kUnknown);
}

TEST(LoggingTest, FieldsAreValidJsonEvenWithHostileText) {
  std::string line = "{" +
                     FormatLogFields("quote \" newline \n bad \xff",
                                     {{"model", "m\"1"}, {"n", 3}, {"ok", true}, {"x", 0.5}}) +
                     "}";
  nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["model"], "m\"1");
  EXPECT_EQ(parsed["n"], 3);
  EXPECT_EQ(parsed["ok"], true);
  EXPECT_DOUBLE_EQ(parsed["x"].get<double>(), 0.5);
  EXPECT_THAT(parsed["msg"].get<std::string>(), HasSubstr("newline \n bad"));
  EXPECT_EQ(InitLogging("svc", "loud").code(), absl::StatusCode::kInvalidArgument);
}

TEST(MetricsServerTest, ServesPrefixedMetricsOverHttp) {
  auto registry = std::make_shared<prometheus::Registry>();
  AddCounterFamily(*registry, "test_requests_total", "requests")
      .Add({{"method", "Encode"}})
      .Increment(3);
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_THAT(res->body, HasSubstr("corvid_test_requests_total{method=\"Encode\"} 3"));
  EXPECT_THAT(res->body, HasSubstr("corvid_process_cpu_seconds_total{mode=\"user\"}"));
}

TEST(FileDigestTest, MatchesKnownSha256) {
  // Known answer: SHA-256("abc").
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string path = WriteTemp("digest.bin", "abc");
  auto d = Sha256File(path);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->size_bytes, 3);
  EXPECT_EQ(d->sha256_hex, Sha256Hex("abc"));
  EXPECT_EQ(Sha256File("/nonexistent/x").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace corvid::service
