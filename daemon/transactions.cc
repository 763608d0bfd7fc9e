#include "daemon/transactions.h"

#include <algorithm>

#include "daemon/log.h"
#include "daemon/timer.h"
#include "dbus/polkit.h"

namespace xsd {

namespace {
constexpr const char* TransactionPathPrefix = "/org/xenproject/XenStore1/transaction/";
}

// --- Transaction ---------------------------------------------------------

Transaction::Transaction(TransactionRegistry& registry, sdbus::IConnection& bus, std::string path,
                         std::string owner, xs::TxId tx)
    : AdaptorInterfaces(bus, path), registry_(registry), path_(std::move(path)),
      owner_(std::move(owner)), state_(std::make_shared<State>(State{tx, true, {}}))
{
    registerAdaptor();
    armIdleTimer();
}

Transaction::~Transaction()
{
    sd_event_source_disable_unref(idle_);
    unregisterAdaptor();
}

template <class... T>
Answer<T...> Transaction::answer(sdbus::Result<T...>&& result, const char* method,
                                 const std::string& subject)
{
    const auto* msg = getObject().getCurrentlyProcessedMessage();
    return Answer<T...>(registry_.gate_.calls(), msg ? msg->getSender() : std::string(), method,
                        (subject.empty() ? "" : subject + " ") + "in " + path_, std::move(result),
                        shared_from_this(), msg && polkit::allowsInteractiveAuthorization(*msg));
}

template <class... T>
bool Transaction::admit(const Answer<T...>& a)
{
    if (retired_) {
        a.fail(sdbus::Error("org.freedesktop.DBus.Error.UnknownObject",
                            "Unknown object '" + path_ + "'."));
        return false;
    }
    if (a.sender() != owner_) {
        a.fail(errors::AccessDenied,
               a.what() + ": the transaction belongs to another caller; only the caller that "
                          "started it may use it");
        return false;
    }
    if (!state_->open) {
        a.fail(errors::UnknownTransaction, path_ + " has ended: " + state_->reason);
        registry_.retire(*this);
        return false;
    }
    armIdleTimer();
    return true;
}

Scope Transaction::scope() const
{
    return Scope{state_->tx, [st = state_]() -> std::optional<sdbus::Error> {
                     if (st->open)
                         return std::nullopt;
                     return errors::make(errors::UnknownTransaction,
                                         "the transaction has ended: " + st->reason);
                 }};
}

// The data methods: owner check, then the same code as outside a
// transaction, with this transaction's id.
void Transaction::Read(sdbus::Result<std::string>&& result, std::string path)
{
    if (auto a = answer(std::move(result), "Read", path); admit(a))
        registry_.data_.read(a, path, scope());
}

void Transaction::ReadBytes(sdbus::Result<std::vector<uint8_t>>&& result, std::string path)
{
    if (auto a = answer(std::move(result), "ReadBytes", path); admit(a))
        registry_.data_.readBytes(a, path, scope());
}

void Transaction::Write(sdbus::Result<>&& result, std::string path, std::string value)
{
    if (auto a = answer(std::move(result), "Write", path); admit(a))
        registry_.data_.write(a, path, value, scope());
}

void Transaction::WriteBytes(sdbus::Result<>&& result, std::string path, std::vector<uint8_t> value)
{
    if (auto a = answer(std::move(result), "WriteBytes", path); admit(a))
        registry_.data_.writeBytes(a, path, value, scope());
}

void Transaction::Exists(sdbus::Result<bool>&& result, std::string path)
{
    if (auto a = answer(std::move(result), "Exists", path); admit(a))
        registry_.data_.exists(a, path, scope());
}

void Transaction::Directory(sdbus::Result<std::vector<std::string>>&& result, std::string path)
{
    if (auto a = answer(std::move(result), "Directory", path); admit(a))
        registry_.data_.directory(a, path, scope());
}

void Transaction::Mkdir(sdbus::Result<>&& result, std::string path)
{
    if (auto a = answer(std::move(result), "Mkdir", path); admit(a))
        registry_.data_.mkdir(a, path, scope());
}

void Transaction::Remove(sdbus::Result<>&& result, std::string path)
{
    if (auto a = answer(std::move(result), "Remove", path); admit(a))
        registry_.data_.remove(a, path, scope());
}

void Transaction::GetPermissions(sdbus::Result<std::vector<std::string>>&& result, std::string path)
{
    if (auto a = answer(std::move(result), "GetPermissions", path); admit(a))
        registry_.data_.getPermissions(a, path, scope());
}

void Transaction::SetPermissions(sdbus::Result<>&& result, std::string path,
                                 std::vector<std::string> perms)
{
    if (auto a = answer(std::move(result), "SetPermissions", path); admit(a))
        registry_.data_.setPermissions(a, path, perms, scope());
}

// The atomic calls join this transaction: no transaction of their own, no
// retries.
void Transaction::ReadMany(sdbus::Result<std::map<std::string, std::string>>&& result,
                           std::vector<std::string> paths)
{
    if (auto a = answer(std::move(result), "ReadMany", describePaths(paths)); admit(a))
        registry_.atomic_.readMany(a, paths, scope());
}

void Transaction::ReadManyBytes(sdbus::Result<std::map<std::string, std::vector<uint8_t>>>&& result,
                                std::vector<std::string> paths)
{
    if (auto a = answer(std::move(result), "ReadManyBytes", describePaths(paths)); admit(a))
        registry_.atomic_.readManyBytes(a, paths, scope());
}

void Transaction::WriteMany(sdbus::Result<>&& result, std::map<std::string, std::string> values)
{
    if (auto a = answer(std::move(result), "WriteMany", describePaths(values)); admit(a))
        registry_.atomic_.writeMany(a, values, scope());
}

void Transaction::WriteManyBytes(sdbus::Result<>&& result,
                                 std::map<std::string, std::vector<uint8_t>> values)
{
    if (auto a = answer(std::move(result), "WriteManyBytes", describePaths(values)); admit(a))
        registry_.atomic_.writeManyBytes(a, values, scope());
}

void Transaction::RemoveMany(sdbus::Result<>&& result, std::vector<std::string> paths)
{
    if (auto a = answer(std::move(result), "RemoveMany", describePaths(paths)); admit(a))
        registry_.atomic_.removeMany(a, paths, scope());
}

void Transaction::CompareAndWrite(sdbus::Result<bool, std::string>&& result, std::string path,
                                  std::string expected, std::string value)
{
    if (auto a = answer(std::move(result), "CompareAndWrite", path); admit(a))
        registry_.atomic_.compareAndWrite(a, path, expected, value, scope());
}

void Transaction::WriteIfAbsent(sdbus::Result<bool, std::string>&& result, std::string path,
                                std::string value)
{
    if (auto a = answer(std::move(result), "WriteIfAbsent", path); admit(a))
        registry_.atomic_.writeIfAbsent(a, path, value, scope());
}

// Behind the owner's calls that still wait for polkit, in the order sent:
// a Commit must not overtake the writes before it.
void Transaction::Commit(sdbus::Result<bool>&& result)
{
    auto a = answer(std::move(result), "Commit");
    registry_.gate_.inOrder(a.sender(), [this, a] {
        if (admit(a))
            finish(true, a.relay());
    });
}

void Transaction::Abort(sdbus::Result<>&& result)
{
    auto a = answer(std::move(result), "Abort");
    registry_.gate_.inOrder(a.sender(), [this, a] {
        if (admit(a))
            finish(false, a.relay());
    });
}

void Transaction::finish(bool commit, std::function<void(xs::Result<bool>)> done)
{
    // The object goes now, whatever xenstored answers: the owner chose to
    // end it.
    registry_.retire(*this);
    close(commit ? "committed" : "aborted", commit, registry_.link_.client(), std::move(done));
}

void Transaction::end(const std::string& reason, xs::Client* client)
{
    if (!state_->open)
        return;
    ended_ = ++registry_.ends_;
    close(reason, false, client, [path = path_](xs::Result<bool> r) {
        if (!r && r.error().kind != xs::Error::Kind::Connection)
            log::warning("aborting ", path, " failed: ", r.error().message);
    });
}

void Transaction::close(std::string reason, bool commit, xs::Client* client,
                        std::function<void(xs::Result<bool>)> done)
{
    state_->open = false;
    state_->reason = std::move(reason);
    sd_event_source_set_enabled(idle_, SD_EVENT_OFF);
    registry_.openCountChanged();
    if (!client)
        return done(xs::notConnected("TRANSACTION_END"));
    client->transactionEnd(state_->tx, commit, std::move(done));
}

void Transaction::armIdleTimer()
{
    armOneShot(registry_.loop_, idle_, monotonicNow(registry_.loop_) + registry_.idleUsec_,
               &Transaction::onIdle, this, "transaction-idle");
}

int Transaction::onIdle(sd_event_source*, uint64_t, void* self)
{
    auto* t = static_cast<Transaction*>(self);
    log::info(t->path_, " of ", t->owner_, " was idle for ",
              t->registry_.idleUsec_ / 1'000'000, " s; aborting it");
    t->end("it was idle for more than " + std::to_string(t->registry_.idleUsec_ / 1'000'000) +
               " s (transaction_idle_timeout_s) and was aborted",
           t->registry_.link_.client());
    return 0;
}

// --- TransactionRegistry ---------------------------------------------------

TransactionRegistry::TransactionRegistry(sd_event* loop, sdbus::IConnection& bus, Gate& gate,
                                         DataMethods& data, AtomicCalls& atomic, XenStoreLink& link)
    : loop_(loop), bus_(bus), gate_(gate), data_(data), atomic_(atomic), link_(link)
{
}

TransactionRegistry::~TransactionRegistry()
{
    sd_event_source_disable_unref(collect_);
}

void TransactionRegistry::start(xs::Client& client, const Answer<sdbus::ObjectPath>& answer)
{
    const std::string owner = answer.sender();
    if (openOf(owner) + starting_.of(owner) >= perCaller_)
        return answer.fail(errors::LimitExceeded,
                           "StartTransaction: the caller already has " +
                               std::to_string(perCaller_) +
                               " transactions open (transactions_per_caller)");
    makeRoom(owner);
    if (byPath_.size() + starting_.total() >= total_)
        return answer.fail(errors::LimitExceeded,
                           "StartTransaction: the daemon already holds " + std::to_string(total_) +
                               " transactions for all callers together (transactions_total)");
    starting_.add(owner);
    const uint64_t generation = link_.generation();
    client.transactionStart([this, answer, owner, generation](xs::Result<xs::TxId> r) {
        starting_.done(owner);
        if (!r)
            return answer.fail(r.error());
        if (!gate_.caller(owner)) {
            // The caller left the bus while this was in flight.
            if (auto* c = link_.client(); c && link_.generation() == generation)
                c->transactionEnd(r.value(), false, [](xs::Result<bool>) {});
            return;
        }
        std::string path = TransactionPathPrefix + std::to_string(next_++);
        try {
            byPath_[path] = std::make_shared<Transaction>(*this, bus_, path, owner, r.value());
        } catch (const sdbus::Error& e) {
            link_.client()->transactionEnd(r.value(), false, [](xs::Result<bool>) {});
            return answer.fail(errors::Failed, "StartTransaction: cannot publish " + path + ": " +
                                                   e.getMessage());
        }
        log::debug(path, " started for ", owner, " (XenStore transaction ", r.value(), ")");
        openCountChanged();
        answer.ok(sdbus::ObjectPath(path));
    });
}

void TransactionRegistry::makeRoom(const std::string& owner)
{
    std::vector<Transaction*> ended;
    for (const auto& [path, t] : byPath_)
        if (t->owner() == owner && !t->open())
            ended.push_back(t.get());
    size_t held = openOf(owner) + starting_.of(owner) + ended.size();
    if (held < perCaller_)
        return;
    std::sort(ended.begin(), ended.end(),
              [](const Transaction* a, const Transaction* b) { return a->ended_ < b->ended_; });
    for (auto* t : ended) {
        if (held < perCaller_)
            break;
        log::debug(t->path_, " of ", owner, " ended (", t->state_->reason,
                   ") and goes, to make room for a new one");
        retire(*t);
        --held;
    }
}

void TransactionRegistry::retire(Transaction& t)
{
    if (t.retired_)
        return;
    t.retired_ = true;
    sd_event_source_set_enabled(t.idle_, SD_EVENT_OFF);
    auto it = byPath_.find(t.path_);
    if (it == byPath_.end())
        return;
    retired_.push_back(std::move(it->second));
    byPath_.erase(it);
    if (!collect_) {
        if (sd_event_add_defer(loop_, &collect_, &TransactionRegistry::onCollect, this) < 0)
            return;
        sd_event_source_set_description(collect_, "transaction-collect");
    }
    sd_event_source_set_enabled(collect_, SD_EVENT_ONESHOT);
}

void TransactionRegistry::openCountChanged()
{
    if (openCountChanged_)
        openCountChanged_();
}

int TransactionRegistry::onCollect(sd_event_source*, void* self)
{
    static_cast<TransactionRegistry*>(self)->retired_.clear();
    return 0;
}

void TransactionRegistry::ownerLeft(const std::string& owner)
{
    std::vector<Transaction*> owned;
    for (auto& [path, t] : byPath_)
        if (t->owner() == owner)
            owned.push_back(t.get());
    for (auto* t : owned) {
        t->end("its owner left the bus", link_.client());
        retire(*t);
    }
}

void TransactionRegistry::onDisconnected(const std::string& reason)
{
    for (auto& [path, t] : byPath_)
        t->end("xenstored restarted or the connection to it was lost (" + reason +
                   "); XenStore discarded the transaction",
               nullptr);
}

void TransactionRegistry::abortAll()
{
    for (auto& [path, t] : byPath_)
        t->end("the daemon is stopping", link_.client());
}

size_t TransactionRegistry::openCount() const
{
    size_t n = 0;
    for (const auto& [path, t] : byPath_)
        n += t->open();
    return n;
}

size_t TransactionRegistry::openOf(const std::string& owner) const
{
    size_t n = 0;
    for (const auto& [path, t] : byPath_)
        n += t->open() && t->owner() == owner;
    return n;
}

}  // namespace xsd
