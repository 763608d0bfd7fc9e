#include "daemon/watches.h"

#include "daemon/log.h"
#include "dbus/text.h"
#include "protocol/client.h"

namespace xsd {

void WatchMultiplexer::subscribe(xs::Client* client, const std::string& subscriber,
                                 const std::string& path, const std::string& token, Done done)
{
    if (isSubscribed(subscriber, path, token))
        return done(xs::requestError(xs::Error::Kind::XenStore, "EEXIST", "WATCH " + path,
                                     "already watching it with token '" + token + "'"));
    if (!client)
        return done(xs::notConnected("WATCH " + path));
    auto [it, fresh] = byPath_.try_emplace(path);
    Upstream& up = it->second;
    if (fresh) {
        up.token = "xsd:" + std::to_string(nextToken_++);
        pathByToken_[up.token] = path;
    }
    Key key{subscriber, token};
    switch (up.state) {
    case State::Active:
        up.subscribers.insert(key);
        bySubscriber_[subscriber].emplace(path, token);
        ++subscriptions_;
        done(std::nullopt);
        deliver_(subscriber, path, token);
        return;
    case State::Registering:
        up.waiting.push_back({std::move(key), std::move(done)});
        return;
    case State::Down:
        up.waiting.push_back({std::move(key), std::move(done)});
        registerUpstream(*client, path, up);
        return;
    }
}

void WatchMultiplexer::registerUpstream(xs::Client& client, const std::string& path, Upstream& up)
{
    up.state = State::Registering;
    client.watch(path, up.token, [this, path, token = up.token](xs::Result<xs::Unit> r) {
        onRegistered(path, token, r ? std::nullopt : std::optional<xs::Error>(r.error()));
    });
}

void WatchMultiplexer::onRegistered(const std::string& path, const std::string& token,
                                    const std::optional<xs::Error>& error)
{
    auto it = byPath_.find(path);
    if (it == byPath_.end() || it->second.token != token)
        return;  // released meanwhile
    Upstream& up = it->second;
    auto waiting = std::move(up.waiting);
    up.waiting.clear();
    if (error) {
        up.state = State::Down;
        if (!up.subscribers.empty())
            log::error("cannot watch ", path, " again after reconnecting: ", error->message);
        for (auto& w : waiting)
            w.done(error);
        // Waiters may have re-entered; look the entry up again.
        it = byPath_.find(path);
        if (it != byPath_.end() && it->second.token == token && it->second.subscribers.empty() &&
            it->second.waiting.empty() && it->second.state == State::Down) {
            pathByToken_.erase(token);
            byPath_.erase(it);
        }
        return;
    }
    up.state = State::Active;
    // A first registration's waiters each get their own initial event here
    // and xenstored's is dropped; after a reconnect, xenstored's goes to
    // everyone, waiters included.
    const bool again = !up.subscribers.empty();
    up.dropInitial = !again;
    for (auto& w : waiting) {
        if (up.subscribers.insert(w.key).second) {
            bySubscriber_[w.key.first].emplace(path, w.key.second);
            ++subscriptions_;
        }
    }
    for (auto& w : waiting) {
        w.done(std::nullopt);
        if (!again)
            deliver_(w.key.first, path, w.key.second);
    }
}

bool WatchMultiplexer::isSubscribed(const std::string& subscriber, const std::string& path,
                                    const std::string& token) const
{
    auto it = byPath_.find(path);
    if (it == byPath_.end())
        return false;
    Key key{subscriber, token};
    if (it->second.subscribers.count(key))
        return true;
    for (const auto& w : it->second.waiting)
        if (w.key == key)
            return true;
    return false;
}

bool WatchMultiplexer::unsubscribe(xs::Client* client, const std::string& subscriber,
                                   const std::string& path, const std::string& token)
{
    auto it = byPath_.find(path);
    if (it == byPath_.end() || !it->second.subscribers.erase({subscriber, token}))
        return false;
    --subscriptions_;
    if (auto s = bySubscriber_.find(subscriber); s != bySubscriber_.end()) {
        s->second.erase({path, token});
        if (s->second.empty())
            bySubscriber_.erase(s);
    }
    if (it->second.subscribers.empty() && it->second.waiting.empty())
        release(client, path);
    return true;
}

void WatchMultiplexer::release(xs::Client* client, const std::string& path)
{
    auto it = byPath_.find(path);
    if (it == byPath_.end())
        return;
    if (client && it->second.state != State::Down) {
        client->unwatch(path, it->second.token, [path](xs::Result<xs::Unit> r) {
            if (!r && r.error().kind != xs::Error::Kind::Connection)
                log::warning("removing the watch on ", path, " failed: ", r.error().message);
        });
    }
    pathByToken_.erase(it->second.token);
    byPath_.erase(it);
}

void WatchMultiplexer::dropSubscriber(xs::Client* client, const std::string& subscriber)
{
    auto node = bySubscriber_.extract(subscriber);
    if (node.empty())
        return;
    for (const auto& [path, token] : node.mapped()) {
        auto it = byPath_.find(path);
        if (it == byPath_.end() || !it->second.subscribers.erase({subscriber, token}))
            continue;
        --subscriptions_;
        if (it->second.subscribers.empty() && it->second.waiting.empty())
            release(client, path);
    }
}

void WatchMultiplexer::releaseAll(xs::Client* client)
{
    while (!byPath_.empty())
        release(client, byPath_.begin()->first);
    bySubscriber_.clear();
    subscriptions_ = 0;
}

void WatchMultiplexer::onWatchEvent(const std::string& path, const std::string& upstreamToken)
{
    auto t = pathByToken_.find(upstreamToken);
    if (t == pathByToken_.end())
        return;  // a watch being removed
    auto it = byPath_.find(t->second);
    if (it == byPath_.end())
        return;
    Upstream& up = it->second;
    if (up.dropInitial) {
        up.dropInitial = false;
        if (path == it->first)
            return;
    }
    // xenstored sends only paths it accepts, which are text; should one
    // not be, the subscribers still learn that something under their watch
    // changed (a WatchEvent that cannot be sent would be lost).
    const std::string& sent = isText(path) ? path : it->first;
    for (const auto& [subscriber, token] : up.subscribers)
        deliver_(subscriber, sent, token);
}

void WatchMultiplexer::onConnected(xs::Client& client)
{
    for (auto& [path, up] : byPath_)
        if (up.state == State::Down)
            registerUpstream(client, path, up);
}

void WatchMultiplexer::onDisconnected()
{
    for (auto it = byPath_.begin(); it != byPath_.end();) {
        it->second.state = State::Down;
        if (it->second.subscribers.empty() && it->second.waiting.empty()) {
            pathByToken_.erase(it->second.token);
            it = byPath_.erase(it);
        } else {
            ++it;
        }
    }
}

size_t WatchMultiplexer::watchCount() const
{
    size_t n = 0;
    for (const auto& [path, up] : byPath_)
        n += up.state != State::Down;
    return n;
}

size_t WatchMultiplexer::subscriptionsOf(const std::string& subscriber) const
{
    auto it = bySubscriber_.find(subscriber);
    return it == bySubscriber_.end() ? 0 : it->second.size();
}

std::vector<std::pair<std::string, std::string>> WatchMultiplexer::watchedBy(
    const std::string& subscriber) const
{
    auto it = bySubscriber_.find(subscriber);
    if (it == bySubscriber_.end())
        return {};
    return {it->second.begin(), it->second.end()};
}

}  // namespace xsd
