#include "lib/wire/wire.h"

#include <utility>

namespace replex::wire {

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
  for (const engine::Vec3& vector : result.box_nm) {
    done.mutable_box_nm()->Add(vector.begin(), vector.end());
  }
  done.mutable_reduced()->Add(result.reduced.begin(), result.reduced.end());
  done.mutable_positions_nm()->Reserve(3 * result.positions_nm.size());
  for (const engine::Vec3& atom : result.positions_nm) {
    done.add_positions_nm(atom[0]);
    done.add_positions_nm(atom[1]);
    done.add_positions_nm(atom[2]);
  }
  done.set_state(std::move(result.state));
  done.set_seconds(seconds);
  return message;
}

runner::SegmentResult FromProto(const v1::SegmentDone& done) {
  runner::SegmentResult result;
  result.potential_kj_mol = done.potential_kj_mol();
  result.pv_kj_mol = done.pv_kj_mol();
  for (int i = 0; i < done.box_nm_size() && i < 9; ++i) {
    result.box_nm[i / 3][i % 3] = done.box_nm(i);
  }
  result.reduced.assign(done.reduced().begin(), done.reduced().end());
  result.positions_nm.reserve(done.positions_nm_size() / 3);
  for (int i = 0; i + 2 < done.positions_nm_size(); i += 3) {
    result.positions_nm.push_back({done.positions_nm(i),
                                   done.positions_nm(i + 1),
                                   done.positions_nm(i + 2)});
  }
  result.state = done.state();
  return result;
}

}  // namespace replex::wire
