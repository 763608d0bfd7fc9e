#include "protocol/client.h"

#include <cerrno>
#include <cstring>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/validate.h"

namespace xs {

namespace {

Error invalid(std::string rule)
{
    return {Error::Kind::Invalid, "EINVAL", rule, rule};
}

std::string stripNul(std::string s)
{
    if (!s.empty() && s.back() == '\0')
        s.pop_back();
    return s;
}

std::string nulTerminated(std::string_view s)
{
    std::string out(s);
    out.push_back('\0');
    return out;
}

// Adapts a raw-payload completion to a typed one.
template <class T, class Parse>
Client::Done<std::string> parsed(Client::Done<T> done, Parse parse)
{
    return [done = std::move(done), parse = std::move(parse)](Result<std::string> r) {
        if (!r)
            return done(r.error());
        done(parse(std::move(r.value())));
    };
}

Client::Done<std::string> unit(Client::Done<Unit> done)
{
    return parsed<Unit>(std::move(done), [](std::string) { return Result<Unit>(Unit{}); });
}

// How a request is named in its errors ("READ /a/b").
std::string describeRequest(MessageType type, std::string_view subject)
{
    std::string out(messageTypeName(type));
    out += ' ';
    out += subject;
    return out;
}

// A NUL in a token would end it early on the wire: xenstored would register,
// and report events for, a different token than the caller asked for.
Violation checkToken(std::string_view token)
{
    if (token.find('\0') != std::string_view::npos)
        return "watch token contains a NUL byte";
    return std::nullopt;
}

}  // namespace

Client::Client(sd_event* loop, int fd, Handlers handlers, size_t maxInFlight)
    : loop_(sd_event_ref(loop)), fd_(fd), handlers_(std::move(handlers)),
      maxInFlight_(maxInFlight ? maxInFlight : 1)
{
    struct stat st {};
    isSocket_ = ::fstat(fd_, &st) == 0 && S_ISSOCK(st.st_mode);
    int type = 0;
    socklen_t typeLen = sizeof type;
    isStream_ = isSocket_ && ::getsockopt(fd_, SOL_SOCKET, SO_TYPE, &type, &typeLen) == 0 &&
                type == SOCK_STREAM;
    int r = sd_event_add_io(loop, &source_, fd_, EPOLLIN, &Client::onIo, this);
    if (r < 0) {
        ::close(fd_);
        fd_ = -1;
        source_ = nullptr;
    } else {
        sd_event_source_set_description(source_, "xenstore");
    }
    // Requests made while the loop dispatches one event (a burst of D-Bus
    // calls, say) go out together in one write, right after it.
    if (sd_event_add_defer(loop, &flushSource_, &Client::onFlush, this) >= 0) {
        sd_event_source_set_description(flushSource_, "xenstore-flush");
        sd_event_source_set_enabled(flushSource_, SD_EVENT_OFF);
    }
}

Client::~Client()
{
    *alive_ = false;
    if (source_)
        sd_event_source_disable_unref(source_);
    if (flushSource_)
        sd_event_source_disable_unref(flushSource_);
    sd_event_source_disable_unref(replyTimer_);
    if (fd_ >= 0)
        ::close(fd_);
    sd_event_unref(loop_);
    // Nobody is left to complete; completions are dropped with the Client.
}

void Client::setReplyTimeout(uint64_t usec)
{
    replyTimeoutUsec_ = usec;
    if (replyTimer_)
        sd_event_source_set_enabled(replyTimer_, SD_EVENT_OFF);
    armReplyTimeout();
}

void Client::dropAnswered()
{
    while (!sentOrder_.empty()) {
        auto it = pending_.find(sentOrder_.front().id);
        if (it != pending_.end() && it->second.sent == sentOrder_.front().sent)
            return;
        sentOrder_.pop_front();
    }
}

void Client::armReplyTimeout()
{
    if (!replyTimeoutUsec_ || sentOrder_.empty() || !connected())
        return;
    if (replyTimer_ && sd_event_source_get_enabled(replyTimer_, nullptr) > 0)
        return;  // armed for an older request; it moves on when it fires
    const uint64_t when = sentOrder_.front().atUsec + replyTimeoutUsec_;
    if (!replyTimer_) {
        if (sd_event_add_time(loop_, &replyTimer_, CLOCK_MONOTONIC, when, 0,
                              &Client::onReplyTimeout, this) < 0) {
            replyTimer_ = nullptr;
            return;
        }
        sd_event_source_set_description(replyTimer_, "xenstore-reply-timeout");
    } else {
        sd_event_source_set_time(replyTimer_, when);
    }
    sd_event_source_set_enabled(replyTimer_, SD_EVENT_ONESHOT);
}

int Client::onReplyTimeout(sd_event_source*, uint64_t now, void* self)
{
    auto* c = static_cast<Client*>(self);
    c->dropAnswered();
    if (c->sentOrder_.empty())
        return 0;
    if (now < c->sentOrder_.front().atUsec + c->replyTimeoutUsec_) {
        c->armReplyTimeout();
        return 0;
    }
    const uint64_t seconds = c->replyTimeoutUsec_ / 1'000'000;
    c->fail("xenstored did not answer for " +
            (seconds ? std::to_string(seconds) + " s" :
                       std::to_string(c->replyTimeoutUsec_ / 1000) + " ms"));
    return 0;
}

int Client::onIo(sd_event_source*, int, uint32_t revents, void* self)
{
    auto* c = static_cast<Client*>(self);
    std::weak_ptr<bool> alive = c->alive_;
    if (revents & EPOLLIN)
        c->receive();
    if (alive.expired() || !c->connected())
        return 0;
    if (revents & EPOLLOUT)
        c->flush();
    if (alive.expired() || !c->connected())
        return 0;
    if ((revents & (EPOLLERR | EPOLLHUP)) && !(revents & EPOLLIN))
        c->fail("xenstored closed the connection");
    return 0;
}

void Client::request(MessageType type, TxId tx, std::string payload, std::string subject,
                     Done<std::string> done)
{
    auto what = [&] { return describeRequest(type, subject); };
    if (auto v = checkPayloadSize(payload.size()))
        return done(requestError(Error::Kind::Invalid, "EINVAL", what(), *v));
    if (!connected())
        return done(notConnected(what()));
    Request req{type, tx, std::move(payload), std::move(subject), std::move(done), {}};
    if (pending_.size() >= maxInFlight_) {
        queued_.push_back(std::move(req));
        return;
    }
    send(std::move(req));
}

void Client::send(Request req)
{
    uint32_t id;
    do {
        id = nextReqId_++;
    } while (pending_.count(id));
    std::string why;
    if (!appendRequest(out_, req.type, id, req.tx, req.payload, &why))
        return req.done(invalid(why));
    std::string sent = std::move(req.payload);  // the Request waits without it
    const bool plainRead = req.type == MessageType::Read && req.tx == NoTransaction;
    req.sent = nextSent_++;
    if (replyTimeoutUsec_) {
        uint64_t now = 0;
        sd_event_now(loop_, CLOCK_MONOTONIC, &now);
        sentOrder_.push_back({req.sent, id, now});
        armReplyTimeout();
    }
    auto placed = pending_.emplace(id, std::move(req)).first;
    if (plainRead)
        unsentReads_[placed->second.subject] = id;
    else
        unsentReads_.clear();
    // What the transport does not take at once waits for EPOLLOUT.
    if (wantWrite_)
        return;
    if (!flushSource_ || sd_event_source_set_enabled(flushSource_, SD_EVENT_ONESHOT) < 0)
        flush();
}

int Client::onFlush(sd_event_source*, void* self)
{
    static_cast<Client*>(self)->flushQueued();
    return 0;
}

void Client::flushQueued()
{
    if (connected() && !wantWrite_ && outSent_ < out_.size())
        flush();
}

void Client::flush()
{
    // From here on, what is framed may reach xenstored: a later read must
    // not be answered by it.
    unsentReads_.clear();
    while (outSent_ < out_.size()) {
        // A stream socket takes everything queued in one send. The XenBus
        // device takes each write() as (part of) one message and silently
        // drops what follows that message's end: one message per write
        // there, and on any transport that keeps write boundaries.
        size_t len = out_.size() - outSent_;
        if (!isStream_) {
            if (outSent_ >= messageEnd_)
                messageEnd_ = outSent_ + frameSize(out_.data() + outSent_);
            len = messageEnd_ - outSent_;
        }
        // MSG_NOSIGNAL: a xenstored that went away must not kill the
        // process with SIGPIPE; the XenBus device is not a socket.
        const char* data = out_.data() + outSent_;
        ssize_t n = isSocket_ ? ::send(fd_, data, len, MSG_NOSIGNAL) : ::write(fd_, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return fail(std::string("writing to xenstored failed: ") + std::strerror(errno));
        }
        outSent_ += static_cast<size_t>(n);
    }
    if (outSent_ == out_.size()) {
        out_.clear();
        outSent_ = 0;
        messageEnd_ = 0;
        if (flushSource_)
            sd_event_source_set_enabled(flushSource_, SD_EVENT_OFF);
    }
    updateEvents();
}

void Client::updateEvents()
{
    bool want = outSent_ < out_.size();
    if (want == wantWrite_ || !source_)
        return;
    wantWrite_ = want;
    sd_event_source_set_io_events(source_, want ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
}

void Client::receive()
{
    std::weak_ptr<bool> alive = alive_;
    char buf[65536];
    // Bounded, so one busy connection cannot keep the loop from the others.
    for (int round = 0; round < 16; ++round) {
        ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return;
            return fail(std::string("reading from xenstored failed: ") + std::strerror(errno));
        }
        if (n == 0)
            return fail("xenstored closed the connection");
        decoder_.feed({buf, static_cast<size_t>(n)});
        Message msg;
        for (;;) {
            auto st = decoder_.next(msg);
            if (st == FrameDecoder::Status::NeedMore)
                break;
            if (st == FrameDecoder::Status::Failed)
                return fail("xenstored sent a corrupt stream: " + decoder_.error());
            dispatch(msg);
            if (alive.expired() || !connected())
                return;
        }
        // A short read took all there was: asking again would only cost a
        // syscall to hear EAGAIN (the loop is level-triggered; more data
        // wakes it again).
        if (static_cast<size_t>(n) < sizeof buf)
            return;
    }
}

void Client::dispatch(Message& msg)
{
    if (msg.header.type == MessageType::WatchEvent) {
        auto f = splitFields(msg.payload);
        if (f.size() >= 2 && handlers_.watchEvent)
            handlers_.watchEvent(f[0], f[1]);
        return;
    }
    auto it = pending_.find(msg.header.reqId);
    if (it == pending_.end())
        return;  // not ours: nothing waits for it
    // Answered before it was written out (a peer that guesses ids): no later
    // read may join it, and its key must not outlive it.
    if (auto u = unsentReads_.find(it->second.subject);
        u != unsentReads_.end() && u->second == msg.header.reqId)
        unsentReads_.erase(u);
    Request req = std::move(it->second);
    pending_.erase(it);
    dropAnswered();

    // A slot opened: send the next queued request before completing, so a
    // completion that issues more requests keeps the order.
    std::weak_ptr<bool> alive = alive_;
    if (!queued_.empty() && pending_.size() < maxInFlight_) {
        Request next = std::move(queued_.front());
        queued_.pop_front();
        send(std::move(next));
        if (alive.expired())
            return;
    }
    if (msg.header.type == MessageType::Error) {
        std::string name = stripNul(msg.payload);
        return complete(req, requestError(Error::Kind::XenStore, name,
                                          describeRequest(req.type, req.subject),
                                          std::string(errorDescription(
                                              req.type, req.tx != NoTransaction, name))));
    }
    complete(req, std::move(msg.payload));
}

void Client::complete(Request& req, Result<std::string> result)
{
    // In the order the reads were made. The request is the caller's own
    // copy: completions may destroy the Client, not this.
    if (req.joined.empty())
        return req.done(std::move(result));
    req.done(result);
    for (size_t i = 0; i + 1 < req.joined.size(); ++i)
        req.joined[i](result);
    req.joined.back()(std::move(result));
}

void Client::fail(const std::string& reason)
{
    if (!connected())
        return;
    std::weak_ptr<bool> alive = alive_;
    if (source_)
        source_ = sd_event_source_disable_unref(source_);
    if (flushSource_)
        sd_event_source_set_enabled(flushSource_, SD_EVENT_OFF);
    if (replyTimer_)
        sd_event_source_set_enabled(replyTimer_, SD_EVENT_OFF);
    sentOrder_.clear();
    ::close(fd_);
    fd_ = -1;
    out_.clear();
    outSent_ = 0;
    messageEnd_ = 0;
    auto pending = std::move(pending_);
    pending_.clear();
    auto queued = std::move(queued_);
    queued_.clear();
    unsentReads_.clear();
    auto complete = [&](Request& r) {
        Client::complete(r, requestError(Error::Kind::Connection, "",
                                         describeRequest(r.type, r.subject), reason));
    };
    for (auto& [id, r] : pending) {
        complete(r);
        if (alive.expired())
            return;
    }
    for (auto& r : queued) {
        complete(r);
        if (alive.expired())
            return;
    }
    if (handlers_.disconnected)
        handlers_.disconnected(reason);
}

// --- typed operations --------------------------------------------------

void Client::read(std::string_view path, TxId tx, Done<std::string> done)
{
    if (auto v = checkPath(path))
        return done(invalid(*v));
    // A read of a node that another read, not yet written out, is about to
    // ask for gets that read's answer: the one READ goes out after both were
    // made, so it is as fresh as either could have been. Only plain reads
    // share, and only back to the last other request (see unsentReads_).
    if (tx == NoTransaction && !unsentReads_.empty()) {
        if (auto it = unsentReads_.find(path); it != unsentReads_.end()) {
            if (auto p = pending_.find(it->second); p != pending_.end()) {
                p->second.joined.push_back(std::move(done));
                return;
            }
        }
    }
    request(MessageType::Read, tx, nulTerminated(path), std::string(path), std::move(done));
}

void Client::write(std::string_view path, std::string_view value, TxId tx, Done<Unit> done)
{
    if (auto v = checkPath(path))
        return done(invalid(*v));
    std::string payload = nulTerminated(path);
    payload += value;  // the value is not NUL-terminated on the wire
    request(MessageType::Write, tx, std::move(payload), std::string(path), unit(std::move(done)));
}

void Client::mkdir(std::string_view path, TxId tx, Done<Unit> done)
{
    if (auto v = checkPath(path))
        return done(invalid(*v));
    request(MessageType::Mkdir, tx, nulTerminated(path), std::string(path), unit(std::move(done)));
}

void Client::rm(std::string_view path, TxId tx, Done<Unit> done)
{
    if (auto v = checkPath(path))
        return done(invalid(*v));
    request(MessageType::Rm, tx, nulTerminated(path), std::string(path), unit(std::move(done)));
}

void Client::directory(std::string_view path, TxId tx, Done<std::vector<std::string>> done)
{
    if (auto v = checkPath(path))
        return done(invalid(*v));
    std::string p(path);
    std::weak_ptr<bool> alive = alive_;
    request(MessageType::Directory, tx, nulTerminated(path), p,
            [this, alive, p, tx, done = std::move(done)](Result<std::string> r) mutable {
                if (r)
                    return done(splitFields(r.value()));
                // C xenstored cannot fit the list in one reply and offers
                // DIRECTORY_PART instead; oxenstored sends it whole.
                if (r.error().errnoName == "E2BIG" && !alive.expired())
                    return directoryParts(p, tx, 0, {}, "", std::move(done));
                done(r.error());
            });
}

void Client::directoryParts(std::string path, TxId tx, size_t offset,
                            std::vector<std::string> collected, std::string generation,
                            Done<std::vector<std::string>> done)
{
    std::string payload = nulTerminated(path) + nulTerminated(std::to_string(offset));
    std::weak_ptr<bool> alive = alive_;
    request(MessageType::DirectoryPart, tx, std::move(payload), path,
            [this, alive, path, tx, offset, collected = std::move(collected), generation,
             done = std::move(done)](Result<std::string> r) mutable {
                if (!r)
                    return done(r.error());
                // Reply: generation NUL, then names each NUL-terminated; the
                // last part ends with an empty name (a second NUL).
                const std::string& pl = r.value();
                auto genEnd = pl.find('\0');
                if (genEnd == std::string::npos)
                    return done(requestError(Error::Kind::XenStore, "EIO",
                                             describeRequest(MessageType::DirectoryPart, path),
                                             "malformed reply"));
                std::string gen = pl.substr(0, genEnd);
                if (!generation.empty() && gen != generation) {
                    // The directory changed between parts: start over.
                    if (alive.expired())
                        return;
                    return directoryParts(path, tx, 0, {}, "", std::move(done));
                }
                std::string_view rest(pl);
                rest.remove_prefix(genEnd + 1);
                // The last part ends with an empty name: its final two bytes
                // are NULs, or it is that NUL alone (an offset at the end).
                const bool last = rest == std::string_view("\0", 1) ||
                                  rest.ends_with(std::string_view("\0\0", 2));
                // Where the next part starts: past every name so far, each
                // with its NUL.
                size_t bytes = offset;
                size_t added = 0;
                for (auto& n : splitFields(rest)) {
                    if (n.empty())
                        break;
                    bytes += n.size() + 1;
                    collected.push_back(std::move(n));
                    ++added;
                }
                // Any other part must bring whole names: asking on from an
                // offset that did not move would never end, and stopping
                // would hand out a list cut short.
                if (!last && (added == 0 || rest.back() != '\0'))
                    return done(requestError(Error::Kind::XenStore, "EIO",
                                             describeRequest(MessageType::DirectoryPart, path),
                                             "malformed reply"));
                if (last || alive.expired())
                    return done(std::move(collected));
                directoryParts(path, tx, bytes, std::move(collected), gen,
                               std::move(done));
            });
}

void Client::getPermissions(std::string_view path, TxId tx, Done<std::vector<std::string>> done)
{
    if (auto v = checkPath(path))
        return done(invalid(*v));
    request(MessageType::GetPerms, tx, nulTerminated(path), std::string(path),
            parsed<std::vector<std::string>>(std::move(done), [](std::string p) {
                return Result<std::vector<std::string>>(splitFields(p));
            }));
}

void Client::setPermissions(std::string_view path, const std::vector<std::string>& perms,
                            TxId tx, Done<Unit> done)
{
    if (auto v = checkPath(path))
        return done(invalid(*v));
    if (auto v = checkPermissions(perms))
        return done(invalid(*v));
    request(MessageType::SetPerms, tx, nulTerminated(path) + joinFields(perms), std::string(path),
            unit(std::move(done)));
}

void Client::watch(std::string_view path, std::string_view token, Done<Unit> done)
{
    watchRequest(MessageType::Watch, path, token, std::move(done));
}

void Client::unwatch(std::string_view path, std::string_view token, Done<Unit> done)
{
    watchRequest(MessageType::Unwatch, path, token, std::move(done));
}

void Client::watchRequest(MessageType type, std::string_view path, std::string_view token,
                          Done<Unit> done)
{
    if (auto v = checkWatchPath(path))
        return done(invalid(*v));
    if (auto v = checkToken(token))
        return done(invalid(*v));
    request(type, NoTransaction, nulTerminated(path) + nulTerminated(token), std::string(path),
            unit(std::move(done)));
}

void Client::transactionStart(Done<TxId> done)
{
    request(MessageType::TransactionStart, NoTransaction, std::string(1, '\0'), "",
            parsed<TxId>(std::move(done), [](std::string p) -> Result<TxId> {
                p = stripNul(std::move(p));
                char* end = nullptr;
                unsigned long id = std::strtoul(p.c_str(), &end, 10);
                if (p.empty() || *end || id == 0 || id > UINT32_MAX)
                    return requestError(Error::Kind::XenStore, "EIO", "TRANSACTION_START",
                                        "malformed transaction id '" + p + "'");
                return static_cast<TxId>(id);
            }));
}

void Client::transactionEnd(TxId tx, bool commit, Done<bool> done)
{
    request(MessageType::TransactionEnd, tx, commit ? std::string("T\0", 2) : std::string("F\0", 2),
            "transaction " + std::to_string(tx),
            [commit, done = std::move(done)](Result<std::string> r) {
                if (r)
                    return done(true);
                if (commit && r.error().kind == Error::Kind::XenStore &&
                    r.error().errnoName == "EAGAIN")
                    return done(false);
                done(r.error());
            });
}

namespace {
std::string domidArg(uint32_t domid) { return nulTerminated(std::to_string(domid)); }
std::string domidSubject(uint32_t domid) { return "domain " + std::to_string(domid); }
}  // namespace

#define XS_CHECK_DOMID(d)                    \
    if (auto v = checkDomid(d))              \
        return done(invalid(*v));

void Client::getDomainPath(uint32_t domid, Done<std::string> done)
{
    XS_CHECK_DOMID(domid)
    request(MessageType::GetDomainPath, NoTransaction, domidArg(domid), domidSubject(domid),
            parsed<std::string>(std::move(done),
                                [](std::string p) { return Result<std::string>(stripNul(p)); }));
}

void Client::isDomainIntroduced(uint32_t domid, Done<bool> done)
{
    XS_CHECK_DOMID(domid)
    request(MessageType::IsDomainIntroduced, NoTransaction, domidArg(domid), domidSubject(domid),
            parsed<bool>(std::move(done),
                         [](std::string p) { return Result<bool>(stripNul(p) == "T"); }));
}

void Client::introduce(uint32_t domid, uint64_t mfn, uint32_t port, Done<Unit> done)
{
    XS_CHECK_DOMID(domid)
    request(MessageType::Introduce, NoTransaction,
            domidArg(domid) + nulTerminated(std::to_string(mfn)) +
                nulTerminated(std::to_string(port)),
            domidSubject(domid), unit(std::move(done)));
}

void Client::release(uint32_t domid, Done<Unit> done)
{
    XS_CHECK_DOMID(domid)
    request(MessageType::Release, NoTransaction, domidArg(domid), domidSubject(domid),
            unit(std::move(done)));
}

void Client::resume(uint32_t domid, Done<Unit> done)
{
    XS_CHECK_DOMID(domid)
    request(MessageType::Resume, NoTransaction, domidArg(domid), domidSubject(domid),
            unit(std::move(done)));
}

void Client::setTarget(uint32_t domid, uint32_t target, Done<Unit> done)
{
    XS_CHECK_DOMID(domid)
    XS_CHECK_DOMID(target)
    request(MessageType::SetTarget, NoTransaction, domidArg(domid) + domidArg(target),
            domidSubject(domid), unit(std::move(done)));
}

void Client::resetWatches(Done<Unit> done)
{
    request(MessageType::ResetWatches, NoTransaction, std::string(1, '\0'), "",
            unit(std::move(done)));
}

}  // namespace xs
