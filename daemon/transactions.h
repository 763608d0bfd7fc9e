// XenStore transactions as D-Bus objects, one per StartTransaction, at
// /org/xenproject/XenStore1/transaction/<n>, usable only by their owner.
//
// A transaction ends by Commit or Abort (its object goes at once), by its
// owner leaving the bus (aborted, object gone), or for a reason the owner
// did not choose — idle timeout, xenstored restarting — in which case the
// object stays until the owner's next call, which learns why with
// Error.UnknownTransaction. Such objects count against the owner's
// transactions_per_caller with the open ones, so one that never comes back
// holds no more than that: when it starts another, its oldest ended ones go.
//
// Objects are never destroyed inside their own method handler (sdbus-c++
// still uses them after the handler returns), nor before every call they
// received is answered (the reply needs their vtable): a retired object
// answers UnknownObject itself until the event loop and the last pending
// answer let it go.
#pragma once

#include <systemd/sd-event.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "daemon/answer.h"
#include "daemon/atomic_calls.h"
#include "daemon/data_methods.h"
#include "daemon/gate.h"
#include "daemon/pending_per_caller.h"
#include "dbus/org.xenproject.XenStore1.Transaction.adaptor.h"

namespace xsd {

class TransactionRegistry;

class Transaction final
    : public sdbus::AdaptorInterfaces<org::xenproject::XenStore1::Transaction_adaptor>,
      public std::enable_shared_from_this<Transaction> {
public:
    Transaction(TransactionRegistry& registry, sdbus::IConnection& bus, std::string path,
                std::string owner, xs::TxId tx);
    ~Transaction();

    const std::string& owner() const { return owner_; }
    bool open() const { return state_->open; }
    // Ends it for a reason the owner did not choose; aborts it upstream
    // when `client` is given (the connection still holds it).
    void end(const std::string& reason, xs::Client* client);

private:
    struct State {
        xs::TxId tx;
        bool open = true;
        std::string reason;  // why it ended, when not by Commit/Abort
    };

    void Read(sdbus::Result<std::string>&& result, std::string path) override;
    void ReadBytes(sdbus::Result<std::vector<uint8_t>>&& result, std::string path) override;
    void Write(sdbus::Result<>&& result, std::string path, std::string value) override;
    void WriteBytes(sdbus::Result<>&& result, std::string path, std::vector<uint8_t> value) override;
    void Exists(sdbus::Result<bool>&& result, std::string path) override;
    void Directory(sdbus::Result<std::vector<std::string>>&& result, std::string path) override;
    void Mkdir(sdbus::Result<>&& result, std::string path) override;
    void Remove(sdbus::Result<>&& result, std::string path) override;
    void GetPermissions(sdbus::Result<std::vector<std::string>>&& result, std::string path) override;
    void SetPermissions(sdbus::Result<>&& result, std::string path,
                        std::vector<std::string> perms) override;
    void ReadMany(sdbus::Result<std::map<std::string, std::string>>&& result,
                  std::vector<std::string> paths) override;
    void ReadManyBytes(sdbus::Result<std::map<std::string, std::vector<uint8_t>>>&& result,
                       std::vector<std::string> paths) override;
    void WriteMany(sdbus::Result<>&& result, std::map<std::string, std::string> values) override;
    void WriteManyBytes(sdbus::Result<>&& result,
                        std::map<std::string, std::vector<uint8_t>> values) override;
    void RemoveMany(sdbus::Result<>&& result, std::vector<std::string> paths) override;
    void CompareAndWrite(sdbus::Result<bool, std::string>&& result, std::string path,
                         std::string expected, std::string value) override;
    void WriteIfAbsent(sdbus::Result<bool, std::string>&& result, std::string path,
                       std::string value) override;
    void Commit(sdbus::Result<bool>&& result) override;
    void Abort(sdbus::Result<>&& result) override;

    template <class... T>
    Answer<T...> answer(sdbus::Result<T...>&& result, const char* method,
                        const std::string& subject = {});
    // Owner check, ended-transaction check, idle timer; false: answered.
    template <class... T>
    bool admit(const Answer<T...>& a);
    Scope scope() const;
    // Commit or Abort by the owner: the object goes at once.
    void finish(bool commit, std::function<void(xs::Result<bool>)> done);
    // Marks it ended and sends TRANSACTION_END; done gets xenstored's
    // answer, or a connection error when there is no client.
    void close(std::string reason, bool commit, xs::Client* client,
               std::function<void(xs::Result<bool>)> done);
    void armIdleTimer();
    static int onIdle(sd_event_source* s, uint64_t usec, void* self);

    TransactionRegistry& registry_;
    uint64_t ended_ = 0;  // when it ended for a reason the owner did not choose: the order
    std::string path_;
    std::string owner_;
    std::shared_ptr<State> state_;
    bool retired_ = false;
    sd_event_source* idle_ = nullptr;

    friend class TransactionRegistry;
};

class TransactionRegistry {
public:
    TransactionRegistry(sd_event* loop, sdbus::IConnection& bus, Gate& gate, DataMethods& data,
                        AtomicCalls& atomic, XenStoreLink& link);
    ~TransactionRegistry();

    void setIdleTimeoutSeconds(unsigned s) { idleUsec_ = uint64_t(s) * 1'000'000; }
    void setPerCallerLimit(unsigned n) { perCaller_ = n; }
    // Objects of all callers together (transactions_total).
    void setTotalLimit(unsigned n) { total_ = n; }
    // Runs when a transaction opens or ends, whatever ended it: openCount()
    // changed (STATUS= reports it).
    void onOpenCountChanged(std::function<void()> f) { openCountChanged_ = std::move(f); }

    // StartTransaction for `answer`'s sender: checks the per-caller limit,
    // starts it upstream and answers with the new object's path.
    void start(xs::Client& client, const Answer<sdbus::ObjectPath>& answer);
    void ownerLeft(const std::string& owner);
    // Every open transaction died with the connection.
    void onDisconnected(const std::string& reason);
    // At shutdown: abort everything upstream.
    void abortAll();

    size_t openCount() const;
    size_t openOf(const std::string& owner) const;

private:
    friend class Transaction;
    void retire(Transaction& t);
    // Room for one more object of `owner`'s: its oldest ended ones go.
    void makeRoom(const std::string& owner);
    void openCountChanged();
    static int onCollect(sd_event_source* s, void* self);

    sd_event* loop_;
    sdbus::IConnection& bus_;
    Gate& gate_;
    DataMethods& data_;
    AtomicCalls& atomic_;
    XenStoreLink& link_;
    uint64_t idleUsec_ = 60'000'000;
    unsigned perCaller_ = 8;
    unsigned total_ = 1024;
    uint64_t next_ = 1;
    uint64_t ends_ = 0;  // transactions ended for a reason their owner did not choose
    std::map<std::string, std::shared_ptr<Transaction>> byPath_;
    PendingPerCaller starting_;  // StartTransaction in flight
    std::vector<std::shared_ptr<Transaction>> retired_;
    sd_event_source* collect_ = nullptr;
    std::function<void()> openCountChanged_;
};

}  // namespace xsd
