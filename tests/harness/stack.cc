#include "tests/harness/stack.h"

#include <sstream>
#include <stdexcept>

#ifndef XSD_DAEMON_PATH
#error "XSD_DAEMON_PATH must name the built xenstore-dbusd"
#endif
#ifndef XSD_FORGE_SIGNAL
#error "XSD_FORGE_SIGNAL must name the built forge-signal"
#endif

namespace xsd::test {

Client::Client(const std::string& address)
    : ProxyInterfaces(sdbus::createSessionBusConnectionWithAddress(address), BusName, ObjectPath)
{
    registerProxy();
}

Client::~Client()
{
    unregisterProxy();
}

std::future<std::string> Client::snapshotLater(const std::string& path)
{
    auto answer = std::make_shared<std::promise<std::string>>();
    getProxy()
        .callMethodAsync("Snapshot")
        .onInterface(Interface)
        .withArguments(path)
        .uponReplyInvoke([answer](const sdbus::Error* e, std::string json) {
            answer->set_value(e ? e->getName() : std::move(json));
        });
    return answer->get_future();
}

void Client::onWatchEvent(const std::string& path, const std::string& token)
{
    std::lock_guard lock(mutex_);
    events_.push_back({path, token});
    cv_.notify_all();
}

void Client::onPropertiesChanged(const std::string& interfaceName,
                                 const std::map<std::string, sdbus::Variant>& changed,
                                 const std::vector<std::string>&)
{
    if (interfaceName != Interface)
        return;
    std::lock_guard lock(mutex_);
    if (auto it = changed.find("Connected"); it != changed.end())
        connectedChanges_.push_back(it->second.get<bool>());
    cv_.notify_all();
}

void Client::onDomainIntroduced(const uint32_t& domid)
{
    std::lock_guard lock(mutex_);
    domainSignals_.push_back({"DomainIntroduced", domid, events_.size()});
    cv_.notify_all();
}

void Client::onDomainReleased(const uint32_t& domid)
{
    std::lock_guard lock(mutex_);
    domainSignals_.push_back({"DomainReleased", domid, events_.size()});
    cv_.notify_all();
}

std::vector<DomainSignal> Client::domainSignals() const
{
    std::lock_guard lock(mutex_);
    return domainSignals_;
}

std::vector<DomainSignal> Client::waitForDomainSignals(size_t n,
                                                       std::chrono::milliseconds timeout) const
{
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return domainSignals_.size() >= n; });
    return domainSignals_;
}

std::vector<bool> Client::connectedChanges() const
{
    std::lock_guard lock(mutex_);
    return connectedChanges_;
}

std::vector<WatchEvent> Client::events() const
{
    std::lock_guard lock(mutex_);
    return events_;
}

std::vector<WatchEvent> Client::waitForEvents(size_t n, std::chrono::milliseconds timeout) const
{
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return events_.size() >= n; });
    return events_;
}

void Client::clearEvents()
{
    std::lock_guard lock(mutex_);
    events_.clear();
}

std::string Stack::daemonPath()
{
    return XSD_DAEMON_PATH;
}

namespace {

std::vector<std::string> withProjectPolicy(std::vector<std::string> policies)
{
    policies.insert(policies.begin(), DbusDaemon::defaultPolicy());
    return policies;
}

}  // namespace

Stack::Stack(Options options)
    : options_(std::move(options)), xenstored_(options_.xenstoredConfig),
      bus_(withProjectPolicy(options_.busPolicies))
{
    if (options_.config)
        writeFile(configPath(), *options_.config);
    if (!options_.startDaemon)
        return;
    startDaemon();
    if (!waitReady())
        throw std::runtime_error("xenstore-dbusd did not become ready; its log:\n" + daemonLog());
}

void Stack::startDaemon(const std::vector<std::string>& extraArgs)
{
    std::vector<std::string> argv{daemonPath(), "--bus", address(), "--xenstore",
                                  xenstored_.backend()};
    if (options_.config)
        argv.insert(argv.end(), {"--config", configPath()});
    if (options_.verbose)
        argv.push_back("--verbose");
    argv.insert(argv.end(), options_.extraArgs.begin(), options_.extraArgs.end());
    argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
    if (options_.daemonStderr >= 0)
        daemon_ = Process(argv, options_.env, -1, options_.daemonStderr);
    else
        daemon_ = Process::logging(argv, dir_ / "daemon.log", options_.env);
}

bool Stack::waitReady(std::chrono::milliseconds timeout)
{
    return waitFor(
        [&] {
            if (!daemon_.running())
                return true;  // it will not get ready; the caller sees the log
            auto r = busctl({"get-property", BusName, ObjectPath, Interface, "Connected"});
            return r.status == 0 && r.out == "b true\n";
        },
        timeout) &&
           daemon_.running();
}

int Stack::stopDaemon(int sig)
{
    return daemon_.stop(sig);
}

std::string Stack::daemonLog() const
{
    return readFile(dir_ / "daemon.log");
}

std::unique_ptr<sdbus::IConnection> Stack::connection()
{
    auto c = sdbus::createSessionBusConnectionWithAddress(address());
    c->enterEventLoopAsync();
    return c;
}

Output Stack::busctl(const std::vector<std::string>& args, const Env& env)
{
    std::vector<std::string> argv{"busctl", "--address=" + address()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, env);
}

Output Stack::gdbus(const std::vector<std::string>& args, const Env& env)
{
    std::vector<std::string> argv{"gdbus"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--address", address()});
    return run(argv, env);
}

Output Stack::asNobody(const std::vector<std::string>& argv, const std::vector<unsigned>& groups)
{
    return run(asNobodyCommand(argv, groups));
}

Output Stack::forgeSignal(const std::string& destination, const std::string& path,
                          const std::string& interface, const std::string& member,
                          const std::vector<std::string>& args)
{
    std::vector<std::string> argv{XSD_FORGE_SIGNAL, address(), destination, path,
                                  interface,        member,    "--then-ping", BusName};
    argv.insert(argv.end(), args.begin(), args.end());
    return asNobody(argv);
}

std::string Stack::daemonUniqueName()
{
    auto r = busctl({"call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                     "GetNameOwner", "s", BusName});
    // s ":1.3"
    auto first = r.out.find('"');
    auto last = r.out.rfind('"');
    if (r.status != 0 || first == std::string::npos || last <= first)
        throw std::runtime_error("cannot tell who owns " + std::string(BusName) + ": " + r.err);
    return r.out.substr(first + 1, last - first - 1);
}

std::string Stack::uniqueNameOf(pid_t pid)
{
    // busctl list: NAME PID PROCESS USER CONNECTION …, unique names only.
    auto r = busctl({"list", "--unique", "--no-legend"});
    for (const auto& line : splitLines(r.out)) {
        std::istringstream fields(line);
        std::string name, owner;
        if (fields >> name >> owner && owner == std::to_string(pid))
            return name;
    }
    return "";
}

Output Stack::busctlCall(const std::string& method, const std::vector<std::string>& args)
{
    std::vector<std::string> argv{"call", BusName, ObjectPath, Interface, method};
    argv.insert(argv.end(), args.begin(), args.end());
    return busctl(argv);
}

std::string longPath(size_t bytes, bool absolute)
{
    std::string p = absolute ? "/" : "";
    while (p.size() < bytes)
        p += (p.size() % 100 == 99) ? '/' : 'a';
    if (p.back() == '/')
        p.back() = 'a';
    return p;
}

}  // namespace xsd::test
