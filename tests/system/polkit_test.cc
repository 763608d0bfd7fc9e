// Desktop callers: rules that defer to polkit, against a real polkitd
// (Debian's polkitd 122, in a mount namespace of its own with the project's
// .policy and the rules below; tests/harness/polkitd.h) on the test's
// private system-like bus. Callers run as uid 65534 (nobody) and uid 1
// (daemon): gdbus and busctl for one call per connection, xsd-polkit-client
// for many calls on one connection. Every CheckAuthorization the daemon
// sends is seen on the bus by a monitor, so the tests count them and read
// their flags and details.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <sdbus-c++/sdbus-c++.h>

#include "daemon/config/polkit_rules.h"
#include "tests/harness/polkitd.h"
#include "tests/system/system_stack.h"

#ifndef XSD_POLKIT_POLICY
#error "XSD_POLKIT_POLICY must name org.xenproject.XenStore1.policy"
#endif
#ifndef XSD_POLKIT_CLIENT
#error "XSD_POLKIT_CLIENT must name the xsd-polkit-client helper"
#endif

using namespace xsd::test;
using xsd::Access;
using xsd::polkitActionFor;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

namespace {

const std::string AccessDenied = std::string(ErrorPrefix) + "AccessDenied";
const std::string InteractiveAuthorizationRequired =
    "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired";
constexpr unsigned OtherUid = 1;  // "daemon": an account polkitd can name
constexpr unsigned PolkitTimeoutS = 3;

std::string daemonConfig(bool withReadRule = true)
{
    return std::string(R"({
  "access": [
    {"uid": 0, "paths": ["/", "@"], "allow": ["read", "write", "watch", "admin"]},
    {"uid": 1, "paths": ["/plain"], "allow": ["read", "write"]},
    {"polkit": "org.xenproject.xenstore1.write", "paths": ["/desk/*"], "allow": ["write"]},)") +
           (withReadRule ? R"(
    {"polkit": "org.xenproject.xenstore1.read", "paths": ["/desk/*"], "allow": ["read"]},)"
                         : "") +
           R"(
    {"polkit": "org.xenproject.xenstore1.watch", "paths": ["/desk/*"], "allow": ["watch"]}
  ],
  "limits": {"polkit_timeout_s": )" +
           std::to_string(PolkitTimeoutS) + R"(, "pending_calls_per_caller": 1024}
})";
}

// The test's polkit rules: for nobody, writes under /desk/yes, reads and
// watches under /desk/r; under /desk/auth only after an administrator
// authenticates; nothing else, and nothing for anyone else.
const char* const Rules = R"(
polkit.addAdminRule(function(action, subject) { return ["unix-user:0"]; });
polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.xenproject.xenstore1.") != 0)
        return polkit.Result.NOT_HANDLED;
    var subtree = action.lookup("subtree");
    polkit.log("asked " + action.id + " " + action.lookup("method") + " " +
               action.lookup("path") + " in " + subtree + " for " + subject.user);
    if (subject.user != "nobody")
        return polkit.Result.NO;
    if (action.id == "org.xenproject.xenstore1.write") {
        if (subtree == "/desk/yes")
            return polkit.Result.YES;
        if (subtree == "/desk/auth")
            return polkit.Result.AUTH_ADMIN;
        return polkit.Result.NO;
    }
    return subtree == "/desk/r" ? polkit.Result.YES : polkit.Result.NO;
});
)";

// `argv` as `uid` (and its own gid), with no supplementary groups.
std::vector<std::string> asUid(unsigned uid, const std::vector<std::string>& argv)
{
    std::vector<std::string> full{"setpriv", "--reuid=" + std::to_string(uid),
                                  "--regid=" + std::to_string(uid), "--clear-groups"};
    full.insert(full.end(), argv.begin(), argv.end());
    if (full[4].find('/') != std::string::npos)
        full[4] = executableByAnyone(full[4]);
    return full;
}

// `gdbus call` of a method on the daemon as `uid`; --interactive sets the
// message's ALLOW_INTERACTIVE_AUTHORIZATION flag.
CallOutcome gdbusAs(Stack& stack, unsigned uid, const std::string& method,
                    const std::vector<std::string>& args, bool interactive = false)
{
    std::vector<std::string> argv{"gdbus", "call", "--address", stack.address(), "--dest",
                                  BusName, "--object-path", ObjectPath, "--method",
                                  std::string(Interface) + "." + method};
    if (interactive)
        argv.push_back("--interactive");
    argv.insert(argv.end(), args.begin(), args.end());
    return outcomeOf(run(asUid(uid, argv)));
}

