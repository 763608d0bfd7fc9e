// An asynchronous XenStore client on one connection, driven by sd-event.
//
// Requests are pipelined: each gets a req_id and a completion, and replies
// are matched by req_id, not by order, so any number of requests may be in
// flight at once. WATCH_EVENT messages go to a handler. When the connection
// drops, every request still waiting completes with a Connection error and
// the disconnect handler runs; the Client is then dead for good (reconnecting
// means a new Client on a new fd).
//
// Every request is validated before it is framed; one that breaks a rule
// completes with an Invalid error and is never sent. Completions may run
// before the call that starts a request returns (on a validation error, or
// when the connection is already down).
#pragma once

#include <systemd/sd-event.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/codec.h"
#include "protocol/result.h"
#include "protocol/wire.h"

namespace xs {

using TxId = uint32_t;  // 0: not in a transaction
inline constexpr TxId NoTransaction = 0;

class Client {
public:
    template <class T>
    using Done = std::function<void(Result<T>)>;

    struct Handlers {
        std::function<void(const std::string& path, const std::string& token)> watchEvent;
        std::function<void(const std::string& reason)> disconnected;
    };

    // Takes ownership of fd (from openTransport). maxInFlight bounds the
    // requests sent and not yet answered; more wait here, in order, so a
    // guest never exceeds xenstored's per-domain outstanding-request quota.
    Client(sd_event* loop, int fd, Handlers handlers, size_t maxInFlight = 1024);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // A xenstored that leaves a request unanswered for this long is treated
    // as gone: the connection fails, as if it had dropped, and every request
    // completes with a Connection error that says so. xenstored answers one
    // connection's requests in order, so the oldest one waiting is the one
    // timed. 0 (the default): no limit.
    void setReplyTimeout(uint64_t usec);

    bool connected() const { return fd_ >= 0; }
    // Requests sent or queued and not yet completed.
    size_t pending() const { return pending_.size() + queued_.size(); }

    // Reads of one node outside a transaction that are waiting together to
    // be written out share one READ (see Client::read).
    void read(std::string_view path, TxId tx, Done<std::string> done);
    void write(std::string_view path, std::string_view value, TxId tx, Done<Unit> done);
    void mkdir(std::string_view path, TxId tx, Done<Unit> done);
    void rm(std::string_view path, TxId tx, Done<Unit> done);
    // The whole child list, however long: DIRECTORY, and DIRECTORY_PART
    // paging when the server answers E2BIG (C xenstored).
    void directory(std::string_view path, TxId tx, Done<std::vector<std::string>> done);
    void getPermissions(std::string_view path, TxId tx, Done<std::vector<std::string>> done);
    void setPermissions(std::string_view path, const std::vector<std::string>& perms, TxId tx,
                        Done<Unit> done);
    void watch(std::string_view path, std::string_view token, Done<Unit> done);
    void unwatch(std::string_view path, std::string_view token, Done<Unit> done);
    void transactionStart(Done<TxId> done);
    // Commit (or abort). A commit that xenstored refuses with EAGAIN yields
    // false: a conflict, to be retried by the caller, not a failure.
    void transactionEnd(TxId tx, bool commit, Done<bool> done);
    void getDomainPath(uint32_t domid, Done<std::string> done);
    void isDomainIntroduced(uint32_t domid, Done<bool> done);
    void introduce(uint32_t domid, uint64_t mfn, uint32_t port, Done<Unit> done);
    void release(uint32_t domid, Done<Unit> done);
    void resume(uint32_t domid, Done<Unit> done);
    void setTarget(uint32_t domid, uint32_t target, Done<Unit> done);
    void resetWatches(Done<Unit> done);

    // Requests are written out in one go when the event loop comes round
    // (so a burst of them costs one write); a caller that knows its burst
    // is over may send them now.
    void flushQueued();

    // Any request, raw: the reply payload as xenstored sent it. `subject`
    // names what the request is about, for error messages.
    void request(MessageType type, TxId tx, std::string payload, std::string subject,
                 Done<std::string> done);

private:
    struct Request {
        MessageType type;
        TxId tx;
        std::string payload;
        std::string subject;
        Done<std::string> done;
        std::vector<Done<std::string>> joined;  // reads answered by this one's reply
        uint64_t sent = 0;  // which request it was, in the order they were sent
    };
    // A request sent, for the reply timeout: oldest first.
    struct Sent {
        uint64_t sent;  // Request::sent
        uint32_t id;
        uint64_t atUsec;
    };

    static int onIo(sd_event_source* s, int fd, uint32_t revents, void* self);
    static int onFlush(sd_event_source* s, void* self);
    static int onReplyTimeout(sd_event_source* s, uint64_t usec, void* self);
    // Forgets the answered requests at the front of sentOrder_.
    void dropAnswered();
    void armReplyTimeout();
    void send(Request req);
    void flush();
    void receive();
    void dispatch(Message& msg);
    static void complete(Request& req, Result<std::string> result);
    void updateEvents();
    void fail(const std::string& reason);
    // WATCH or UNWATCH: the same checks and payload, only the type differs.
    void watchRequest(MessageType type, std::string_view path, std::string_view token,
                      Done<Unit> done);
    void directoryParts(std::string path, TxId tx, size_t offsetBytes,
                        std::vector<std::string> names, std::string generation,
                        Done<std::vector<std::string>> done);

    sd_event* loop_;
    sd_event_source* source_ = nullptr;
    sd_event_source* flushSource_ = nullptr;
    sd_event_source* replyTimer_ = nullptr;
    uint64_t replyTimeoutUsec_ = 0;
    uint64_t nextSent_ = 1;
    std::deque<Sent> sentOrder_;
    int fd_ = -1;
    Handlers handlers_;
    size_t maxInFlight_;
    uint32_t nextReqId_ = 1;
    std::unordered_map<uint32_t, Request> pending_;
    std::deque<Request> queued_;
    // Plain READs framed but not yet written, by path: the ones a new read
    // of the same path may join. Emptied by every write and by any other
    // request (a read must not be answered from before it).
    // Keys view the Requests' own subjects, which pending_ keeps in place.
    std::unordered_map<std::string_view, uint32_t> unsentReads_;
    std::string out_;
    size_t outSent_ = 0;
    size_t messageEnd_ = 0;  // on the device: where the message being written ends
    FrameDecoder decoder_;
    bool wantWrite_ = false;
    bool isSocket_ = false;
    bool isStream_ = false;  // a byte stream: messages may share a write
    // Completions may destroy the Client; loops check this to stop at once.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace xs
