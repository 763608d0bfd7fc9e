// The errors of API.md's table that a caller can provoke: each with its
// D-Bus error name and a message that says what was wrong. Nothing invalid
// reaches xenstored: its access log shows none of these requests, and the
// daemon's connection to it is never dropped.
#include <gtest/gtest.h>

#include <functional>

#include "tests/harness/shared_stack.h"

using namespace xsd::test;

namespace {

struct BadCall {
    const char* name;
    std::function<void(Client&)> call;
    const char* error;       // after org.xenproject.XenStore1.Error.
    const char* mentions;    // the message names the rule broken
};

class Errors : public SharedStack<::testing::TestWithParam<BadCall>> {};

const BadCall badCalls[] = {
    {"EmptyPath", [](Client& c) { c.Read(""); }, "InvalidArgument", "empty"},
    {"DoubleSlash", [](Client& c) { c.Read("/a//b"); }, "InvalidArgument", "'//'"},
    {"TrailingSlash", [](Client& c) { c.Read("/a/b/"); }, "InvalidArgument", "ends with '/'"},
    {"SpaceInPath", [](Client& c) { c.Read("/a b"); }, "InvalidArgument", "only A-Z a-z 0-9"},
    {"DotInPath", [](Client& c) { c.Write("/a.b", "x"); }, "InvalidArgument", "'.'"},
    {"NonAsciiInPath", [](Client& c) { c.Read("/ä"); }, "InvalidArgument", "byte 0xc3"},
    {"AbsolutePathTooLong", [](Client& c) { c.Read(longPath(3073, true)); }, "InvalidArgument", "3073 bytes"},
    {"RelativePathTooLong", [](Client& c) { c.Read(longPath(2049, false)); }, "InvalidArgument", "2049 bytes"},
    {"SpecialPathInRead", [](Client& c) { c.Read("@introduceDomain"); }, "InvalidArgument", "Watch"},
    {"UnknownSpecialWatch", [](Client& c) { c.Watch("@fooDomain", "t"); }, "InvalidArgument", "not a special watch path"},
    {"ValueOverPayload", [](Client& c) { c.Write("/v", std::string(4097, 'x')); }, "InvalidArgument", "4096"},
    {"PathPlusValueOverPayload", [](Client& c) { c.Write(longPath(2000, true), std::string(2100, 'x')); }, "InvalidArgument", "4096"},
    {"WatchTokenOverPayload", [](Client& c) { c.Watch("/w", std::string(4095, 't')); }, "InvalidArgument", "token"},
    {"PermissionBadLetter", [](Client& c) { c.SetPermissions("/p", {"x0"}); }, "InvalidArgument", "n, r, w or b"},
    {"PermissionDomidTooBig", [](Client& c) { c.SetPermissions("/p", {"r70000"}); }, "InvalidArgument", "0..65535"},
    {"PermissionNoDomid", [](Client& c) { c.SetPermissions("/p", {"b"}); }, "InvalidArgument", "no domid"},
    {"PermissionNegative", [](Client& c) { c.SetPermissions("/p", {"b-1"}); }, "InvalidArgument", "decimal"},
    {"PermissionListEmpty", [](Client& c) { c.SetPermissions("/p", {}); }, "InvalidArgument", "empty"},
    {"DomidTooBig", [](Client& c) { c.GetDomainPath(65536); }, "InvalidArgument", "65536"},
    {"SetTargetTooBig", [](Client& c) { c.SetTarget(1, 70000); }, "InvalidArgument", "70000"},
    // Within the protocol's 4096 bytes but over oxenstored's value quota.
    {"ValueOverXenstoredQuota", [](Client& c) { c.Write("/q", std::string(3000, 'x')); }, "TooBig", "quota-maxsize"},
    {"ReadMissing", [](Client& c) { c.Read("/missing/node"); }, "NoEntry", "ENOENT"},
    {"UnwatchNotWatched", [](Client& c) { c.Unwatch("/never", "t"); }, "NoEntry", "not watching"},
};

}  // namespace

TEST_P(Errors, AnsweredWithTheRightErrorAndNothingSent)
{
    const auto& bad = GetParam();
    auto c = stack->client();
    try {
        bad.call(*c);
        FAIL() << bad.name << " succeeded";
    } catch (const sdbus::Error& e) {
        EXPECT_EQ(e.getName(), std::string(ErrorPrefix) + bad.error) << e.getMessage();
        EXPECT_NE(e.getMessage().find(bad.mentions), std::string::npos)
            << "message '" << e.getMessage() << "' does not mention '" << bad.mentions << "'";
    }
    // The daemon still serves, on the same XenStore connection.
    c->Write("/alive", bad.name);
    EXPECT_EQ(c->Read("/alive"), bad.name);
    EXPECT_EQ(stack->xenstored().countAccessLog({"newconn"}) -
                  stack->xenstored().countAccessLog({"endconn"}),
              1)
        << stack->xenstored().accessLog();
}

INSTANTIATE_TEST_SUITE_P(Table, Errors, ::testing::ValuesIn(badCalls),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ErrorsInTransactions, UnknownTransactionObjectIsTheBusLibrarysError)
{
    Stack stack;
    auto c = stack.client();
    TransactionClient t(c->connection(),
                        "/org/xenproject/XenStore1/transaction/999");
    auto name = errorOf([&] { t.Read("/a"); });
    EXPECT_EQ(name, "org.freedesktop.DBus.Error.UnknownObject");
}