// One CheckAuthorization as the bus carried it.
struct Check {
    std::string subject;  // the system-bus-name subject's name
    std::string action;
    std::map<std::string, std::string> details;
    uint32_t flags = 0;
};

// `busctl monitor` for CheckAuthorization calls, to a file. The monitor
// sees messages in the bus's order: once a sentinel call the test makes
// itself shows up, every call sent before it has too.
class CheckMonitor {
public:
    explicit CheckMonitor(Stack& stack) : stack_(stack)
    {
        proc_ = Process::writing(
            {"busctl", "--address=" + stack.address(), "monitor", "--json=short",
             "--match=type='method_call',interface='org.freedesktop.PolicyKit1.Authority',"
             "member='CheckAuthorization'"},
            dir_ / "out", dir_ / "err");
        if (!waitFor([&] { return readFile(dir_ / "err").find("Monitoring") != std::string::npos; }))
            throw std::runtime_error("busctl monitor did not start: " + readFile(dir_ / "err"));
    }

    // Every CheckAuthorization so far (after a sentinel, so none is missed).
    std::vector<Check> checks()
    {
        const std::string sentinel = "org.xenproject.test.sentinel" + std::to_string(++sentinels_);
        // No reply wanted: polkitd may be gone or frozen.
        stack_.busctl({"--expect-reply=no", "call", "org.freedesktop.PolicyKit1",
                       "/org/freedesktop/PolicyKit1/Authority",
                       "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
                       "(sa{sv})sa{ss}us", "unix-process", "1", "pid", "u", "1", sentinel, "0",
                       "0", ""});
        std::vector<Check> out;
        waitFor([&] {
            out.clear();
            bool seen = false;
            for (const auto& line : splitLines(readFile(dir_ / "out"))) {
                auto m = nlohmann::json::parse(line, nullptr, false);
                if (m.is_discarded() || !m.contains("payload"))
                    continue;
                const auto& data = m["payload"]["data"];
                Check c;
                c.action = data[1].get<std::string>();
                if (c.action.starts_with("org.xenproject.test.sentinel")) {
                    seen = seen || c.action == sentinel;
                    continue;
                }
                if (data[0][1].contains("name"))
                    c.subject = data[0][1]["name"]["data"].get<std::string>();
                c.details = data[2].get<std::map<std::string, std::string>>();
                c.flags = data[3].get<uint32_t>();
                out.push_back(c);
            }
            return seen;
        });
        return out;
    }
    size_t count() { return checks().size(); }

private:
    Stack& stack_;
    TempDir dir_{"xsd-polkit-monitor"};
    Process proc_;
    int sentinels_ = 0;
};

// xsd-polkit-client (tests/system/polkit_client.cc) as `uid`, running
// `steps` on one connection; its lines go to a file. A step "@NAME" is a
// file of the client's own directory, for "await": go(NAME) creates it.
class DesktopClient {
public:
    DesktopClient(Stack& stack, unsigned uid, std::vector<std::string> steps)
    {
        for (auto& s : steps)
            if (s.starts_with("@"))
                s = dir_ / s.substr(1);
        std::vector<std::string> argv{XSD_POLKIT_CLIENT, stack.address()};
        argv.insert(argv.end(), steps.begin(), steps.end());
        proc_ = Process::writing(asUid(uid, argv), dir_ / "out", dir_ / "err");
    }
    void go(const std::string& name) const { writeFile(dir_ / name, ""); }

    std::vector<std::string> lines() const { return splitLines(readFile(dir_ / "out")); }
    // The first line starting with `prefix`, once there is one.
    std::string line(const std::string& prefix, std::chrono::milliseconds timeout = 30s) const
    {
        std::string found;
        waitFor(
            [&] {
                for (const auto& l : lines())
                    if (l.starts_with(prefix)) {
                        found = l;
                        return true;
                    }
                return false;
            },
            timeout);
        return found;
    }
    std::string transcript() const
    {
        return readFile(dir_ / "out") + "(stderr) " + readFile(dir_ / "err");
    }
    int finish() { return proc_.wait(60s); }
    // Waits for it to end well; its `n` lines (the test fails otherwise).
    std::vector<std::string> results(size_t n)
    {
        const int status = finish();
        auto l = lines();
        if (status != 0 || l.size() != n) {
            ADD_FAILURE() << "exit status " << status << ", " << l.size() << " lines for " << n
                          << ":\n"
                          << transcript();
            l.resize(n);
        }
        return l;
    }
    Process& process() { return proc_; }

private:
    TempDir dir_{"xsd-desktop-client"};
    Process proc_;
};

