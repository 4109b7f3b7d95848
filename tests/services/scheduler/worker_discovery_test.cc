#include "services/scheduler/worker_discovery.h"

#include <algorithm>

#include <gtest/gtest.h>

namespace corvid::scheduler {
namespace {

TEST(ParseDnsTargetTest, AcceptsBothSpellingsAndRejectsPlainAddresses) {
  auto a = ParseDnsTarget("dns:///corvid-worker:50061");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "corvid-worker");
  EXPECT_EQ(a->second, "50061");
  auto b = ParseDnsTarget("dns:worker.ns.svc:7");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first, "worker.ns.svc");
  EXPECT_EQ(ParseDnsTarget("10.0.0.1:50061").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ParseDnsTarget("dns:///noport").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDnsTarget("dns:///host:").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ResolveAllTest, LoopbackNameResolvesToTheLoopbackAddress) {
  auto addresses = ResolveAll("localhost", "4242");
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  EXPECT_NE(std::find(addresses->begin(), addresses->end(), "127.0.0.1:4242"), addresses->end());
  auto numeric = ResolveAll("127.0.0.2", "1");
  ASSERT_TRUE(numeric.ok());
  EXPECT_EQ(*numeric, std::vector<std::string>{"127.0.0.2:1"});
  EXPECT_FALSE(ResolveAll("no-such-host.invalid", "1").ok());
}

}  // namespace
}  // namespace corvid::scheduler
