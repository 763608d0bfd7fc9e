// One D-Bus call being served: who made it, what it is about, and how to
// answer it — exactly once, however the work ends.
//
// An Answer is a cheap copyable handle (completions are std::function). It
// counts the caller's calls in flight, for the per-caller limit; a call that
// no code path answered (a bug) still gets an error reply when the last
// handle goes, so no caller ever waits for nothing.
//
// It also keeps the D-Bus object that received the call alive until the
// reply is sent: sd-bus checks a reply's signature against the object's
// vtable, which goes with the object (transactions end before their Commit
// is answered).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <sdbus-c++/Error.h>
#include <sdbus-c++/MethodResult.h>

#include "daemon/log.h"
#include "dbus/errors.h"
#include "dbus/text.h"
#include "protocol/result.h"

namespace xsd {

// The largest answer the daemon sends. dbus-daemon drops the connection of
// a sender whose message passes its limit (32 MiB on the system bus by
// default): a larger answer would cut the daemon off the bus. Past this,
// the caller gets TooBig instead.
inline constexpr size_t MaxAnswerBytes = 16 * 1024 * 1024;

// Bytes an answer's value takes in a message, near enough to compare with
// MaxAnswerBytes: strings and arrays grow with what xenstored holds, the
// rest is a few bytes.
inline size_t answerBytes(const std::string& s) { return s.size() + 5; }
inline size_t answerBytes(const std::vector<std::string>& v)
{
    size_t n = 4;
    for (const auto& s : v)
        n += s.size() + 8;  // length, NUL, alignment
    return n;
}
inline size_t answerBytes(const std::vector<uint8_t>& v) { return v.size() + 4; }
// ReadMany's answers: a dictionary of paths and values.
template <class V>
size_t answerBytes(const std::map<std::string, V>& m)
{
    size_t n = 4;
    for (const auto& [key, value] : m)
        n += 8 + answerBytes(key) + answerBytes(value);  // entries are 8-aligned
    return n;
}
template <class T>
size_t answerBytes(const T&)
{
    return 8;
}

// Whether sd-bus can carry an answer's value: its strings must be text
// (dbus/text.h). Checked before sending, since a reply that cannot be built
// is no answer at all.
inline bool carriable(const std::string& s) { return isText(s); }
inline bool carriable(const std::vector<std::string>& v)
{
    for (const auto& s : v)
        if (!isText(s))
            return false;
    return true;
}
template <class T>
bool carriable(const T&)
{
    return true;
}
template <class V>
bool carriable(const std::map<std::string, V>& m)
{
    for (const auto& [key, value] : m)
        if (!carriable(key) || !carriable(value))
            return false;
    return true;
}

// Calls in flight per sender, and for all senders together.
class CallCounter {
public:
    unsigned of(const std::string& sender) const
    {
        auto it = bySender_.find(sender);
        return it == bySender_.end() ? 0 : it->second;
    }
    // Those of senders that left the bus too: they hold the daemon's memory
    // until answered.
    size_t total() const { return total_; }
    void add(const std::string& sender)
    {
        ++bySender_[sender];
        ++total_;
    }
    void remove(const std::string& sender)
    {
        --total_;
        auto it = bySender_.find(sender);
        if (it == bySender_.end() || it->second == 0)
            return;
        --it->second;
    }
    // The sender left the bus. Until then its entry stays, even at zero, so
    // a busy caller does not cost an allocation per call.
    void forget(const std::string& sender) { bySender_.erase(sender); }

private:
    std::unordered_map<std::string, unsigned> bySender_;
    size_t total_ = 0;
};

template <class... T>
class Answer {
public:
    // `method` names the call ("Read"), `subject` what it is about (a path,
    // a domid; may be empty). They are put together only when a message or
    // a log line needs them.
    // `interactive`: the call's message allows interactive authorization
    // (polkit may have a person authenticate before it is answered).
    Answer(std::shared_ptr<CallCounter> counter, std::string sender, const char* method,
           std::string subject, sdbus::Result<T...>&& result, std::shared_ptr<const void> object = {},
           bool interactive = false)
        : s_(std::make_shared<State>(std::move(counter), std::move(sender), method,
                                     std::move(subject), std::move(result), std::move(object)))
    {
        s_->interactive = interactive;
    }

