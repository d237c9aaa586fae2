#include "lib/wire/wire.h"

#include <cstring>
#include <utility>

namespace replex::wire {

// On little-endian hosts (every platform replex runs on) the wire layout is
// the memory layout of a float array: whole frames are copied at once,
// which matters at 10^5 atoms a result. Others go byte by byte.
constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

std::string PackFloat32(const std::vector<engine::Vec3>& positions) {
  std::string bytes(12 * positions.size(), '\0');
  if constexpr (kLittleEndian) {
    std::vector<float> floats(3 * positions.size());
    for (size_t i = 0; i < positions.size(); ++i) {
      for (int k = 0; k < 3; ++k) {
        floats[3 * i + k] = static_cast<float>(positions[i][k]);
      }
    }
    std::memcpy(bytes.data(), floats.data(), bytes.size());
    return bytes;
  }
  char* out = bytes.data();
  for (const engine::Vec3& atom : positions) {
    for (double x : atom) {
      const float f = static_cast<float>(x);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      // Byte by byte, so the wire is little-endian on any host.
      for (int b = 0; b < 4; ++b) *out++ = static_cast<char>(bits >> (8 * b));
    }
  }
  return bytes;
}

std::vector<engine::Vec3> UnpackFloat32(const std::string& bytes) {
  const size_t n = bytes.size() / 12;
  // Reserved, not sized: zeroing 24 bytes an atom first cost as much as the
  // unpacking (perf, 25,000-atom results).
  std::vector<engine::Vec3> positions;
  positions.reserve(n);
  const char* in = bytes.data();
  for (size_t i = 0; i < n; ++i, in += 12) {
    float xyz[3];
    if constexpr (kLittleEndian) {
      std::memcpy(xyz, in, 12);
    } else {
      for (int d = 0; d < 3; ++d) {
        uint32_t bits = 0;
        for (int b = 0; b < 4; ++b) {
          bits |= uint32_t{static_cast<unsigned char>(in[4 * d + b])}
                  << (8 * b);
        }
        std::memcpy(&xyz[d], &bits, 4);
      }
    }
    positions.push_back({xyz[0], xyz[1], xyz[2]});
  }
  return positions;
}

v1::SegmentOrder ToProto(const runner::SegmentOrder& order,
                         const std::string& job_id, int64_t epoch) {
  v1::SegmentOrder message;
  message.set_job_id(job_id);
  message.set_replica(order.replica);
  message.set_round(order.round);
  message.set_epoch(epoch);
  message.set_rung(order.rung);
  message.set_steps(order.steps);
  message.set_segment_seed(order.segment_seed);
  message.mutable_evaluate_rungs()->Assign(order.evaluate_rungs.begin(),
                                           order.evaluate_rungs.end());
  message.set_want_positions(order.want_positions);
  message.set_want_state(order.want_state);
  message.set_ladder_version(order.ladder_version);
  if (order.ladder_version > 0) {
    message.set_temperature_k(order.ladder->rung(order.rung).temperature_k);
  }
  return message;
}

runner::SegmentOrder FromProto(const v1::SegmentOrder& message) {
  runner::SegmentOrder order;
  order.round = message.round();
  order.replica = message.replica();
  order.rung = message.rung();
  order.steps = message.steps();
  order.segment_seed = message.segment_seed();
  order.evaluate_rungs.assign(message.evaluate_rungs().begin(),
                              message.evaluate_rungs().end());
  order.want_positions = message.want_positions();
  order.want_state = message.want_state();
  order.ladder_version = message.ladder_version();
  return order;
}

v1::WorkerMessage SegmentDone(const v1::SegmentOrder& order,
                              runner::SegmentResult result, double seconds) {
  v1::WorkerMessage message;
  v1::SegmentDone& done = *message.mutable_segment_done();
  done.set_job_id(order.job_id());
  done.set_replica(order.replica());
  done.set_round(order.round());
  done.set_epoch(order.epoch());
  done.set_potential_kj_mol(result.potential_kj_mol);
  done.set_pv_kj_mol(result.pv_kj_mol);
  done.set_kinetic_kj_mol(result.kinetic_kj_mol);
  for (const engine::Vec3& vector : result.box_nm) {
    done.mutable_box_nm()->Add(vector.begin(), vector.end());
  }
  done.mutable_reduced()->Add(result.reduced.begin(), result.reduced.end());
  done.set_positions_f32(PackFloat32(result.positions_nm));
  done.set_state(std::move(result.state));
  done.set_seconds(seconds);
  done.set_ladder_version(order.ladder_version());
  return message;
}

runner::SegmentResult FromProto(const v1::SegmentDone& done) {
  runner::SegmentResult result;
  result.potential_kj_mol = done.potential_kj_mol();
  result.pv_kj_mol = done.pv_kj_mol();
  result.kinetic_kj_mol = done.kinetic_kj_mol();
  for (int i = 0; i < done.box_nm_size() && i < 9; ++i) {
    result.box_nm[i / 3][i % 3] = done.box_nm(i);
  }
  result.reduced.assign(done.reduced().begin(), done.reduced().end());
  result.positions_nm = UnpackFloat32(done.positions_f32());
  // A worker of an earlier release (positions as doubles).
  for (int i = 0; i + 2 < done.positions_nm_size(); i += 3) {
    result.positions_nm.push_back({done.positions_nm(i),
                                   done.positions_nm(i + 1),
                                   done.positions_nm(i + 2)});
  }
  result.state = done.state();
  return result;
}

}  // namespace replex::wire
