// The verbs not covered elsewhere — exists, rm, mkdir, chmod, snapshot,
// domain-path, introduced, status — and --help. Where an xenstore-* tool
// exists, the effect is compared with that tool's on a twin subtree.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/ctl/ctl.h"

using namespace xsd::test;

namespace {

class Verbs : public ::testing::Test {
protected:
    Stack stack;
    std::unique_ptr<Client> c = stack.client();

    std::string tool(const std::string& name, const std::vector<std::string>& args)
    {
        auto r = stack.xenstored().tool(name, args);
        EXPECT_EQ(r.status, 0) << name << ": " << r.err;
        return r.out;
    }
    void ok(const std::vector<std::string>& args, const std::string& input = {})
    {
        auto r = ctl(stack, args, input);
        EXPECT_EQ(r.status, 0) << args[0] << ": " << describe(r);
        EXPECT_EQ(r.err, "") << args[0];
    }
    // Builds the same small tree under two roots.
    void twins(const std::string& a, const std::string& b)
    {
        for (const auto& root : {a, b}) {
            stack.xenstored().write(root + "/x/y/z", "v");
            stack.xenstored().write(root + "/x/w", "");
            stack.xenstored().write(root + "/keep", "k");
        }
    }
};

}  // namespace

TEST_F(Verbs, ExistsSaysByItsStatusOnly)
{
    stack.xenstored().write("/e/x", "1");
    auto r = ctl(stack, {"exists", "/e", "/e/x"});
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out, "");
    r = ctl(stack, {"exists", "/e/x", "/e/nothing"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.out + r.err, "");
    r = ctl(stack, {"exists", "--json", "/e/nothing", "/e/x"});
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse(R"([
        {"path": "/e/nothing", "exists": false}, {"path": "/e/x", "exists": true}])"));
}

TEST_F(Verbs, RmIsRecursiveAndTidyAsXenstoreRm)
{
    twins("/r1", "/r2");
    ok({"rm", "/r1/x/y"});
    ASSERT_EQ(stack.xenstored().tool("xenstore-rm", {"/r2/x/y"}).status, 0);
    EXPECT_EQ(tool("xenstore-ls", {"/r1"}), tool("xenstore-ls", {"/r2"}));
    EXPECT_FALSE(c->Exists("/r1/x/y/z"));

    twins("/t1", "/t2");
    ok({"rm", "-t", "/t1/x/y/z"});
    ASSERT_EQ(stack.xenstored().tool("xenstore-rm", {"-t", "/t2/x/y/z"}).status, 0);
    EXPECT_EQ(tool("xenstore-ls", {"/t1"}), tool("xenstore-ls", {"/t2"}));
    EXPECT_FALSE(c->Exists("/t1/x/y"));  // emptied, so tidied away
    EXPECT_TRUE(c->Exists("/t1/x"));     // still has w

    // Several paths; a missing one is no error (as with xenstore-rm).
    ok({"rm", "/t1/keep", "/t1/x", "/t1/never-was"});
    EXPECT_EQ(tool("xenstore-ls", {"/t1"}), "");
}

TEST_F(Verbs, MkdirMakesEmptyNodes)
{
    ok({"mkdir", "/m/a/b", "/m/c"});
    EXPECT_EQ(tool("xenstore-ls", {"/m"}), "a = \"\"\n b = \"\"\nc = \"\"\n");
}

TEST_F(Verbs, ChmodAsXenstoreChmod)
{
    twins("/c1", "/c2");
    auto same = [&] {
        auto perms = [&](const std::string& root) {
            // ls -p shows every node below root; add root's own entry.
            return tool("xenstore-ls", {"-p", root}) + "|" +
                   nlohmann::json(c->GetPermissions(root)).dump();
        };
        EXPECT_EQ(perms("/c1"), perms("/c2"));
    };
    ok({"chmod", "/c1/x", "r5", "w6"});
    ASSERT_EQ(stack.xenstored().tool("xenstore-chmod", {"/c2/x", "r5", "w6"}).status, 0);
    same();
    EXPECT_EQ(c->GetPermissions("/c1/x"), (std::vector<std::string>{"r5", "w6"}));

    ok({"chmod", "-r", "/c1/x", "b3"});
    ASSERT_EQ(stack.xenstored().tool("xenstore-chmod", {"-r", "/c2/x", "b3"}).status, 0);
    same();
    EXPECT_EQ(c->GetPermissions("/c1/x/y/z"), (std::vector<std::string>{"b3"}));

    ok({"chmod", "-u", "/c1/x/y/z", "n0", "r7"});
    ASSERT_EQ(stack.xenstored().tool("xenstore-chmod", {"-u", "/c2/x/y/z", "n0", "r7"}).status, 0);
    same();
    EXPECT_EQ(c->GetPermissions("/c1"), (std::vector<std::string>{"n0", "r7"}));
    EXPECT_EQ(c->GetPermissions("/"), (std::vector<std::string>{"n0"}));  // never the root
}