    const std::string& sender() const { return s_->sender; }
    const char* method() const { return s_->method; }
    // The same for every copy of this answer, and for no other call's.
    const void* id() const { return s_.get(); }
    bool interactive() const { return s_->interactive; }
    // "Read /local/domain/0/name": for log lines and messages.
    std::string what() const { return s_->what(); }

    void ok(const T&... values) const
    {
        if (const size_t bytes = (size_t{0} + ... + answerBytes(values)); bytes > MaxAnswerBytes)
            return fail(errors::nameForErrno("E2BIG"),
                        what() + ": the answer would take " + std::to_string(bytes) +
                            " bytes, more than the " + std::to_string(MaxAnswerBytes >> 20) +
                            " MiB the daemon sends in one message");
        if (!(true && ... && carriable(values)))
            return fail(errors::NotText, what() + ": xenstored's answer holds bytes that are not "
                                                  "text a D-Bus string can carry");
        if (!claim())
            return;
        try {
            s_->result.returnResults(values...);
            if (log::verbose())
                log::debug(what(), " from ", s_->sender, ": ok");
        } catch (const sdbus::Error& e) {
            // The reply could not be built (e.g. a string that is not
            // UTF-8 after all): the caller still gets an answer.
            sendError(errors::make(errors::Failed, what() + ": cannot send the reply: " +
                                                       e.getMessage()));
        }
    }

    // A completion that answers with what xenstored answered: its value
    // (none for a method that returns nothing) or its error.
    auto relay() const
    {
        return [a = *this](auto r) {
            if (!r)
                return a.fail(r.error());
            if constexpr (sizeof...(T) == 0)
                a.ok();
            else
                a.ok(r.value());
        };
    }

    void fail(const sdbus::Error& error) const
    {
        if (claim())
            sendError(error);
    }
    void fail(const xs::Error& error) const { fail(errors::fromXenStore(error, what())); }
    void fail(std::string_view name, const std::string& message) const
    {
        fail(errors::make(name, message));
    }

private:
    struct State {
        State(std::shared_ptr<CallCounter> c, std::string s, const char* m, std::string subj,
              sdbus::Result<T...>&& r, std::shared_ptr<const void> o)
            : counter(std::move(c)), sender(std::move(s)), method(m), subject(std::move(subj)),
              result(std::move(r)), object(std::move(o))
        {
            counter->add(sender);
        }
        ~State()
        {
            if (answered)
                return;  // claim() stopped counting it
            try {
                result.returnError(errors::make(errors::Failed, what() + ": the daemon lost track of this call"));
            } catch (const sdbus::Error&) {
            }
            counter->remove(sender);
        }
        std::shared_ptr<CallCounter> counter;
        std::string sender;
        const char* method;
        std::string subject;
        std::string what() const { return subject.empty() ? method : method + (" " + subject); }
        sdbus::Result<T...> result;
        std::shared_ptr<const void> object;  // the receiver, kept until the reply is out
        bool answered = false;  // until then, counted against the sender's limit
        bool interactive = false;
    };

    bool claim() const
    {
        if (s_->answered)
            return false;
        s_->answered = true;
        s_->counter->remove(s_->sender);
        return true;
    }

    void sendError(const sdbus::Error& error) const
    {
        if (log::verbose())
            log::debug(what(), " from ", s_->sender, ": ", error.getName(), ": ", error.getMessage());
        try {
            s_->result.returnError(error);
        } catch (const sdbus::Error& e) {
            log::warning("cannot answer ", what(), " from ", s_->sender, ": ", e.getMessage());
        }
    }

    std::shared_ptr<State> s_;
};

}  // namespace xsd
