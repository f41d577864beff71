// The element order that V8's Array.prototype.sort (TimSort, as in V8's
// third_party/v8/builtins/array-sort.tq) produces, re-implemented so that a
// comparator that is not a consistent order gives the same result as in Node.
// Yjs's mergeUpdates sorts with such a comparator (two structs at the same
// (client, clock) of different kinds are each "smaller" than the other), so
// which reader wins depends on the exact sequence of comparisons.
//
// Same call sequence as V8: binary insertion below kMinTimSortLen elements,
// otherwise natural runs extended to minrun by binary insertion, the same
// run-stack invariants, galloping merges with minGallop carried across them.
// cmp(x, y) < 0 means x sorts before y (the sign of the JS comparator).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace corates::crdt::updates_detail {

// Node 20's V8 (11.3) has no small-array shortcut: every length goes through
// the TimSort driver (minrun = n below 64, so one binary insertion pass after
// the first natural run). Set to 0 to match; newer V8 uses 10.
inline constexpr std::int64_t kV8MinTimSortLen = 0;

template <class T, class Cmp>
class V8TimSort {
 public:
  V8TimSort(std::vector<T>& a, Cmp cmp) : a_(a), cmp_(cmp) {}

  void sort() {
    const std::int64_t n = static_cast<std::int64_t>(a_.size());
    if (n < 2) return;
    if (n < kV8MinTimSortLen) {
      binary_insertion(0, 0, n);
      return;
    }
    std::int64_t remaining = n;
    std::int64_t low = 0;
    const std::int64_t min_run = min_run_length(remaining);
    while (remaining != 0) {
      std::int64_t run = count_and_make_run(low, low + remaining);
      if (run < min_run) {
        const std::int64_t forced = std::min(min_run, remaining);
        binary_insertion(low, low + run, low + forced);
        run = forced;
      }
      runs_.push_back({low, run});
      merge_collapse();
      low += run;
      remaining -= run;
    }
    merge_force_collapse();
  }

 private:
  struct Run {
    std::int64_t base;
    std::int64_t len;
  };
  static constexpr std::int64_t kMinGallopWins = 7;

  int cmp(const T& x, const T& y) { return cmp_(x, y); }

  static std::int64_t min_run_length(std::int64_t n) {
    std::int64_t r = 0;
    while (n >= 64) {
      r |= n & 1;
      n >>= 1;
    }
    return n + r;
  }

  void binary_insertion(std::int64_t low, std::int64_t start, std::int64_t high) {
    if (low == start) ++start;
    for (; start < high; ++start) {
      std::int64_t left = low;
      std::int64_t right = start;
      const T pivot = a_[right];
      while (left < right) {
        const std::int64_t mid = left + ((right - left) >> 1);
        if (cmp(pivot, a_[mid]) < 0) {
          right = mid;
        } else {
          left = mid + 1;
        }
      }
      for (std::int64_t p = start; p > left; --p) a_[p] = a_[p - 1];
      a_[left] = pivot;
    }
  }

  std::int64_t count_and_make_run(std::int64_t low_arg, std::int64_t high) {
    const std::int64_t low = low_arg + 1;
    if (low == high) return 1;
    std::int64_t run = 2;
    const bool descending = cmp(a_[low], a_[low - 1]) < 0;
    T prev = a_[low];
    for (std::int64_t idx = low + 1; idx < high; ++idx) {
      const int order = cmp(a_[idx], prev);
      if (descending ? order >= 0 : order < 0) break;
      prev = a_[idx];
      ++run;
    }
    if (descending) std::reverse(a_.begin() + low_arg, a_.begin() + low_arg + run);
    return run;
  }

  static bool invariant(const std::vector<Run>& r, std::int64_t n) {
    if (n < 2) return true;
    return r[n - 2].len > r[n - 1].len + r[n].len;
  }

  void merge_collapse() {
    while (runs_.size() > 1) {
      std::int64_t n = static_cast<std::int64_t>(runs_.size()) - 2;
      if (!invariant(runs_, n + 1) || !invariant(runs_, n)) {
        if (runs_[n - 1].len < runs_[n + 1].len) --n;
        merge_at(n);
      } else if (runs_[n].len <= runs_[n + 1].len) {
        merge_at(n);
      } else {
        break;
      }
    }
  }

  void merge_force_collapse() {
    while (runs_.size() > 1) {
      std::int64_t n = static_cast<std::int64_t>(runs_.size()) - 2;
      if (n > 0 && runs_[n - 1].len < runs_[n + 1].len) --n;
      merge_at(n);
    }
  }

