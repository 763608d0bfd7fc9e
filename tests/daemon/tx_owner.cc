// A client process for tests that kill a transaction's owner: starts a
// transaction, writes PATH=VALUE in it, prints the transaction's object
// path, and waits to be killed.
// Usage: tx-owner BUS-ADDRESS PATH VALUE
#include <unistd.h>

#include <cstdio>

#include <sdbus-c++/sdbus-c++.h>

int main(int argc, char** argv)
{
    if (argc != 4) {
        std::fprintf(stderr, "usage: tx-owner BUS-ADDRESS PATH VALUE\n");
        return 2;
    }
    auto conn = sdbus::createSessionBusConnectionWithAddress(argv[1]);
    auto daemon = sdbus::createProxy(*conn, "org.xenproject.XenStore1", "/org/xenproject/XenStore1");
    sdbus::ObjectPath tx;
    daemon->callMethod("StartTransaction").onInterface("org.xenproject.XenStore1").storeResultsTo(tx);
    auto t = sdbus::createProxy(*conn, "org.xenproject.XenStore1", tx);
    t->callMethod("Write").onInterface("org.xenproject.XenStore1.Transaction").withArguments(std::string(argv[2]), std::string(argv[3]));
    std::printf("%s\n", tx.c_str());
    std::fflush(stdout);
    for (;;)
        pause();
}
