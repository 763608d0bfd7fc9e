// What a D-Bus call of a test failed with, name and message, for tests
// that check both (stack.h's errorOf gives the name alone).
#pragma once

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
// succeeded.
template <class F>
std::pair<std::string, std::string> failure(F&& f)
{
    try {
        f();
    } catch (const sdbus::Error& e) {
        return {e.getName(), e.getMessage()};
    }
    return {};
}

}  // namespace xsd::test
