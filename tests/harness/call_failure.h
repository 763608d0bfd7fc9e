// The error a D-Bus call failed with, for tests that look at its name and
// message (errorOf in stack.h gives the name alone).
#pragma once

#include <gtest/gtest.h>

#include <sdbus-c++/Error.h>

namespace xsd::test {

// A test failure if the call succeeded.
template <class F>
sdbus::Error failure(F&& f)
{
    try {
        f();
    } catch (const sdbus::Error& e) {
        return e;
    }
    ADD_FAILURE() << "the call succeeded";
    return sdbus::Error("", "");
}

}  // namespace xsd::test
