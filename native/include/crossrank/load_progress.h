// Progress of a model load, for callers that show it (loading an LLM reranker's weights takes
// seconds to minutes): called on the loading thread with (layers done, layers) after each
// layer is read and converted. Empty: no reports.
#pragma once

#include <cstdint>
#include <functional>

namespace crossrank {

using LoadProgress = std::function<void(int32_t done, int32_t total)>;

}  // namespace crossrank
