// Admission gate: counts the calls in flight and, once draining starts, refuses new ones, so a
// draining process finishes what it accepted and nothing more.
#ifndef CORVID_SERVICES_COMMON_ADMISSION_H_
#define CORVID_SERVICES_COMMON_ADMISSION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace corvid::service {

class AdmissionGate {
 public:
  // Held for the life of one admitted call; releasing it (destruction) ends the call's count.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket();

   private:
    friend class AdmissionGate;
    explicit Ticket(AdmissionGate* gate) : gate_(gate) {}
    AdmissionGate* gate_;
  };

  AdmissionGate() = default;
  AdmissionGate(const AdmissionGate&) = delete;
  AdmissionGate& operator=(const AdmissionGate&) = delete;

  // A ticket, or nullopt once StopAdmitting() was called.
  std::optional<Ticket> TryEnter();

  // Refuses new calls from now on and runs every registered drain listener once (under the
  // gate's lock: listeners must be quick and must not call back into the gate).
  void StopAdmitting();
  bool draining() const;
  int64_t in_flight() const;

  // Waits until no call is in flight or `deadline` passes; true when none is in flight.
  bool WaitIdle(absl::Time deadline) const;

  // Long-lived calls (streams) register to learn that draining started, so they can end
  // themselves once their own work is done instead of holding the drain until the grace period
  // expires. Returns an id for RemoveDrainListener. A listener added after draining started is
  // run at once (under the lock, as above).
  int64_t AddDrainListener(std::function<void()> listener);
  // After it returns, the listener is not running and will not run.
  void RemoveDrainListener(int64_t id);

 private:
  void Release();

  mutable absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_listener_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int64_t, std::function<void()>> listeners_ ABSL_GUARDED_BY(mu_);
};

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_ADMISSION_H_
