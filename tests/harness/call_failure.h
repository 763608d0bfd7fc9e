// The error a D-Bus call failed with, for tests that look at its name and
// message (errorOf in stack.h gives the name alone).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include <sdbus-c++/Error.h>

#include "tests/harness/stack.h"

namespace xsd::test {

// org.xenproject.XenStore1.Error.<name>
inline std::string err(const std::string& name)
{
    return ErrorPrefix + name;
}

// The name and message of the error `f` failed with; both empty when it
// succeeded (for loops that call until the daemon refuses).
template <class F>
std::pair<std::string, std::string> errorAndMessage(F&& f)
{
    try {
        f();
    } catch (const sdbus::Error& e) {
        return {e.getName(), e.getMessage()};
    }
    return {};
}

// The error `f` failed with; a test failure if the call succeeded.
template <class F>
sdbus::Error failure(F&& f)
{
    auto [name, message] = errorAndMessage(std::forward<F>(f));
    if (name.empty()) {
        ADD_FAILURE() << "the call succeeded";
        return sdbus::Error("", "");
    }
    return sdbus::Error(name, message);
}

}  // namespace xsd::test
