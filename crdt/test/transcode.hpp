#pragma once
// Copies a whole update field by field with the update codecs (the struct
// layout of Yjs's readClientsStructRefs / writeStructs and the delete set),
// for the codec tests and the v2 column fuzz target. Returns false on a
// decoding error, an unknown content kind, leftover bytes in the rest column,
// or when `budget` (fields read) runs out: run-length columns can describe
// 2^53 values in a few bytes, so untrusted input needs a budget rather than a
// bound from its size.
#include <cstddef>
#include <cstdint>

#include "corates/crdt/id.hpp"

namespace corates::crdt::test {

template <class D, class E>
bool transcode(D& d, E& e, std::size_t budget = SIZE_MAX) {
  auto& rd = d.rest_decoder();
  auto& re = e.rest_encoder();
  const auto spend = [&budget] { return budget-- > 0; };
  const std::uint64_t clients = rd.read_var_uint();
  re.write_var_uint(clients);
  for (std::uint64_t c = 0; c < clients && d.ok() && spend(); ++c) {
    const std::uint64_t structs = rd.read_var_uint();
    re.write_var_uint(structs);
    e.write_client(d.read_client());
    re.write_var_uint(rd.read_var_uint());
    for (std::uint64_t s = 0; s < structs && d.ok(); ++s) {
      if (!spend()) return false;
      const std::uint8_t info = d.read_info();
      e.write_info(info);
      if ((info & 31) == 0) {
        e.write_len(d.read_len());
        continue;
      }
      if ((info & 31) == 10) {
        re.write_var_uint(rd.read_var_uint());
        continue;
      }
      if (info & 0x80) e.write_left_id(d.read_left_id());
      if (info & 0x40) e.write_right_id(d.read_right_id());
      if ((info & 0xC0) == 0) {
        const bool ykey = d.read_parent_info();
        e.write_parent_info(ykey);
        if (ykey) {
          e.write_string(d.read_string());
        } else {
          e.write_left_id(d.read_left_id());
        }
        if (info & 0x20) e.write_string(d.read_string());
      }
      switch (info & 31) {
        case 1:
          e.write_len(d.read_len());
          break;
        case 2: {
          const std::uint64_t n = d.read_len();
          e.write_len(n);
          for (std::uint64_t i = 0; i < n && d.ok(); ++i) {
            if (!spend()) return false;
            e.write_string(d.read_string());
          }
          break;
        }
        case 3:
          e.write_buf(d.read_buf());
          break;
        case 4:
          e.write_string(d.read_string());
          break;
        case 5:
          e.write_json(d.read_json());
          break;
        case 6:
          e.write_key(d.read_key());
          e.write_json(d.read_json());
          break;
        case 7: {
          const std::uint8_t ref = d.read_type_ref();
          e.write_type_ref(ref);
          if (ref == 3 || ref == 5) e.write_key(d.read_key());
          break;
        }
        case 8: {
          const std::uint64_t n = d.read_len();
          e.write_len(n);
          for (std::uint64_t i = 0; i < n && d.ok(); ++i) {
            if (!spend()) return false;
            e.write_any(d.read_any());
          }
          break;
        }
        case 9:
          e.write_string(d.read_string());
          e.write_any(d.read_any());
          break;
        default:
          return false;
      }
    }
  }
  const std::uint64_t ds_clients = rd.read_var_uint();
  re.write_var_uint(ds_clients);
  for (std::uint64_t c = 0; c < ds_clients && d.ok() && spend(); ++c) {
    d.reset_ds_cur_val();
    e.reset_ds_cur_val();
    re.write_var_uint(rd.read_var_uint());
    const std::uint64_t n = rd.read_var_uint();
    re.write_var_uint(n);
    for (std::uint64_t i = 0; i < n && d.ok(); ++i) {
      if (!spend()) return false;
      const Clock clock = d.read_ds_clock();
      const std::uint64_t len = d.read_ds_len();
      if (!d.ok()) break;
      e.write_ds_clock(clock);
      e.write_ds_len(len);
    }
  }
  return d.ok() && !rd.has_content();
}

}  // namespace corates::crdt::test
