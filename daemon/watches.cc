#include "daemon/watches.h"

#include "daemon/log.h"
#include "dbus/text.h"
#include "protocol/client.h"

namespace xsd {

namespace {

xs::Error alreadyWatching(const std::string& path, const std::string& token)
{
    return xs::requestError(xs::Error::Kind::XenStore, "EEXIST", "WATCH " + path,
                            "already watching it with token '" + token + "'");
}

}  // namespace

void WatchMultiplexer::subscribe(xs::Client* client, const std::string& subscriber,
                                 const std::string& path, const std::string& token, Done done)
{
    Key key{subscriber, token};
    auto it = byPath_.find(path);
    // Behind the watch being placed, in line with the changes before it.
    if (it != byPath_.end() && it->second.state == State::Registering) {
        it->second.waiting.push_back({std::move(key), std::move(done), {}});
        return;
    }
    if (it != byPath_.end() && it->second.subscribers.count(key))
        return done(alreadyWatching(path, token));
    if (!client)
        return done(xs::notConnected("WATCH " + path));
    if (it == byPath_.end()) {
        it = byPath_.try_emplace(path).first;
        it->second.path = &it->first;
        it->second.token = "xsd:" + std::to_string(nextToken_++);
        pathByToken_[it->second.token] = &it->first;
    }
    Upstream& up = it->second;
    if (up.state == State::Active) {
        add(up, key);
        done(std::nullopt);
        deliver_(subscriber, path, token);
        return;
    }
    up.waiting.push_back({std::move(key), std::move(done), {}});
    registerUpstream(*client, path, up);
}

void WatchMultiplexer::registerUpstream(xs::Client& client, const std::string& path, Upstream& up)
{
    up.state = State::Registering;
    // The completion runs inside `client`, which is alive then.
    client.watch(path, up.token, [this, &client, path, token = up.token](xs::Result<xs::Unit> r) {
        onRegistered(client, path, token, r ? std::nullopt : std::optional<xs::Error>(r.error()));
    });
}

void WatchMultiplexer::onRegistered(xs::Client& client, const std::string& path,
                                    const std::string& token, const std::optional<xs::Error>& error)
{
    auto current = [&]() -> Upstream* {
        auto it = byPath_.find(path);
        return it == byPath_.end() || it->second.token != token ? nullptr : &it->second;
    };
    Upstream* up = current();
    if (!up)
        return;  // released meanwhile
    // A first registration's subscribers each get their own initial event
    // here and xenstored's is dropped; after a reconnect, xenstored's goes
    // to everyone, those that joined meanwhile included.
    const bool again = !up->subscribers.empty();
    if (!error)
        up->dropInitial = !again;
    else if (again)
        log::error("cannot watch ", path, " again after reconnecting: ", error->message);
    // The changes that waited, in order. The path stays Registering until
    // the line is empty, so changes asked for by the answers (which may
    // re-enter) join its end rather than overtake it.
    while ((up = current()) && !up->waiting.empty()) {
        Waiter w = std::move(up->waiting.front());
        up->waiting.pop_front();
        if (w.removed) {
            w.removed(remove(*up, w.key));
        } else if (error) {
            w.subscribed(error);
        } else if (!add(*up, w.key)) {
            w.subscribed(alreadyWatching(path, w.key.second));
        } else {
            w.subscribed(std::nullopt);
            if (!again)
                deliver_(w.key.first, path, w.key.second);
        }
    }
    if (!(up = current()))
        return;
    up->state = error ? State::Down : State::Active;
    if (!up->subscribers.empty())
        return;
    // Nobody stayed (a Watch and an Unwatch, say): the watch goes again.
    if (error) {
        pathByToken_.erase(token);
        byPath_.erase(path);
    } else {
        release(&client, path);
    }
}

bool WatchMultiplexer::add(Upstream& up, const Key& key)
{
    auto [placed, added] = up.subscribers.insert(key);
    if (!added)
        return false;
    bySubscriber_[key.first].insert(Held{up.path, &placed->second});
    subscriptions_ += key.first != Own;
    return true;
}

bool WatchMultiplexer::remove(Upstream& up, const Key& key)
{
    auto placed = up.subscribers.find(key);
    if (placed == up.subscribers.end())
        return false;
    // The index first: its entry points into what is erased next.
    if (auto s = bySubscriber_.find(key.first); s != bySubscriber_.end()) {
        if (auto h = s->second.find(ByPathThenToken::Strings{*up.path, key.second}); h != s->second.end())
            s->second.erase(h);
        if (s->second.empty())
            bySubscriber_.erase(s);
    }
    up.subscribers.erase(placed);
    subscriptions_ -= key.first != Own;
    return true;
}

void WatchMultiplexer::unsubscribe(xs::Client* client, const std::string& subscriber,
                                   const std::string& path, const std::string& token, Removed done)
{
    auto it = byPath_.find(path);
    if (it == byPath_.end())
        return done(false);
    Upstream& up = it->second;
    if (up.state == State::Registering) {
        up.waiting.push_back({{subscriber, token}, {}, std::move(done)});
        return;
    }
    const bool found = remove(up, {subscriber, token});
    if (found && up.subscribers.empty() && up.waiting.empty())
        release(client, path);
    done(found);
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
    // Each entry points into byPath_: what it names is copied out before
    // the subscription (and perhaps the path) it points into goes. A path's
    // entries come one after another, so none is read after its path went.
    for (const Held& held : node.mapped()) {
        auto it = byPath_.find(*held.path);
        if (it == byPath_.end() || !it->second.subscribers.erase(Key{subscriber, *held.token}))
            continue;
        subscriptions_ -= subscriber != Own;
        if (it->second.subscribers.empty() && it->second.waiting.empty())
            release(client, it->first);
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
    auto it = byPath_.find(*t->second);
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

void WatchMultiplexer::fire(const std::string& path)
{
    auto it = byPath_.find(path);
    if (it == byPath_.end())
        return;
    for (const auto& [subscriber, token] : it->second.subscribers)
        deliver_(subscriber, path, token);
}

bool WatchMultiplexer::forCallers(const Upstream& up)
{
    for (const auto& key : up.subscribers)
        if (key.first != Own)
            return true;
    for (const auto& w : up.waiting)
        if (w.key.first != Own)
            return true;
    return false;
}

std::vector<std::string> WatchMultiplexer::watchedPaths() const
{
    std::vector<std::string> paths;
    for (const auto& [path, up] : byPath_)
        if (forCallers(up))
            paths.push_back(path);
    return paths;
}

size_t WatchMultiplexer::watchCount() const
{
    size_t n = 0;
    for (const auto& [path, up] : byPath_)
        n += up.state != State::Down && forCallers(up);
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
    std::vector<std::pair<std::string, std::string>> held;
    held.reserve(it->second.size());
    for (const Held& h : it->second)
        held.emplace_back(*h.path, *h.token);
    return held;
}

}  // namespace xsd
