// Parsing and validating a safetensors image (SPEC section 7). Everything in the header is
// checked before any tensor byte is touched: after parse() returns, every TensorView points at
// exactly nbytes = numel * dtype_size bytes inside the data area, and no two views overlap.
#include "weights/safetensors.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <set>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "weights/error_text.h"
#include "weights/half_float.h"

namespace sparsifiner {

namespace {

using json = nlohmann::json;

// A header is metadata plus a few hundred tensor entries: real ones are well under 1 MB.
const uint64_t max_header_bytes = 100ull << 20;
const size_t max_rank = 8;
// JSON nesting deeper than this cannot be a valid header (it needs 3 levels); refusing early
// keeps a hostile "[[[[..." from costing memory and time.
const int max_json_depth = 16;
// A DeiT-B Sparsifiner has about 250 tensors; the cap leaves room for any ViT while keeping a
// hostile header (1M tiny entries fit under the byte limit) to a bounded cost.
const size_t max_header_entries = 20000;

struct JsonRejected {
    std::string problem;
};

// The header's shape is checked in a first pass with nlohmann's SAX interface, which builds
// nothing: duplicate keys (nlohmann would silently keep the last one, so two readers could
// disagree on what a file holds), deep nesting, and too many entries. Only then is the DOM
// built, by the plain parser. (A parser *callback* would do the same checks in one pass, but
// nlohmann's callback parser rescans the whole enclosing object each time a child object ends:
// quadratic in the number of tensors, 72 s for a 100k-entry header.)
class HeaderGuard {
public:
    bool null() { return true; }
    bool boolean(bool) { return true; }
    bool number_integer(json::number_integer_t) { return true; }
    bool number_unsigned(json::number_unsigned_t) { return true; }
    bool number_float(json::number_float_t, const json::string_t&) { return true; }
    bool string(json::string_t&) { return true; }
    bool binary(json::binary_t&) { return true; }
    bool start_object(std::size_t) {
        open();
        keys_.emplace_back();
        return true;
    }
    bool key(json::string_t& key) {
        if (keys_.size() == 1 && ++top_level_entries_ > max_header_entries)
            throw JsonRejected{"more than " + std::to_string(max_header_entries) + " entries"};
        if (!keys_.back().insert(key).second) throw JsonRejected{"duplicate key \"" + printable_name(key) + "\""};
        return true;
    }
    bool end_object() {
        keys_.pop_back();
        depth_--;
        return true;
    }
    bool start_array(std::size_t) {
        open();
        keys_.emplace_back();  // arrays have no keys; keeps keys_ and depth_ in step
        return true;
    }
    bool end_array() {
        keys_.pop_back();
        depth_--;
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& error) {
        throw JsonRejected{std::string("not valid JSON: ") + error.what()};
    }

private:
    void open() {
        if (++depth_ > max_json_depth) throw JsonRejected{"JSON nested deeper than " + std::to_string(max_json_depth)};
    }
    int depth_ = 0;
    size_t top_level_entries_ = 0;
    std::vector<std::unordered_set<std::string>> keys_;
};

json parse_header_json(const uint8_t* begin, const uint8_t* end, const std::string& label) {
    HeaderGuard guard;
    try {
        json::sax_parse(begin, end, &guard, json::input_format_t::json, true, false);
        return json::parse(begin, end, nullptr, true, false);
    } catch (const JsonRejected& rejected) {
        throw_weight_error(label, "header", rejected.problem);
    } catch (const json::exception& error) {
        // nlohmann's what() is "[json.exception.parse_error.101] parse error at line 1, ...": one line.
        throw_weight_error(label, "header", std::string("not valid JSON: ") + error.what());
    }
}

bool dtype_from_name(const std::string& name, DType* dtype) {
    if (name == "F32") *dtype = DType::F32;
    else if (name == "F16") *dtype = DType::F16;
    else if (name == "BF16") *dtype = DType::BF16;
    else return false;
    return true;
}

// A JSON number that is a non-negative integer fitting in int64; count_problem() says why not.
bool read_count(const json& value, int64_t* out) {
    if (!value.is_number_unsigned()) return false;
    uint64_t raw = value.get<uint64_t>();
    if (raw > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(raw);
    return true;
}

std::string count_problem(const json& value) {
    if (value.is_number_integer() && !value.is_number_unsigned()) return "is negative";
    if (value.is_number()) return "is not an integer or too large";
    return "is not a number";
}

struct ByteRange {
    uint64_t begin;
    uint64_t end;
    size_t tensor;  // index into the tensor list
};

std::string range_text(uint64_t begin, uint64_t end) {
    return "[" + std::to_string(begin) + ", " + std::to_string(end) + ")";
}

// Validates one header entry; fills `view` (data pointer relative to the data area start) and `range`.
void read_entry(const std::string& label, const std::string& name, const json& entry, uint64_t data_size,
                TensorView* view, ByteRange* range) {
    if (name.empty()) throw_weight_error(label, "header", "a tensor has an empty name");
    if (!entry.is_object()) throw_weight_error(label, name, "entry is not an object");
    for (const auto& field : entry.items()) {
        const std::string& key = field.key();
        if (key != "dtype" && key != "shape" && key != "data_offsets") {
            throw_weight_error(label, name, "unexpected field \"" + printable_name(key) + "\"");
        }
    }
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
        if (!entry.contains(key)) throw_weight_error(label, name, std::string("missing field \"") + key + "\"");
    }

    const json& dtype = entry["dtype"];
    if (!dtype.is_string()) throw_weight_error(label, name, "dtype is not a string");
    if (!dtype_from_name(dtype.get_ref<const std::string&>(), &view->dtype)) {
        throw_weight_error(label, name, "unsupported dtype " + printable_name(dtype.get_ref<const std::string&>()) +
                                            " (F32, F16 and BF16 are supported)");
    }

    const json& shape = entry["shape"];
    if (!shape.is_array()) throw_weight_error(label, name, "shape is not an array");
    if (shape.size() > max_rank) {
        throw_weight_error(label, name, "shape has rank " + std::to_string(shape.size()) + ", more than " +
                                            std::to_string(max_rank));
    }
    uint64_t numel = 1;
    bool overflow = false;
    for (size_t i = 0; i < shape.size(); i++) {
        int64_t dim = 0;
        if (!read_count(shape[i], &dim)) {
            throw_weight_error(label, name, "shape[" + std::to_string(i) + "] " + count_problem(shape[i]));
        }
        view->shape.push_back(dim);
        // Keep multiplying after an overflow only to finish validating the other dimensions.
        if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dim), &numel)) overflow = true;
    }
    if (overflow || numel > static_cast<uint64_t>(INT64_MAX)) {
        throw_weight_error(label, name, "shape " + shape_text(view->shape) + " has too many elements");
    }

    const json& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2) {
        throw_weight_error(label, name, "data_offsets is not an array [begin, end]");
    }
    int64_t begin = 0, end = 0;
    if (!read_count(offsets[0], &begin)) {
        throw_weight_error(label, name, "data_offsets begin " + count_problem(offsets[0]));
    }
    if (!read_count(offsets[1], &end)) {
        throw_weight_error(label, name, "data_offsets end " + count_problem(offsets[1]));
    }
    if (begin > end) {
        throw_weight_error(label, name, "byte range " + range_text(begin, end) + " begins after it ends");
    }
    if (static_cast<uint64_t>(end) > data_size) {
        throw_weight_error(label, name, "byte range " + range_text(begin, end) + " ends past the data area (" +
                                            std::to_string(data_size) + " bytes)");
    }
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(view->dtype)), &nbytes) ||
        nbytes != static_cast<uint64_t>(end - begin)) {
        throw_weight_error(label, name, "shape " + shape_text(view->shape) + " of " + dtype_name(view->dtype) +
                                            " needs " + std::to_string(numel) + " x " +
                                            std::to_string(dtype_size(view->dtype)) + " bytes, byte range " +
                                            range_text(begin, end) + " holds " + std::to_string(end - begin));
    }
    view->name = name;
    view->nbytes = static_cast<size_t>(nbytes);
    range->begin = static_cast<uint64_t>(begin);
    range->end = static_cast<uint64_t>(end);
}

