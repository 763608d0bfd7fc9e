// The data methods, shared by org.xenproject.XenStore1 (outside any
// transaction) and org.xenproject.XenStore1.Transaction (inside one): each
// checks its arguments, passes the Gate, sends one XenStore request and
// answers from the reply.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/answer.h"
#include "daemon/gate.h"
#include "protocol/client.h"

namespace xsd {

// Where a data method runs: outside a transaction, or inside one that must
// still be alive when the request is sent.
struct Scope {
    xs::TxId tx = xs::NoTransaction;
    // Inside a transaction: nullopt while it may still be used, else the
    // error to answer with.
    std::function<std::optional<sdbus::Error>()> check;
};

class DataMethods {
public:
    explicit DataMethods(Gate& gate) : gate_(gate) {}

    void read(const Answer<std::string>& a, const std::string& path, const Scope& s);
    void readBytes(const Answer<std::vector<uint8_t>>& a, const std::string& path, const Scope& s);
    void write(const Answer<>& a, const std::string& path, const std::string& value, const Scope& s);
    void writeBytes(const Answer<>& a, const std::string& path, const std::vector<uint8_t>& value,
                    const Scope& s);
    void exists(const Answer<bool>& a, const std::string& path, const Scope& s);
    void directory(const Answer<std::vector<std::string>>& a, const std::string& path,
                   const Scope& s);
    void mkdir(const Answer<>& a, const std::string& path, const Scope& s);
    void remove(const Answer<>& a, const std::string& path, const Scope& s);
    void getPermissions(const Answer<std::vector<std::string>>& a, const std::string& path,
                        const Scope& s);
    void setPermissions(const Answer<>& a, const std::string& path,
                        const std::vector<std::string>& perms, const Scope& s);

private:
    // Validates path, passes the gate, checks the scope, then runs go.
    template <class... T, class Go>
    void run(const Answer<T...>& a, Access access, const std::string& path, const Scope& s, Go go);
    void writeValue(const Answer<>& a, const std::string& path, std::string value, const Scope& s);

    Gate& gate_;
};

}  // namespace xsd
