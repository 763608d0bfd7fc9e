#include "tests/harness/guest.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "tests/harness/process.h"

namespace xsd::test {

namespace {

constexpr uint32_t DomidXen = 0x7FF2;

// struct xenstore_domain_interface (xs_wire.h): two rings of 1024 bytes,
// then their free-running indexes (masked with 1023 to index a ring).
constexpr size_t PageSize = 4096;
constexpr size_t RingSize = 1024;
constexpr size_t ReqOffset = 0, RspOffset = 1024;
constexpr size_t ReqCons = 2048, ReqProd = 2052, RspCons = 2056, RspProd = 2060;

[[noreturn]] void fail(const std::string& what)
{
    throw std::runtime_error("guest: " + what + ": " + std::strerror(errno));
}

sockaddr_un addressOf(const std::string& path)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        fail(path);
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    return addr;
}

// One event datagram, (domid, port), to the socket at `path`. Waits while
// the receiver's queue is full: a notification must not be lost, or
// xenstored would not look at this domain's ring again. A receiver that is
// not there (xenstored stopped) gets nothing.
void sendEvent(int fd, const std::string& path, uint32_t domid, uint32_t port)
{
    auto addr = addressOf(path);
    uint32_t event[2] = {domid, port};
    while (sendto(fd, event, sizeof event, MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
                  sizeof addr) < 0 &&
           errno == EINTR) {
    }
}

int datagramSocket()
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail("socket");
    timeval limit{5, 0};  // a stopped xenstored must not hang the test for good
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    return fd;
}

std::atomic_ref<uint32_t> index(char* page, size_t offset)
{
    return std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(page + offset));
}

}  // namespace

void raiseDomExc(const std::string& sandbox)
{
    int fd = datagramSocket();
    sendEvent(fd, sandbox + "/evtchn", DomidXen, VirqDomExc);
    ::close(fd);
}

// --- GuestDomain -------------------------------------------------------------

GuestDomain::GuestDomain(std::string sandbox, unsigned domid)
    : sandbox_(std::move(sandbox)), domid_(domid)
{
    std::filesystem::create_directories(dir());
    // A zeroed page is an empty ring in the connected state.
    writeFile(dir() + "/page", std::string(PageSize, '\0'));
    setState("running", false);
}

GuestDomain::GuestDomain(std::string sandbox, unsigned domid, Existing)
    : sandbox_(std::move(sandbox)), domid_(domid)
{
    if (!std::filesystem::exists(dir() + "/page")) {
        errno = ENOENT;
        fail("no domain " + std::to_string(domid_) + " in " + sandbox_);
    }
}

std::string GuestDomain::dir() const
{
    return sandbox_ + "/domains/" + std::to_string(domid_);
}

void GuestDomain::setState(const std::string& state, bool raise)
{
    // Written whole and renamed: the shim never reads half a state.
    writeFile(dir() + "/state.new", state + "\n");
    std::filesystem::rename(dir() + "/state.new", dir() + "/state");
    if (raise)
        raiseDomExc(sandbox_);
}

void GuestDomain::shutdown(unsigned code)
{
    setState("shutdown " + std::to_string(code), true);
}

void GuestDomain::die()
{
    setState("dying", true);
}

void GuestDomain::vanish()
{
    std::filesystem::remove(dir() + "/state");
    raiseDomExc(sandbox_);
}

void GuestDomain::run()
{
    setState("running", false);
}

// --- GuestRing ---------------------------------------------------------------

