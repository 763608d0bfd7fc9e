// Choosing and opening a transport: the backend spec, libxenstore's "auto"
// order, and the errors a caller reads when the socket or device is missing.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "protocol/transport.h"

using namespace xs;

namespace {

// XENSTORED_PATH for the length of a test.
class XenstoredPath {
public:
    explicit XenstoredPath(const char* value)
    {
        if (const char* old = getenv("XENSTORED_PATH"))
            old_ = old;
        setenv("XENSTORED_PATH", value, 1);
    }
    ~XenstoredPath()
    {
        if (old_.empty())
            unsetenv("XENSTORED_PATH");
        else
            setenv("XENSTORED_PATH", old_.c_str(), 1);
    }

private:
    std::string old_;
};

}  // namespace

TEST(Backend, ParsesExplicitSpecs)
{
    auto sock = Backend::parse("unix:/run/xs/socket");
    ASSERT_TRUE(sock);
    EXPECT_EQ(sock->kind, Backend::Kind::Unix);
    EXPECT_EQ(sock->path, "/run/xs/socket");
    EXPECT_EQ(sock->describe(), "unix:/run/xs/socket");

    auto bus = Backend::parse("xenbus:/dev/xen/xenbus");
    ASSERT_TRUE(bus);
    EXPECT_EQ(bus->kind, Backend::Kind::XenBus);
    EXPECT_EQ(bus->describe(), "xenbus:/dev/xen/xenbus");

    std::string why;
    EXPECT_FALSE(Backend::parse("unix:relative/socket", &why));
    EXPECT_NE(why.find("expected an absolute path after 'unix:'"), std::string::npos) << why;
    EXPECT_FALSE(Backend::parse("xenbus:", &why));
    EXPECT_NE(why.find("expected an absolute path"), std::string::npos) << why;
    EXPECT_FALSE(Backend::parse("tcp:localhost", &why));
    EXPECT_NE(why.find("is not auto, unix:PATH or xenbus:PATH"), std::string::npos) << why;
}

TEST(Backend, AutoFollowsXenstoredPathLikeLibxenstore)
{
    {
        // A character device there means the XenBus device interface.
        XenstoredPath env("/dev/null");
        auto b = Backend::parse("auto");
        ASSERT_TRUE(b);
        EXPECT_EQ(b->kind, Backend::Kind::XenBus);
        EXPECT_EQ(b->path, "/dev/null");
    }
    {
        // Anything else (here: nothing at all yet) is taken as a socket.
        XenstoredPath env("/nonexistent/xenstored/socket");
        auto b = Backend::parse("auto");
        ASSERT_TRUE(b);
        EXPECT_EQ(b->kind, Backend::Kind::Unix);
        EXPECT_EQ(b->path, "/nonexistent/xenstored/socket");
    }
}

TEST(Transport, MissingSocketOrDeviceSaysWhichAndWhy)
{
    std::string why;
    EXPECT_EQ(openTransport({Backend::Kind::Unix, "/nonexistent/socket"}, &why), -1);
    EXPECT_EQ(why, "cannot connect to unix:/nonexistent/socket: No such file or directory");
    EXPECT_EQ(openTransport({Backend::Kind::XenBus, "/nonexistent/xenbus"}, &why), -1);
    EXPECT_EQ(why, "cannot open xenbus:/nonexistent/xenbus: No such file or directory");
    EXPECT_EQ(openTransport({Backend::Kind::Unix, "/" + std::string(200, 's')}, &why), -1);
    EXPECT_NE(why.find("File name too long"), std::string::npos) << why;
}

TEST(Transport, DeviceIsOpenedReadWriteNonBlocking)
{
    std::string why;
    int fd = openTransport({Backend::Kind::XenBus, "/dev/null"}, &why);
    ASSERT_GE(fd, 0) << why;
    int flags = fcntl(fd, F_GETFL);
    EXPECT_EQ(flags & O_ACCMODE, O_RDWR);
    EXPECT_TRUE(flags & O_NONBLOCK);
    EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
}
