// A hostile local user's tool: method calls that carry file descriptors
// their signature does not mention. The D-Bus wire format lets any message
// carry descriptors (the UNIX_FDS header field) whatever its body, and
// dbus-daemon passes them on to a receiver that offered to take them. No
// library builds such a message, so this one writes the protocol itself:
// AUTH EXTERNAL, NEGOTIATE_UNIX_FD, Hello and its answer, then COUNT calls of
// MEMBER(ARG) on DESTINATION's PATH and INTERFACE, each with FDS duplicates
// of /dev/null, all sent before any reply is read.
//
// Prints one line per reply, in the order they come: "ok" or the error's
// name; "timeout" if not all came within 20 s.
//
// Usage: call-with-fds unix:path=SOCKET DESTINATION PATH INTERFACE MEMBER ARG COUNT FDS
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& why)
{
    std::fprintf(stderr, "call-with-fds: %s\n", why.c_str());
    std::exit(1);
}

// A little-endian D-Bus message under construction.
class Writer {
public:
    void pad(size_t to)
    {
        while (buf.size() % to)
            buf.push_back('\0');
    }
    void byte(uint8_t v) { buf.push_back(static_cast<char>(v)); }
    void u32(uint32_t v)
    {
        pad(4);
        for (int i = 0; i < 4; ++i)
            byte(static_cast<uint8_t>(v >> (8 * i)));
    }
    void string(const std::string& s)  // s and o
    {
        u32(static_cast<uint32_t>(s.size()));
        buf += s;
        byte(0);
    }
    void signature(const std::string& s)  // g
    {
        byte(static_cast<uint8_t>(s.size()));
        buf += s;
        byte(0);
    }
    std::string buf;
};

std::string message(uint32_t serial, const std::string& destination, const std::string& path,
                    const std::string& interface, const std::string& member,
                    const std::string* arg, uint32_t fds)
{
    Writer body;
    if (arg)
        body.string(*arg);
    Writer m;
    m.byte('l');
    m.byte(1);  // METHOD_CALL
    m.byte(0);
    m.byte(1);
    m.u32(static_cast<uint32_t>(body.buf.size()));
    m.u32(serial);
    Writer fields;  // a(yv), its length written before it
    auto field = [&](uint8_t code, char type, auto write) {
        fields.pad(8);
        fields.byte(code);
        fields.signature(std::string(1, type));
        write();
    };
    field(1, 'o', [&] { fields.string(path); });
    field(2, 's', [&] { fields.string(interface); });
    field(3, 's', [&] { fields.string(member); });
    field(6, 's', [&] { fields.string(destination); });
    if (arg)
        field(8, 'g', [&] { fields.signature("s"); });
    if (fds)
        field(9, 'u', [&] { fields.u32(fds); });
    // The array's content starts 8-aligned at offset 16 of the message, as
    // `fields` was built from offset 0: the padding inside matches.
    m.u32(static_cast<uint32_t>(fields.buf.size()));
    m.buf += fields.buf;
    m.pad(8);
    return m.buf + body.buf;
}

void sendAll(int fd, const std::string& data, const std::vector<int>& fds = {})
{
    size_t at = 0;
    bool fdsSent = fds.empty();
    while (at < data.size()) {
        iovec iov{const_cast<char*>(data.data() + at), data.size() - at};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        std::vector<char> control;
        if (!fdsSent) {
            control.resize(CMSG_SPACE(sizeof(int) * fds.size()));
            msg.msg_control = control.data();
            msg.msg_controllen = control.size();
            cmsghdr* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
            std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
        }
        ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0)
            die(std::string("sendmsg: ") + std::strerror(errno));
        fdsSent = true;
        at += static_cast<size_t>(n);
    }
}

std::string readLine(int fd)
{
    std::string line;
    char c;
    while (::read(fd, &c, 1) == 1) {
        if (c == '\n')
            return line;
        line += c;
    }
    die("the bus closed the connection during authentication");
}

// Incoming messages: only what a reply needs (type, REPLY_SERIAL,
// ERROR_NAME) is read from each.
class Reader {
public:
    explicit Reader(int fd) : fd_(fd) {}

    struct Reply {
        uint8_t type = 0;
        uint32_t replySerial = 0;
        std::string errorName;
    };

    // False at the deadline.
    bool next(Reply& out, std::chrono::steady_clock::time_point deadline)
    {
        for (;;) {
            if (parse(out))
                return true;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                continue;
            char chunk[65536];
            // Descriptors sent to us (none are asked for) are closed.
            char control[CMSG_SPACE(sizeof(int) * 253)];
            iovec iov{chunk, sizeof chunk};
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            ssize_t n = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
            if (n <= 0)
                die("the bus closed the connection");
            for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_type == SCM_RIGHTS)
                    for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); ++i)
                        ::close(reinterpret_cast<int*>(CMSG_DATA(c))[i]);
            buf_.append(chunk, static_cast<size_t>(n));
        }
    }

