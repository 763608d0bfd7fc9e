// The bus policy and the activation file, as a real dbus-daemon configured
// like the system bus reads them: root may own the name, every user may call
// the service's interfaces (the daemon decides the rest), nothing else gets
// through, and a call to the name asks systemd for xenstore-dbus.service.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "tests/harness/process.h"

using namespace xsd::test;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

constexpr const char* ServiceName = "org.xenproject.XenStore1";
constexpr const char* ObjectPath = "/org/xenproject/XenStore1";

// The system bus's own default policy (dbus-daemon's system.conf): nobody may
// own names or call methods unless a policy file punches a hole.
constexpr const char* systemBusDefaults = R"(
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <!-- What systemd's own policy grants it on a real system. -->
  <policy user="root">
    <allow own="org.freedesktop.systemd1"/>
  </policy>
)";

// A private dbus-daemon of type "system", with the project's policy file
// included and its activation file in the service directory.
class SystemLikeBus {
public:
    explicit SystemLikeBus(const std::string& policyFile = XSD_POLICY_FILE,
                           std::vector<std::string> extraArgs = {})
    {
        std::filesystem::create_directory(dir_ / "services");
        std::filesystem::copy_file(XSD_ACTIVATION_FILE,
                                   dir_ / "services/org.xenproject.XenStore1.service");
        writeFile(config(), std::string(R"(<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=)") + socket() + R"(</listen>
  <auth>EXTERNAL</auth>
  <servicedir>)" + (dir_ / "services") + R"(</servicedir>)" +
                                    systemBusDefaults + R"(
  <include>)" + policyFile + R"(</include>
</busconfig>
)");
        std::vector<std::string> argv = {"dbus-daemon", "--nofork", "--config-file=" + config()};
        argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
        argv_ = argv;
    }

    // Starts it and waits for its socket; false if it exited instead.
    bool start()
    {
        daemon_ = Process(argv_);
        return waitFor([&] { return std::filesystem::exists(socket()) || !daemon_.running(); }) &&
               daemon_.running();
    }
    // Runs it in the foreground until it exits (for configurations it refuses).
    Output runToExit() const { return run(argv_, {}, {}, 10s); }

    std::string address() const { return "unix:path=" + socket(); }
    std::string config() const { return dir_ / "bus.conf"; }
    std::string socket() const { return dir_ / "bus"; }

private:
    TempDir dir_{"xsd-bus"};
    std::vector<std::string> argv_;
    Process daemon_;
};

sd_bus* connect(const std::string& address)
{
    sd_bus* bus = nullptr;
    if (sd_bus_new(&bus) < 0 || sd_bus_set_address(bus, address.c_str()) < 0 ||
        sd_bus_set_bus_client(bus, 1) < 0 || sd_bus_start(bus) < 0) {
        sd_bus_unref(bus);
        return nullptr;
    }
    return bus;
}

// Stands in for the daemon (and, when asked, for systemd): owns names as
// root and answers every method call that reaches it with "served".
class Responder {
public:
    Responder(const std::string& address, const std::vector<std::string>& names)
    {
        bus_ = connect(address);
        if (!bus_)
            throw std::runtime_error("cannot connect to " + address);
        for (auto& n : names) {
            int r = sd_bus_request_name(bus_, n.c_str(), 0);
            if (r < 0)
                throw std::runtime_error("cannot own " + n + ": " + std::strerror(-r));
        }
        sd_bus_add_filter(bus_, nullptr, &Responder::onMessage, this);
        thread_ = std::thread([this] {
            while (!stop_) {
                int r = sd_bus_process(bus_, nullptr);
                if (r < 0)
                    break;
                if (r == 0)
                    sd_bus_wait(bus_, 20000);
            }
        });
    }
    ~Responder()
    {
        stop_ = true;
        thread_.join();
        sd_bus_flush_close_unref(bus_);
    }

    std::vector<std::string> activationRequests()
    {
        std::lock_guard lock(mutex_);
        return activations_;
    }

private:
    static int onMessage(sd_bus_message* m, void* self, sd_bus_error*)
    {
        auto* me = static_cast<Responder*>(self);
        if (sd_bus_message_is_signal(m, "org.freedesktop.systemd1.Activator", "ActivationRequest")) {
            const char* unit = nullptr;
            if (sd_bus_message_read(m, "s", &unit) >= 0) {
                std::lock_guard lock(me->mutex_);
                me->activations_.push_back(unit);
            }
            return 1;
        }
        uint8_t type = 0;
        sd_bus_message_get_type(m, &type);
        const char* dest = sd_bus_message_get_destination(m);
        if (type == SD_BUS_MESSAGE_METHOD_CALL && dest && std::string(dest) == ServiceName) {
            sd_bus_reply_method_return(m, "s", "served");
            return 1;
        }
        return 0;
    }

    sd_bus* bus_ = nullptr;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::mutex mutex_;
    std::vector<std::string> activations_;
};

