#include "daemon/data_methods.h"

#include "dbus/text.h"
#include "protocol/validate.h"
#include "protocol/wire.h"

namespace xsd {

template <class... T, class Go>
void DataMethods::run(const Answer<T...>& a, Access access, const std::string& path,
                      const Scope& s, Go go)
{
    if (auto v = xs::checkPath(path))
        return a.fail(errors::InvalidArgument, a.what() + ": " + *v);
    if (!s.check)
        return gate_.admit(a, access, path, std::move(go));
    gate_.admit(a, access, path, [a, check = s.check, go = std::move(go)](xs::Client& c) {
        if (auto e = check())
            return a.fail(*e);
        go(c);
    });
}

void DataMethods::read(const Answer<std::string>& a, const std::string& path, const Scope& s)
{
    run(a, Access::Read, path, s, [a, path, tx = s.tx](xs::Client& c) {
        c.read(path, tx, [a](xs::Result<std::string> r) {
            if (!r)
                return a.fail(r.error());
            if (!isText(r.value()))
                return a.fail(errors::NotText,
                              a.what() + ": the value (" + std::to_string(r.value().size()) +
                                  " bytes) is not text a D-Bus string can carry (UTF-8 without "
                                  "NUL or Unicode noncharacters); use ReadBytes");
            a.ok(r.value());
        });
    });
}

void DataMethods::readBytes(const Answer<std::vector<uint8_t>>& a, const std::string& path,
                            const Scope& s)
{
    run(a, Access::Read, path, s, [a, path, tx = s.tx](xs::Client& c) {
        c.read(path, tx, [a](xs::Result<std::string> r) {
            if (!r)
                return a.fail(r.error());
            const auto& v = r.value();
            a.ok(std::vector<uint8_t>(v.begin(), v.end()));
        });
    });
}

void DataMethods::writeValue(const Answer<>& a, const std::string& path, std::string value,
                             const Scope& s)
{
    // path, its NUL, then the value: the one payload XenStore takes.
    if (!xs::checkPath(path))
        if (auto v = xs::checkPayloadSize(path.size() + 1 + value.size()))
            return a.fail(errors::InvalidArgument, a.what() + ": " + *v);
    run(a, Access::Write, path, s, [a, path, value = std::move(value), tx = s.tx](xs::Client& c) {
        c.write(path, value, tx, a.relay());
    });
}

void DataMethods::write(const Answer<>& a, const std::string& path, const std::string& value,
                        const Scope& s)
{
    writeValue(a, path, value, s);
}

void DataMethods::writeBytes(const Answer<>& a, const std::string& path,
                             const std::vector<uint8_t>& value, const Scope& s)
{
    writeValue(a, path, std::string(value.begin(), value.end()), s);
}

void DataMethods::exists(const Answer<bool>& a, const std::string& path, const Scope& s)
{
    run(a, Access::Read, path, s, [a, path, tx = s.tx](xs::Client& c) {
        c.read(path, tx, [a](xs::Result<std::string> r) {
            if (r)
                return a.ok(true);
            if (r.error().kind == xs::Error::Kind::XenStore && r.error().errnoName == "ENOENT")
                return a.ok(false);
            a.fail(r.error());
        });
    });
}

void DataMethods::directory(const Answer<std::vector<std::string>>& a, const std::string& path,
                            const Scope& s)
{
    run(a, Access::Read, path, s, [a, path, tx = s.tx](xs::Client& c) {
        c.directory(path, tx, a.relay());
    });
}

void DataMethods::mkdir(const Answer<>& a, const std::string& path, const Scope& s)
{
    run(a, Access::Write, path, s, [a, path, tx = s.tx](xs::Client& c) {
        c.mkdir(path, tx, a.relay());
    });
}

void DataMethods::remove(const Answer<>& a, const std::string& path, const Scope& s)
{
    run(a, Access::Write, path, s, [a, path, tx = s.tx](xs::Client& c) {
        c.rm(path, tx, a.relay());
    });
}

void DataMethods::getPermissions(const Answer<std::vector<std::string>>& a,
                                 const std::string& path, const Scope& s)
{
    run(a, Access::Read, path, s, [a, path, tx = s.tx](xs::Client& c) {
        c.getPermissions(path, tx, a.relay());
    });
}

void DataMethods::setPermissions(const Answer<>& a, const std::string& path,
                                 const std::vector<std::string>& perms, const Scope& s)
{
    if (auto v = xs::checkPermissions(perms))
        return a.fail(errors::InvalidArgument, a.what() + ": " + *v);
    size_t payload = path.size() + 1;
    for (const auto& p : perms)
        payload += p.size() + 1;
    if (auto v = xs::checkPayloadSize(payload))
        return a.fail(errors::InvalidArgument, a.what() + ": " + *v);
    run(a, Access::Write, path, s, [a, path, perms, tx = s.tx](xs::Client& c) {
        c.setPermissions(path, perms, tx, a.relay());
    });
}

}  // namespace xsd