private:
    uint32_t u32(size_t at) const
    {
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i)
            v |= uint32_t(static_cast<uint8_t>(buf_[at + i])) << (8 * i);
        return v;
    }
    static size_t align(size_t v, size_t to) { return (v + to - 1) / to * to; }

    bool parse(Reply& out)
    {
        if (buf_.size() < 16)
            return false;
        if (buf_[0] != 'l')
            die("the bus speaks big-endian; this tool does not");
        const size_t fieldsLen = u32(12);
        const size_t bodyStart = align(16 + fieldsLen, 8);
        const size_t total = bodyStart + u32(4);
        if (buf_.size() < total)
            return false;
        out = Reply{};
        out.type = static_cast<uint8_t>(buf_[1]);
        size_t at = 16;
        while (at < 16 + fieldsLen) {
            at = align(at, 8);
            const uint8_t code = static_cast<uint8_t>(buf_[at]);
            const uint8_t sigLen = static_cast<uint8_t>(buf_[at + 1]);
            const char type = buf_[at + 2];
            at += 2 + sigLen + 1;
            switch (type) {
            case 's':
            case 'o': {
                at = align(at, 4);
                const uint32_t len = u32(at);
                if (code == 4)
                    out.errorName = buf_.substr(at + 4, len);
                at += 4 + len + 1;
                break;
            }
            case 'g':
                at += 1 + static_cast<uint8_t>(buf_[at]) + 1;
                break;
            case 'u':
                at = align(at, 4);
                if (code == 5)
                    out.replySerial = u32(at);
                at += 4;
                break;
            default:
                die(std::string("unexpected header field type ") + type);
            }
        }
        buf_.erase(0, total);
        return true;
    }

    int fd_;
    std::string buf_;
};

}  // namespace

int main(int argc, char** argv)
{
    if (argc != 9 || std::strncmp(argv[1], "unix:path=", 10) != 0) {
        std::fprintf(stderr, "usage: call-with-fds unix:path=SOCKET DESTINATION PATH INTERFACE "
                             "MEMBER ARG COUNT FDS\n");
        return 2;
    }
    const std::string arg = argv[6];
    const long count = std::stol(argv[7]);
    const long perCall = std::stol(argv[8]);

    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", argv[1] + 10);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
        die(std::string("connect: ") + std::strerror(errno));

    // AUTH EXTERNAL with our uid, in hex of its decimal digits.
    std::string uid = std::to_string(::getuid()), hex;
    for (char c : uid) {
        char two[3];
        std::snprintf(two, sizeof two, "%02x", c);
        hex += two;
    }
    sendAll(fd, std::string(1, '\0') + "AUTH EXTERNAL " + hex + "\r\n");
    if (readLine(fd).rfind("OK ", 0) != 0)
        die("the bus refused AUTH EXTERNAL");
    sendAll(fd, "NEGOTIATE_UNIX_FD\r\n");
    if (readLine(fd).rfind("AGREE_UNIX_FD", 0) != 0)
        die("the bus does not pass file descriptors");
    sendAll(fd, "BEGIN\r\n");

    uint32_t serial = 1;
    sendAll(fd, message(serial++, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                        "org.freedesktop.DBus", "Hello", nullptr, 0));
    // Until the bus has answered Hello it may still read the socket as the
    // authentication's text, and so drop descriptors sent with what follows.
    Reader reader(fd);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    Reader::Reply r;
    do {
        if (!reader.next(r, deadline))
            die("the bus did not answer Hello");
    } while (r.replySerial != 1);

    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    std::vector<int> fds(static_cast<size_t>(perCall), devnull);
    std::map<uint32_t, bool> ours;
    for (long i = 0; i < count; ++i) {
        ours[serial] = true;
        sendAll(fd, message(serial++, argv[2], argv[3], argv[4], argv[5], &arg,
                            static_cast<uint32_t>(perCall)),
                fds);
    }

    long answered = 0;
    while (answered < count) {
        if (!reader.next(r, deadline)) {
            std::printf("timeout\n");
            return 0;
        }
        if ((r.type != 2 && r.type != 3) || !ours.count(r.replySerial))
            continue;  // Hello's reply, signals
        std::printf("%s\n", r.type == 2 ? "ok" : r.errorName.c_str());
        std::fflush(stdout);
        ++answered;
    }
    return 0;
}
