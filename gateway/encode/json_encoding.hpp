#pragma once
// The JSON rendering of an endpoint's copy of a frame, for endpoints configured with
// `encoding: json` (back ends without FlatBuffers). The gateway decides and transforms
// as for any endpoint (FrameEncoder); this only changes how the result is written.
// docs/schemas.md, "JSON rendering for endpoints", is the format's reference. The
// choices that are not obvious:
// - `signals` is keyed by VSS path (from the registry) and each value is typed by the
//   registry's datatype, so the output reads without Cordon's schemas.
// - 64-bit integers (datatypes Int64, UInt64 and their arrays, the sequence counter,
//   the capture time) are decimal strings: JavaScript and many other JSON readers
//   turn numbers beyond 2^53 into doubles and lose digits. Protocol Buffers' JSON
//   mapping does the same. Narrower integers are numbers.
// - Doubles are written in the shortest form that reads back to the same bits
//   (std::to_chars); a GeoPoint's accuracy, a float on the wire, in the shortest form
//   that reads back to the same float; always with a fraction or an exponent ("100.0",
//   "-0.0", "1e+21"), so readers that tell integers from reals see a real every time.
//   NaN and infinities have no JSON form and are written as null.
// - Strings are UTF-8 escaped per RFC 8259; an invalid UTF-8 sequence becomes U+FFFD,
//   so the output is always valid JSON whatever a source ECU put in a string.
// - Bytes and image pixels are base64 (RFC 4648 section 4, padded).
//
// Contract: pure and thread-safe. `frame` must have passed FrameVerifier (the renderer
// trusts the buffer's structure); `registry` is the gateway's, of which the frame's
// registry is a prefix. A signal id the registry does not know (impossible after
// verification) is keyed "#<id>" rather than dropped.
#include <string>

#include "ecu/registry/registry.hpp"
#include "telemetry_generated.h"

namespace cordon::encode {

// Replaces `out` with the JSON object for `frame`. Reusing `out` across frames keeps
// its capacity, so the steady state does not allocate.
void renderJson(const wire::SignalFrame& frame, const ecu::Registry& registry, std::string& out);

}  // namespace cordon::encode
