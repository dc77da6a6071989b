// The per-frame code of the flow's filter node (bench/node-red/README.md): one SignalFrame
// (FlatBuffers, msg.payload a Buffer) in, one JSON message per endpoint out (output 1, 2,
// ... in the order of the policy table's endpoints), in cordon-gateway's JSON rendering
// (gateway/encode/json_encoding.cpp) on the gateway's topic <prefix>/frames/<source>.
// Decisions come from the table on-start.js loaded; the treatments follow gateway/transform.
//
// write-flow.js appends this to the node's "On Start" code (inside a function of its own), so
// that the helpers and processFrame() are compiled once; "On Message" only calls
// processFrame(msg). Defined in "On Message" itself, every helper would be a new closure for
// every message, and V8 never optimised the node's code.
const S = context.get('state');
const { T, V, registry, endpoints, wire, flatbuffers } = S;
const W = wire;
const counts = S.counts;

function reject(msg, why) {
  counts.rejected++;
  if (counts.rejected <= 10) node.warn('frame rejected (' + why + ') on ' + msg.topic);
  return null;
}
// ---- JSON rendering, as gateway/encode/json_encoding.cpp writes it
// U+2028 and U+2029 escaped too, as the gateway writes them.
const kLineSeparators = /[\u2028\u2029]/;
function str(s) {
  const t = JSON.stringify(s);
  return kLineSeparators.test(t) ? t.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029') : t;
}
function real(v) {
  if (!Number.isFinite(v)) return 'null';
  if (Object.is(v, -0)) return '-0.0';
  const t = String(v);
  return t.includes('.') || t.includes('e') ? t : t + '.0';
}
// A float32 in the shortest form that reads back to the same float.
function float32(v) {
  if (!Number.isFinite(v)) return 'null';
  for (let p = 1; p <= 9; ++p) {
    const t = v.toPrecision(p);
    if (Math.fround(Number(t)) === v) return real(Number(t));
  }
  return real(v);
}
function int(v, wide) {
  return wide ? '"' + v.toString() + '"' : v.toString();
}
function base64(u8) {
  return '"' + (u8 === null ? '' : Buffer.from(u8.buffer, u8.byteOffset, u8.length).toString('base64')) + '"';
}
function list(n, each) {
  const parts = new Array(n);
  for (let k = 0; k < n; ++k) parts[k] = each(k);
  return '[' + parts.join(',') + ']';
}
function geo(lat, lon, alt, accuracy, datum) {
  return '{"lat":' + real(lat) + ',"lon":' + real(lon) + ',"alt":' + real(alt) + ',"accuracy":' + float32(accuracy) +
    ',"datum":"' + (['WGS84', 'GCJ02', 'BD09'][datum] ?? '') + '"}';
}
function image(img, pixels) {
  const regions = list(img.regionsLength(), (k) => {
    const r = img.regions(k);
    const b = r.box();
    return '{"box":{"x":' + b.x() + ',"y":' + b.y() + ',"width":' + b.width() + ',"height":' + b.height() +
      '},"kind":"' + (['Other', 'Face', 'LicencePlate'][r.kind()] ?? '') + '","visible_percent":' +
      r.visiblePercent() + ',"readable":' + (r.readable() ? 'true' : 'false') + '}';
  });
  return '{"width":' + img.width() + ',"height":' + img.height() + ',"format":"' +
    (['Gray8', 'Rgb888'][img.format()] ?? '') + '","pixels":' + base64(pixels) + ',"regions":' + regions + '}';
}
function render(s) {
  const v = s.value, wide = s.info.wide;
  switch (s.type) {
    case V.BoolValue: return v.v() ? 'true' : 'false';
    case V.IntValue:
    case V.UIntValue: return int(v.v(), wide);
    case V.DoubleValue: return real(v.v());
    case V.StringValue: return str(v.v() ?? '');
    case V.BytesValue: return base64(v.vArray());
    case V.BoolArray: return list(v.vLength(), (k) => (v.v(k) ? 'true' : 'false'));
    case V.IntArray:
    case V.UIntArray: return list(v.vLength(), (k) => int(v.v(k), wide));
    case V.DoubleArray: return list(v.vLength(), (k) => real(v.v(k)));
    case V.StringArray: return list(v.vLength(), (k) => str(v.v(k) ?? ''));
    case V.GeoPoint: return geo(v.lat(), v.lon(), v.alt(), v.accuracy(), v.datum());
    case V.Image: return image(v, v.pixelsArray());
  }
  return 'null';
}