  void merge_at(std::int64_t i) {
    std::int64_t base_a = runs_[i].base;
    std::int64_t len_a = runs_[i].len;
    const std::int64_t base_b = runs_[i + 1].base;
    std::int64_t len_b = runs_[i + 1].len;
    runs_[i].len = len_a + len_b;
    runs_.erase(runs_.begin() + i + 1);

    const std::int64_t k = gallop_right(a_, a_[base_b], base_a, len_a, 0);
    base_a += k;
    len_a -= k;
    if (len_a == 0) return;
    len_b = gallop_left(a_, a_[base_a + len_a - 1], base_b, len_b, len_b - 1);
    if (len_b == 0) return;
    if (len_a <= len_b) {
      merge_low(base_a, len_a, base_b, len_b);
    } else {
      merge_high(base_a, len_a, base_b, len_b);
    }
  }

  std::int64_t gallop_left(const std::vector<T>& arr, T key, std::int64_t base,
                           std::int64_t length, std::int64_t hint) {
    std::int64_t last = 0;
    std::int64_t ofs = 1;
    if (cmp(arr[base + hint], key) < 0) {
      const std::int64_t max_ofs = length - hint;
      while (ofs < max_ofs) {
        if (cmp(arr[base + hint + ofs], key) >= 0) break;
        last = ofs;
        ofs = (ofs << 1) + 1;
      }
      if (ofs > max_ofs) ofs = max_ofs;
      last += hint;
      ofs += hint;
    } else {
      const std::int64_t max_ofs = hint + 1;
      while (ofs < max_ofs) {
        if (cmp(arr[base + hint - ofs], key) < 0) break;
        last = ofs;
        ofs = (ofs << 1) + 1;
      }
      if (ofs > max_ofs) ofs = max_ofs;
      const std::int64_t tmp = last;
      last = hint - ofs;
      ofs = hint - tmp;
    }
    ++last;
    while (last < ofs) {
      const std::int64_t m = last + ((ofs - last) >> 1);
      if (cmp(arr[base + m], key) < 0) {
        last = m + 1;
      } else {
        ofs = m;
      }
    }
    return ofs;
  }

  std::int64_t gallop_right(const std::vector<T>& arr, T key, std::int64_t base,
                            std::int64_t length, std::int64_t hint) {
    std::int64_t last = 0;
    std::int64_t ofs = 1;
    if (cmp(key, arr[base + hint]) < 0) {
      const std::int64_t max_ofs = hint + 1;
      while (ofs < max_ofs) {
        if (cmp(key, arr[base + hint - ofs]) >= 0) break;
        last = ofs;
        ofs = (ofs << 1) + 1;
      }
      if (ofs > max_ofs) ofs = max_ofs;
      const std::int64_t tmp = last;
      last = hint - ofs;
      ofs = hint - tmp;
    } else {
      const std::int64_t max_ofs = length - hint;
      while (ofs < max_ofs) {
        if (cmp(key, arr[base + hint + ofs]) < 0) break;
        last = ofs;
        ofs = (ofs << 1) + 1;
      }
      if (ofs > max_ofs) ofs = max_ofs;
      last += hint;
      ofs += hint;
    }
    ++last;
    while (last < ofs) {
      const std::int64_t m = last + ((ofs - last) >> 1);
      if (cmp(key, arr[base + m]) < 0) {
        ofs = m;
      } else {
        last = m + 1;
      }
    }
    return ofs;
  }

  // Overlap-safe copy, as V8's Copy builtin.
  static void copy(const std::vector<T>& src, std::int64_t src_pos, std::vector<T>& dst,
                   std::int64_t dst_pos, std::int64_t len) {
    if (&src == &dst && src_pos < dst_pos) {
      for (std::int64_t i = len - 1; i >= 0; --i) dst[dst_pos + i] = src[src_pos + i];
    } else {
      for (std::int64_t i = 0; i < len; ++i) dst[dst_pos + i] = src[src_pos + i];
    }
  }

