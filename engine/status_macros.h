// Status propagation macros (Debian's Abseil 20220623 ships none).
#ifndef CORVID_ENGINE_STATUS_MACROS_H_
#define CORVID_ENGINE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CORVID_CONCAT_INNER_(a, b) a##b
#define CORVID_CONCAT_(a, b) CORVID_CONCAT_INNER_(a, b)

// Returns from the current function when `expr` yields a non-OK absl::Status.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::absl::Status _corvid_st = (expr);        \
    if (!_corvid_st.ok()) return _corvid_st;   \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, StatusOrExpr())` binds the value or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  CORVID_ASSIGN_OR_RETURN_IMPL_(CORVID_CONCAT_(_corvid_sor_, __LINE__), lhs, expr)
#define CORVID_ASSIGN_OR_RETURN_IMPL_(sor, lhs, expr) \
  auto sor = (expr);                                  \
  if (!sor.ok()) return sor.status();                 \
  lhs = std::move(sor).value()

#endif  // CORVID_ENGINE_STATUS_MACROS_H_