// An authentication agent, as a desktop session runs one (polkit-gnome,
// KDE's): registered with polkitd as root for one process, it is asked to
// authenticate when that process's calls need it. This one either
// "authenticates" at once (it answers polkitd as the setuid helper would
// after PAM) or is dismissed, and keeps what it was asked.
class TestAgent {
public:
    struct Request {
        std::string action;
        std::string message;
        std::map<std::string, std::string> details;
    };
    using Identity = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;

    TestAgent(const std::string& address, bool authenticate)
        : conn_(sdbus::createSessionBusConnectionWithAddress(address)), authenticate_(authenticate)
    {
        authority_ = sdbus::createProxy(*conn_, "org.freedesktop.PolicyKit1",
                                        "/org/freedesktop/PolicyKit1/Authority");
        object_ = sdbus::createObject(*conn_, AgentPath);
        object_->registerMethod("BeginAuthentication")
            .onInterface(AgentInterface)
            .implementedAs([this](const std::string& action, const std::string& message,
                                  const std::string& /*icon*/,
                                  const std::map<std::string, std::string>& details,
                                  const std::string& cookie, const std::vector<Identity>& identities) {
                {
                    std::lock_guard lock(mutex_);
                    requests_.push_back({action, message, details});
                }
                if (!authenticate_ || identities.empty())
                    throw sdbus::Error("org.freedesktop.PolicyKit1.Error.Cancelled",
                                       "the test dismissed the dialog");
                authority_->callMethod("AuthenticationAgentResponse2")
                    .onInterface(AuthorityInterface)
                    .withArguments(uint32_t{0}, cookie, identities.front());
            });
        object_->registerMethod("CancelAuthentication")
            .onInterface(AgentInterface)
            .implementedAs([](const std::string&) {});
        object_->finishRegistration();
        conn_->enterEventLoopAsync();
    }
    ~TestAgent() { conn_->leaveEventLoop(); }

    // Registers for the process `pid`: polkitd finds an agent for a
    // system-bus-name subject through its process.
    void registerFor(pid_t pid)
    {
        std::map<std::string, sdbus::Variant> details{{"pid", sdbus::Variant(uint32_t(pid))},
                                                      {"start-time", sdbus::Variant(startTime(pid))}};
        Identity subject{"unix-process", details};
        authority_->callMethod("RegisterAuthenticationAgent")
            .onInterface(AuthorityInterface)
            .withArguments(subject, std::string("C"), std::string(AgentPath));
    }

    std::vector<Request> requests() const
    {
        std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    static constexpr const char* AgentPath = "/org/xenproject/test/AuthenticationAgent";
    static constexpr const char* AgentInterface = "org.freedesktop.PolicyKit1.AuthenticationAgent";
    static constexpr const char* AuthorityInterface = "org.freedesktop.PolicyKit1.Authority";

    // Field 22 of /proc/PID/stat, as polkit identifies a process.
    static uint64_t startTime(pid_t pid)
    {
        std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
        std::istringstream rest(stat.substr(stat.rfind(')') + 2));
        std::string field;
        for (int i = 3; i <= 22 && rest >> field; ++i) {
        }
        return std::stoull(field);
    }

    std::unique_ptr<sdbus::IConnection> conn_;
    std::unique_ptr<sdbus::IProxy> authority_;
    std::unique_ptr<sdbus::IObject> object_;
    bool authenticate_;
    mutable std::mutex mutex_;
    std::vector<Request> requests_;
};

class Polkit : public ::testing::Test {
protected:
    void SetUp() override
    {
        Stack::Options o;
        o.config = daemonConfig();
        o.busPolicies.push_back(Polkitd::busPolicy());
        stack = std::make_unique<Stack>(o);
        polkitd = std::make_unique<Polkitd>(stack->address(),
                                            std::vector<std::string>{XSD_POLKIT_POLICY}, Rules);
        monitor = std::make_unique<CheckMonitor>(*stack);
        auto& xs = stack->xenstored();
        for (const char* p : {"/desk/r/k", "/desk/no/k", "/plain/k", "/other/k"})
            xs.write(p, "v");
    }

    // SIGHUP, and the daemon's word that it reloaded.
    void reload(const std::string& config)
    {
        writeFile(stack->configPath(), config);
        const std::string said = "reloaded the configuration from";
        auto times = [&] {
            auto log = stack->daemonLog();
            size_t n = 0;
            for (size_t at = log.find(said); at != std::string::npos; at = log.find(said, at + 1))
                ++n;
            return n;
        };
        const size_t before = times();
        kill(stack->daemon().pid(), SIGHUP);
        ASSERT_TRUE(waitFor([&] { return times() > before; })) << stack->daemonLog();
    }

