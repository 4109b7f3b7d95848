// Stop strings matched on generated text as it streams. Text that might be the start of a stop
// string is held back until the next delta decides it, so a client never sees any part of a
// stop string. Pure logic; one per request.
#ifndef CORVID_SERVICES_SCHEDULER_STOP_MATCHER_H_
#define CORVID_SERVICES_SCHEDULER_STOP_MATCHER_H_

#include <string>
#include <vector>

namespace corvid::scheduler {

class StopMatcher {
 public:
  // `stops` are non-empty, valid UTF-8 (validated at the edge).
  explicit StopMatcher(std::vector<std::string> stops);

  struct Result {
    std::string text;     // safe to send now
    bool stopped = false;  // a stop string was found; nothing after it may be sent
    std::string stop;     // which one
  };
  // Appends a complete-UTF-8 delta. After a stop, further calls return nothing.
  Result Append(const std::string& delta);
  // Releases the held-back text at the end of generation (no stop string can complete now).
  std::string Flush();

  bool stopped() const { return stopped_; }
  bool empty() const { return stops_.empty(); }

 private:
  // Length of the longest suffix of held_ that is a proper prefix of some stop string.
  size_t HoldBack() const;

  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_STOP_MATCHER_H_
