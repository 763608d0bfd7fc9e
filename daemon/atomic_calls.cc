#include "daemon/atomic_calls.h"

#include <algorithm>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "daemon/timer.h"
#include "dbus/text.h"
#include "protocol/validate.h"

namespace xsd {

namespace {

using Outcome = AtomicCalls::Outcome;

// The pause before a retry: random up to a ceiling that doubles with each
// retry (2 ms, 4 ms, …, 50 ms), so callers that conflicted with each other
// do not meet again at once.
constexpr uint64_t FirstPauseCeilingUsec = 2'000;
constexpr uint64_t MaxPauseCeilingUsec = 50'000;

Outcome answerAfter(bool commit, std::function<void()> answer)
{
    Outcome o;
    o.commit = commit;
    o.answer = std::move(answer);
    return o;
}

Outcome failure(sdbus::Error error)
{
    Outcome o;
    o.failure = std::move(error);
    return o;
}

bool isErrno(const xs::Error& e, std::string_view name)
{
    return e.kind == xs::Error::Kind::XenStore && e.errnoName == name;
}

// xenstored refused a request; `context` says of which call and, for calls
// of several paths, which path.
Outcome refused(const xs::Error& e, const std::string& context)
{
    Outcome o = failure(errors::fromXenStore(e, context));
    o.conflict = isErrno(e, "EAGAIN");
    return o;
}

sdbus::Error notText(const std::string& context, size_t bytes, const char* instead)
{
    return errors::make(errors::NotText, context + ": the value (" + std::to_string(bytes) +
                                             " bytes) is not text a D-Bus string can carry "
                                             "(UTF-8 without NUL or Unicode noncharacters); use " +
                                             instead);
}

// Sends n requests at once (they are pipelined) and hands `all` their
// results, in order, once the last is answered.
template <class T, class Send, class All>
void gather(size_t n, Send send, All all)
{
    struct State {
        std::vector<std::optional<xs::Result<T>>> results;
        size_t left;
        All all;
    };
    auto st = std::make_shared<State>(
        State{std::vector<std::optional<xs::Result<T>>>(n), n, std::move(all)});
    for (size_t i = 0; i < n; ++i)
        send(i, [st, i](xs::Result<T> r) {
            st->results[i].emplace(std::move(r));
            if (--st->left == 0)
                st->all(st->results);
        });
}

// The bounds of one call, before its paths are looked at.
std::optional<sdbus::Error> checkBounds(const std::string& what, size_t paths, size_t bytes)
{
    if (paths > MaxPathsPerAtomicCall)
        return errors::make(errors::InvalidArgument,
                            what + ": " + std::to_string(paths) + " paths; a call names at most " +
                                std::to_string(MaxPathsPerAtomicCall));
    if (bytes > MaxBytesPerAtomicCall)
        return errors::make(errors::nameForErrno("E2BIG"),
                            what + ": " + std::to_string(bytes) +
                                " bytes of paths and values; a call carries at most " +
                                std::to_string(MaxBytesPerAtomicCall) + " (1 MiB)");
    return std::nullopt;
}

// One path, and for a write its value: what the one-path methods check.
std::optional<sdbus::Error> checkPathOf(const std::string& what, const std::string& path,
                                        const std::string* value = nullptr)
{
    auto v = xs::checkPath(path);
    if (!v && value)
        v = xs::checkPayloadSize(path.size() + 1 + value->size());
    if (v)
        return errors::make(errors::InvalidArgument, what + ": " + path + ": " + *v);
    return std::nullopt;
}

std::string asString(const std::string& s) { return s; }
std::string asString(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

}  // namespace

// --- one call in a transaction of its own, retried -------------------------

class AtomicCalls::Run : public std::enable_shared_from_this<Run> {
public:
    Run(AtomicCalls& calls, Body body, std::function<void(const sdbus::Error&)> fail,
        std::string what, std::shared_ptr<const void> held, std::function<void()> letGo)
        : calls_(calls), body_(std::move(body)), fail_(std::move(fail)), what_(std::move(what)),
          held_(std::move(held)), letGo_(std::move(letGo)), generation_(calls.link_.generation())
    {
    }
    ~Run() { sd_event_source_disable_unref(pause_); }