    std::unique_ptr<Stack> stack;
    std::unique_ptr<Polkitd> polkitd;
    std::unique_ptr<CheckMonitor> monitor;
};

}  // namespace

TEST_F(Polkit, ActionsAreWhatPkactionShows)
{
    // The installed .policy as polkitd read it, asked the way an
    // administrator would.
    for (Access kind : {Access::Read, Access::Write, Access::Watch, Access::Admin}) {
        const std::string action = polkitActionFor(kind);
        auto r = run({"pkaction", "--verbose", "--action-id", action},
                     {{"DBUS_SYSTEM_BUS_ADDRESS", stack->address()}});
        ASSERT_EQ(r.status, 0) << action << ": " << r.err;
        EXPECT_THAT(r.out, HasSubstr("implicit any:      no")) << r.out;
        EXPECT_THAT(r.out, HasSubstr("implicit inactive: no")) << r.out;
        const bool changes = kind == Access::Write || kind == Access::Admin;
        EXPECT_THAT(r.out, HasSubstr(std::string("implicit active:   ") +
                                     (changes ? "auth_admin_keep" : "yes")))
            << r.out;
        EXPECT_THAT(r.out, HasSubstr("vendor:            The Xen Project")) << r.out;
    }
}

TEST_F(Polkit, YesUnderOneSubtreeAndRefusedElsewhere)
{
    auto& xs = stack->xenstored();
    auto yes = gdbusAs(*stack, 65534, "Write", {"/desk/yes/a", "1"});
    EXPECT_TRUE(yes.ok()) << yes.raw;
    EXPECT_EQ(xs.read("/desk/yes/a"), "1");

    auto no = gdbusAs(*stack, 65534, "Write", {"/desk/no/k", "2"});
    EXPECT_EQ(no.error, AccessDenied) << no.raw;
    EXPECT_THAT(no.message, HasSubstr("uid 65534 may not write /desk/no/k"));
    EXPECT_THAT(no.message, HasSubstr("polkit did not authorize org.xenproject.xenstore1.write"));
    EXPECT_EQ(xs.read("/desk/no/k"), "v");

    // Where no rule reaches, polkit is not asked at all.
    auto elsewhere = gdbusAs(*stack, 65534, "Write", {"/other/k", "3"});
    EXPECT_EQ(elsewhere.error, AccessDenied) << elsewhere.raw;
    EXPECT_THAT(elsewhere.message, Not(HasSubstr("polkit")));

    // Another uid: polkit says no to it on the same subtree.
    auto other = gdbusAs(*stack, OtherUid, "Write", {"/desk/yes/b", "4"});
    EXPECT_EQ(other.error, AccessDenied) << other.raw;
    EXPECT_THAT(other.message, HasSubstr("uid 1 may not write /desk/yes/b"));

    auto checks = monitor->checks();
    ASSERT_EQ(checks.size(), 3u);
    for (const auto& c : checks) {
        EXPECT_EQ(c.action, "org.xenproject.xenstore1.write");
        EXPECT_EQ(c.flags, 0u) << "gdbus without --interactive";
        EXPECT_THAT(c.subject, StartsWith(":1."));
        EXPECT_EQ(c.details.at("method"), "Write");
        EXPECT_EQ(c.details.at("polkit.message"),
                  "Authentication is required to change $(path) in XenStore.");
    }
    EXPECT_EQ(checks[0].details.at("path"), "/desk/yes/a");
    EXPECT_EQ(checks[0].details.at("subtree"), "/desk/yes");
    EXPECT_EQ(checks[1].details.at("path"), "/desk/no/k");
    EXPECT_EQ(checks[1].details.at("subtree"), "/desk/no");
    EXPECT_EQ(checks[2].details.at("path"), "/desk/yes/b");
    EXPECT_THAT(polkitd->log(), HasSubstr("asked org.xenproject.xenstore1.write Write /desk/yes/a "
                                          "in /desk/yes for nobody"));
}

TEST_F(Polkit, AYesIsKeptForItsSubtreeOnlyAndANoIsNotKept)
{
    DesktopClient c(*stack, 65534,
                    {"write", "/desk/yes/a", "1", "write", "/desk/yes/b", "2", "write",
                     "/desk/no/k", "3", "write", "/desk/no/k", "4", "write", "/desk/yes/c", "5"});
    auto lines = c.results(5);
    EXPECT_EQ(lines[0], "write /desk/yes/a: ok");
    EXPECT_EQ(lines[1], "write /desk/yes/b: ok");
    EXPECT_THAT(lines[2], StartsWith("write /desk/no/k: error " + AccessDenied));
    EXPECT_THAT(lines[3], StartsWith("write /desk/no/k: error " + AccessDenied));
    EXPECT_EQ(lines[4], "write /desk/yes/c: ok");
    // Once for /desk/yes (kept), twice for /desk/no (a no is not kept).
    auto checks = monitor->checks();
    ASSERT_EQ(checks.size(), 3u);
    EXPECT_EQ(checks[0].details.at("subtree"), "/desk/yes");
    EXPECT_EQ(checks[1].details.at("subtree"), "/desk/no");
    EXPECT_EQ(checks[2].details.at("subtree"), "/desk/no");
}

