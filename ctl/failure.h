// How a verb gives up: with the exit status and the message main prints as
// "xenstorectl: MESSAGE". Thrown rather than returned so that a failure deep
// in a tree walk or a transaction unwinds (and aborts) on its way out.
#pragma once

#include <stdexcept>
#include <string>

#include "ctl/exit_status.h"

namespace xsd::ctl {

class Failure : public std::runtime_error {
public:
    Failure(int status, const std::string& message, std::string errorName = {})
        : std::runtime_error(message), status_(status), errorName_(std::move(errorName))
    {
    }

    int status() const { return status_; }
    // The D-Bus error behind it, if any (org.xenproject.XenStore1.Error.…).
    const std::string& errorName() const { return errorName_; }

private:
    int status_;
    std::string errorName_;
};

// A command line (or script line) that cannot be run: exit status 2.
inline Failure usageError(const std::string& message)
{
    return Failure(ExitUsage, message);
}

}  // namespace xsd::ctl
