// A desktop-like client of the daemon for the polkit tests, run as another
// uid: many calls on one bus connection (what polkit's kept answers are
// per), each with or without the ALLOW_INTERACTIVE_AUTHORIZATION flag,
// bursts of calls sent at once, and pauses the test ends by creating a
// file. Plain sd-bus, so the message flag is set as any sd-bus program sets
// it. One line per result, flushed at once:
//
//   xsd-polkit-client BUS-ADDRESS STEP...
//     name                 name :1.42
//     interactive yes|no   (the flag for the calls that follow; default no)
//     read PATH            read /a: ok VALUE | read /a: error NAME: MESSAGE
//     write PATH VALUE     write /a: ok | write /a: error NAME: MESSAGE
//     reads N PATH         N Reads of PATH sent at once, then every answer:
//                          reads 1000 /a: ok 1000 | reads 3 /a: ok 1, NAME 2
//     watch PATH TOKEN     watch /a t: ok | …: error NAME: MESSAGE
//     txwrite PATH VALUE   StartTransaction, then its Write and Commit sent
//                          at once, without waiting in between:
//                          txwrite /a: write ok, commit ok true
//     writemany-read P1 V1 P2 V2 PATH
//                          WriteMany {P1: V1, P2: V2} and Read PATH sent at
//                          once: writemany-read: ok; read ok VALUE
//     await FILE           serves the bus (printing "event PATH TOKEN" for
//                          each WatchEvent) until FILE exists: await FILE: done
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

namespace {

constexpr const char* BusName = "org.xenproject.XenStore1";
constexpr const char* ObjectPath = "/org/xenproject/XenStore1";
constexpr const char* Interface = "org.xenproject.XenStore1";
constexpr uint64_t CallTimeoutUsec = 60'000'000;

sd_bus* bus = nullptr;
bool interactive = false;

[[noreturn]] void die(const char* what, int r)
{
    std::fprintf(stderr, "xsd-polkit-client: %s: %s\n", what, std::strerror(-r));
    std::exit(1);
}

sd_bus_message* newCall(const char* member)
{
    sd_bus_message* m = nullptr;
    int r = sd_bus_message_new_method_call(bus, &m, BusName, ObjectPath, Interface, member);
    if (r < 0)
        die("new method call", r);
    sd_bus_message_set_allow_interactive_authorization(m, interactive);
    return m;
}

// "ok" or "error NAME: MESSAGE" for a finished call.
std::string outcome(int r, const sd_bus_error* error)
{
    if (r >= 0)
        return "ok";
    return std::string("error ") + (error->name ? error->name : "?") + ": " +
           (error->message ? error->message : std::strerror(-r));
}

void call(const std::string& what, sd_bus_message* m, bool readsValue)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call(bus, m, CallTimeoutUsec, &error, &reply);
    std::string line = what + ": " + outcome(r, &error);
    if (r >= 0 && readsValue) {
        const char* value = nullptr;
        if (sd_bus_message_read(reply, "s", &value) >= 0)
            line += std::string(" ") + value;
    }
    std::printf("%s\n", line.c_str());
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    sd_bus_message_unref(m);
}

int onWatchEvent(sd_bus_message* m, void*, sd_bus_error*)
{
    const char *path = nullptr, *token = nullptr;
    if (sd_bus_message_read(m, "ss", &path, &token) >= 0)
        std::printf("event %s %s\n", path, token);
    return 0;
}

struct Burst {
    unsigned left = 0;
    std::map<std::string, unsigned> outcomes;  // "ok" or an error name: how many
};

int onBurstReply(sd_bus_message* m, void* userdata, sd_bus_error*)
{
    auto* burst = static_cast<Burst*>(userdata);
    const sd_bus_error* e = sd_bus_message_get_error(m);
    ++burst->outcomes[e ? e->name : "ok"];
    --burst->left;
    return 0;
}

