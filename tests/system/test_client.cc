// A client of the daemon for tests that must run one as another uid and need
// more than one call on one connection (busctl and gdbus make one call per
// connection). One line per result, flushed at once.
//
//   xsd-test-client BUS-ADDRESS watch PATH TOKEN [PATH TOKEN]...
//     subscribes to each PATH with its TOKEN, then prints every WatchEvent
//     until it is killed (a busctl subscription ends with busctl):
//       name :1.42
//       watch /pub t: ok
//       watch /pubx t: error org.xenproject.XenStore1.Error.AccessDenied: <message>
//       event /pub/x t
//
//   xsd-test-client BUS-ADDRESS watch-domains
//     calls WatchDomains, then prints every domain signal until it is killed:
//       name :1.43
//       watch-domains: ok
//       DomainReleased 5
//
//   xsd-test-client BUS-ADDRESS tx-write PATH VALUE
//     starts a transaction, writes PATH=VALUE in it, commits, and exits:
//       start: ok
//       write /pub/x: error org.xenproject.XenStore1.Error.AccessDenied: <message>
//       commit: ok true
#include <cstdio>
#include <cstring>
#include <string>

#include <sdbus-c++/sdbus-c++.h>

namespace {

constexpr const char* BusName = "org.xenproject.XenStore1";
constexpr const char* ObjectPath = "/org/xenproject/XenStore1";
constexpr const char* Interface = "org.xenproject.XenStore1";
constexpr const char* TransactionInterface = "org.xenproject.XenStore1.Transaction";

int usage()
{
    std::fprintf(stderr, "usage: xsd-test-client BUS-ADDRESS watch PATH TOKEN [PATH TOKEN]...\n"
                         "       xsd-test-client BUS-ADDRESS watch-domains\n"
                         "       xsd-test-client BUS-ADDRESS tx-write PATH VALUE\n");
    return 2;
}

void error(const std::string& what, const sdbus::Error& e)
{
    std::printf("%s: error %s: %s\n", what.c_str(), e.getName().c_str(), e.getMessage().c_str());
}

int watch(sdbus::IConnection& conn, int argc, char** argv)
{
    auto daemon = sdbus::createProxy(conn, BusName, ObjectPath);
    daemon->uponSignal("WatchEvent").onInterface(Interface).call(
        [](const std::string& path, const std::string& token) {
            std::printf("event %s %s\n", path.c_str(), token.c_str());
        });
    daemon->finishRegistration();
    std::printf("name %s\n", conn.getUniqueName().c_str());
    for (int i = 0; i + 1 < argc; i += 2) {
        const std::string path = argv[i], token = argv[i + 1];
        const std::string what = "watch " + path + " " + token;
        try {
            daemon->callMethod("Watch").onInterface(Interface).withArguments(path, token);
            std::printf("%s: ok\n", what.c_str());
        } catch (const sdbus::Error& e) {
            error(what, e);
        }
    }
    // Events that arrived during the calls above wait in the connection's
    // queue; the loop delivers them in order, then every later one.
    conn.enterEventLoop();
    return 0;
}

int watchDomains(sdbus::IConnection& conn)
{
    auto daemon = sdbus::createProxy(conn, BusName, ObjectPath);
    for (const char* member : {"DomainIntroduced", "DomainReleased"})
        daemon->uponSignal(member).onInterface(Interface).call(
            [member](uint32_t domid) { std::printf("%s %u\n", member, domid); });
    daemon->finishRegistration();
    std::printf("name %s\n", conn.getUniqueName().c_str());
    try {
        daemon->callMethod("WatchDomains").onInterface(Interface);
        std::printf("watch-domains: ok\n");
    } catch (const sdbus::Error& e) {
        error("watch-domains", e);
    }
    conn.enterEventLoop();
    return 0;
}

int txWrite(sdbus::IConnection& conn, const std::string& path, const std::string& value)
{
    auto daemon = sdbus::createProxy(conn, BusName, ObjectPath);
    sdbus::ObjectPath tx;
    try {
        daemon->callMethod("StartTransaction").onInterface(Interface).storeResultsTo(tx);
        std::printf("start: ok\n");
    } catch (const sdbus::Error& e) {
        error("start", e);
        return 1;
    }
    auto t = sdbus::createProxy(conn, BusName, tx);
    try {
        t->callMethod("Write").onInterface(TransactionInterface).withArguments(path, value);
        std::printf("write %s: ok\n", path.c_str());
    } catch (const sdbus::Error& e) {
        error("write " + path, e);
    }
    try {
        bool committed = false;
        t->callMethod("Commit").onInterface(TransactionInterface).storeResultsTo(committed);
        std::printf("commit: ok %s\n", committed ? "true" : "false");
    } catch (const sdbus::Error& e) {
        error("commit", e);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc < 3)
        return usage();
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    auto conn = sdbus::createSessionBusConnectionWithAddress(argv[1]);
    if (std::strcmp(argv[2], "watch") == 0 && argc >= 5 && (argc - 3) % 2 == 0)
        return watch(*conn, argc - 3, argv + 3);
    if (std::strcmp(argv[2], "watch-domains") == 0 && argc == 3)
        return watchDomains(*conn);
    if (std::strcmp(argv[2], "tx-write") == 0 && argc == 5)
        return txWrite(*conn, argv[3], argv[4]);
    return usage();
}