TEST_F(Polkit, ACallersCallsStayInOrderWhilePolkitAnswers)
{
    // Write and Commit sent at once: the Commit waits for the Write, which
    // waits for polkit.
    DesktopClient c(*stack, 65534, {"txwrite", "/desk/yes/t", "in a transaction"});
    EXPECT_EQ(c.results(1),
              std::vector<std::string>{"txwrite /desk/yes/t: write ok, commit ok true"});
    EXPECT_EQ(stack->xenstored().read("/desk/yes/t"), "in a transaction");
    EXPECT_EQ(monitor->count(), 1u);
}

TEST_F(Polkit, ACallOfSeveralPathsAsksForEachSubtree)
{
    auto& xs = stack->xenstored();
    auto both = gdbusAs(*stack, 65534, "WriteMany",
                        {"{'/desk/yes/m1': 'a', '/desk/yes/m2': 'b', '/desk/r/m3': 'c'}"});
    EXPECT_EQ(both.error, AccessDenied) << both.raw;
    EXPECT_THAT(both.message, HasSubstr("may not write /desk/r/m3"));
    EXPECT_NE(xs.tool("xenstore-read", {"/desk/yes/m1"}).status, 0) << "all or nothing";
    auto yes = gdbusAs(*stack, 65534, "WriteMany", {"{'/desk/yes/m1': 'a', '/desk/yes/m2': 'b'}"});
    EXPECT_TRUE(yes.ok()) << yes.raw;
    EXPECT_EQ(xs.read("/desk/yes/m2"), "b");
    // The paths in order (/desk/r/m3 first): refused there, nothing more
    // asked; then /desk/yes once for both of its paths.
    auto checks = monitor->checks();
    ASSERT_EQ(checks.size(), 2u);
    EXPECT_EQ(checks[0].details.at("method"), "WriteMany");
    EXPECT_EQ(checks[0].details.at("subtree"), "/desk/r");
    EXPECT_EQ(checks[1].details.at("subtree"), "/desk/yes");
    EXPECT_EQ(checks[1].details.at("path"), "/desk/yes/m1");
}

TEST_F(Polkit, ACallOfSeveralPathsKeepsItsPlaceWhileItAsks)
{
    // A WriteMany asks polkit for each of its two subtrees in turn; a Read
    // sent right after it must not slip in between and see the old value.
    polkitd->setRules(R"(
polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.xenproject.xenstore1.") == 0)
        return polkit.Result.YES;
});
)");
    DesktopClient c(*stack, 65534,
                    {"writemany-read", "/desk/r/k", "new", "/desk/yes/k", "new", "/desk/r/k"});
    EXPECT_EQ(c.results(1), std::vector<std::string>{"writemany-read: ok; read ok new"});
    EXPECT_EQ(monitor->count(), 3u);
}

TEST_F(Polkit, AuthenticationWithoutTheFlagIsInteractiveAuthorizationRequired)
{
    auto g = gdbusAs(*stack, 65534, "Write", {"/desk/auth/x", "1"});
    EXPECT_EQ(g.error, InteractiveAuthorizationRequired) << g.raw;
    EXPECT_THAT(g.message, HasSubstr("org.xenproject.xenstore1.write"));
    EXPECT_THAT(g.message, HasSubstr("interactive"));
    // busctl sets the flag unless told not to.
    auto b = run(asUid(65534, {"busctl", "--address=" + stack->address(),
                               "--allow-interactive-authorization=no", "call", BusName, ObjectPath,
                               Interface, "Write", "ss", "/desk/auth/x", "2"}));
    EXPECT_NE(b.status, 0);
    EXPECT_THAT(b.err, HasSubstr("only after authentication")) << b.err;
    EXPECT_NE(stack->xenstored().tool("xenstore-read", {"/desk/auth/x"}).status, 0);
    auto checks = monitor->checks();
    ASSERT_EQ(checks.size(), 2u);
    EXPECT_EQ(checks[0].flags, 0u);
    EXPECT_EQ(checks[1].flags, 0u);
}