  void merge_low(std::int64_t base_a, std::int64_t len_a, std::int64_t base_b,
                 std::int64_t len_b) {
    std::vector<T>& w = a_;
    tmp_.assign(w.begin() + base_a, w.begin() + base_a + len_a);
    std::vector<T>& t = tmp_;
    std::int64_t dest = base_a;
    std::int64_t ct = 0;
    std::int64_t cb = base_b;
    w[dest++] = w[cb++];
    enum class Exit { kSucceed, kCopyB } exit = Exit::kSucceed;
    [&] {
      if (--len_b == 0) return;
      if (len_a == 1) {
        exit = Exit::kCopyB;
        return;
      }
      std::int64_t min_gallop = min_gallop_;
      while (true) {
        std::int64_t wins_a = 0;
        std::int64_t wins_b = 0;
        while (true) {
          if (cmp(w[cb], t[ct]) < 0) {
            w[dest++] = w[cb++];
            ++wins_b;
            --len_b;
            wins_a = 0;
            if (len_b == 0) return;
            if (wins_b >= min_gallop) break;
          } else {
            w[dest++] = t[ct++];
            ++wins_a;
            --len_a;
            wins_b = 0;
            if (len_a == 1) {
              exit = Exit::kCopyB;
              return;
            }
            if (wins_a >= min_gallop) break;
          }
        }
        ++min_gallop;
        bool first = true;
        while (wins_a >= kMinGallopWins || wins_b >= kMinGallopWins || first) {
          first = false;
          min_gallop = std::max<std::int64_t>(1, min_gallop - 1);
          min_gallop_ = min_gallop;
          wins_a = gallop_right(t, w[cb], ct, len_a, 0);
          if (wins_a > 0) {
            copy(t, ct, w, dest, wins_a);
            dest += wins_a;
            ct += wins_a;
            len_a -= wins_a;
            if (len_a == 1) {
              exit = Exit::kCopyB;
              return;
            }
            if (len_a == 0) return;
          }
          w[dest++] = w[cb++];
          if (--len_b == 0) return;
          wins_b = gallop_left(w, t[ct], cb, len_b, 0);
          if (wins_b > 0) {
            copy(w, cb, w, dest, wins_b);
            dest += wins_b;
            cb += wins_b;
            len_b -= wins_b;
            if (len_b == 0) return;
          }
          w[dest++] = t[ct++];
          if (--len_a == 1) {
            exit = Exit::kCopyB;
            return;
          }
        }
        ++min_gallop;
        min_gallop_ = min_gallop;
      }
    }();
    if (exit == Exit::kSucceed) {
      if (len_a > 0) copy(t, ct, w, dest, len_a);
    } else {
      copy(w, cb, w, dest, len_b);
      w[dest + len_b] = t[ct];
    }
  }

  void merge_high(std::int64_t base_a, std::int64_t len_a, std::int64_t base_b,
                  std::int64_t len_b) {
    std::vector<T>& w = a_;
    tmp_.assign(w.begin() + base_b, w.begin() + base_b + len_b);
    std::vector<T>& t = tmp_;
    std::int64_t dest = base_b + len_b - 1;
    std::int64_t ct = len_b - 1;
    std::int64_t ca = base_a + len_a - 1;
    w[dest--] = w[ca--];
    enum class Exit { kSucceed, kCopyA } exit = Exit::kSucceed;
    [&] {
      if (--len_a == 0) return;
      if (len_b == 1) {
        exit = Exit::kCopyA;
        return;
      }
      std::int64_t min_gallop = min_gallop_;
      while (true) {
        std::int64_t wins_a = 0;
        std::int64_t wins_b = 0;
        while (true) {
          if (cmp(t[ct], w[ca]) < 0) {
            w[dest--] = w[ca--];
            ++wins_a;
            --len_a;
            wins_b = 0;
            if (len_a == 0) return;
            if (wins_a >= min_gallop) break;
          } else {
            w[dest--] = t[ct--];
            ++wins_b;
            --len_b;
            wins_a = 0;
            if (len_b == 1) {
              exit = Exit::kCopyA;
              return;
            }
            if (wins_b >= min_gallop) break;
          }
        }
        ++min_gallop;
        bool first = true;
        while (wins_a >= kMinGallopWins || wins_b >= kMinGallopWins || first) {
          first = false;
          min_gallop = std::max<std::int64_t>(1, min_gallop - 1);
          min_gallop_ = min_gallop;
          std::int64_t k = gallop_right(w, t[ct], base_a, len_a, len_a - 1);
          wins_a = len_a - k;
          if (wins_a > 0) {
            dest -= wins_a;
            ca -= wins_a;
            copy(w, ca + 1, w, dest + 1, wins_a);
            len_a -= wins_a;
            if (len_a == 0) return;
          }
          w[dest--] = t[ct--];
          if (--len_b == 1) {
            exit = Exit::kCopyA;
            return;
          }
          k = gallop_left(t, w[ca], 0, len_b, len_b - 1);
          wins_b = len_b - k;
          if (wins_b > 0) {
            dest -= wins_b;
            ct -= wins_b;
            copy(t, ct + 1, w, dest + 1, wins_b);
            len_b -= wins_b;
            if (len_b == 1) {
              exit = Exit::kCopyA;
              return;
            }
            if (len_b == 0) return;
          }
          w[dest--] = w[ca--];
          if (--len_a == 0) return;
        }
        ++min_gallop;
        min_gallop_ = min_gallop;
      }
    }();
    if (exit == Exit::kSucceed) {
      if (len_b > 0) copy(t, 0, w, dest - (len_b - 1), len_b);
    } else {
      dest -= len_a;
      ca -= len_a;
      copy(w, ca + 1, w, dest + 1, len_a);
      w[dest] = t[ct];
    }
  }

  std::vector<T>& a_;
  Cmp cmp_;
  std::vector<Run> runs_;
  std::vector<T> tmp_;
  std::int64_t min_gallop_ = kMinGallopWins;
};

template <class T, class Cmp>
void v8_sort(std::vector<T>& a, Cmp cmp) {
  V8TimSort<T, Cmp>(a, cmp).sort();
}

}  // namespace corates::crdt::updates_detail
