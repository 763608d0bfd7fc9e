// The daemon driven by clients nobody here wrote: busctl and gdbus, as an
// administrator or a script would use them.
#include <gtest/gtest.h>

#include "tests/harness/shared_stack.h"

using namespace xsd::test;

namespace {

class Cli : public SharedStack<> {
protected:
    Output gcall(const std::string& method, std::vector<std::string> args)
    {
        std::vector<std::string> argv{"call", "--dest", BusName, "--object-path", ObjectPath,
                                      "--method", std::string(Interface) + "." + method};
        argv.insert(argv.end(), args.begin(), args.end());
        return stack->gdbus(argv);
    }
};

}  // namespace

TEST_F(Cli, BusctlWritesAndReads)
{
    auto w = stack->busctlCall("Write", {"ss", "/local/domain/0/name", "Domain-0"});
    ASSERT_EQ(w.status, 0) << w.err;
    auto r = stack->busctlCall("Read", {"s", "/local/domain/0/name"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "s \"Domain-0\"\n");
    auto d = stack->busctlCall("Directory", {"s", "/local/domain/0"});
    EXPECT_EQ(d.out, "as 1 \"name\"\n");
    auto p = stack->busctlCall("GetPermissions", {"s", "/local/domain/0/name"});
    EXPECT_EQ(p.out, "as 1 \"n0\"\n");
    auto e = stack->busctlCall("Exists", {"s", "/local/domain/0/nothing"});
    EXPECT_EQ(e.out, "b false\n");
}

TEST_F(Cli, BusctlShowsTheErrorMessage)
{
    auto r = stack->busctlCall("Read", {"s", "/no/such/node"});
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("ENOENT"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("/no/such/node"), std::string::npos) << r.err;
    auto bad = stack->busctlCall("Write", {"ss", "/a//b", "x"});
    EXPECT_NE(bad.status, 0);
    EXPECT_NE(bad.err.find("'//'"), std::string::npos) << bad.err;
}

TEST_F(Cli, BusctlTransaction)
{
    // One busctl process per call means one bus connection per call: the
    // transaction is owned by the first busctl and goes when it exits.
    auto t = stack->busctlCall("StartTransaction", {});
    ASSERT_EQ(t.status, 0) << t.err;
    EXPECT_EQ(t.out.rfind("o \"/org/xenproject/XenStore1/transaction/", 0), 0u) << t.out;
    std::string path = t.out.substr(3, t.out.size() - 5);
    auto w = stack->busctl({"call", BusName, path, "org.xenproject.XenStore1.Transaction", "Write",
                            "ss", "/x", "1"});
    EXPECT_NE(w.status, 0);
    EXPECT_NE(w.err.find("Unknown object"), std::string::npos) << w.err;
}

TEST_F(Cli, BusctlIntrospectsEveryMemberAndProperties)
{
    auto r = stack->busctl({"introspect", BusName, ObjectPath, Interface});
    ASSERT_EQ(r.status, 0) << r.err;
    for (auto m : {".Read ", ".ReadBytes ", ".Write ", ".WriteBytes ", ".Exists ", ".Directory ",
                   ".Mkdir ", ".Remove ", ".GetPermissions ", ".SetPermissions ", ".Watch ",
                   ".Unwatch ", ".StartTransaction ", ".Snapshot ", ".GetDomainPath ",
                   ".IsDomainIntroduced ", ".IntroduceDomain ", ".ReleaseDomain ",
                   ".ResumeDomain ", ".SetTarget ", ".WatchEvent ", ".Connected ", ".Backend ",
                   ".WatchCount ", ".SubscriptionCount ", ".TransactionCount ", ".Version "})
        EXPECT_NE(r.out.find(m), std::string::npos) << m << " missing:\n" << r.out;
    auto prop = stack->busctl({"get-property", BusName, ObjectPath, Interface, "Connected"});
    EXPECT_EQ(prop.out, "b true\n");
}

TEST_F(Cli, GdbusIntrospectionNamesEveryArgument)
{
    auto r = stack->gdbus({"introspect", "--dest", BusName, "--object-path", ObjectPath});
    ASSERT_EQ(r.status, 0) << r.err;
    for (auto s : {"Read(in  s path,\n", "out s value);", "Write(in  s path,\n",
                   "in  s value);", "SetPermissions(in  s path,\n", "in  as perms);",
                   "Watch(in  s path,\n", "in  s token);", "StartTransaction(out o transaction);",
                   "IntroduceDomain(in  u domid,\n", "in  t mfn,\n", "in  u port);",
                   "WatchEvent(s path,\n", "s token);", "readonly b Connected"})
        EXPECT_NE(r.out.find(s), std::string::npos) << s << " missing:\n" << r.out;
}

TEST_F(Cli, GdbusCalls)
{
    auto w = gcall("Write", {"/g/k", "gvalue"});
    ASSERT_EQ(w.status, 0) << w.err;
    auto r = gcall("Read", {"/g/k"});
    EXPECT_EQ(r.out, "('gvalue',)\n") << r.err;
    auto snap = gcall("Snapshot", {"/g"});
    EXPECT_NE(snap.out.find("gvalue"), std::string::npos) << snap.out;
    auto err = gcall("Read", {"/g/missing"});
    EXPECT_NE(err.status, 0);
    EXPECT_NE(err.err.find("org.xenproject.XenStore1.Error.NoEntry"), std::string::npos) << err.err;
}