// Sorting by start, every non-empty range must begin at or after the furthest end seen so far.
// Returns the number of bytes no tensor covers.
uint64_t check_no_overlap(const std::string& label, std::vector<ByteRange> ranges,
                          const std::vector<TensorView>& tensors, uint64_t data_size) {
    ranges.erase(std::remove_if(ranges.begin(), ranges.end(), [](const ByteRange& r) { return r.begin == r.end; }),
                 ranges.end());
    std::sort(ranges.begin(), ranges.end(), [&](const ByteRange& a, const ByteRange& b) {
        if (a.begin != b.begin) return a.begin < b.begin;
        return tensors[a.tensor].name < tensors[b.tensor].name;
    });
    uint64_t covered = 0;
    const ByteRange* furthest = nullptr;
    for (const ByteRange& range : ranges) {
        if (furthest != nullptr && range.begin < furthest->end) {
            throw_weight_error(label, tensors[range.tensor].name,
                               "byte range " + range_text(range.begin, range.end) + " overlaps " +
                                   printable_name(tensors[furthest->tensor].name) + " " +
                                   range_text(furthest->begin, furthest->end));
        }
        covered += range.end - range.begin;
        furthest = &range;
    }
    return data_size - covered;
}

}  // namespace

const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::F32: return "F32";
        case DType::F16: return "F16";
        case DType::BF16: return "BF16";
    }
    return "?";
}

