#include "daemon/snapshot.h"

#include <list>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/answer.h"
#include "dbus/text.h"

namespace xsd {

namespace {

struct Node {
    std::string value;
    // In the order xenstored lists them (oxenstored sorts them, C xenstored
    // keeps them as created), so that a listing made from a snapshot is the
    // one Directory gives. A list: stable addresses while the walk adds.
    std::list<std::pair<std::string, Node>> children;
};

class Walk : public std::enable_shared_from_this<Walk> {
public:
    Walk(xs::Client& client, std::string path, std::function<void(xs::Result<std::string>)> done)
        : client_(client), path_(std::move(path)), done_(std::move(done))
    {
    }

    void start()
    {
        auto self = shared_from_this();
        client_.transactionStart([self](xs::Result<xs::TxId> r) {
            if (!r)
                return self->finish(r.error());
            self->tx_ = r.value();
            self->visit(self->root_, self->path_);
        });
    }

private:
    void visit(Node& node, const std::string& path)
    {
        auto self = shared_from_this();
        outstanding_ += 2;
        client_.read(path, tx_, [self, &node](xs::Result<std::string> r) {
            if (r) {
                node.value = std::move(r.value());
                self->count(node.value.size());
            }
            self->settle(r ? std::nullopt : std::optional<xs::Error>(r.error()));
        });
        client_.directory(path, tx_, [self, &node, path](xs::Result<std::vector<std::string>> r) {
            if (r && !self->error_) {
                for (auto& name : r.value()) {
                    self->count(name.size());
                    auto& child = node.children.emplace_back(name, Node{}).second;
                    self->visit(child, path == "/" ? "/" + name : path + "/" + name);
                }
            }
            self->settle(r ? std::nullopt : std::optional<xs::Error>(r.error()));
        });
    }

    // JSON is never shorter than the names and values it holds.
    void count(size_t bytes)
    {
        read_ += bytes;
        if (read_ > MaxAnswerBytes && !error_)
            error_ = tooBig("holds more than " + mib() + " of names and values alone");
    }

    static std::string mib() { return std::to_string(MaxAnswerBytes >> 20) + " MiB"; }

    xs::Error tooBig(const std::string& size) const
    {
        return xs::requestError(xs::Error::Kind::XenStore, "E2BIG", "snapshot of " + path_,
                                "the subtree " + size + "; one answer carries at most " + mib() +
                                    " of JSON: snapshot smaller subtrees");
    }

    void settle(std::optional<xs::Error> error)
    {
        if (error && !error_)
            error_ = std::move(error);
        if (--outstanding_ > 0)
            return;
        // Read-only: end the transaction without committing.
        auto self = shared_from_this();
        client_.transactionEnd(tx_, false, [self](xs::Result<bool>) {
            if (self->error_)
                return self->finish(*self->error_);
            std::string json = self->render();
            if (json.size() > MaxAnswerBytes)
                return self->finish(self->tooBig("makes " + std::to_string(json.size()) + " bytes of JSON"));
            self->finish(std::move(json));
        });
    }

    static nlohmann::ordered_json valueJson(const std::string& v)
    {
        if (isText(v))
            return v;
        return nlohmann::ordered_json{{"base64", base64(v)}};
    }

    static nlohmann::ordered_json nodeJson(const Node& n)
    {
        nlohmann::ordered_json children = nlohmann::ordered_json::object();
        // xenstored allows only A-Z a-z 0-9 - _ @ in a name; should one
        // still come with other bytes, it is escaped rather than losing the
        // whole snapshot (JSON keys cannot be {"base64": …}).
        for (const auto& [name, child] : n.children)
            children[textOrEscaped(name)] = nodeJson(child);
        return nlohmann::ordered_json{{"value", valueJson(n.value)}, {"children", std::move(children)}};
    }

    // Keys in the order API.md shows them: path, value, children.
    std::string render() const
    {
        nlohmann::ordered_json j{{"path", path_}};
        j.update(nodeJson(root_));
        return j.dump();
    }

    void finish(xs::Result<std::string> r)
    {
        auto done = std::move(done_);
        done_ = nullptr;
        if (done)
            done(std::move(r));
    }

    xs::Client& client_;
    std::string path_;
    std::function<void(xs::Result<std::string>)> done_;
    xs::TxId tx_ = 0;
    Node root_;
    int outstanding_ = 0;
    size_t read_ = 0;  // bytes of names and values so far
    std::optional<xs::Error> error_;
};

}  // namespace

void takeSnapshot(xs::Client& client, const std::string& path,
                  std::function<void(xs::Result<std::string>)> done)
{
    std::make_shared<Walk>(client, path, std::move(done))->start();
}

void SnapshotQueue::take(const std::string& sender, const std::string& path, Done done)
{
    auto& mine = waiting_[sender];
    if (mine.empty())
        turns_.push_back(sender);
    mine.push_back({path, std::move(done)});
    next();
}

void SnapshotQueue::forget(const std::string& sender)
{
    if (waiting_.erase(sender))
        std::erase(turns_, sender);
}

auto SnapshotQueue::nextWalk() -> std::pair<std::string, std::vector<Done>>
{
    const std::string sender = turns_.front();
    turns_.pop_front();
    std::string path = waiting_[sender].front().path;
    std::vector<Done> sharing;
    for (auto& entry : waiting_) {
        auto& queue = entry.second;
        for (auto it = queue.begin(); it != queue.end();) {
            if (it->path != path) {
                ++it;
                continue;
            }
            sharing.push_back(std::move(it->done));
            it = queue.erase(it);
        }
    }
    std::erase_if(turns_, [this](const std::string& s) { return waiting_[s].empty(); });
    if (!waiting_[sender].empty())
        turns_.push_back(sender);
    std::erase_if(waiting_, [](const auto& entry) { return entry.second.empty(); });
    return {std::move(path), std::move(sharing)};
}

void SnapshotQueue::next()
{
    if (advancing_)
        return;
    advancing_ = true;
    while (!walking_ && !turns_.empty()) {
        auto [path, sharing] = nextWalk();
        auto* client = link_.client();
        if (!client) {
            const auto lost = xs::Result<std::string>(xs::notConnected("snapshot of " + path));
            for (auto& done : sharing)
                done(lost);
            continue;
        }
        walking_ = true;
        takeSnapshot(*client, path, [this, sharing = std::move(sharing)](xs::Result<std::string> json) {
            for (auto& done : sharing)
                done(json);
            walking_ = false;
            next();
        });
    }
    advancing_ = false;
}

}  // namespace xsd
