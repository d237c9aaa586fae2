// PortableState's codec: little-endian, independent of the host's byte order.
#include "lib/engine/portable_state.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace replex::engine {
namespace {

constexpr char kMagic[4] = {'R', 'P', 'X', 'S'};
constexpr uint32_t kFormatVersion = 1;

class Writer {
 public:
  void Bytes(absl::string_view bytes) {
    out_.append(bytes.data(), bytes.size());
  }
  void U32(uint32_t v) { Unsigned(v, 4); }
  void U64(uint64_t v) { Unsigned(v, 8); }
  void F64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof(bits));
    U64(bits);
  }
  void Vectors(const std::vector<Vec3>& vs) {
    U64(vs.size());
    for (const Vec3& v : vs) {
      for (double x : v) F64(x);
    }
  }
  std::string Take() { return std::move(out_); }

 private:
  void Unsigned(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
      out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string out_;
};

class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}

  absl::Status Bytes(size_t n, absl::string_view what, absl::string_view* out) {
    if (in_.size() - pos_ < n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "portable state: truncated at byte ", in_.size(), " while reading ",
          what, " (", n, " more bytes needed at byte ", pos_, ")"));
    }
    *out = in_.substr(pos_, n);
    pos_ += n;
    return absl::OkStatus();
  }
  absl::Status U32(absl::string_view what, uint32_t* v) {
    uint64_t wide = 0;
    absl::Status status = Unsigned(4, what, &wide);
    *v = static_cast<uint32_t>(wide);
    return status;
  }
  absl::Status U64(absl::string_view what, uint64_t* v) {
    return Unsigned(8, what, v);
  }
  absl::Status F64(absl::string_view what, double* v) {
    uint64_t bits = 0;
    absl::Status status = U64(what, &bits);
    std::memcpy(v, &bits, sizeof(bits));
    return status;
  }
  // A count of items of `item_bytes` each, checked against what is left so a
  // corrupt count cannot trigger a huge allocation.
  absl::Status Count(size_t item_bytes, absl::string_view what, size_t* n) {
    uint64_t count = 0;
    absl::Status status = U64(what, &count);
    if (!status.ok()) return status;
    if (count > (in_.size() - pos_) / item_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "portable state: ", what, " count ", count, " needs more than the ",
          in_.size() - pos_, " bytes left (truncated or corrupt)"));
    }
    *n = static_cast<size_t>(count);
    return absl::OkStatus();
  }
  absl::Status Vectors(absl::string_view what, std::vector<Vec3>* vs) {
    size_t n = 0;
    absl::Status status = Count(3 * sizeof(double), what, &n);
    vs->assign(n, Vec3{});
    for (size_t i = 0; status.ok() && i < n; ++i) {
      for (int d = 0; status.ok() && d < 3; ++d)
        status = F64(what, &(*vs)[i][d]);
    }
    return status;
  }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  absl::Status Unsigned(int bytes, absl::string_view what, uint64_t* v) {
    absl::string_view raw;
    absl::Status status = Bytes(bytes, what, &raw);
    if (!status.ok()) return status;
    *v = 0;
    for (int i = 0; i < bytes; ++i) {
      *v |= static_cast<uint64_t>(static_cast<unsigned char>(raw[i]))
            << (8 * i);
    }
    return absl::OkStatus();
  }
  absl::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

std::string PortableState::Serialize() const {
  Writer w;
  w.Bytes(absl::string_view(kMagic, sizeof(kMagic)));
  w.U32(kFormatVersion);
  w.Vectors(positions_nm);
  w.Vectors(velocities_nm_per_ps);
  for (const Vec3& v : box_vectors_nm) {
    for (double x : v) w.F64(x);
  }
  w.F64(time_ps);
  w.U64(parameters.size());
  for (const auto& [name, value] : parameters) {
    w.U64(name.size());
    w.Bytes(name);
    w.F64(value);
  }
  return w.Take();
}