    void attempt(xs::Client& c)
    {
        c.transactionStart([self = shared_from_this(), &c](xs::Result<xs::TxId> r) {
            if (!r)
                return self->ended(refused(r.error(), self->what_));
            const xs::TxId tx = r.value();
            self->body_(c, tx, [self, &c, tx](Outcome o) { self->decided(c, tx, std::move(o)); });
        });
    }

    // After the pause: again, unless the connection the call started on is
    // gone (a restarted xenstored has none of what the call saw).
    void resume()
    {
        auto* c = calls_.link_.client();
        if (!c || calls_.link_.generation() != generation_)
            return fail(errors::make(errors::NotConnected,
                                     what_ + ": the connection to xenstored was lost during the "
                                             "call; none of it was committed"));
        attempt(*c);
    }

    AtomicCalls& calls() const { return calls_; }
    sd_event_source*& pauseSource() { return pause_; }

private:
    void decided(xs::Client& c, xs::TxId tx, Outcome o)
    {
        if (!o.commit || o.failure) {
            c.transactionEnd(tx, false, [](xs::Result<bool>) {});
            return ended(std::move(o));
        }
        c.transactionEnd(tx, true, [self = shared_from_this(), answer = std::move(o.answer)](
                                       xs::Result<bool> committed) {
            if (!committed)
                return self->fail(errors::fromXenStore(committed.error(), self->what_));
            if (!committed.value())
                return self->conflicted();
            self->answered(answer);
        });
    }

    // The transaction is over (aborted, or never started).
    void ended(Outcome o)
    {
        if (!o.failure)
            return answered(o.answer);
        if (o.conflict)
            return conflicted();
        fail(*o.failure);
    }

    void fail(const sdbus::Error& e)
    {
        answered([&] { fail_(e); });
    }

    // The caller's later calls, held while this one takes effect, go on
    // once it is answered.
    template <class Reply>
    void answered(const Reply& reply)
    {
        reply();
        if (auto letGo = std::exchange(letGo_, nullptr))
            letGo();
    }

    void conflicted()
    {
        const unsigned limit = calls_.gate_.config().limits.atomicCallRetries;
        if (retries_ >= limit)
            return fail(errors::make(
                errors::nameForErrno("EAGAIN"),
                what_ + ": the paths kept changing: xenstored refused the commit as conflicting " +
                    std::to_string(retries_ + 1) + " times (EAGAIN), and the daemon retries " +
                    std::to_string(limit) + " times (atomic_call_retries)"));
        calls_.pause(shared_from_this(), ++retries_);
    }

    AtomicCalls& calls_;
    Body body_;
    std::function<void(const sdbus::Error&)> fail_;
    std::string what_;
    std::shared_ptr<const void> held_;  // the call's bytes, until it is answered
    std::function<void()> letGo_;       // the caller's later calls, once it is answered
    uint64_t generation_;
    unsigned retries_ = 0;
    sd_event_source* pause_ = nullptr;
};

AtomicCalls::AtomicCalls(sd_event* loop, Gate& gate, XenStoreLink& link)
    : loop_(loop), gate_(gate), link_(link), random_(std::random_device{}())
{
}

AtomicCalls::~AtomicCalls() = default;

void AtomicCalls::pause(const std::shared_ptr<Run>& run, unsigned retry)
{
    const uint64_t ceiling =
        std::min(MaxPauseCeilingUsec, FirstPauseCeilingUsec << std::min(retry - 1, 8u));
    const uint64_t usec = std::uniform_int_distribution<uint64_t>(0, ceiling)(random_);
    if (!armOneShot(loop_, run->pauseSource(), monotonicNow(loop_) + usec, &AtomicCalls::onPaused,
                    run.get(), "atomic-call-pause"))
        return run->resume();  // no timer: retry at once rather than never
    pausing_.insert(run);
}

int AtomicCalls::onPaused(sd_event_source*, uint64_t, void* userdata)
{
    auto run = static_cast<Run*>(userdata)->shared_from_this();
    // Runs only while the Run is in pausing_, whose AtomicCalls is alive.
    run->calls().pausing_.erase(run);
    run->resume();
    return 0;
}

// --- admission -----------------------------------------------------------

struct AtomicCalls::Admission {
    size_t paths = 0;
    std::function<const std::string&(size_t)> pathAt;
    std::vector<Access> accesses;  // each asked for every path
    size_t asked = 0;
    size_t passed = 0;
    bool asking = false;  // inside admitNext: a check that passes at once does not recurse
    std::function<void(xs::Client&)> go;