void reads(unsigned n, const std::string& path)
{
    Burst burst;
    burst.left = n;
    for (unsigned i = 0; i < n; ++i) {
        sd_bus_message* m = newCall("Read");
        sd_bus_message_append(m, "s", path.c_str());
        // Floating slots: the bus owns them, and frees each with its reply.
        int r = sd_bus_call_async(bus, nullptr, m, onBurstReply, &burst, CallTimeoutUsec);
        sd_bus_message_unref(m);
        if (r < 0)
            die("call_async", r);
    }
    while (burst.left > 0) {
        int r = sd_bus_process(bus, nullptr);
        if (r < 0)
            die("process", r);
        if (r == 0 && (r = sd_bus_wait(bus, UINT64_MAX)) < 0)
            die("wait", r);
    }
    std::string line = "reads " + std::to_string(n) + " " + path + ":";
    const char* sep = " ";
    if (!burst.outcomes.count("ok"))
        line += " ok 0,";
    for (const auto& [name, count] : burst.outcomes) {
        line += sep + name + " " + std::to_string(count);
        sep = ", ";
    }
    std::printf("%s\n", line.c_str());
}

// One reply of a pipelined call: "ok", "ok true", or "error NAME: MESSAGE".
struct Reply {
    bool done = false;
    std::string text;
};

int onReply(sd_bus_message* m, void* userdata, sd_bus_error*)
{
    auto* reply = static_cast<Reply*>(userdata);
    const sd_bus_error* e = sd_bus_message_get_error(m);
    reply->text = e ? std::string("error ") + e->name + ": " + e->message : "ok";
    int committed = 0;
    const char* value = nullptr;
    if (!e && sd_bus_message_has_signature(m, "b") && sd_bus_message_read(m, "b", &committed) >= 0)
        reply->text += committed ? " true" : " false";
    else if (!e && sd_bus_message_has_signature(m, "s") && sd_bus_message_read(m, "s", &value) >= 0)
        reply->text += std::string(" ") + value;
    reply->done = true;
    return 0;
}

void waitFor(const Reply& a, const Reply& b)
{
    int r;
    while (!a.done || !b.done) {
        if ((r = sd_bus_process(bus, nullptr)) < 0)
            die("process", r);
        if (r == 0 && (r = sd_bus_wait(bus, UINT64_MAX)) < 0)
            die("wait", r);
    }
}

void txwrite(const std::string& path, const std::string& value)
{
    sd_bus_message* start = newCall("StartTransaction");
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call(bus, start, CallTimeoutUsec, &error, &reply);
    sd_bus_message_unref(start);
    const char* object = nullptr;
    if (r < 0 || sd_bus_message_read(reply, "o", &object) < 0) {
        std::printf("txwrite %s: start %s\n", path.c_str(), outcome(r, &error).c_str());
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        return;
    }
    const std::string tx = object;
    sd_bus_message_unref(reply);
    Reply write, commit;
    const char* txInterface = "org.xenproject.XenStore1.Transaction";
    sd_bus_message* m = nullptr;
    sd_bus_message_new_method_call(bus, &m, BusName, tx.c_str(), txInterface, "Write");
    sd_bus_message_set_allow_interactive_authorization(m, interactive);
    sd_bus_message_append(m, "ss", path.c_str(), value.c_str());
    sd_bus_call_async(bus, nullptr, m, onReply, &write, CallTimeoutUsec);
    sd_bus_message_unref(m);
    sd_bus_message_new_method_call(bus, &m, BusName, tx.c_str(), txInterface, "Commit");
    sd_bus_call_async(bus, nullptr, m, onReply, &commit, CallTimeoutUsec);
    sd_bus_message_unref(m);
    waitFor(write, commit);
    std::printf("txwrite %s: write %s, commit %s\n", path.c_str(), write.text.c_str(),
                commit.text.c_str());
}

