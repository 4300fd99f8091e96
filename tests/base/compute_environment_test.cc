// The allocator setting of common/base/compute_environment.h: buffers of a release's size come
// from the heap (no fresh mapping, so no fresh page faults, on each pass); past the limit they
// are still mapped, which is also the check that the measurement can see a mapping at all.
#include "common/base/compute_environment.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace fedsyn::base {
namespace {

// Mapped blocks in use while a block of `bytes` is held.
size_t MappedBlocksWhileHolding(size_t bytes) {
  void* block = std::malloc(bytes);
  EXPECT_NE(block, nullptr);
  std::memset(block, 1, bytes);  // used, so the allocation cannot be elided
  const size_t mapped = mallinfo2().hblks;
  std::free(block);
  return mapped;
}

TEST(ComputeEnvironment, ReleaseSizedBuffersComeFromTheHeap) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizer replaces the C library's allocator, whose settings this checks";
#endif
  ASSERT_TRUE(KeepTensorBuffersInTheHeap());
  const size_t before = mallinfo2().hblks;
  // One Adult layer output (32,561 x 128 floats) and a buffer just under the limit.
  EXPECT_EQ(MappedBlocksWhileHolding(32561 * 128 * sizeof(float)), before);
  EXPECT_EQ(MappedBlocksWhileHolding(static_cast<size_t>(kLargestHeapBlock) - 4096), before);
  // Past the limit the C library maps the block: the count does move when it should.
  EXPECT_EQ(MappedBlocksWhileHolding(static_cast<size_t>(kLargestHeapBlock) * 2), before + 1);
}

}  // namespace
}  // namespace fedsyn::base
