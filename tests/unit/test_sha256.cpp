// SHA-256 against the FIPS 180-4 examples and lengths around the padding boundary (checked
// against Python's hashlib when the test was written), in one call and byte by byte.
#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "weights/sha256.h"

using namespace sparsifiner;

TEST_CASE("sha256: the standard's examples") {
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(sha256_hex(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: lengths around the padding boundary, whole and byte by byte") {
    std::string text;
    for (int i = 0; i < 300; i++) text += (char)(i * 7 + 3);
    // hashlib.sha256(bytes((i * 7 + 3) & 255 for i in range(n))).hexdigest()
    const std::pair<size_t, const char*> expected[] = {
        {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
        {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
        {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
        {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
        {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
        {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
        {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
        {128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"},
        {300, "04773f8726c81cafcfa1a09a82664b98b00d2021031a1715bca1154f2dad3472"}};
    for (const auto& [length, digest] : expected) {
        const std::string part = text.substr(0, length);
        CHECK(sha256_hex(part) == digest);
        Sha256 bytewise;
        for (char c : part) bytewise.update(&c, 1);
        CHECK(bytewise.hex_digest() == digest);
    }
}
