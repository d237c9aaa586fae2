// The one place where the exchange loop's own types meet the coordinator <->
// worker protocol (proto/replex/v1/worker.proto): a round's orders and their
// results, converted the same way on both sides.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/runner/driver.h"
#include "replex/v1/worker.pb.h"

namespace replex::wire {

// The coordinator's side: an order for `job_id`'s replica hosted at `epoch`.
v1::SegmentOrder ToProto(const runner::SegmentOrder& order,
                         const std::string& job_id, int64_t epoch);
// The worker's side.
runner::SegmentOrder FromProto(const v1::SegmentOrder& message);

// The worker's answer to `order` with its `result`; `seconds` is the
// segment's wall time.
v1::WorkerMessage SegmentDone(const v1::SegmentOrder& order,
                              runner::SegmentResult result, double seconds);
// The coordinator's side.
runner::SegmentResult FromProto(const v1::SegmentDone& done);

// A worker's SegmentDones message (a synchronous round's results sent
// together, SegmentOrder.batch_result) is sent once it reaches this many
// bytes, so that none grows with replicas x atoms (frames, checkpoint
// states) or replicas x rungs (reduced potentials). Batching saves
// per-message work, which beside tens of kilobytes is nothing, while large
// messages cost gRPC more: with 300 KB frames, one 1.2 MB message a worker
// instead of four cut the coordinator benchmark's rounds/s from 9.2 to 7.6
// (docs/benchmarks.md). So a result this large (a frame of more than about
// 5,400 atoms, a state of more than about 1,300) leaves at once.
inline constexpr size_t kMaxBatchBytes = size_t{64} << 10;

// Positions as SegmentDone.positions_f32 carries them: x, y, z per atom as
// little-endian IEEE-754 float32 (rounded to nearest), and back. Unpack
// ignores a trailing partial atom.
std::string PackFloat32(const std::vector<engine::Vec3>& positions);
std::vector<engine::Vec3> UnpackFloat32(const std::string& bytes);

}  // namespace replex::wire
