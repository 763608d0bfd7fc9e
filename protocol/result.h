// The outcome of one XenStore request: a value, or an error that says which
// request failed, on what, and why.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace xs {

struct Error {
    enum class Kind {
        XenStore,    // xenstored answered ERROR; errnoName says which
        Connection,  // the connection is down or dropped with the request in flight
        Invalid,     // refused before sending: the request broke a rule of the protocol
    };
    Kind kind = Kind::XenStore;
    std::string errnoName;  // "ENOENT", …; "EINVAL" for Invalid; empty for Connection
    std::string message;    // for people: "READ /a/b: ENOENT (no such node)"
    std::string reason;     // the same without naming the request: "no such node"
};

// An error about one request ("READ /a/b"): the message names the request
// and, when xenstored refused it, the errno.
inline Error requestError(Error::Kind kind, std::string errnoName, const std::string& request,
                          std::string reason)
{
    std::string message = request + ": " +
                          (kind == Error::Kind::XenStore ? errnoName + " (" + reason + ")" : reason);
    return {kind, std::move(errnoName), std::move(message), std::move(reason)};
}

// The request could not be sent: there is no connection to xenstored.
inline Error notConnected(const std::string& request)
{
    return requestError(Error::Kind::Connection, "", request, "not connected to xenstored");
}

using Unit = std::monostate;

template <class T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { assert(ok()); return std::get<0>(v_); }
    const T& value() const { assert(ok()); return std::get<0>(v_); }
    const Error& error() const { assert(!ok()); return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

}  // namespace xs