size_t dtype_size(DType dtype) {
    return dtype == DType::F32 ? 4 : 2;
}

int64_t TensorView::numel() const {
    int64_t count = 1;
    for (int64_t dim : shape) count *= dim;  // bounded by parse(): the product fits
    return count;
}

namespace {

// Formats a weight file is often mistaken for, recognised by their magic bytes: "" for none.
std::string other_format_name(const uint8_t* bytes, size_t size) {
    auto starts = [&](const char* magic, size_t n) { return size >= n && std::memcmp(bytes, magic, n) == 0; };
    if (starts("\x89PNG\r\n\x1a\n", 8)) return "it is a PNG image";
    if (starts("\xff\xd8\xff", 3)) return "it is a JPEG image";
    if (starts("PK\x03\x04", 4)) return "it is a zip archive, e.g. a PyTorch checkpoint: convert it with weights/convert.py";
    if (starts("\x80\x02", 2) || starts("\x80\x04", 2)) return "it is a Python pickle: convert it with weights/convert.py";
    if (starts("GGUF", 4)) return "it is a GGUF file";
    return "";
}

}  // namespace

SafetensorsFile SafetensorsFile::parse(const uint8_t* bytes, size_t size, const std::string& label) {
    if (size < 8) {
        throw_weight_error(label, "header", "file is " + std::to_string(size) +
                                                " bytes, too short for the 8-byte header length");
    }
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; i--) header_size = (header_size << 8) | bytes[i];  // little endian
    uint64_t after_length = size - 8;
    // A file of another kind: say so instead of quoting the length its first bytes would make.
    const std::string other = other_format_name(bytes, size);
    if (!other.empty()) throw_weight_error(label, "header", "not a safetensors file (" + other + ")");
    if ((header_size > after_length || header_size > max_header_bytes) && (size == 8 || bytes[8] != '{')) {
        throw_weight_error(label, "header",
                           "not a safetensors file (its first 8 bytes are no plausible header length and no JSON "
                           "header follows)");
    }
    if (header_size > after_length) {
        throw_weight_error(label, "header", "header length " + std::to_string(header_size) + " exceeds the " +
                                                std::to_string(after_length) + " bytes after it (file truncated?)");
    }
    if (header_size > max_header_bytes) {
        throw_weight_error(label, "header", "header length " + std::to_string(header_size) + " exceeds the " +
                                                std::to_string(max_header_bytes) + "-byte limit");
    }
    const uint8_t* data = bytes + 8 + header_size;
    uint64_t data_size = after_length - header_size;

    json header = parse_header_json(bytes + 8, data, label);
    if (!header.is_object()) throw_weight_error(label, "header", "top level is not a JSON object");

    SafetensorsFile file;
    file.label_ = label;
    std::vector<ByteRange> ranges;
    // items() of an nlohmann object iterate in key order, so tensors_ comes out sorted by name.
    for (const auto& item : header.items()) {
        const std::string& name = item.key();
        if (name == "__metadata__") {
            if (!item.value().is_object()) throw_weight_error(label, "__metadata__", "is not a JSON object");
            for (const auto& entry : item.value().items()) {
                if (!entry.value().is_string()) {
                    throw_weight_error(label, "__metadata__." + entry.key(), "value is not a string");
                }
                file.metadata_[entry.key()] = entry.value().get<std::string>();
            }
            continue;
        }
        TensorView view{};
        ByteRange range{};
        read_entry(label, name, item.value(), data_size, &view, &range);
        view.data = data + range.begin;
        range.tensor = file.tensors_.size();
        file.tensors_.push_back(std::move(view));
        ranges.push_back(range);
    }
    file.unindexed_bytes_ = static_cast<size_t>(check_no_overlap(label, ranges, file.tensors_, data_size));
    return file;
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
    auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                               [](const TensorView& view, const std::string& key) { return view.name < key; });
    if (it == tensors_.end() || it->name != name) return nullptr;
    return &*it;
}

void tensor_to_f32(const TensorView& tensor, float* out) {
    size_t count = tensor.nbytes / dtype_size(tensor.dtype);
    if (count == 0) return;  // `out` may be null then, and memcpy must not see a null pointer
    if (tensor.dtype == DType::F32) {
        // The data area has no alignment guarantee (the header length is arbitrary): memcpy, never cast.
        std::memcpy(out, tensor.data, tensor.nbytes);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        uint16_t bits = static_cast<uint16_t>(tensor.data[2 * i] | (tensor.data[2 * i + 1] << 8));
        out[i] = tensor.dtype == DType::F16 ? f16_bits_to_f32(bits) : bf16_bits_to_f32(bits);
    }
}

}  // namespace sparsifiner
