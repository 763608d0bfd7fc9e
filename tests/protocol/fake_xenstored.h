// A peer that plays xenstored's side of one connection, for unit tests of
// the client alone (never for a claim about the real xenstored). It is the
// other end of a socketpair, driven by the same sd-event loop as the client,
// so a test runs in one thread and in a known order.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "protocol/codec.h"

namespace xs::test {

class FakeXenstored {
public:
    explicit FakeXenstored(sd_event* loop)
    {
        int fds[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
            throw std::runtime_error("socketpair failed");
        clientFd_ = fds[0];
        fd_ = fds[1];
        if (sd_event_add_io(loop, &source_, fd_, EPOLLIN, &FakeXenstored::onIo, this) < 0)
            throw std::runtime_error("sd_event_add_io failed");
    }
    ~FakeXenstored()
    {
        close();
        if (clientFd_ >= 0)
            ::close(clientFd_);
    }
    FakeXenstored(const FakeXenstored&) = delete;
    FakeXenstored& operator=(const FakeXenstored&) = delete;

    // The client's end, for xs::Client (which takes ownership).
    int takeClientFd()
    {
        int fd = clientFd_;
        clientFd_ = -1;
        return fd;
    }

    // Called for each request; without it requests wait in `received`.
    std::function<void(const Message&)> onRequest;
    std::deque<Message> received;
    size_t requestsSeen = 0;

    void reply(const Message& request, std::string_view payload)
    {
        send({request.header.type, request.header.reqId, request.header.txId, 0}, payload);
    }
    void replyError(const Message& request, std::string_view errnoName)
    {
        send({MessageType::Error, request.header.reqId, request.header.txId, 0},
             std::string(errnoName) + '\0');
    }
    void watchEvent(std::string_view path, std::string_view token)
    {
        send({MessageType::WatchEvent, 0, 0, 0},
             std::string(path) + '\0' + std::string(token) + '\0');
    }
    void send(const Header& header, std::string_view payload)
    {
        sendRaw(encodeMessage(header, payload));
    }
    // Writes it all; the socket buffer holds far more than any test sends
    // before the client, in the same loop, gets to read. (Callbacks from
    // sd-event must not throw, hence ADD_FAILURE rather than exceptions.)
    void sendRaw(std::string_view bytes)
    {
        while (!bytes.empty()) {
            ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EAGAIN) {
                pollfd p{fd_, POLLOUT, 0};
                if (poll(&p, 1, 1000) <= 0) {
                    ADD_FAILURE() << "the client does not read";
                    return;
                }
                continue;
            }
            if (n < 0) {
                ADD_FAILURE() << "send to the client failed: " << std::strerror(errno);
                return;
            }
            bytes.remove_prefix(static_cast<size_t>(n));
        }
    }

    // Hangs up, as xenstored does when it exits.
    void close()
    {
        if (source_)
            source_ = sd_event_source_disable_unref(source_);
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }

private:
    static int onIo(sd_event_source*, int, uint32_t, void* self)
    {
        static_cast<FakeXenstored*>(self)->receive();
        return 0;
    }

    void receive()
    {
        char buf[65536];
        for (;;) {
            ssize_t n = ::read(fd_, buf, sizeof buf);
            if (n <= 0)
                break;
            decoder_.feed({buf, static_cast<size_t>(n)});
        }
        Message m;
        while (fd_ >= 0 && decoder_.next(m) == FrameDecoder::Status::Frame) {
            ++requestsSeen;
            if (onRequest)
                onRequest(m);
            else
                received.push_back(m);
        }
        if (decoder_.failed())
            ADD_FAILURE() << "the client sent a corrupt stream: " << decoder_.error();
    }

    int fd_ = -1;
    int clientFd_ = -1;
    sd_event_source* source_ = nullptr;
    FrameDecoder decoder_{PayloadMax};  // what a client sends must fit the request limit
};

}  // namespace xs::test