// ---- the treatments (gateway/encode/frame_encoder.cpp, gateway/transform)
function floorTo(ns, granuleNs) {
  const r = ns % granuleNs;
  return r < 0n ? ns - r - granuleNs : ns - r;
}
function transform(s, t, centre) {
  const v = s.value;
  switch (t) {
    case T.pass:
      if (s.passText === null) s.passText = render(s);
      return s.passText;
    case T.coarsen_time:
      return s.type === V.IntValue ? int(floorTo(v.v(), S.timeCoarsenNs), s.info.wide) : null;
    case T.pseudonymise: {
      let text;
      if (s.type === V.StringValue) text = Buffer.from(v.v() ?? '', 'utf8');
      else if (s.type === V.IntValue || s.type === V.UIntValue) text = Buffer.from(v.v().toString(), 'utf8');
      else if (s.type === V.BytesValue) text = Buffer.from(v.vArray() ?? []);
      else return null;
      const p = S.pseudonymise(s.info.path, text);
      return p === null ? null : str(p);
    }
    case T.generalise_location:
      if (centre === undefined) return null;  // not this window's sample, or no complete position
      if (s.type === V.GeoPoint) return geo(centre[0], centre[1], 0, Math.fround(S.cellM), 0);
      if (s.info.latitude) return real(centre[0]);
      if (s.info.longitude) return real(centre[1]);
      return null;  // altitude and the like: a cell has no such value
    case T.mask_regions: {
      if (s.type !== V.Image) return null;
      const w = v.width(), h = v.height(), bpp = v.format() === 0 ? 1 : v.format() === 1 ? 3 : 0;
      const original = v.pixelsArray();
      if (bpp === 0 || original === null || original.length !== w * h * bpp) return null;
      const pixels = Uint8Array.from(original);
      for (let k = 0; k < v.regionsLength(); ++k) {
        const b = v.regions(k).box();
        const x1 = Math.min(w, b.x() + b.width()), y1 = Math.min(h, b.y() + b.height());
        for (let y = b.y(); y < y1; ++y) pixels.fill(0, (y * w + b.x()) * bpp, (y * w + x1) * bpp);
      }
      return image(v, pixels);
    }
  }
  return null;  // strip, block, anything unknown: never sent
}

