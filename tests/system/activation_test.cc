// D-Bus activation: a call to the name while no daemon runs makes the bus
// start one, and the bus hands it that call the moment it owns the name.
// The caller must get its answer, as from a daemon that had been running:
// not a "not connected" while xenstored answers the daemon's first request.
// (Under systemd the bus asks for xenstore-dbus.service instead of running
// Exec= itself; the boot test checks that path.)
#include <gtest/gtest.h>

#include <signal.h>

#include <future>

#include "tests/system/system_stack.h"

using namespace xsd::test;
using namespace std::chrono_literals;

namespace {

void writeServiceFile(Stack& stack)
{
    writeFile(stack.bus().serviceDir() + "/org.xenproject.XenStore1.service",
              "[D-BUS Service]\n"
              "Name=org.xenproject.XenStore1\n"
              "Exec=" + Stack::daemonPath() + " --bus " + stack.address() + " --xenstore " +
                  stack.xenstored().backend() + " --verbose\n");
}

// The pid of the daemon the bus started (it owns the name).
pid_t activatedPid(Stack& stack)
{
    auto r = stack.busctl({"call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus", "GetConnectionUnixProcessID", "s", BusName});
    if (r.status != 0)
        return -1;
    return std::stoi(r.out.substr(r.out.find(' ') + 1));
}

}  // namespace

TEST(Activation, TheCallThatStartsTheDaemonIsAnswered)
{
    Stack stack(withoutDaemon());
    stack.xenstored().write("/activation", "answered");
    writeServiceFile(stack);
    ASSERT_FALSE(nameOwned(stack));

    auto r = stack.busctlCall("Read", {"s", "/activation"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "s \"answered\"\n");
    // The bus started it: stop it as the service manager would.
    const pid_t pid = activatedPid(stack);
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
    EXPECT_TRUE(waitFor([&] { return !nameOwned(stack); }, 10s));
}

TEST(Activation, ACallThatStartsTheDaemonWaitsForXenstoredsFirstAnswer)
{
    // xenstored slow to answer the daemon's first request (here: stopped
    // for a second; on a loaded host, merely late). The call that started
    // the daemon waits for that first answer and gets the value, not
    // NotConnected.
    Stack stack(withoutDaemon());
    stack.xenstored().write("/activation", "answered");
    writeServiceFile(stack);
    Frozen frozen(stack.xenstored().pid());
    auto call = std::async(std::launch::async, [&] { return stack.busctlCall("Read", {"s", "/activation"}); });
    EXPECT_EQ(call.wait_for(1s), std::future_status::timeout);
    frozen.thaw();
    auto r = call.get();
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "s \"answered\"\n");
    const pid_t pid = activatedPid(stack);
    ASSERT_GT(pid, 0);
    ::kill(pid, SIGTERM);
}

TEST(Activation, WithoutXenstoredTheCallIsToldSo)
{
    // xenstored down: the first attempt fails at once, and so does the call
    // that started the daemon, with NotConnected.
    Stack stack(withoutDaemon());
    stack.xenstored().stop(SIGTERM);
    writeServiceFile(stack);

    auto r = stack.busctlCall("Read", {"s", "/activation"});
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("not connected to xenstored"), std::string::npos) << r.err;

    const pid_t pid = activatedPid(stack);
    ASSERT_GT(pid, 0);
    ::kill(pid, SIGTERM);
}
