// A hostile local user's tool: sends one signal, claiming whatever it
// likes in its path, interface, member and arguments, as a unicast to one
// bus client. The bus stamps the sender (this connection's unique name);
// nothing else in the message can be trusted.
//
// With --then-ping NAME, it then calls Peer.Ping on NAME from the same
// connection: the bus keeps one sender's messages to one receiver in order,
// so when Ping returns, NAME has read the signal.
//
// Usage: forge-signal ADDRESS DESTINATION PATH INTERFACE MEMBER [--then-ping NAME] [STRING...]
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

int main(int argc, char** argv)
{
    if (argc < 6) {
        std::fprintf(stderr, "usage: forge-signal ADDRESS DESTINATION PATH INTERFACE MEMBER "
                             "[--then-ping NAME] [STRING...]\n");
        return 2;
    }
    std::string ping;
    std::vector<std::string> args;
    for (int i = 6; i < argc; ++i) {
        if (std::strcmp(argv[i], "--then-ping") == 0 && i + 1 < argc)
            ping = argv[++i];
        else
            args.emplace_back(argv[i]);
    }
    try {
        auto conn = sdbus::createSessionBusConnectionWithAddress(argv[1]);
        auto object = sdbus::createObject(*conn, argv[3]);
        auto signal = object->createSignal(argv[4], argv[5]);
        for (const auto& a : args)
            signal << a;
        signal.setDestination(argv[2]);
        object->emitSignal(signal);
        if (!ping.empty()) {
            auto peer = sdbus::createProxy(*conn, ping, "/");
            peer->callMethod("Ping").onInterface("org.freedesktop.DBus.Peer");
        }
    } catch (const sdbus::Error& e) {
        std::fprintf(stderr, "forge-signal: %s: %s\n", e.getName().c_str(), e.getMessage().c_str());
        return 1;
    }
    return 0;
}