    size_t checks() const { return paths * accesses.size(); }
};

std::shared_ptr<const void> AtomicCalls::hold(size_t bytes)
{
    if (*held_ + bytes > MaxBytesHeldByAtomicCalls)
        return nullptr;
    *held_ += bytes;
    auto held = held_;
    return std::shared_ptr<const void>(held.get(), [held, bytes](const void*) { *held -= bytes; });
}

template <class... T>
void AtomicCalls::admit(const Answer<T...>& a, size_t bytes, size_t paths,
                        std::function<const std::string&(size_t)> pathAt,
                        std::vector<Access> accesses, const Scope& s, Body body)
{
    auto held = hold(bytes);
    if (!held)
        return a.fail(errors::LimitExceeded,
                      a.what() + ": the atomic calls under way hold " + std::to_string(*held_) +
                          " bytes of paths and values, and all of them together may hold " +
                          std::to_string(MaxBytesHeldByAtomicCalls >> 20) +
                          " MiB; try again once they are answered");
    auto admission = std::make_shared<Admission>();
    admission->paths = paths;
    admission->pathAt = std::move(pathAt);
    admission->accesses = std::move(accesses);
    admission->go = [this, a, check = s.check, tx = s.tx, body = std::move(body),
                     held = std::move(held)](xs::Client& c) {
        if (check)
            if (auto e = check())
                return a.fail(*e);
        run(a, c, tx, body, held);
    };
    admitNext(a, admission);
}

template <class... T>
void AtomicCalls::admitNext(const Answer<T...>& a, const std::shared_ptr<Admission>& admission)
{
    auto& ad = *admission;
    if (ad.asking)
        return;
    ad.asking = true;
    // One check at a time, the next once the one before passed (at once, or
    // later when the Gate had to ask someone): a call is judged as the
    // one-path calls it stands for would be. A check that fails answers
    // the call, and nothing is asked after it.
    while (ad.asked == ad.passed && ad.asked < ad.checks()) {
        const size_t i = ad.asked++;
        const Access access = ad.accesses[i % ad.accesses.size()];
        gate_.admit(a, access, ad.pathAt(i / ad.accesses.size()), [this, a, admission](xs::Client& c) {
            if (++admission->passed == admission->checks())
                return admission->go(c);
            admitNext(a, admission);
        });
    }
    ad.asking = false;
}

template <class... T>
void AtomicCalls::run(const Answer<T...>& a, xs::Client& client, xs::TxId tx, Body body,
                      std::shared_ptr<const void> held)
{
    if (tx != xs::NoTransaction) {
        // Inside the caller's transaction: its requests join it, and its
        // Commit decides.
        body(client, tx, [a, held](Outcome o) {
            if (o.failure)
                return a.fail(*o.failure);
            o.answer();
        });
        return;
    }
    // Its caller's later calls wait until it is answered: a Read sent after
    // a WriteMany would otherwise reach xenstored before the commit.
    auto r = std::make_shared<Run>(*this, std::move(body), [a](const sdbus::Error& e) { a.fail(e); },
                                   a.what(), std::move(held), gate_.holdLaterCalls(a.sender()));
    r->attempt(client);
}

// --- the calls -----------------------------------------------------------

// The paths of ReadMany or RemoveMany, checked: once each, in order (a
// ReadMany answer holds each path once, and RemoveMany of a path twice
// would find it gone). Held once for the whole call, however often it runs.
std::optional<sdbus::Error> AtomicCalls::checkedPaths(const std::string& what,
                                                      const std::vector<std::string>& given,
                                                      Paths& out, size_t& bytes)
{
    bytes = 0;
    for (const auto& p : given)
        bytes += p.size();
    if (auto e = checkBounds(what, given.size(), bytes))
        return e;
    std::vector<std::string> paths;
    paths.reserve(given.size());
    std::unordered_set<std::string_view> seen;
    for (const auto& p : given) {
        if (auto e = checkPathOf(what, p))
            return e;
        if (seen.insert(p).second)
            paths.push_back(p);
    }
    out = std::make_shared<const std::vector<std::string>>(std::move(paths));
    return std::nullopt;
}

template <class Values>
void AtomicCalls::readValues(const Answer<Values>& a, const std::vector<std::string>& given,
                             const Scope& s)
{
    Paths paths;
    size_t bytes = 0;
    if (auto e = checkedPaths(a.what(), given, paths, bytes))
        return a.fail(*e);
    if (paths->empty())
        return a.ok(Values{});
    admit(a, bytes, paths->size(), [paths](size_t i) -> const std::string& { return (*paths)[i]; },
          {Access::Read}, s, [a, paths](xs::Client& c, xs::TxId tx, auto decide) {
        gather<std::string>(
            paths->size(), [&](size_t i, auto done) { c.read((*paths)[i], tx, std::move(done)); },
            [a, paths, decide](std::vector<std::optional<xs::Result<std::string>>>& results) {
                Values values;
                for (size_t i = 0; i < paths->size(); ++i) {
                    const std::string& path = (*paths)[i];
                    auto& r = *results[i];
                    if (!r) {
                        if (isErrno(r.error(), "ENOENT"))
                            continue;  // absent from the answer
                        return decide(refused(r.error(), a.what() + ": " + path));
                    }
                    if constexpr (std::is_same_v<Values, Texts>) {
                        if (!isText(r.value()))
                            return decide(failure(
                                notText(a.what() + ": " + path, r.value().size(), "ReadManyBytes")));
                        values.emplace(path, std::move(r.value()));
                    } else {
                        values.emplace(path, std::vector<uint8_t>(r.value().begin(), r.value().end()));
                    }
                }
                // Committed, not aborted: C xenstored reads the latest values
                // inside a transaction and only its commit says whether they
                // still held together (oxenstored reads a copy, and commits a
                // transaction that wrote nothing at no cost).
                decide(answerAfter(true, [a, values = std::move(values)] { a.ok(values); }));
            });
    });
}

void AtomicCalls::readMany(const Answer<Texts>& a, const std::vector<std::string>& paths,
                           const Scope& s)
{
    readValues(a, paths, s);
}

void AtomicCalls::readManyBytes(const Answer<Bytes>& a, const std::vector<std::string>& paths,
                                const Scope& s)
{
    readValues(a, paths, s);
}

template <class Values>
void AtomicCalls::writeValues(const Answer<>& a, const Values& values, const Scope& s)
{
    size_t bytes = 0;
    for (const auto& [path, value] : values)
        bytes += path.size() + value.size();
    if (auto e = checkBounds(a.what(), values.size(), bytes))
        return a.fail(*e);
    std::vector<std::pair<std::string, std::string>> checked;
    checked.reserve(values.size());
    for (const auto& [path, value] : values) {
        checked.emplace_back(path, asString(value));
        if (auto e = checkPathOf(a.what(), path, &checked.back().second))
            return a.fail(*e);
    }
    if (checked.empty())
        return a.ok();
    // Held once for the whole call, however often it runs.
    auto writes = std::make_shared<const decltype(checked)>(std::move(checked));
    admit(a, bytes, writes->size(), [writes](size_t i) -> const std::string& { return (*writes)[i].first; },
          {Access::Write}, s, [a, writes](xs::Client& c, xs::TxId tx, auto decide) {
        gather<xs::Unit>(
            writes->size(),
            [&](size_t i, auto done) {
                c.write((*writes)[i].first, (*writes)[i].second, tx, std::move(done));
            },
            [a, writes, decide](std::vector<std::optional<xs::Result<xs::Unit>>>& results) {
                for (size_t i = 0; i < writes->size(); ++i)
                    if (!*results[i])
                        return decide(refused(results[i]->error(), a.what() + ": " + (*writes)[i].first));
                decide(answerAfter(true, [a] { a.ok(); }));
            });
    });
}

void AtomicCalls::writeMany(const Answer<>& a, const Texts& values, const Scope& s)
{
    writeValues(a, values, s);
}

void AtomicCalls::writeManyBytes(const Answer<>& a, const Bytes& values, const Scope& s)
{
    writeValues(a, values, s);
}

void AtomicCalls::removeMany(const Answer<>& a, const std::vector<std::string>& given,
                             const Scope& s)
{
    Paths paths;
    size_t bytes = 0;
    if (auto e = checkedPaths(a.what(), given, paths, bytes))
        return a.fail(*e);
    if (paths->empty())
        return a.ok();
    admit(a, bytes, paths->size(), [paths](size_t i) -> const std::string& { return (*paths)[i]; },
          {Access::Write}, s, [a, paths](xs::Client& c, xs::TxId tx, auto decide) {
        gather<xs::Unit>(
            paths->size(), [&](size_t i, auto done) { c.rm((*paths)[i], tx, std::move(done)); },
            [a, paths, decide](std::vector<std::optional<xs::Result<xs::Unit>>>& results) {
                for (size_t i = 0; i < paths->size(); ++i) {
                    const auto& r = *results[i];
                    // Gone already (or under a path removed before it), as
                    // xenstored itself mostly treats RM of a missing node.
                    if (!r && !isErrno(r.error(), "ENOENT"))
                        return decide(refused(r.error(), a.what() + ": " + (*paths)[i]));
                }
                decide(answerAfter(true, [a] { a.ok(); }));
            });
    });
}

// CompareAndWrite and WriteIfAbsent: in one transaction, read `path`; from
// what was read, `judge` says how the call ends without writing, or nothing
// to have `value` written, which answers (true, value).
void AtomicCalls::readThenWrite(const Answer<bool, std::string>& a, const std::string& path,
                                const std::string& value, size_t bytes, const Scope& s,
                                std::function<std::optional<Outcome>(xs::Result<std::string>&)> judge)
{
    if (auto e = checkBounds(a.what(), 1, bytes))
        return a.fail(*e);
    if (auto e = checkPathOf(a.what(), path, &value))
        return a.fail(*e);
    Body body = [a, path, value, judge](xs::Client& c, xs::TxId tx, auto decide) {
        c.read(path, tx, [a, &c, tx, path, value, judge, decide](xs::Result<std::string> r) {
            if (auto ended = judge(r))
                return decide(std::move(*ended));
            c.write(path, value, tx, [a, value, decide](xs::Result<xs::Unit> w) {
                if (!w)
                    return decide(refused(w.error(), a.what()));
                decide(answerAfter(true, [a, value] { a.ok(true, value); }));
            });
        });
    };
    admit(a, bytes, 1, [path](size_t) -> const std::string& { return path; },
          {Access::Read, Access::Write}, s, std::move(body));
}

namespace {

// Not written: the value there now, which must be text to be answered.
Outcome notWritten(const Answer<bool, std::string>& a, std::string current)
{
    if (!isText(current))
        return failure(notText(a.what(), current.size(), "ReadBytes"));
    return answerAfter(false, [a, current = std::move(current)] { a.ok(false, current); });
}

}  // namespace

void AtomicCalls::compareAndWrite(const Answer<bool, std::string>& a, const std::string& path,
                                  const std::string& expected, const std::string& value,
                                  const Scope& s)
{
    readThenWrite(a, path, value, path.size() + expected.size() + value.size(), s,
                  [a, expected](xs::Result<std::string>& r) -> std::optional<Outcome> {
                      if (!r && isErrno(r.error(), "ENOENT"))
                          return failure(errors::make(
                              errors::nameForErrno("ENOENT"),
                              a.what() + ": no such node (ENOENT); WriteIfAbsent creates one"));
                      if (!r)
                          return refused(r.error(), a.what());
                      if (r.value() != expected)
                          return notWritten(a, std::move(r.value()));
                      return std::nullopt;
                  });
}

void AtomicCalls::writeIfAbsent(const Answer<bool, std::string>& a, const std::string& path,
                                const std::string& value, const Scope& s)
{
    readThenWrite(a, path, value, path.size() + value.size(), s,
                  [a](xs::Result<std::string>& r) -> std::optional<Outcome> {
                      if (r)
                          return notWritten(a, std::move(r.value()));
                      if (!isErrno(r.error(), "ENOENT"))
                          return refused(r.error(), a.what());
                      return std::nullopt;
                  });
}

}  // namespace xsd