TEST_F(Verbs, SnapshotIsTheDaemonsJsonPrettyPrinted)
{
    stack.xenstored().write("/s/a/b", "text");
    c->WriteBytes("/s/bin", {0xff, 0x00});
    auto r = ctl(stack, {"snapshot", "/s"});
    ASSERT_EQ(r.status, 0) << describe(r);
    // In the daemon's key order (path, value, children), pretty-printed.
    auto j = nlohmann::ordered_json::parse(r.out);
    EXPECT_EQ(j, nlohmann::ordered_json::parse(c->Snapshot("/s")));
    EXPECT_EQ(r.out.find("\"path\""), 4u) << r.out;
    EXPECT_EQ(j["children"]["a"]["children"]["b"]["value"], "text");
    EXPECT_EQ(j["children"]["bin"]["value"]["base64"], "/wA=");
    EXPECT_EQ(r.out, j.dump(2) + "\n");
    r = ctl(stack, {"snapshot"});
    ASSERT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(nlohmann::json::parse(r.out)["path"], "/");
}

TEST_F(Verbs, DomainQueries)
{
    auto r = ctl(stack, {"domain-path", "5"});
    EXPECT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(r.out, c->GetDomainPath(5) + "\n");
    r = ctl(stack, {"--json", "domain-path", "5"});
    EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::parse(R"({"domid": 5, "path": "/local/domain/5"})"));

    for (uint32_t domid : {0u, 42u}) {
        bool introduced = c->IsDomainIntroduced(domid);
        r = ctl(stack, {"introduced", std::to_string(domid)});
        EXPECT_EQ(r.status, introduced ? 0 : 1);
        EXPECT_EQ(r.out, introduced ? "yes\n" : "no\n");
        r = ctl(stack, {"introduced", "-q", std::to_string(domid)});
        EXPECT_EQ(r.status, introduced ? 0 : 1);
        EXPECT_EQ(r.out, "");
    }
}

TEST_F(Verbs, StatusShowsTheDaemonsProperties)
{
    c->Watch("/status", "t");
    auto r = ctl(stack, {"status"});
    ASSERT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(r.out, "Connected: yes\nBackend: " + stack.xenstored().backend() +
                         "\nWatchCount: 1\nSubscriptionCount: 1\nTransactionCount: 0\nVersion: " +
                         c->Version() + "\n");
    r = ctl(stack, {"status", "--json"});
    ASSERT_EQ(r.status, 0) << describe(r);
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["Connected"], true);
    EXPECT_EQ(j["Backend"], stack.xenstored().backend());
    EXPECT_EQ(j["SubscriptionCount"], 1);
    EXPECT_EQ(j["Version"], c->Version());
}

TEST_F(Verbs, HelpForTheProgramAndEveryVerb)
{
    auto r = run({ctlPath(), "--help"});
    ASSERT_EQ(r.status, 0);
    for (const char* needle : {"Exit status", " 69 ", " 77 ", " 75 ", "--address", "--json"})
        EXPECT_NE(r.out.find(needle), std::string::npos) << needle;
    for (const char* verb : {"read", "write", "exists", "list", "ls", "rm", "mkdir", "chmod", "watch",
                             "snapshot", "domain-path", "introduced", "transaction", "status"}) {
        EXPECT_NE(r.out.find(std::string("\n  ") + verb + " "), std::string::npos) << verb;
        auto v = run({ctlPath(), verb, "--help"});
        EXPECT_EQ(v.status, 0) << verb;
        EXPECT_EQ(v.out.rfind(std::string("Usage: xenstorectl [OPTIONS] ") + verb + " ", 0), 0u) << v.out;
        EXPECT_NE(v.out.find("Exit status"), std::string::npos) << verb;
        EXPECT_EQ(run({ctlPath(), "help", verb}).out, v.out) << verb;
    }
}
