#include "datasets/image_batch.h"

#include <exception>

namespace sparsifiner {

RgbImage image_item_decode(const ImageSource& source, const ImageItem& item) {
    if (item.memory_index < 0) return image_load(item.name);
    // Fashion-MNIST: grey replicated to RGB, then the same evaluation transform as any photo
    // (SPEC 6). At the model's own size with crop_pct 1 no resampling happens: the pixels go in
    // as stored.
    const GreyImages& g = source.grey;
    RgbImage image;
    image.width = g.cols, image.height = g.rows;
    image.pixels.resize((size_t)g.rows * g.cols * 3);
    const uint8_t* grey = g.pixels.data() + (size_t)item.memory_index * g.rows * g.cols;
    for (size_t p = 0; p < (size_t)g.rows * g.cols; p++)
        for (int ch = 0; ch < 3; ch++) image.pixels[p * 3 + ch] = grey[p];
    return image;
}

std::vector<std::string> image_items_prepare(const ImageSource& source, const std::vector<int>& items, size_t begin,
                                             size_t end, int size, const ImagePreprocess& p, float* out) {
    const size_t n = end > begin ? end - begin : 0, image_floats = (size_t)p.channels * size * size;
    std::vector<std::string> errors(n);
#pragma omp parallel for schedule(dynamic)
    for (size_t i = 0; i < n; i++) {
        try {
            image_prepare(image_item_decode(source, source.items[items[begin + i]]), size, p, out + i * image_floats);
        } catch (const std::exception& e) {
            errors[i] = e.what();
        }
    }
    return errors;
}

}  // namespace sparsifiner
