#include "services/scheduler/stop_matcher.h"

#include <gtest/gtest.h>

namespace corvid::scheduler {
namespace {

// Feeds `deltas` and returns everything sent plus the stop found.
std::pair<std::string, std::string> Feed(std::vector<std::string> stops,
                                        const std::vector<std::string>& deltas) {
  StopMatcher m(std::move(stops));
  std::string sent;
  for (const std::string& d : deltas) {
    StopMatcher::Result r = m.Append(d);
    sent += r.text;
    if (r.stopped) return {sent, r.stop};
  }
  return {sent + m.Flush(), ""};
}

TEST(StopMatcherTest, NoStopsPassesEverythingThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.Append("abc").text, "abc");
  EXPECT_EQ(m.Flush(), "");
}

TEST(StopMatcherTest, StopInsideOneDeltaCutsBeforeIt) {
  auto [sent, stop] = Feed({"END"}, {"hello END world"});
  EXPECT_EQ(sent, "hello ");
  EXPECT_EQ(stop, "END");
}

TEST(StopMatcherTest, StopSpanningDeltasIsHeldBackThenCut) {
  StopMatcher m({"\n\n"});
  EXPECT_EQ(m.Append("one\n").text, "one");  // "\n" might start the stop
  StopMatcher::Result r = m.Append("\ntwo");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "");
  EXPECT_TRUE(m.Append("more").text.empty());
}

TEST(StopMatcherTest, FalseStartIsReleased) {
  auto [sent, stop] = Feed({"Lily."}, {"Lil", "y is", " here"});
  EXPECT_EQ(sent, "Lily is here");
  EXPECT_EQ(stop, "");
}

TEST(StopMatcherTest, HeldTextIsFlushedAtTheEnd) {
  StopMatcher m({"abc"});
  EXPECT_EQ(m.Append("xab").text, "x");
  EXPECT_EQ(m.Flush(), "ab");
}

TEST(StopMatcherTest, EarliestOfSeveralStopsWins) {
  auto [sent, stop] = Feed({"world", "lo w"}, {"hel", "lo wor", "ld"});
  EXPECT_EQ(sent, "hel");
  EXPECT_EQ(stop, "lo w");
}

TEST(StopMatcherTest, MultiByteCharactersAreNeverSplit) {
  // "é" is C3 A9; a stop starting with it holds the whole character back.
  StopMatcher m({"éclair"});
  StopMatcher::Result r = m.Append("un é");
  EXPECT_EQ(r.text, "un ");
  r = m.Append("t\xC3\xA9");
  EXPECT_EQ(r.text, "ét");
  EXPECT_EQ(m.Flush(), "é");
}

}  // namespace
}  // namespace corvid::scheduler
