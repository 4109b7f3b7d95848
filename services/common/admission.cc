#include "services/common/admission.h"

#include <utility>

namespace corvid::service {

AdmissionGate::Ticket& AdmissionGate::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    if (gate_ != nullptr) gate_->Release();
    gate_ = other.gate_;
    other.gate_ = nullptr;
  }
  return *this;
}

AdmissionGate::Ticket::~Ticket() {
  if (gate_ != nullptr) gate_->Release();
}

std::optional<AdmissionGate::Ticket> AdmissionGate::TryEnter() {
  absl::MutexLock lock(&mu_);
  if (draining_) return std::nullopt;
  ++in_flight_;
  return Ticket(this);
}

void AdmissionGate::Release() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

void AdmissionGate::StopAdmitting() {
  absl::MutexLock lock(&mu_);
  if (draining_) return;
  draining_ = true;
  for (auto& [id, listener] : listeners_) listener();
}

bool AdmissionGate::draining() const {
  absl::MutexLock lock(&mu_);
  return draining_;
}

int64_t AdmissionGate::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

bool AdmissionGate::WaitIdle(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
  return in_flight_ == 0;
}

int64_t AdmissionGate::AddDrainListener(std::function<void()> listener) {
  absl::MutexLock lock(&mu_);
  if (draining_) listener();
  int64_t id = next_listener_id_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void AdmissionGate::RemoveDrainListener(int64_t id) {
  absl::MutexLock lock(&mu_);
  listeners_.erase(id);
}

}  // namespace corvid::service