TEST_F(Polkit, WithTheFlagPolkitMayInteractButNoAgentAnswers)
{
    auto g = gdbusAs(*stack, 65534, "Write", {"/desk/auth/x", "1"}, /*interactive=*/true);
    EXPECT_EQ(g.error, AccessDenied) << g.raw;
    EXPECT_THAT(g.message, HasSubstr("no authentication agent"));
    auto checks = monitor->checks();
    ASSERT_EQ(checks.size(), 1u);
    EXPECT_EQ(checks[0].flags, 1u) << "AllowUserInteraction";
}

TEST_F(Polkit, AnAgentAuthenticatesAndTheYesIsKept)
{
    TestAgent agent(stack->address(), /*authenticate=*/true);
    DesktopClient c(*stack, 65534,
                    {"name", "await", "@registered", "interactive", "yes", "write", "/desk/auth/x",
                     "1", "interactive", "no", "write", "/desk/auth/y", "2"});
    ASSERT_THAT(c.line("name "), StartsWith("name :1.")) << c.transcript();
    agent.registerFor(c.process().pid());
    c.go("registered");
    auto lines = c.results(4);
    EXPECT_EQ(lines[2], "write /desk/auth/x: ok");
    // Kept for the connection: no flag needed, polkit not asked again.
    EXPECT_EQ(lines[3], "write /desk/auth/y: ok");
    EXPECT_EQ(stack->xenstored().read("/desk/auth/y"), "2");

    auto requests = agent.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].action, "org.xenproject.xenstore1.write");
    // What the dialog shows: the daemon's message, $(path) filled in.
    EXPECT_EQ(requests[0].message, "Authentication is required to change /desk/auth/x in XenStore.");
    auto checks = monitor->checks();
    ASSERT_EQ(checks.size(), 1u);
    EXPECT_EQ(checks[0].flags, 1u);
    EXPECT_EQ(checks[0].details.at("path"), "/desk/auth/x");
    EXPECT_EQ(checks[0].subject, lines[0].substr(5));
}

TEST_F(Polkit, ADismissedDialogIsAccessDeniedNamingTheAction)
{
    TestAgent agent(stack->address(), /*authenticate=*/false);
    DesktopClient c(*stack, 65534,
                    {"name", "await", "@registered", "interactive", "yes", "write", "/desk/auth/x",
                     "1"});
    ASSERT_THAT(c.line("name "), StartsWith("name :1.")) << c.transcript();
    agent.registerFor(c.process().pid());
    c.go("registered");
    auto lines = c.results(3);
    EXPECT_THAT(lines[2], StartsWith("write /desk/auth/x: error " + AccessDenied));
    EXPECT_THAT(lines[2], HasSubstr("org.xenproject.xenstore1.write was dismissed"));
    EXPECT_EQ(agent.requests().size(), 1u);
}

TEST_F(Polkit, ThousandReadsAskPolkitOnce)
{
    DesktopClient c(*stack, 65534, {"reads", "1000", "/desk/r/k", "read", "/desk/r/k"});
    EXPECT_EQ(c.results(2), (std::vector<std::string>{"reads 1000 /desk/r/k: ok 1000",
                                                      "read /desk/r/k: ok v"}));
    auto checks = monitor->checks();
    ASSERT_EQ(checks.size(), 1u);
    EXPECT_EQ(checks[0].action, "org.xenproject.xenstore1.read");
    EXPECT_EQ(checks[0].details.at("subtree"), "/desk/r");
}

TEST_F(Polkit, WatchesAuthorizedByPolkitGetTheirEvents)
{
    DesktopClient c(*stack, 65534,
                    {"watch", "/desk/r", "t", "watch", "/desk/no", "u", "await", "@done"});
    ASSERT_EQ(c.line("watch /desk/r t:"), "watch /desk/r t: ok") << c.transcript();
    EXPECT_THAT(c.line("watch /desk/no u:"), StartsWith("watch /desk/no u: error " + AccessDenied));
    stack->xenstored().write("/desk/r/k", "changed");
    EXPECT_EQ(c.line("event /desk/r/k"), "event /desk/r/k t") << c.transcript();
    c.go("done");
    EXPECT_EQ(c.finish(), 0);
    auto checks = monitor->checks();
    ASSERT_EQ(checks.size(), 2u);
    EXPECT_EQ(checks[0].action, "org.xenproject.xenstore1.watch");
    EXPECT_EQ(checks[0].details.at("polkit.message"),
              "Authentication is required to watch $(path) in XenStore.");
}

