// xenstorectl's exit statuses. Scripts branch on them, so they are part of
// its interface (--help and the README list them). Above 2 they are
// sysexits.h's numbers, so they mean what they mean elsewhere.
#pragma once

namespace xsd::ctl {

enum ExitStatus : int {
    ExitSuccess = 0,
    // No such path, a test that came out false (exists, introduced), and
    // every failure without a status of its own.
    ExitFailure = 1,
    // The command line (or a transaction script) is wrong.
    ExitUsage = 2,
    // EX_UNAVAILABLE: the daemon is not on the bus, the bus cannot be
    // reached, or the daemon has no connection to xenstored right now.
    ExitUnavailable = 69,
    // EX_TEMPFAIL: a transaction kept conflicting with outside changes
    // until its retries ran out; running it again may work.
    ExitTempFail = 75,
    // EX_NOPERM: the daemon's access rules, xenstored's permissions or the
    // bus policy refused.
    ExitNoPermission = 77,
};

}  // namespace xsd::ctl
