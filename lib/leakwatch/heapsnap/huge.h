#pragma once
// Large working arrays of the heap snapshot engine (a few bytes per node or edge of a graph with
// millions of them) are faulted in 2 MiB at a time where the kernel offers transparent huge pages
// in "madvise" mode: the hint saves most of the page-fault time of a parse or an analysis. It is
// only a hint (no effect where THP is off or unavailable) and changes nothing else.
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace leakwatch::heapsnap::detail {

inline void advise_huge(const void* data, std::size_t bytes) {
#ifdef MADV_HUGEPAGE
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  if (bytes < 4 * kHuge) return;
  const auto begin = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t last = (begin + bytes) & ~(kHuge - 1);
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

// v.reserve(count), with the huge-page hint on the new block.
template <typename T>
void reserve_huge(std::vector<T>& v, std::size_t count) {
  v.reserve(count);
  advise_huge(v.data(), v.capacity() * sizeof(T));
}

// std::vector<T>(count, value), with the huge-page hint given before the pages are touched.
template <typename T>
std::vector<T> huge_vector(std::size_t count, T value = T{}) {
  std::vector<T> v;
  reserve_huge(v, count);
  v.assign(count, value);
  return v;
}

}  // namespace leakwatch::heapsnap::detail
