// A client connected to a real oxenstored of its own, over either transport:
// the Unix socket, or the XenBus device path through a pseudo-terminal that
// relays to the same socket. Integration tests derive from it and are
// instantiated once per transport.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/client.h"
#include "protocol/transport.h"
#include "tests/harness/event_loop.h"
#include "tests/harness/pty_relay.h"
#include "tests/harness/xenstored.h"

namespace xs::test {

enum class Via { Socket, XenBus };

inline std::string viaName(const ::testing::TestParamInfo<Via>& info)
{
    return info.param == Via::Socket ? "UnixSocket" : "XenBusDevice";
}

inline auto bothTransports()
{
    return ::testing::Values(Via::Socket, Via::XenBus);
}

class ConnectedClient : public ::testing::TestWithParam<Via> {
protected:
    void SetUp() override { client = connect(); }

    // A new connection, with its own watch-event and disconnect records.
    std::unique_ptr<Client> connect()
    {
        Backend backend{Backend::Kind::Unix, xsd.socketPath()};
        if (GetParam() == Via::XenBus) {
            relays.push_back(std::make_unique<xsd::test::PtyRelay>(xsd.socketPath()));
            backend = {Backend::Kind::XenBus, relays.back()->devicePath()};
        }
        std::string why;
        int fd = openTransport(backend, &why);
        EXPECT_GE(fd, 0) << why;
        Client::Handlers h;
        h.watchEvent = [this](const std::string& path, const std::string& token) {
            events.emplace_back(path, token);
        };
        h.disconnected = [this](const std::string& reason) { disconnects.push_back(reason); };
        auto c = std::make_unique<Client>(loop.get(), fd, h);
        EXPECT_TRUE(c->connected());
        return c;
    }

    // Runs an operation to completion on the loop.
    template <class T>
    Result<T> await(const std::function<void(Client::Done<T>)>& start,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10))
    {
        std::optional<Result<T>> out;
        start([&out](Result<T> r) { out.emplace(std::move(r)); });
        if (!loop.runUntil([&] { return out.has_value(); }, timeout))
            return Error{Error::Kind::Connection, "", "test timed out waiting for a reply",
                         "test timed out waiting for a reply"};
        return std::move(*out);
    }

    // The common operations, synchronously, on `client`.
    Result<std::string> read(const std::string& path, TxId tx = NoTransaction)
    {
        return await<std::string>([&](auto d) { client->read(path, tx, d); });
    }
    Result<Unit> write(const std::string& path, const std::string& value, TxId tx = NoTransaction)
    {
        return await<Unit>([&](auto d) { client->write(path, value, tx, d); });
    }
    Result<std::vector<std::string>> directory(const std::string& path, TxId tx = NoTransaction)
    {
        return await<std::vector<std::string>>([&](auto d) { client->directory(path, tx, d); });
    }

    // Events seen so far for `token`.
    size_t eventsFor(const std::string& token) const
    {
        size_t n = 0;
        for (auto& e : events)
            n += e.second == token;
        return n;
    }

    // Declared in this order so that the client goes before the relay, the
    // relay before oxenstored, and the loop outlives the client.
    xsd::test::Xenstored xsd;
    std::vector<std::unique_ptr<xsd::test::PtyRelay>> relays;
    xsd::test::EventLoop loop;
    std::vector<std::pair<std::string, std::string>> events;
    std::vector<std::string> disconnects;
    std::unique_ptr<Client> client;
};

}  // namespace xs::test
