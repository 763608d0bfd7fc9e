#include "tests/harness/xenstored.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <stdexcept>

#include "protocol/codec.h"

#ifndef XSD_TEST_SHIM
#error "XSD_TEST_SHIM must name the built xenstored-shim library"
#endif
#ifndef XSD_TEST_SANDBOX
#error "XSD_TEST_SANDBOX must name the xenstored-sandbox script"
#endif

namespace xsd::test {

Xenstored::Xenstored(std::string extraConfig) : extraConfig_(std::move(extraConfig))
{
    start();
}

void Xenstored::start()
{
    if (proc_.running())
        return;
    unlink(socketPath().c_str());
    proc_ = Process::logging({XSD_TEST_SANDBOX, dir(), XSD_TEST_SHIM}, dir_ / "stdout.log",
                             {{"XSD_SANDBOX_CONFIG", extraConfig_}});
    // Waiting for the socket file is not enough: it exists a moment before
    // oxenstored listens on it.
    if (!waitFor([&] { return socketAccepts(socketPath()); }, std::chrono::seconds(15)))
        throw std::runtime_error("oxenstored did not start; see " + dir_ / "stdout.log" +
                                 ": " + readFile(dir_ / "stdout.log"));
}

void Xenstored::stop(int sig)
{
    proc_.stop(sig);
}

std::string Xenstored::accessLog() const
{
    return readFile(dir_ / "access.log");
}

int Xenstored::countAccessLog(const std::vector<std::string>& needles) const
{
    std::istringstream in(accessLog());
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
        bool all = true;
        for (auto& s : needles)
            all = all && line.find(s) != std::string::npos;
        n += all;
    }
    return n;
}

Output Xenstored::tool(const std::string& name, const std::vector<std::string>& args,
                       const std::string& input) const
{
    std::vector<std::string> argv{name};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {{"XENSTORED_PATH", socketPath()}}, input);
}

void Xenstored::write(const std::string& path, const std::string& value) const
{
    auto r = tool("xenstore-write", {path, value});
    if (r.status != 0)
        throw std::runtime_error("xenstore-write " + path + " failed: " + r.err);
}

std::string Xenstored::read(const std::string& path) const
{
    auto r = tool("xenstore-read", {path});
    if (r.status != 0)
        throw std::runtime_error("xenstore-read " + path + " failed: " + r.err);
    if (!r.out.empty() && r.out.back() == '\n')
        r.out.pop_back();
    return r.out;
}

XenStoreReply Xenstored::request(xs::MessageType type, const std::vector<std::string>& fields) const
{
    auto fail = [&](const std::string& what) -> XenStoreReply {
        throw std::runtime_error(std::string(xs::messageTypeName(type)) + " to oxenstored: " +
                                 what + ": " + std::strerror(errno));
    };
    std::string payload = xs::joinFields(fields);
    if (type == xs::MessageType::Write && !payload.empty())
        payload.pop_back();  // the value is not NUL-terminated
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socketPath().c_str(), sizeof addr.sun_path - 1);
    timeval limit{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    std::string out =
        xs::encodeMessage({type, 1, 0, static_cast<uint32_t>(payload.size())}, payload);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
        ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
        ::close(fd);
        return fail("connect/send");
    }
    xs::FrameDecoder decoder;
    xs::Message msg;
    for (;;) {
        auto status = decoder.next(msg);
        if (status == xs::FrameDecoder::Status::Frame && msg.header.reqId == 1)
            break;
        if (status == xs::FrameDecoder::Status::Frame)
            continue;  // a watch event, say
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0 || decoder.failed()) {
            ::close(fd);
            return fail("no reply");
        }
        decoder.feed({buf, static_cast<size_t>(n)});
    }
    ::close(fd);
    return {msg.header.type, std::move(msg.payload)};
}

namespace {
void mustSucceed(const XenStoreReply& r, const std::string& what)
{
    if (!r.ok())
        throw std::runtime_error(what + ": " + r.error());
}
}  // namespace

void Xenstored::makeHome(unsigned domid) const
{
    using T = xs::MessageType;
    const std::string n = std::to_string(domid);
    const std::string home = "/local/domain/" + n;
    mustSucceed(request(T::Mkdir, {home}), "MKDIR " + home);
    // Set before the children are made: each inherits its parent's.
    mustSucceed(request(T::SetPerms, {home, "n0", "r" + n}), "SET_PERMS " + home);
    mustSucceed(request(T::Write, {home + "/domid", n}), "WRITE domid");
    mustSucceed(request(T::Write, {home + "/name", "guest-" + n}), "WRITE name");
    for (const char* own : {"/data", "/control/shutdown"}) {
        mustSucceed(request(T::Mkdir, {home + own}), std::string("MKDIR ") + own);
        mustSucceed(request(T::SetPerms, {home + own, "n" + n}), std::string("SET_PERMS ") + own);
    }
}

void Xenstored::introduce(const GuestDomain& domain) const
{
    mustSucceed(request(xs::MessageType::Introduce,
                        {std::to_string(domain.domid()), std::to_string(domain.mfn()),
                         std::to_string(domain.port())}),
                "INTRODUCE " + std::to_string(domain.domid()));
}

}  // namespace xsd::test