absl::StatusOr<PortableState> PortableState::Deserialize(
    absl::string_view bytes) {
  Reader r(bytes);
  absl::string_view magic;
  absl::Status status = r.Bytes(sizeof(kMagic), "the header", &magic);
  if (!status.ok()) return status;
  if (magic != absl::string_view(kMagic, sizeof(kMagic))) {
    return absl::InvalidArgumentError(
        "portable state: bad magic header; not a replex portable state");
  }
  uint32_t version = 0;
  if (status = r.U32("the format version", &version); !status.ok()) {
    return status;
  }
  if (version != kFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "portable state: format version ", version,
        " is not supported (this build reads version ", kFormatVersion, ")"));
  }
  PortableState state;
  if (status = r.Vectors("positions", &state.positions_nm); !status.ok()) {
    return status;
  }
  if (status = r.Vectors("velocities", &state.velocities_nm_per_ps);
      !status.ok()) {
    return status;
  }
  for (Vec3& v : state.box_vectors_nm) {
    for (double& x : v) {
      if (status = r.F64("box vectors", &x); !status.ok()) return status;
    }
  }
  if (status = r.F64("time", &state.time_ps); !status.ok()) return status;
  // Each parameter takes at least a length and a value.
  size_t num_parameters = 0;
  if (status = r.Count(2 * sizeof(uint64_t), "parameters", &num_parameters);
      !status.ok()) {
    return status;
  }
  for (size_t i = 0; i < num_parameters; ++i) {
    size_t name_size = 0;
    absl::string_view name;
    double value = 0;
    if (status = r.Count(1, "parameter name length", &name_size);
        !status.ok()) {
      return status;
    }
    if (status = r.Bytes(name_size, "parameter name", &name); !status.ok()) {
      return status;
    }
    if (status = r.F64("parameter value", &value); !status.ok()) return status;
    // OpenMM writes parameters as XML attributes (ToStateXml does too), so
    // a name is an identifier; anything else is a corrupt state (found by
    // fuzz/state_fuzzer.cc: a name with '<' made invalid XML).
    const bool identifier =
        !name.empty() && !absl::ascii_isdigit(name[0]) &&
        std::all_of(name.begin(), name.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                 c == '_' || c == '.' || c == '-';
        });
    if (!identifier) {
      return absl::InvalidArgumentError(
          absl::StrCat("portable state: parameter ", i,
                       "'s name is not an identifier (corrupt)"));
    }
    if (!state.parameters.emplace(std::string(name), value).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "portable state: parameter '", name, "' appears twice (corrupt)"));
    }
  }
  if (r.remaining() != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("portable state: ", r.remaining(),
                     " unexpected bytes after the end (corrupt)"));
  }
  return state;
}

std::string PortableState::ToStateXml() const {
  const auto number = [](double value) {
    return absl::StrFormat("%.17g", value);
  };
  const auto vector = [&](absl::string_view tag, const Vec3& v) {
    return absl::StrCat("\t\t<", tag, " x=\"", number(v[0]), "\" y=\"",
                        number(v[1]), "\" z=\"", number(v[2]), "\"/>\n");
  };
  std::string xml = absl::StrCat(
      "<?xml version=\"1.0\" ?>\n<State openmmVersion=\"7.7\" time=\"",
      number(time_ps), "\" type=\"State\" version=\"1\">\n",
      "\t<PeriodicBoxVectors>\n", vector("A", box_vectors_nm[0]),
      vector("B", box_vectors_nm[1]), vector("C", box_vectors_nm[2]),
      "\t</PeriodicBoxVectors>\n");
  if (!parameters.empty()) {
    absl::StrAppend(&xml, "\t<Parameters");
    for (const auto& [name, value] : parameters) {
      absl::StrAppend(&xml, " ", name, "=\"", number(value), "\"");
    }
    absl::StrAppend(&xml, "/>\n");
  }
  absl::StrAppend(&xml, "\t<Positions>\n");
  for (const Vec3& p : positions_nm)
    absl::StrAppend(&xml, vector("Position", p));
  absl::StrAppend(&xml, "\t</Positions>\n");
  if (!velocities_nm_per_ps.empty()) {
    absl::StrAppend(&xml, "\t<Velocities>\n");
    for (const Vec3& v : velocities_nm_per_ps) {
      absl::StrAppend(&xml, vector("Velocity", v));
    }
    absl::StrAppend(&xml, "\t</Velocities>\n");
  }
  absl::StrAppend(&xml, "</State>\n");
  return xml;
}

}  // namespace replex::engine
