#include "ctl/invocation.h"

namespace xsd::ctl {

sdbus::IConnection& Invocation::connection()
{
    if (!connection_) {
        try {
            connection_ = connect(bus);
        } catch (const Failure& f) {
            throw Failure(f.status(), context() + ": " + f.what(), f.errorName());
        }
    }
    return *connection_;
}

XenStoreProxy& Invocation::xenstore()
{
    if (!xenstore_) {
        auto& c = connection();
        // Registering adds the bus match for WatchEvent: a bus call.
        xenstore_ = orFailure(context(), [&] { return std::make_unique<XenStoreProxy>(c); });
    }
    return *xenstore_;
}

}  // namespace xsd::ctl