// busctl as an unprivileged user with no supplementary groups.
Output busctlAsNobody(const SystemLikeBus& bus, const std::vector<std::string>& args)
{
    std::vector<std::string> argv = {"busctl", "--address=" + bus.address(), "--timeout=5"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(asNobodyCommand(argv));
}

Output callAsNobody(const SystemLikeBus& bus, const std::string& interface,
                    const std::string& method, const std::vector<std::string>& args = {})
{
    std::vector<std::string> all = {"call", ServiceName, ObjectPath, interface, method};
    all.insert(all.end(), args.begin(), args.end());
    return busctlAsNobody(bus, all);
}

// Asks for the name from a child that has become uid 65534; returns what
// sd_bus_request_name returned (a negative errno when refused).
int requestNameAsNobody(const std::string& address)
{
    int pipeFds[2];
    if (pipe(pipeFds) != 0)
        return -999;
    pid_t child = fork();
    if (child == 0) {
        close(pipeFds[0]);
        int r = -998;
        if (setgroups(0, nullptr) == 0 && setresgid(65534, 65534, 65534) == 0 &&
            setresuid(65534, 65534, 65534) == 0) {
            sd_bus* bus = connect(address);
            r = bus ? sd_bus_request_name(bus, ServiceName, 0) : -997;
        }
        (void)!write(pipeFds[1], &r, sizeof r);
        _exit(0);
    }
    close(pipeFds[1]);
    int r = -996;
    (void)!read(pipeFds[0], &r, sizeof r);
    close(pipeFds[0]);
    waitpid(child, nullptr, 0);
    return r;
}

}  // namespace

TEST(BusPolicy, DbusDaemonAcceptsThePolicyFile)
{
    SystemLikeBus bus;
    ASSERT_TRUE(bus.start()) << bus.runToExit().err;

    // The control: a policy file dbus-daemon cannot parse stops it starting,
    // so starting above means the real one was read.
    TempDir other("xsd-bad-policy");
    std::string broken = readFile(XSD_POLICY_FILE);
    broken.replace(broken.find("<allow own="), 11, "<allowed own=");
    writeFile(other / "broken.conf", broken);
    SystemLikeBus refused(other / "broken.conf");
    Output r = refused.runToExit();
    EXPECT_NE(r.status, 0);
    EXPECT_THAT(r.err, HasSubstr("allowed"));
}

TEST(BusPolicy, OnlyRootMayOwnTheName)
{
    SystemLikeBus bus;
    ASSERT_TRUE(bus.start());
    EXPECT_EQ(requestNameAsNobody(bus.address()), -EACCES);

    sd_bus* root = connect(bus.address());
    ASSERT_TRUE(root);
    EXPECT_GE(sd_bus_request_name(root, ServiceName, 0), 0);
    sd_bus_flush_close_unref(root);
}

TEST(BusPolicy, EveryUserMayCallTheServiceInterfaces)
{
    SystemLikeBus bus;
    ASSERT_TRUE(bus.start());
    Responder daemon(bus.address(), {ServiceName});

    struct Call {
        std::string interface, method;
        std::vector<std::string> args;
    } calls[] = {
        {"org.xenproject.XenStore1", "Read", {"s", "/local/domain/0/name"}},
        {"org.xenproject.XenStore1", "Write", {"ss", "/x", "y"}},
        {"org.xenproject.XenStore1.Transaction", "Commit", {}},
        {"org.freedesktop.DBus.Introspectable", "Introspect", {}},
        {"org.freedesktop.DBus.Properties", "Get", {"ss", ServiceName, "Connected"}},
        {"org.freedesktop.DBus.Peer", "Ping", {}},
    };
    for (auto& c : calls) {
        Output r = callAsNobody(bus, c.interface, c.method, c.args);
        EXPECT_EQ(r.status, 0) << c.interface << "." << c.method << ": " << r.err;
        EXPECT_EQ(r.out, "s \"served\"\n") << c.interface << "." << c.method;
    }
}

TEST(BusPolicy, OtherInterfacesAreRefusedByTheBus)
{
    SystemLikeBus bus;
    ASSERT_TRUE(bus.start());
    Responder daemon(bus.address(), {ServiceName});

    for (auto* interface : {"org.example.Other", "org.xenproject.XenStore1x",
                            "org.freedesktop.DBus.Debug.Stats"}) {
        Output r = callAsNobody(bus, interface, "Frob");
        EXPECT_NE(r.status, 0) << interface;
        EXPECT_THAT(r.err, HasSubstr("Access denied")) << interface;
        EXPECT_EQ(r.out, "") << interface;
    }
}

TEST(BusPolicy, ActivationFileNamesTheService)
{
    SystemLikeBus bus;
    ASSERT_TRUE(bus.start());
    Output r = busctlAsNobody(bus, {"call", "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                    "org.freedesktop.DBus", "ListActivatableNames"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("\"org.xenproject.XenStore1\""));
}

TEST(BusPolicy, FirstCallAsksSystemdToStartTheUnit)
{
    // dbus-daemon as the system bus runs it under systemd: activation is a
    // request to systemd naming the unit, which the test receives in its place.
    SystemLikeBus bus(XSD_POLICY_FILE, {"--systemd-activation"});
    ASSERT_TRUE(bus.start());
    Responder systemd(bus.address(), {"org.freedesktop.systemd1"});

    // Nobody owns the name yet; the call waits for activation, which never
    // completes here, so it times out. What matters is the request.
    Output r = busctlAsNobody(bus, {"--timeout=1", "call", ServiceName, ObjectPath, ServiceName,
                                    "Read", "s", "/x"});
    EXPECT_NE(r.status, 0);
    EXPECT_TRUE(waitFor([&] { return !systemd.activationRequests().empty(); }, 5s));
    EXPECT_EQ(systemd.activationRequests(), std::vector<std::string>{"xenstore-dbus.service"});
}