function processFrame(msg) {
  counts.frames++;
  // ---- decode and check (the gateway's FrameVerifier does far more; see the README)
  let frame, bytes;
  try {
    bytes = new Uint8Array(msg.payload.buffer, msg.payload.byteOffset, msg.payload.length);
    const bb = new flatbuffers.ByteBuffer(bytes);
    if (bytes.length < 8 || !W.SignalFrame.bufferHasIdentifier(bb)) return reject(msg, 'not a SignalFrame');
    frame = W.SignalFrame.getRootAsSignalFrame(bb);
  } catch (e) {
    return reject(msg, 'malformed');
  }
  const vehicleId = frame.vehicleId();
  const source = frame.source();
  const sequence = frame.sequence();
  const registryVersion = frame.registry();
  if (vehicleId === null || source === null || sequence === null || registryVersion === null) return reject(msg, 'envelope');
  const captureNs = frame.captureTimeNs();
  const signals = [];
  try {
    const n = frame.signalsLength();
    for (let i = 0; i < n; ++i) {
      const s = frame.signals(i);
      const id = s.id();
      const info = id < registry.length ? registry[id] : null;
      if (info === null || id <= 5) return reject(msg, 'unknown signal ' + id);
      const type = s.valueType();
      if (type !== info.kind) return reject(msg, 'wrong value type for ' + info.path);
      const Table = S.tableOf[type];
      const value = Table === undefined ? null : s.value(new Table());
      if (value === null) return reject(msg, 'no value');
      if (info.bounds !== null) {
        const items = type === V.IntArray || type === V.UIntArray
          ? Array.from({ length: value.vLength() }, (_, k) => value.v(k)) : [value.v()];
        for (const x of items) {
          if (x < info.bounds[0] || x > info.bounds[1]) return reject(msg, 'value out of range for ' + info.path);
        }
      }
      signals.push({ id, info, type, value, passText: null });
    }
  } catch (e) {
    return reject(msg, 'malformed');
  }

  const out = [];
  for (let e = 0; e < endpoints.length; ++e) {
    const ep = endpoints[e];
    const decided = signals.map((s) =>
      (s.type === V.Image && s.value.regionsLength() > 0 ? ep.people : ep.plain)[s.id]);
    // Positions to generalise: each complete position offered once to this endpoint's schedule.
    const centres = new Array(signals.length);
    let anyCell = false;
    for (let i = 0; i < signals.length; ++i) {
      if (decided[i] !== T.generalise_location) continue;
      const s = signals[i];
      let lat, lon, partner = -1;
      if (s.type === V.GeoPoint && s.value.datum() === 0) {
        lat = s.value.lat();
        lon = s.value.lon();
      } else if (s.info.latitude && s.info.partner) {
        partner = signals.findIndex((o) => o.id === s.info.partner && o.type === V.DoubleValue);
        if (partner < 0) continue;
        lat = s.value.v();
        lon = signals[partner].value.v();
      } else {
        continue;  // a lone longitude, a GCJ-02 point, an altitude: fail closed
      }
      const key = vehicleId + '#' + s.id;
      const window = floorTo(captureNs, S.locationPeriodNs) / S.locationPeriodNs;
      const last = ep.lastWindow.get(key);
      if (last !== undefined && window <= last) continue;
      const centre = S.cellCentre(lat, lon);
      if (centre === null) continue;
      ep.lastWindow.set(key, window);
      anyCell = true;
      centres[i] = centre;
      if (partner >= 0) centres[partner] = centre;
    }
    const fields = [];
    for (let i = 0; i < signals.length; ++i) {
      const text = transform(signals[i], decided[i], centres[i]);
      if (text !== null) fields.push(str(signals[i].info.path) + ':' + text);
    }
    if (fields.length === 0) {
      counts.empty[e]++;
      out.push(null);
      continue;
    }
    // The envelope (RULES.md, "The frame envelope is data too"): registry ids 1..5.
    let id = null;
    if (ep.plain[1] === T.pass) id = vehicleId;
    else if (ep.plain[1] === T.pseudonymise) id = S.pseudonymise('Vehicle.VehicleIdentification.VIN', Buffer.from(vehicleId, 'utf8'));
    if (id === null) id = S.randomId();  // no PI basis: a random id per upload
    const passSequence = ep.plain[4] === T.pass;
    let capture = 0n;
    if (ep.plain[5] === T.pass) {
      capture = captureNs;
    } else if (ep.plain[5] === T.coarsen_time) {
      // Like the coarsest field: a generalised cell carries its window's start.
      const granule = anyCell && S.locationPeriodNs > S.timeCoarsenNs ? S.locationPeriodNs : S.timeCoarsenNs;
      capture = floorTo(captureNs, granule);
    }
    const json = '{"schema_version":' + frame.schemaVersion() + ',"vehicle_id":' + str(id) +
      (ep.plain[2] === T.pass ? ',"source":' + str(source) : '') +
      ',"sequence":{"boot_epoch":' + (passSequence ? sequence.bootEpoch() : 0) +
      ',"counter":"' + (passSequence ? sequence.counter().toString() : '0') + '"},"capture_time_ns":"' +
      capture.toString() + '","registry":{"count":' + registryVersion.count() + ',"hash":"' +
      registryVersion.hash().toString(16).padStart(16, '0') + '"},"signals":{' + fields.join(',') + '}}';
    counts.published[e]++;
    out.push({ topic: S.topicPrefix + '/frames/' + source, payload: json, qos: 1 });
  }
  return out;
}
context.set('processFrame', processFrame);