GuestRing::GuestRing(const GuestDomain& domain)
    : sandbox_(domain.sandbox()), domid_(domain.domid()), port_(domain.port())
{
    int fd = open((domain.dir() + "/page").c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
        fail("open " + domain.dir() + "/page");
    void* p = mmap(nullptr, PageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED)
        fail("mmap " + domain.dir() + "/page");
    page_ = static_cast<char*>(p);
    event_ = datagramSocket();
    std::string path = domain.dir() + "/evtchn";
    unlink(path.c_str());
    auto addr = addressOf(path);
    if (bind(event_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        int saved = errno;
        munmap(page_, PageSize);
        ::close(event_);
        errno = saved;
        fail("bind " + path);
    }
}

GuestRing::~GuestRing()
{
    munmap(page_, PageSize);
    ::close(event_);
}

void GuestRing::drain()
{
    uint32_t event[2];
    while (recv(event_, event, sizeof event, MSG_DONTWAIT) >= 0) {
    }
}

bool GuestRing::waitForEvent(std::chrono::milliseconds timeout)
{
    pollfd p{event_, POLLIN, 0};
    int n;
    while ((n = poll(&p, 1, static_cast<int>(timeout.count()))) < 0 && errno == EINTR) {
    }
    return n > 0;
}

void GuestRing::notify()
{
    sendEvent(event_, sandbox_ + "/evtchn", domid_, port_);
}

size_t GuestRing::write(const char* data, size_t size)
{
    uint32_t cons = index(page_, ReqCons).load(std::memory_order_acquire);
    uint32_t prod = index(page_, ReqProd).load(std::memory_order_relaxed);
    size_t used = prod - cons;
    if (used > RingSize)
        throw std::runtime_error("guest: the request ring's indexes are corrupt");
    size_t n = std::min(size, RingSize - used);
    for (size_t i = 0; i < n; ++i)
        page_[ReqOffset + ((prod + i) & (RingSize - 1))] = data[i];
    if (n == 0)
        return 0;
    index(page_, ReqProd).store(prod + static_cast<uint32_t>(n), std::memory_order_release);
    notify();
    return n;
}

size_t GuestRing::read(char* data, size_t size)
{
    uint32_t prod = index(page_, RspProd).load(std::memory_order_acquire);
    uint32_t cons = index(page_, RspCons).load(std::memory_order_relaxed);
    size_t avail = prod - cons;
    if (avail > RingSize)
        throw std::runtime_error("guest: the reply ring's indexes are corrupt");
    size_t n = std::min(size, avail);
    for (size_t i = 0; i < n; ++i)
        data[i] = page_[RspOffset + ((cons + i) & (RingSize - 1))];
    if (n == 0)
        return 0;
    index(page_, RspCons).store(cons + static_cast<uint32_t>(n), std::memory_order_release);
    notify();
    return n;
}

// --- GuestClient -------------------------------------------------------------

std::string XenStoreReply::error() const
{
    if (ok())
        return "";
    return payload.substr(0, payload.find('\0'));
}

bool GuestClient::pull(std::chrono::steady_clock::time_point deadline)
{
    for (;;) {
        // Drained first: a notification after this point wakes the wait.
        ring_.drain();
        char buf[RingSize];
        size_t got = 0;
        while (size_t n = ring_.read(buf, sizeof buf)) {
            decoder_.feed({buf, n});
            got += n;
        }
        if (got)
            return true;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || !ring_.waitForEvent(left))
            return false;
    }
}

void GuestClient::push(const std::string& bytes, std::chrono::steady_clock::time_point deadline)
{
    size_t sent = 0;
    while (sent < bytes.size()) {
        ring_.drain();
        sent += ring_.write(bytes.data() + sent, bytes.size() - sent);
        if (sent == bytes.size())
            break;
        // The ring is full: xenstored notifies when it has taken some.
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || !ring_.waitForEvent(left))
            throw std::runtime_error("guest: xenstored does not take requests from the ring");
        // Replies may be what fills it: take them, so xenstored can go on.
        pull(std::chrono::steady_clock::now());
    }
}

GuestClient::Reply GuestClient::request(xs::MessageType type, const std::string& payload,
                                        uint32_t tx, std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    uint32_t id = nextReqId_++;
    push(xs::encodeMessage({type, id, tx, static_cast<uint32_t>(payload.size())}, payload),
         deadline);
    for (;;) {
        if (auto reply = take(id))
            return *reply;
        if (!pull(deadline))
            throw std::runtime_error("guest: no reply from xenstored to " +
                                     std::string(xs::messageTypeName(type)) + " within " +
                                     std::to_string(timeout.count()) + " ms");
    }
}

std::optional<GuestClient::Reply> GuestClient::take(uint32_t id)
{
    xs::Message msg;
    while (decoder_.next(msg) == xs::FrameDecoder::Status::Frame) {
        if (msg.header.type == xs::MessageType::WatchEvent) {
            auto f = xs::splitFields(msg.payload);
            events_.push_back({f.size() > 0 ? f[0] : "", f.size() > 1 ? f[1] : ""});
        } else if (msg.header.reqId == id) {
            return Reply{msg.header.type, std::move(msg.payload)};
        }
    }
    if (decoder_.failed())
        throw std::runtime_error("guest: cannot read xenstored's replies: " + decoder_.error());
    return std::nullopt;
}

GuestClient::Reply GuestClient::call(xs::MessageType type, const std::vector<std::string>& fields,
                                     uint32_t tx)
{
    std::string payload = xs::joinFields(fields);
    if (type == xs::MessageType::Write && !payload.empty())
        payload.pop_back();  // the value is not NUL-terminated
    return request(type, payload, tx);
}

namespace {
GuestClient::Reply checked(GuestClient::Reply r, const std::string& what)
{
    if (!r.ok())
        throw std::runtime_error("guest: " + what + ": " + r.error());
    return r;
}
}  // namespace

std::string GuestClient::read(const std::string& path)
{
    return checked(call(xs::MessageType::Read, {path}), "READ " + path).payload;
}

void GuestClient::write(const std::string& path, const std::string& value)
{
    checked(call(xs::MessageType::Write, {path, value}), "WRITE " + path);
}

void GuestClient::watch(const std::string& path, const std::string& token)
{
    checked(call(xs::MessageType::Watch, {path, token}), "WATCH " + path);
}

std::optional<GuestClient::WatchEvent> GuestClient::nextWatchEvent(std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        take(0);  // no request has id 0: replies still unread are dropped
        if (!events_.empty()) {
            auto e = events_.front();
            events_.pop_front();
            return e;
        }
        if (!pull(deadline))
            return std::nullopt;
    }
}

}  // namespace xsd::test
