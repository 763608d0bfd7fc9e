// Hostile input over D-Bus: a table of bad calls, each built by hand as a
// raw message (any signature, any object, any member), each answered with
// the expected error name. Afterwards the daemon still serves, and
// oxenstored's access log shows its connection was never dropped: nothing
// that would make xenstored kill a connection was passed on.
#include <gtest/gtest.h>

#include <functional>

#include "tests/harness/stack.h"

using namespace xsd::test;

namespace {

constexpr const char* Tx = "org.xenproject.XenStore1.Transaction";
constexpr const char* Props = "org.freedesktop.DBus.Properties";

struct Hostile {
    std::string name;
    std::string object;  // object path
    std::string interface;
    std::string member;
    std::function<void(sdbus::MethodCall&)> args;
    std::string error;  // full error name
};

std::string xsErr(const char* n) { return std::string(ErrorPrefix) + n; }
const std::string InvalidArgs = "org.freedesktop.DBus.Error.InvalidArgs";
const std::string UnknownMethod = "org.freedesktop.DBus.Error.UnknownMethod";
const std::string UnknownObject = "org.freedesktop.DBus.Error.UnknownObject";
const std::string BusAccessDenied = "org.freedesktop.DBus.Error.AccessDenied";

template <class... A>
std::function<void(sdbus::MethodCall&)> with(A... a)
{
    return [=](sdbus::MethodCall& m) {
        if constexpr (sizeof...(A) > 0)
            (m << ... << a);
        else
            (void)m;
    };
}

Hostile main(std::string name, std::string member, std::function<void(sdbus::MethodCall&)> args,
             std::string error)
{
    return {std::move(name), ObjectPath, Interface, std::move(member), std::move(args),
            std::move(error)};
}

using Strings = std::vector<std::string>;

std::vector<Hostile> table()
{
    const std::string bad = xsErr("InvalidArgument");
    return {
        // Every path rule, one by one.
        main("EmptyPath", "Read", with(std::string()), bad),
        main("DoubleSlash", "Read", with(std::string("/a//b")), bad),
        main("TrailingSlash", "Read", with(std::string("/a/")), bad),
        main("Space", "Read", with(std::string("/a b")), bad),
        main("Dot", "Read", with(std::string("/a/../b")), bad),
        main("Tab", "Write", with(std::string("/a\tb"), std::string("v")), bad),
        main("Colon", "Mkdir", with(std::string("/a:b")), bad),
        main("NonAscii", "Remove", with(std::string("/caf\xc3\xa9")), bad),
        main("Newline", "Exists", with(std::string("/a\nb")), bad),
        main("AbsoluteTooLong", "Read", with(longPath(3073, true)), bad),
        main("RelativeTooLong", "Read", with(longPath(2049, false)), bad),
        main("AbsoluteTooLongInDirectory", "Directory", with(longPath(4000, true)), bad),
        main("SpecialInRead", "Read", with(std::string("@introduceDomain")), bad),
        main("SpecialInWrite", "Write", with(std::string("@releaseDomain"), std::string("x")), bad),
        main("SpecialInSnapshot", "Snapshot", with(std::string("@x")), bad),
        main("OnlySlashes", "Read", with(std::string("//")), bad),
        // Sizes.
        main("Value4097", "Write", with(std::string("/v"), std::string(4097, 'v')), bad),
        main("Bytes4097", "WriteBytes", with(std::string("/v"), std::vector<uint8_t>(4097, 1)), bad),
        main("PathPlusValue", "Write", with(longPath(3000, true), std::string(1100, 'v')), bad),
        main("PermsOverPayload", "SetPermissions", with(longPath(3000, true), Strings(300, "r65535")), bad),
        // Permissions.
        main("PermX0", "SetPermissions", with(std::string("/p"), Strings{"x0"}), bad),
        main("PermR70000", "SetPermissions", with(std::string("/p"), Strings{"r70000"}), bad),
        main("PermB", "SetPermissions", with(std::string("/p"), Strings{"b"}), bad),
        main("PermBMinus1", "SetPermissions", with(std::string("/p"), Strings{"b-1"}), bad),
        main("PermEmptyList", "SetPermissions", with(std::string("/p"), Strings{}), bad),
        main("PermEmptyEntry", "SetPermissions", with(std::string("/p"), Strings{"n0", ""}), bad),
        main("PermTrailingSpace", "SetPermissions", with(std::string("/p"), Strings{"r5 "}), bad),
        main("PermHuge", "SetPermissions", with(std::string("/p"), Strings{"w99999999999999999999"}), bad),
        // Domids.
        main("DomainPath65536", "GetDomainPath", with(uint32_t(65536)), bad),
        main("IntroducedMax", "IsDomainIntroduced", with(uint32_t(4294967295u)), bad),
        main("Introduce70000", "IntroduceDomain", with(uint32_t(70000), uint64_t(1), uint32_t(1)), bad),
        main("Release65536", "ReleaseDomain", with(uint32_t(65536)), bad),
        main("Resume100000", "ResumeDomain", with(uint32_t(100000)), bad),
        main("SetTargetTarget", "SetTarget", with(uint32_t(1), uint32_t(65536)), bad),
        // Watches.
        main("UnknownSpecial", "Watch", with(std::string("@fooDomain"), std::string("t")), bad),
        main("UnknownSpecialUnwatch", "Unwatch", with(std::string("@bar"), std::string("t")), bad),
        main("SpecialWithSuffix", "Watch", with(std::string("@introduceDomain/x"), std::string("t")), bad),
        main("OverlongToken", "Watch", with(std::string("/w"), std::string(4095, 't')), bad),
        main("UnwatchNeverWatched", "Unwatch", with(std::string("/w"), std::string("t")), xsErr("NoEntry")),
        // Wrong argument types and counts (sd-bus checks the signature).
        main("ReadWithNumber", "Read", with(uint32_t(5)), InvalidArgs),
        main("ReadWithTwo", "Read", with(std::string("/a"), std::string("/b")), InvalidArgs),
        main("ReadWithNothing", "Read", with(), InvalidArgs),
        main("WriteWithOne", "Write", with(std::string("/a")), InvalidArgs),
        main("WriteWithNumber", "Write", with(std::string("/a"), uint32_t(1)), InvalidArgs),
        main("WriteBytesWithString", "WriteBytes", with(std::string("/a"), std::string("x")), InvalidArgs),
        main("SetPermissionsWithString", "SetPermissions", with(std::string("/a"), std::string("n0")), InvalidArgs),
        main("DomainPathWithString", "GetDomainPath", with(std::string("5")), InvalidArgs),
        main("IntroduceWithU32Mfn", "IntroduceDomain", with(uint32_t(1), uint32_t(1), uint32_t(1)), InvalidArgs),
        main("WatchWithOne", "Watch", with(std::string("/a")), InvalidArgs),
        main("StartTransactionWithArg", "StartTransaction", with(std::string("x")), InvalidArgs),
        // Unknown members, objects and interfaces.
        main("UnknownMethod", "Nope", with(std::string("/a")), UnknownMethod),
        main("WrongCase", "read", with(std::string("/a")), UnknownMethod),
        main("CommitOnMain", "Commit", with(), UnknownMethod),
        {"UnknownInterface", ObjectPath, "org.example.Nope", "Read", with(std::string("/a")), BusAccessDenied},
        {"UnknownObject", "/org/xenproject/XenStore2", Interface, "Read", with(std::string("/a")), UnknownObject},
        {"TransactionZero", "/org/xenproject/XenStore1/transaction/0", Tx, "Read", with(std::string("/a")), UnknownObject},
        {"TransactionNeverExisted", "/org/xenproject/XenStore1/transaction/99999", Tx, "Commit", with(), UnknownObject},
        {"TransactionNotANumber", "/org/xenproject/XenStore1/transaction/abc", Tx, "Abort", with(), UnknownObject},
        {"SetReadOnlyProperty", ObjectPath, Props, "Set",
         [](sdbus::MethodCall& m) { m << std::string(Interface) << std::string("Connected") << sdbus::Variant(false); },
         "org.freedesktop.DBus.Error.PropertyReadOnly"},
        {"GetUnknownProperty", ObjectPath, Props, "Get", with(std::string(Interface), std::string("Nope")),
         "org.freedesktop.DBus.Error.UnknownProperty"},
    };
}

}  // namespace