void writeManyThenRead(const std::string& p1, const std::string& v1, const std::string& p2,
                       const std::string& v2, const std::string& path)
{
    Reply written, read;
    sd_bus_message* m = newCall("WriteMany");
    sd_bus_message_append(m, "a{ss}", 2, p1.c_str(), v1.c_str(), p2.c_str(), v2.c_str());
    sd_bus_call_async(bus, nullptr, m, onReply, &written, CallTimeoutUsec);
    sd_bus_message_unref(m);
    m = newCall("Read");
    sd_bus_message_append(m, "s", path.c_str());
    sd_bus_call_async(bus, nullptr, m, onReply, &read, CallTimeoutUsec);
    sd_bus_message_unref(m);
    waitFor(written, read);
    std::printf("writemany-read: %s; read %s\n", written.text.c_str(), read.text.c_str());
}

void await(const std::string& file)
{
    while (access(file.c_str(), F_OK) != 0) {
        int r = sd_bus_process(bus, nullptr);
        if (r < 0)
            die("process", r);
        if (r == 0)
            sd_bus_wait(bus, 50'000);
    }
    std::printf("await %s: done\n", file.c_str());
}

}  // namespace

int main(int argc, char** argv)
{
    setvbuf(stdout, nullptr, _IOLBF, 0);
    if (argc < 2) {
        std::fprintf(stderr, "usage: xsd-polkit-client BUS-ADDRESS STEP...\n");
        return 2;
    }
    int r = sd_bus_new(&bus);
    if (r >= 0)
        r = sd_bus_set_address(bus, argv[1]);
    if (r >= 0)
        r = sd_bus_set_bus_client(bus, 1);
    if (r >= 0)
        r = sd_bus_start(bus);
    if (r < 0)
        die("connect", r);
    r = sd_bus_match_signal(bus, nullptr, nullptr, ObjectPath, Interface, "WatchEvent",
                            onWatchEvent, nullptr);
    if (r < 0)
        die("match", r);

    for (int i = 2; i < argc; ++i) {
        const std::string step = argv[i];
        auto arg = [&](int k) -> std::string {
            if (i + k >= argc) {
                std::fprintf(stderr, "xsd-polkit-client: %s needs %d arguments\n", step.c_str(), k);
                std::exit(2);
            }
            return argv[i + k];
        };
        if (step == "name") {
            const char* name = nullptr;
            sd_bus_get_unique_name(bus, &name);
            std::printf("name %s\n", name);
        } else if (step == "interactive") {
            interactive = arg(1) == "yes";
            i += 1;
        } else if (step == "read") {
            sd_bus_message* m = newCall("Read");
            sd_bus_message_append(m, "s", arg(1).c_str());
            call("read " + arg(1), m, true);
            i += 1;
        } else if (step == "write") {
            sd_bus_message* m = newCall("Write");
            sd_bus_message_append(m, "ss", arg(1).c_str(), arg(2).c_str());
            call("write " + arg(1), m, false);
            i += 2;
        } else if (step == "reads") {
            reads(static_cast<unsigned>(std::stoul(arg(1))), arg(2));
            i += 2;
        } else if (step == "watch") {
            sd_bus_message* m = newCall("Watch");
            sd_bus_message_append(m, "ss", arg(1).c_str(), arg(2).c_str());
            call("watch " + arg(1) + " " + arg(2), m, false);
            i += 2;
        } else if (step == "txwrite") {
            txwrite(arg(1), arg(2));
            i += 2;
        } else if (step == "writemany-read") {
            writeManyThenRead(arg(1), arg(2), arg(3), arg(4), arg(5));
            i += 5;
        } else if (step == "await") {
            await(arg(1));
            i += 1;
        } else {
            std::fprintf(stderr, "xsd-polkit-client: unknown step %s\n", step.c_str());
            return 2;
        }
    }
    sd_bus_flush_close_unref(bus);
    return 0;
}
