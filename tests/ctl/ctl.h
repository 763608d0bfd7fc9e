// Running the built xenstorectl against a test's stack, and XenStore's own
// tools beside it on the same oxenstored, so outputs can be compared.
#pragma once

#include <string>
#include <vector>

#include "tests/harness/stack.h"

#ifndef XSD_CTL_PATH
#error "XSD_CTL_PATH must name the built xenstorectl"
#endif

namespace xsd::test {

inline std::string ctlPath()
{
    return XSD_CTL_PATH;
}

// xenstorectl --address <the stack's bus> ARGS…
inline std::vector<std::string> ctlArgv(Stack& stack, const std::vector<std::string>& args)
{
    std::vector<std::string> argv{ctlPath(), "--address", stack.address()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

inline Output ctl(Stack& stack, const std::vector<std::string>& args, const std::string& input = {})
{
    return run(ctlArgv(stack, args), {}, input);
}

// Prints an Output in a failure message.
inline std::string describe(const Output& o)
{
    return "status " + std::to_string(o.status) + "\nstdout:\n" + o.out + "\nstderr:\n" + o.err;
}

}  // namespace xsd::test
