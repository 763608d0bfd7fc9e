// A GoogleTest fixture whose tests share one stack, started once for the
// suite: for tests that only make calls and leave nothing the next one
// could trip over. Base is ::testing::Test or a TestWithParam<…>.
#pragma once

#include <gtest/gtest.h>

#include "tests/harness/stack.h"

namespace xsd::test {

template <class Base = ::testing::Test>
class SharedStack : public Base {
protected:
    static void SetUpTestSuite() { stack = new Stack(); }
    static void TearDownTestSuite()
    {
        delete stack;
        stack = nullptr;
    }
    static inline Stack* stack = nullptr;
};

}  // namespace xsd::test
