#include "tests/harness/xenstored.h"

#include <unistd.h>

#include <sstream>
#include <stdexcept>

#ifndef XSD_TEST_SHIM
#error "XSD_TEST_SHIM must name the built xenstored-shim library"
#endif
#ifndef XSD_TEST_SANDBOX
#error "XSD_TEST_SANDBOX must name the xenstored-sandbox script"
#endif

namespace xsd::test {

Xenstored::Xenstored()
{
    start();
}

void Xenstored::start()
{
    if (proc_.running())
        return;
    unlink(socketPath().c_str());
    proc_ = Process::logging({XSD_TEST_SANDBOX, dir(), XSD_TEST_SHIM}, dir_ / "stdout.log");
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

}  // namespace xsd::test
