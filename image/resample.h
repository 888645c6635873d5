#pragma once
// Separable bicubic resampling with the Keys kernel a = -0.5, antialiased when shrinking (the
// kernel is stretched by the scale factor and the weights renormalised), as Pillow's resize and
// torch's interpolate(mode="bicubic", antialias=True, align_corners=False) both compute it.
// Used for images (u8, Pillow rounds between the two passes) and for pos_embed (f32, SPEC 1).

namespace sparsifiner {

// Planar f32: src is [channels, in_h, in_w], dst is [channels, out_h, out_w].
void resample_bicubic_f32(const float* src, int channels, int in_h, int in_w,
                          float* dst, int out_h, int out_w);

}  // namespace sparsifiner