TEST_F(Polkit, PolkitdGoneFailsClosedAndUidRulesAreServed)
{
    polkitd->kill();
    const auto start = std::chrono::steady_clock::now();
    auto g = gdbusAs(*stack, 65534, "Write", {"/desk/yes/a", "1"});
    EXPECT_EQ(g.error, AccessDenied) << g.raw;
    EXPECT_THAT(g.message, HasSubstr("polkit could not be asked about org.xenproject.xenstore1.write"));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(PolkitTimeoutS));
    auto plain = gdbusAs(*stack, OtherUid, "Write", {"/plain/k", "by uid rule"});
    EXPECT_TRUE(plain.ok()) << plain.raw;
    EXPECT_EQ(stack->xenstored().read("/plain/k"), "by uid rule");

    // Started again: authorization works again.
    polkitd->start();
    auto again = gdbusAs(*stack, 65534, "Write", {"/desk/yes/a", "2"});
    EXPECT_TRUE(again.ok()) << again.raw;
    EXPECT_EQ(stack->xenstored().read("/desk/yes/a"), "2");
}

TEST_F(Polkit, PolkitdHangingIsRefusedWithinTheBoundWhileOthersAreServed)
{
    std::future<CallOutcome> governed;
    std::chrono::steady_clock::time_point start, governedDone, plainDone;
    {
        Frozen frozen(polkitd->pid());
        start = std::chrono::steady_clock::now();
        governed = std::async(std::launch::async, [&] {
            auto r = gdbusAs(*stack, 65534, "Write", {"/desk/yes/a", "1"});
            governedDone = std::chrono::steady_clock::now();
            return r;
        });
        // Give the governed call time to reach polkit, then a uid-rule call.
        ASSERT_TRUE(waitFor([&] { return !monitor->checks().empty(); }));
        auto plain = gdbusAs(*stack, OtherUid, "Write", {"/plain/k", "served"});
        plainDone = std::chrono::steady_clock::now();
        EXPECT_TRUE(plain.ok()) << plain.raw;
        auto g = governed.get();
        EXPECT_EQ(g.error, AccessDenied) << g.raw;
        EXPECT_THAT(g.message, HasSubstr("polkit did not answer within " +
                                         std::to_string(PolkitTimeoutS) + " s"));
    }
    EXPECT_LT(plainDone, governedDone) << "the uid-rule call waited for polkit";
    EXPECT_GE(governedDone - start, std::chrono::seconds(PolkitTimeoutS) - 500ms);
    EXPECT_LT(governedDone - start, std::chrono::seconds(PolkitTimeoutS) + 10s);
    EXPECT_EQ(stack->xenstored().read("/plain/k"), "served");
    EXPECT_NE(stack->xenstored().tool("xenstore-read", {"/desk/yes/a"}).status, 0);
}

TEST_F(Polkit, PolkitdDyingMidQuestionIsRefusedAtOnce)
{
    std::chrono::steady_clock::time_point asked;
    std::future<CallOutcome> governed;
    {
        Frozen frozen(polkitd->pid());
        governed = std::async(std::launch::async,
                              [&] { return gdbusAs(*stack, 65534, "Write", {"/desk/yes/a", "1"}); });
        ASSERT_TRUE(waitFor([&] { return !monitor->checks().empty(); }));
        asked = std::chrono::steady_clock::now();
        polkitd->kill();  // SIGKILL ends it stopped or not
    }
    auto g = governed.get();
    EXPECT_EQ(g.error, AccessDenied) << g.raw;
    EXPECT_THAT(g.message, HasSubstr("polkit could not be asked"));
    EXPECT_THAT(g.message, Not(HasSubstr("did not answer within")));
    EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(PolkitTimeoutS));
}

TEST_F(Polkit, AReloadWithdrawsWhatWasKept)
{
    DesktopClient c(*stack, 65534,
                    {"read", "/desk/r/k", "read", "/desk/r/k", "await", "@same", "read",
                     "/desk/r/k", "await", "@removed", "read", "/desk/r/k"});
    auto lines = [&](size_t n) {
        waitFor([&] { return c.lines().size() >= n; }, 30s);
        return c.lines();
    };
    ASSERT_EQ(lines(2)[1], "read /desk/r/k: ok v") << c.transcript();
    EXPECT_EQ(monitor->count(), 1u);

    // The same rules again: what was kept is gone all the same.
    reload(daemonConfig(true));
    c.go("same");
    ASSERT_EQ(lines(4).at(3), "read /desk/r/k: ok v") << c.transcript();
    EXPECT_EQ(monitor->count(), 2u);

    // Without the rule: refused, and polkit is not even asked.
    reload(daemonConfig(false));
    c.go("removed");
    auto last = c.results(6)[5];
    EXPECT_THAT(last, StartsWith("read /desk/r/k: error " + AccessDenied)) << c.transcript();
    EXPECT_THAT(last, HasSubstr("uid 65534 may not read /desk/r/k"));
    EXPECT_THAT(last, Not(HasSubstr("polkit")));
    EXPECT_EQ(monitor->count(), 2u);
}

