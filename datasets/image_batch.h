#pragma once
// Decode and pack: a source's images turned into the model's input tensor (SPEC 6), in parallel.
// The one place that knows both kinds of item (a file to decode, a Fashion-MNIST image in memory);
// classify, profile and sweep all pack their batches here.
#include <string>
#include <vector>

#include "datasets/image_source.h"
#include "image/image.h"

namespace sparsifiner {

// The decoded picture of one item: the file through the decoder, or a Fashion-MNIST image as
// grey replicated to RGB (a 1-channel model then gets the grey values back unchanged). Throws
// ImageError with one line naming the file and the problem.
RgbImage image_item_decode(const ImageSource& source, const ImageItem& item);

// Items items[begin..end) of the source, decoded and preprocessed into out + i * channels *
// size * size (i from 0, in order; a failed item's slot is left as it was). Returns one string per
// item: empty when it worked, else the one-line error.
std::vector<std::string> image_items_prepare(const ImageSource& source, const std::vector<int>& items, size_t begin,
                                             size_t end, int size, const ImagePreprocess& p, float* out);

}  // namespace sparsifiner
