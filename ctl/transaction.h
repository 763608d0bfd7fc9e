// Running a body of data calls as one XenStore transaction, retried when
// Commit reports a conflict (false, from xenstored's EAGAIN) — the loop
// every xenstore-* tool runs around its work. The body must start from
// scratch each time: a retry repeats it in a new transaction.
#pragma once

#include <functional>
#include <string>

#include "ctl/invocation.h"
#include "ctl/store.h"

namespace xsd::ctl {

inline constexpr unsigned DefaultRetries = 5;

// --retries N, or the default.
unsigned retriesOption(const Invocation& inv);

// Runs body (attempt numbers start at 1) in a transaction until it commits;
// returns the number of attempts. A conflict after `retries` retries is a
// Failure with exit status 75. When body throws, the transaction is aborted
// and the exception passed on — except a conflict reported early
// (Error.Again), which counts as a failed commit.
unsigned transact(Invocation& inv, unsigned retries,
                  const std::function<void(Store& store, unsigned attempt)>& body);

// Runs body once on the main object, or in a retried transaction (see
// transact, with --retries) when the work spans several calls.
void perform(Invocation& inv, bool severalCalls, const std::function<void(Store&)>& body);

}  // namespace xsd::ctl