TEST_F(Polkit, PkcheckAsTheReadmeShowsIt)
{
    // README: how an administrator checks what the rules say of a user's
    // process (only root may pass details).
    Process nobody(asUid(65534, {"sleep", "60"}));
    auto check = [&](const std::string& subtree) {
        return run({"pkcheck", "--action-id", "org.xenproject.xenstore1.write", "--process",
                    std::to_string(nobody.pid()), "--detail", "subtree", subtree},
                   {{"DBUS_SYSTEM_BUS_ADDRESS", stack->address()}});
    };
    auto yes = check("/desk/yes");
    EXPECT_EQ(yes.status, 0) << yes.err;
    auto no = check("/desk/no");
    EXPECT_EQ(no.status, 1) << no.err;
    auto auth = check("/desk/auth");
    EXPECT_EQ(auth.status, 2) << auth.err << "(authentication needed, not allowed to interact)";
}

TEST_F(Polkit, TheReadmesRulesExample)
{
    // README's polkit rules example, for the group "nogroup" (nobody's own,
    // which polkit counts): members may write /local/domain/*/data without
    // a password.
    reload(R"({"access": [
        {"polkit": "org.xenproject.xenstore1.write", "paths": ["/local/domain/*/data"], "allow": ["write"]}]})");
    polkitd->setRules(R"(
polkit.addRule(function(action, subject) {
    if (action.id == "org.xenproject.xenstore1.write" &&
        /^\/local\/domain\/[0-9]+\/data$/.test(action.lookup("subtree")) &&
        subject.isInGroup("nogroup"))
        return polkit.Result.YES;
});
)");
    DesktopClient c(*stack, 65534,
                    {"write", "/local/domain/5/data/x", "1", "write", "/local/domain/5/data/y/z", "2",
                     "write", "/local/domain/5/name", "3", "write", "/local/domain/7/data/x", "4"});
    auto lines = c.results(4);
    EXPECT_EQ(lines[0], "write /local/domain/5/data/x: ok");
    EXPECT_EQ(lines[1], "write /local/domain/5/data/y/z: ok");
    // Not under the rule's paths: no polkit, no write.
    EXPECT_THAT(lines[2], StartsWith("write /local/domain/5/name: error " + AccessDenied));
    // Another domain's data: a subtree of its own, asked again.
    EXPECT_EQ(lines[3], "write /local/domain/7/data/x: ok");
    auto checks = monitor->checks();
    ASSERT_EQ(checks.size(), 2u);
    EXPECT_EQ(checks[0].details.at("subtree"), "/local/domain/5/data");
    EXPECT_EQ(checks[1].details.at("subtree"), "/local/domain/7/data");
    // uid 1 is not in the group: polkit's default for a caller in no
    // session (allow_any: no).
    auto other = gdbusAs(*stack, OtherUid, "Write", {"/local/domain/5/data/x", "5"});
    EXPECT_EQ(other.error, AccessDenied) << other.raw;
    EXPECT_EQ(stack->xenstored().read("/local/domain/5/data/x"), "1");
}

TEST_F(Polkit, KeptAnswersPerConnectionAreBounded)
{
    // A rule with a "*" has as many subtrees as a caller names: past 1,024
    // kept, the connection starts again from none. 1,026 questions in a row:
    // on a loaded machine one of them may take polkitd longer than the
    // default bound, which is not what this test is about.
    reload(R"({"access": [
        {"polkit": "org.xenproject.xenstore1.read", "paths": ["/many/*"], "allow": ["read"]}],
      "limits": {"polkit_timeout_s": 120}})");
    polkitd->setRules(R"(
polkit.addRule(function(action, subject) {
    if (action.id == "org.xenproject.xenstore1.read")
        return polkit.Result.YES;
});
)");
    std::vector<std::string> steps;
    for (int i = 0; i <= 1024; ++i)
        steps.insert(steps.end(), {"read", "/many/" + std::to_string(i)});
    steps.insert(steps.end(), {"read", "/many/1024", "read", "/many/0"});
    DesktopClient c(*stack, 65534, steps);
    auto lines = c.results(1027);
    for (const auto& l : lines)
        EXPECT_THAT(l, HasSubstr("NoEntry")) << "past polkit, xenstored answered";
    // 1,025 subtrees asked once each; then /many/1024 kept, /many/0 forgotten.
    EXPECT_EQ(monitor->count(), 1026u);
}