TEST(Hostile, EveryBadCallGetsItsErrorAndTheDaemonServesOn)
{
    Stack stack;
    auto conn = sdbus::createSessionBusConnectionWithAddress(stack.address());
    auto calls = table();
    ASSERT_GE(calls.size(), 40u);
    for (const auto& h : calls) {
        auto proxy = sdbus::createProxy(*conn, BusName, h.object);
        auto msg = proxy->createMethodCall(h.interface, h.member);
        h.args(msg);
        try {
            proxy->callMethod(msg);
            ADD_FAILURE() << h.name << ": succeeded";
        } catch (const sdbus::Error& e) {
            EXPECT_EQ(e.getName(), h.error) << h.name << ": " << e.getMessage();
            EXPECT_FALSE(e.getMessage().empty()) << h.name;
        }
    }
    auto c = stack.client();
    c->Write("/still/here", "yes");
    EXPECT_EQ(c->Read("/still/here"), "yes");
    EXPECT_TRUE(stack.daemon().running());
    // One connection from the daemon, opened once and never closed.
    auto log = stack.xenstored().accessLog();
    EXPECT_EQ(stack.xenstored().countAccessLog({"newconn"}) -
                  stack.xenstored().countAccessLog({"endconn"}),
              1)
        << log;
    EXPECT_EQ(stack.daemonLog().find("lost the connection"), std::string::npos) << stack.daemonLog();
}
