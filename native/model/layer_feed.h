// Feeds the CUDA backend a model's layers one at a time (the desc's load_layer callback of
// the encoder and the decoder), so the host holds one layer in fp32 rather than the whole
// model: 33 GB for an 8B decoder otherwise.
#pragma once

#include <new>
#include <string>

#include "crossrank/load_progress.h"
#include "crossrank/status.h"
#include "model/tensor_reader.h"

namespace crossrank {

// Config/Weights: the model family's; CudaLayer: its crossrank_cuda_*_layer. `read` loads
// layer l's tensors, `view` points a CudaLayer at them.
template <typename Config, typename Weights, typename CudaLayer>
struct LayerFeed {
  TensorReader* reader;
  const Config* config;
  const LoadProgress* progress;
  Status (*read)(TensorReader& r, const Config& c, int32_t l, Weights* w);
  CudaLayer (*view)(const Weights& w);
  Weights current;
  Status status;

  static int Load(void* context, int l, CudaLayer* out) {
    auto* feed = static_cast<LayerFeed*>(context);
    try {  // no exception crosses the C boundary back into the CUDA library
      feed->current = Weights();
      feed->status = feed->read(*feed->reader, *feed->config, l, &feed->current);
      // Read and converted (uploaded next).
      if (feed->status.ok() && *feed->progress) (*feed->progress)(l + 1, feed->config->num_layers);
    } catch (const std::bad_alloc&) {
      feed->status = Status::OutOfMemory("out of host memory reading layer " + std::to_string(l));
    }
    if (!feed->status.ok()) return 1;
    *out = feed->view(feed->current);
    return 0;
  }
};

}  // namespace crossrank
