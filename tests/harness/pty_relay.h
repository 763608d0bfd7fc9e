// A stand-in for the XenBus character device without Xen: a pseudo-terminal
// in raw mode whose master side is relayed, byte for byte, to xenstored —
// either a connection on a test's oxenstored socket (dom0's view, through
// the device), or the shared ring of a guest domain, which is what
// /dev/xen/xenbus is in a guest. A client that opens the slave (/dev/pts/N)
// takes the device code path: open O_RDWR, read/write on a character device,
// and a hang-up when the other end goes away.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace xsd::test {

class GuestDomain;
class GuestRing;

class PtyRelay {
public:
    // Opens the pseudo-terminal, connects to `socketPath` and starts relaying
    // in a background thread. Throws if any step fails.
    explicit PtyRelay(const std::string& socketPath);
    // Relays to the ring of `domain` instead, as that guest's xenbus device:
    // whoever opens it speaks XenStore as that domain. The domain must
    // outlive the relay; the relay is its ring's one user meanwhile.
    explicit PtyRelay(const GuestDomain& domain);
    ~PtyRelay();
    PtyRelay(const PtyRelay&) = delete;
    PtyRelay& operator=(const PtyRelay&) = delete;

    // Where a client opens the "device".
    const std::string& devicePath() const { return devicePath_; }

    // Stops relaying and closes both sides, as when xenstored goes away: a
    // client on the slave sees a hang-up (EOF, then EIO on write). Waits for
    // the relay thread. Also happens by itself when oxenstored closes the
    // socket (e.g. it was killed).
    void close();
    // False once the relay has stopped, by close() or because a side ended.
    bool running() const { return running_; }

private:
    void openPty();
    void startThread();
    void relay();

    std::string devicePath_;
    int master_ = -1;
    int slave_ = -1;  // held open so the master never sees "no slave" (EIO)
    int socket_ = -1;                 // the socket, or
    std::unique_ptr<GuestRing> ring_;  // the guest's ring
    int wake_ = -1;   // eventfd: close() asks the thread to stop
    std::atomic<bool> running_{false};
    std::thread thread_;
};

}  // namespace xsd::test
