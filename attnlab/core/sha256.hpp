// attnlab/core/sha256.hpp — SHA-256 (FIPS 180-4) of byte strings, as lowercase hex.
//
// Used to fingerprint inputs that a result depends on (text corpora, cached dumps) so that a
// report can say exactly which bytes it was computed from, and so that a cache can tell a good
// copy from a stale or damaged one. Written from the FIPS 180-4 definition (section 6.2): 512-bit
// blocks, the 64-word message schedule, the eight working variables, and the padding of
// section 5.1.1 (a 1 bit, zeros, then the message length in bits as a 64-bit big-endian integer).
// No external crypto library is needed. This is a fingerprint, not a security boundary.
//
// Invariants: the digest depends only on the bytes (not on how they were split across update()
// calls); hex_digest() is 64 lowercase hex characters.
//
// Usage:
//   std::string h = sha256_hex("abc");
//   // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
//   Sha256 s;  s.update(part1);  s.update(part2);  std::string h2 = s.hex_digest();
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace attnlab {

class Sha256 {
 public:
  Sha256();
  // Appends bytes to the message. UsageError after hex_digest()/digest() (call reset() first).
  void update(std::string_view bytes);
  // The 32-byte digest of everything passed to update(). Finalizes the object: later calls to
  // digest()/hex_digest() return the same value, update() throws until reset().
  std::array<std::uint8_t, 32> digest();
  // digest() as 64 lowercase hex characters.
  std::string hex_digest();
  // Back to the empty message.
  void reset();

 private:
  void compress(const std::uint8_t* block);  // one 64-byte block

  std::array<std::uint32_t, 8> h_{};
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;       // bytes in buffer_
  std::uint64_t total_bytes_ = 0;  // message length so far
  bool finalized_ = false;
};

// SHA-256 of `bytes` as 64 lowercase hex characters.
std::string sha256_hex(std::string_view bytes);

}  // namespace attnlab
